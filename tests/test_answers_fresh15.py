"""The eighteenth round's held-out questions: benchmarks/data/answers_fresh15.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH15_FILE = ROOT / "benchmarks" / "data" / "answers_fresh15.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# eighteenth round's changes landed.
FRESH15_SHA256 = "65c8c686d6b59653622bc71359cfccbdeeaeffa517ee87485a8de66ea25d28a7"


def test_the_eighteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH15_FILE, FRESH15_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
