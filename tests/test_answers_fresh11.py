"""The fourteenth round's held-out questions: benchmarks/data/answers_fresh11.jsonl,
frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH11_FILE = ROOT / "benchmarks" / "data" / "answers_fresh11.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# fourteenth round's changes landed.
FRESH11_SHA256 = "c3e4512c5cbc76a26de2fb6ce4c66993e95b0b292c4f00516f26f62956110fea"


def test_the_fourteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH11_FILE, FRESH11_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_fourteenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh11_answers.jsonl: every answer to the eleventh fresh set by the base model, and
    Harry's by the quick-recipe adapter trained at d979df1, with the code before the fourteenth round (8a1d9ea) and
    after it (0d480dd), each distinct answer labelled once, blind, shuffled, on the five points. No model answer here
    said it did not follow the question, so the round changed none of them."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh11_answers.jsonl", FRESH11_FILE)
    for code in ("8a1d9ea", "0d480dd"):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == 9
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == 3
        written = [r for r in tuned if r["answered_by"].startswith("model")]
        assert len(written) == 6 and sum(not (r["true"] and r["time"]) for r in written) == 3
