"""The seventeenth round's held-out questions: benchmarks/data/answers_fresh14.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH14_FILE = ROOT / "benchmarks" / "data" / "answers_fresh14.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# seventeenth round's changes landed.
FRESH14_SHA256 = "1c0421a691f7f1073d8f2ca17017499b72e22feefa39bc77b5226eac8a93b44c"


def test_the_seventeenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH14_FILE, FRESH14_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_seventeenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh14_answers.jsonl: every answer to the fourteenth fresh set by the base model, and
    Harry's by the quick-recipe adapter trained at d979df1, with the code before the seventeenth round (0c27503) and
    after it (80b3a25), each distinct answer labelled once, blind, shuffled, on the five points. The round changed
    five answers of 54: a gloss gone twice ("the retired Potions master Horace Slughorn", base and tuned: bad to
    good), and three guesses refused: Ron on the sealed barrier (base: bad to good) and Harry on Hagrid's package
    (base and tuned: bad to bad, the refusal judged a generic template; the tuned model's answer had been wrong)."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh14_answers.jsonl", FRESH14_FILE)
    for code, base_good, tuned_good, written_n, wrong in (("0c27503", 5, 3, 11, 4), ("80b3a25", 7, 4, 10, 3)):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == base_good
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == tuned_good
        written = [r for r in tuned if r["answered_by"].startswith("model")]
        assert len(written) == written_n and sum(not (r["true"] and r["time"]) for r in written) == wrong
