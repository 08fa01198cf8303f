"""The fourteenth round's held-out questions: benchmarks/data/answers_fresh11.jsonl, frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH11_FILE = ROOT / "benchmarks" / "data" / "answers_fresh11.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# fourteenth round's changes landed.
FRESH11_SHA256 = "c3e4512c5cbc76a26de2fb6ce4c66993e95b0b292c4f00516f26f62956110fea"


def test_the_fourteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH11_FILE, FRESH11_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
