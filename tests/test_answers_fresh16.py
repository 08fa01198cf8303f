"""The nineteenth round's held-out questions: benchmarks/data/answers_fresh16.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH16_FILE = ROOT / "benchmarks" / "data" / "answers_fresh16.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# nineteenth round's changes landed.
FRESH16_SHA256 = "01ded20d55a69174fbcc1d3c1e7a4b08cc2c369eeeb99a0badef99a2e822bee7"


def test_the_nineteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH16_FILE, FRESH16_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
