"""The sixteenth round's held-out questions: benchmarks/data/answers_fresh13.jsonl, frozen before the round's
changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH13_FILE = ROOT / "benchmarks" / "data" / "answers_fresh13.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# sixteenth round's changes landed.
FRESH13_SHA256 = "ec24fc54550f2bc6650a0354c6281e65fb439f72a51af48c81a78a9e38feb1d5"


def test_the_sixteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH13_FILE, FRESH13_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_sixteenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh13_answers.jsonl: every answer to the thirteenth fresh set by the base model, and
    Harry's by the quick-recipe adapter trained at d979df1, with the code before the sixteenth round (2aecd8a) and
    after it (df651c4), each distinct answer labelled once, blind, shuffled, on the five points. The round changed
    one answer: a garbled denial the tuned model wrote under an "I don't know" plan became Harry's refusal (both
    bad: the question asks what he lived)."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh13_answers.jsonl", FRESH13_FILE)
    for code, written_n, wrong in (("2aecd8a", 9, 4), ("df651c4", 8, 3)):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == 14
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == 6
        written = [r for r in tuned if r["answered_by"].startswith("model")]
        assert len(written) == written_n and sum(not (r["true"] and r["time"]) for r in written) == wrong
