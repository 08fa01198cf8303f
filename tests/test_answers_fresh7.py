"""The tenth round's held-out questions: benchmarks/data/answers_fresh7.jsonl, frozen before the round's changes."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRESH7_FILE = ROOT / "benchmarks" / "data" / "answers_fresh7.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 18 questions for Harry and 9 each for Hermione and Ron, and committed alone before the tenth round's
# changes (one memory a plan, the first-person rewrite's pronouns, no agreeing lead for a tag question) landed.
FRESH7_SHA256 = "2678d77748198b338c021c7b7b828c093cd613e571878aa4689486cb73f4798a"


def test_the_tenth_round_held_out_questions_are_frozen() -> None:
    text = FRESH7_FILE.read_bytes()
    assert hashlib.sha256(text).hexdigest() == FRESH7_SHA256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert Counter(r["persona"] for r in rows) == {"harry": 18, "hermione": 9, "ron": 9}
    assert all(r["gold"].strip() and r["kind"] and r["stage"] for r in rows)
    earlier = sorted((ROOT / "benchmarks" / "data").glob("answers_*.jsonl"))
    asked = {json.loads(line)["question"] for f in earlier if f != FRESH7_FILE for line in f.read_text().splitlines()}
    assert not asked & {r["question"] for r in rows}
