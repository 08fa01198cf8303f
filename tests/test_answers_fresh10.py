"""The thirteenth round's held-out questions: benchmarks/data/answers_fresh10.jsonl, frozen before the round's changes."""

from __future__ import annotations

from tests.held_out import ROOT, check_frozen

FRESH10_FILE = ROOT / "benchmarks" / "data" / "answers_fresh10.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# thirteenth round's changes landed.
FRESH10_SHA256 = "3fa7f830a7c71032f03eb502db93a14418c2743d5e507c6361569cb07a7a9142"


def test_the_thirteenth_round_held_out_questions_are_frozen() -> None:
    check_frozen(FRESH10_FILE, FRESH10_SHA256, {"harry": 18, "hermione": 9, "ron": 9})
