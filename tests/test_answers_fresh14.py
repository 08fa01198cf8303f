"""The seventeenth round's held-out questions: benchmarks/data/answers_fresh14.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH14_FILE = ROOT / "benchmarks" / "data" / "answers_fresh14.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# seventeenth round's changes landed.
FRESH14_SHA256 = "1c0421a691f7f1073d8f2ca17017499b72e22feefa39bc77b5226eac8a93b44c"


def test_the_seventeenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH14_FILE, FRESH14_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
