"""The tenth round's held-out questions: benchmarks/data/answers_fresh7.jsonl, frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen, read_labels

FRESH7_FILE = ROOT / "benchmarks" / "data" / "answers_fresh7.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before the tenth round's
# changes (one memory a plan, the first-person rewrite's pronouns, no agreeing lead for a tag question) landed.
FRESH7_SHA256 = "2678d77748198b338c021c7b7b828c093cd613e571878aa4689486cb73f4798a"


def test_the_tenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH7_FILE, FRESH7_SHA256, {"harry": 18, "hermione": 9, "ron": 9})


def test_the_tenth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh7_answers.jsonl: every answer to the seventh fresh set by the base model, and Harry's
    by his quick-recipe adapter, with the code before the tenth round (9bfd388) and after it (0dc8f82), each distinct
    answer labelled once, blind, shuffled, on the five points; the counts the README's table gives."""
    rows, asked = read_labels(ROOT / "tests/data/labelled_fresh7_answers.jsonl", FRESH7_FILE)
    for code in ("9bfd388", "0dc8f82"):
        base = [r for r in rows if r["variant"] == "base" and r["code"] == code]
        assert {(r["persona"], r["stage"], r["question"]) for r in base} == asked and len(base) == 36
        assert sum(r["good"] for r in base) == 3
    # Harry's quick-recipe adapter (trained once, at 9bfd388), answering with the code before and after
    for code, good in (("9bfd388", 1), ("0dc8f82", 2)):
        tuned = [r for r in rows if r["variant"] == "sft-dpo" and r["code"] == code]
        assert {(r["persona"], r["stage"], r["question"]) for r in tuned} == {a for a in asked if a[0] == "harry"}
        assert sum(r["good"] for r in tuned) == good
    before = [r for r in rows if r["variant"] == "base" and r["code"] == "9bfd388"]
    after = [r for r in rows if r["variant"] == "base" and r["code"] == "0dc8f82"]
    # the round's trade: fewer false, third-person and stitched answers, more that do not answer what was asked
    assert [sum(not r[k] for r in before) for k in ("true", "first_person", "voice", "answers")] == [12, 10, 21, 26]
    assert [sum(not r[k] for r in after) for k in ("true", "first_person", "voice", "answers")] == [9, 7, 17, 29]
