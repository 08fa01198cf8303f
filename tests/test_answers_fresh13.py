"""The sixteenth round's held-out questions: benchmarks/data/answers_fresh13.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH13_FILE = ROOT / "benchmarks" / "data" / "answers_fresh13.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# sixteenth round's changes landed.
FRESH13_SHA256 = "ec24fc54550f2bc6650a0354c6281e65fb439f72a51af48c81a78a9e38feb1d5"


def test_the_sixteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH13_FILE, FRESH13_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
