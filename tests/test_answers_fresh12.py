"""The fifteenth round's held-out questions: benchmarks/data/answers_fresh12.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH12_FILE = ROOT / "benchmarks" / "data" / "answers_fresh12.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# fifteenth round's changes landed.
FRESH12_SHA256 = "bc73a02a23221f51adc86ac028fd837b962adc686c07acf9b7c6228719e395f8"


def test_the_fifteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH12_FILE, FRESH12_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_fifteenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh12_answers.jsonl: every answer to the twelfth fresh set by the base model, and
    Harry's by the quick-recipe adapter trained at d979df1, with the code before the fifteenth round (94695c5) and
    after it (bb44469), each distinct answer labelled once, blind, shuffled, on the five points. The round changed
    none of these answers."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh12_answers.jsonl", FRESH12_FILE)
    for code in ("94695c5", "bb44469"):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == 9
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == 5
        written = [r for r in tuned if r["answered_by"].startswith("model")]
        assert len(written) == 12 and sum(not (r["true"] and r["time"]) for r in written) == 2
