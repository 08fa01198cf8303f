"""The thirteenth round's held-out questions: benchmarks/data/answers_fresh10.jsonl,
frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, answers_of, check_frozen, read_labels

FRESH10_FILE = ROOT / "benchmarks" / "data" / "answers_fresh10.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# thirteenth round's changes landed.
FRESH10_SHA256 = "3fa7f830a7c71032f03eb502db93a14418c2743d5e507c6361569cb07a7a9142"


def test_the_thirteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH10_FILE, FRESH10_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_thirteenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh10_answers.jsonl: every answer to the tenth fresh set by the base model, and Harry's
    by the quick-recipe adapter trained at d979df1, with the code before the thirteenth round (bce3715) and after it
    (c0150cf), each distinct answer labelled once, blind, shuffled, on the five points (by another annotator than
    the ninth set's). One answer changed: Ron asked how it felt now says what he felt, and is good."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh10_answers.jsonl", FRESH10_FILE)
    for code, base_good in (("bce3715", 8), ("c0150cf", 9)):
        base = answers_of(rows, asked, "base", code)
        assert sum(r["good"] for r in base) == base_good
        tuned = answers_of(rows, asked, "sft-dpo", code, persona="harry")
        assert sum(r["good"] for r in tuned) == 3
        # the tuned model writes 8 of Harry's 18 answers, and 7 of those are false or wrong about time
        written = [r for r in tuned if r["answered_by"].startswith("model")]
        assert len(written) == 8 and sum(not (r["true"] and r["time"]) for r in written) == 7
    before, after = (answers_of(rows, asked, "base", code) for code in ("bce3715", "c0150cf"))
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b["answer"] != a["answer"]]
    assert [(b["good"], a["good"], a["kind"]) for b, a in changed] == [(False, True, "how-felt")]
