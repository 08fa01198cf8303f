"""The eighteenth round's held-out questions: benchmarks/data/answers_fresh15.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH15_FILE = ROOT / "benchmarks" / "data" / "answers_fresh15.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# eighteenth round's changes landed.
FRESH15_SHA256 = "65c8c686d6b59653622bc71359cfccbdeeaeffa517ee87485a8de66ea25d28a7"


def test_the_eighteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH15_FILE, FRESH15_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_eighteenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh15_answers.jsonl: every answer to the fifteenth fresh set by the base model, and
    Harry's by the quick-recipe adapter trained at d979df1, with the code before the eighteenth round (1bb24a3) and
    after it (886c491), each distinct answer labelled once, blind, shuffled, on the five points. The round changed no
    answer of the 54; one of 36 base answers and one of Harry's 18 tuned answers is good, the lowest of any set (this
    labeller also failed the stock "I don't know yet" refusals on voice, which earlier labellers passed)."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh15_answers.jsonl", FRESH15_FILE)
    for code in ("1bb24a3", "886c491"):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == 1
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == 1
        written = [r for r in tuned if r["answered_by"].startswith("model")]
        assert len(written) == 10 and sum(not (r["true"] and r["time"]) for r in written) == 5
