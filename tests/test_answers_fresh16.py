"""The nineteenth round's held-out questions: benchmarks/data/answers_fresh16.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH16_FILE = ROOT / "benchmarks" / "data" / "answers_fresh16.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# nineteenth round's changes landed.
FRESH16_SHA256 = "01ded20d55a69174fbcc1d3c1e7a4b08cc2c369eeeb99a0badef99a2e822bee7"


def test_the_nineteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH16_FILE, FRESH16_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_nineteenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh16_answers.jsonl: every answer to the sixteenth fresh set by the base model, and
    Harry's by the quick-recipe adapter trained at d979df1, with the code before the nineteenth round (be47b55) and
    after it (934c573), each distinct answer labelled once, blind, shuffled, on the five points. The round changed
    two answers of 54, Harry's "not yet" refusal to one question (base and tuned), from the shared default line to
    his own: bad to bad, both judged a template with nothing of his view of Hermione."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh16_answers.jsonl", FRESH16_FILE)
    for code in ("be47b55", "934c573"):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == 5
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == 4
        written = [r for r in tuned if r["answered_by"].startswith("model")]
        assert len(written) == 8 and sum(not (r["true"] and r["time"]) for r in written) == 4
