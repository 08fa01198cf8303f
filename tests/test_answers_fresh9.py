"""The twelfth round's held-out questions: benchmarks/data/answers_fresh9.jsonl, frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH9_FILE = ROOT / "benchmarks" / "data" / "answers_fresh9.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# twelfth round's changes landed.
FRESH9_SHA256 = "403a3032fdb3a6af6ab083decb5354ba96aa9429b6e293faa9050207aaf1d2ce"


def test_the_twelfth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH9_FILE, FRESH9_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
