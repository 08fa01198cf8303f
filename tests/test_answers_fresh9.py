"""The twelfth round's held-out questions: benchmarks/data/answers_fresh9.jsonl, frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH9_FILE = ROOT / "benchmarks" / "data" / "answers_fresh9.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# twelfth round's changes landed.
FRESH9_SHA256 = "403a3032fdb3a6af6ab083decb5354ba96aa9429b6e293faa9050207aaf1d2ce"


def test_the_twelfth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH9_FILE, FRESH9_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_twelfth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh9_answers.jsonl: every answer to the ninth fresh set by the base model, and Harry's by
    the quick-recipe adapter trained at d979df1, with the code before the twelfth round (9ef1ace) and after it
    (5f501b3), each distinct answer labelled once, blind, shuffled, on the five points. The round changed none of
    these answers: the counts are the same before and after, and what fails is what the next round aimed at."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh9_answers.jsonl", FRESH9_FILE)
    for code in ("9ef1ace", "5f501b3"):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == 9
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == 9
        # the base model's answers that do not say what was asked, time, true, voice, first person
        assert [sum(not r[k] for r in base) for k in ("answers", "time", "true", "voice", "first_person")] == [
            20,
            10,
            8,
            9,
            8,
        ]
