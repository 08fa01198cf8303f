"""The eleventh round's held-out questions: benchmarks/data/answers_fresh8.jsonl, frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen, read_labels

FRESH8_FILE = ROOT / "benchmarks" / "data" / "answers_fresh8.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# eleventh round's changes landed.
FRESH8_SHA256 = "c17d0da30cf1751f3d707bb38a4d08a0cc2a0c9d6b2d2773bd8c6d0856d62fac"


def test_the_eleventh_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH8_FILE, FRESH8_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_eleventh_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh8_answers.jsonl: every answer to the eighth fresh set by the base model, and Harry's by
    quick-recipe adapters, with the code before the eleventh round (a9fdf5e) and after it (d979df1), each distinct
    answer labelled once, blind, shuffled, on the five points; the counts the README's table gives."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh8_answers.jsonl", FRESH8_FILE)
    for code, good in (("a9fdf5e", 10), ("d979df1", 12)):
        base = [r for r in rows if r["variant"] == "base" and r["code"] == code]
        assert {(r["persona"], r["stage"], r["question"]) for r in base} == asked and len(base) == 36
        assert sum(r["good"] for r in base) == good
    harry = {a for a in asked if a[0] == "harry"}
    for adapter, code, good in TUNED_GOOD:
        tuned = [r for r in rows if r["variant"] == "sft-dpo" and r["adapter"] == adapter and r["code"] == code]
        assert {(r["persona"], r["stage"], r["question"]) for r in tuned} == harry and len(tuned) == 18
        assert sum(r["good"] for r in tuned) == good
    before = [r for r in rows if r["variant"] == "base" and r["code"] == "a9fdf5e"]
    after = [r for r in rows if r["variant"] == "base" and r["code"] == "d979df1"]
    # what the round changed: two answers that now say what the persona felt, fewer voice failures, none worse
    assert [sum(not r[k] for r in before) for k in ("answers", "voice")] == [18, 13]
    assert [sum(not r[k] for r in after) for k in ("answers", "voice")] == [16, 11]
    assert not any(b["good"] and not a["good"] for b, a in zip(before, after, strict=True))


# Harry's quick-recipe adapters: the tenth round's (trained at 9bfd388) with the code before and after the round,
# and one trained on the code after (its training targets say the feelings and the family's names)
TUNED_GOOD = (
    ("quick, trained at 9bfd388", "a9fdf5e", 3),
    ("quick, trained at 9bfd388", "d979df1", 4),
    ("quick, trained at d979df1", "d979df1", 5),
)
