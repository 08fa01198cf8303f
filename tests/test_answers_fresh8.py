"""The eleventh round's held-out questions: benchmarks/data/answers_fresh8.jsonl, frozen before the round's changes."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRESH8_FILE = ROOT / "benchmarks" / "data" / "answers_fresh8.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before any of the
# eleventh round's changes landed.
FRESH8_SHA256 = "c17d0da30cf1751f3d707bb38a4d08a0cc2a0c9d6b2d2773bd8c6d0856d62fac"


def test_the_eleventh_round_held_out_questions_are_frozen() -> None:
    text = FRESH8_FILE.read_bytes()
    assert hashlib.sha256(text).hexdigest() == FRESH8_SHA256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert Counter(r["persona"] for r in rows) == {"harry": 18, "hermione": 9, "ron": 9}
    assert all(r["gold"].strip() and r["kind"] and r["stage"] for r in rows)
    earlier = sorted((ROOT / "benchmarks" / "data").glob("answers_*.jsonl"))
    asked = {json.loads(line)["question"] for f in earlier if f != FRESH8_FILE for line in f.read_text().splitlines()}
    assert not asked & {r["question"] for r in rows}
