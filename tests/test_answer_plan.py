"""The answer plan (issue 20): what an answer rests on, decided before generation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL_FILE = ROOT / "benchmarks" / "data" / "answers_eval.jsonl"
# Frozen before the plan, the training items and the decoding constraint were written (issue 20): the answers
# benchmark measures on these 216 questions, and the training items are deduplicated against them.
EVAL_SHA256 = "2f0985960e9791bde9efb0f01149e6f5250f87c34feebd0d096ef62b3b806900"


def test_the_answers_benchmark_questions_are_frozen():
    text = EVAL_FILE.read_bytes()
    assert hashlib.sha256(text).hexdigest() == EVAL_SHA256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert {r["persona"] for r in rows} == {"harry", "hermione", "ron"}
    assert all(sum(r["persona"] == p for r in rows) == 72 for p in ("harry", "hermione", "ron"))
