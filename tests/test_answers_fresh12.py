"""The fifteenth round's held-out questions: benchmarks/data/answers_fresh12.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH12_FILE = ROOT / "benchmarks" / "data" / "answers_fresh12.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# fifteenth round's changes landed.
FRESH12_SHA256 = "bc73a02a23221f51adc86ac028fd837b962adc686c07acf9b7c6228719e395f8"


def test_the_fifteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH12_FILE, FRESH12_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
