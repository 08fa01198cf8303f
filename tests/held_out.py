"""Checks shared by the answer rounds' held-out sets (tests/test_answers_fresh*.py): a set frozen by hash and new to
every earlier set, and its blind labels, each distinct answer labelled once on the five points."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIVE = ("time", "true", "answers", "first_person", "voice")


def check_frozen(path: Path, sha256: str, per_persona: dict[str, int]) -> None:
    """``path`` is the file pinned by ``sha256``, with ``per_persona`` questions, each with its gold, kind and stage,
    and none asked by an earlier set."""
    text = path.read_bytes()
    assert hashlib.sha256(text).hexdigest() == sha256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert Counter(r["persona"] for r in rows) == per_persona
    assert all(r["gold"].strip() and r["kind"] and r["stage"] for r in rows)
    earlier = sorted((ROOT / "benchmarks" / "data").glob("answers_*.jsonl"))
    asked = {json.loads(line)["question"] for f in earlier if f != path for line in f.read_text().splitlines()}
    assert not asked & {r["question"] for r in rows}


def read_labels(labels: Path, questions: Path) -> tuple[list[dict[str, Any]], set[tuple[str, str, str]]]:
    """The labelled answers (each bad one saying why, each distinct answer labelled once) and the questions asked."""
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    asked = {(r["persona"], r["stage"], r["question"]) for r in map(json.loads, questions.read_text().splitlines())}
    seen: dict[tuple[str, str, str], tuple[bool, ...]] = {}
    for r in rows:
        five = tuple(bool(r[k]) for k in FIVE)
        assert r["good"] == all(five)
        assert r["good"] or r["reason"].strip()  # every bad answer says why
        assert seen.setdefault((r["stage"], r["question"], r["answer"]), five) == five  # labelled once
    return rows, asked


def answers_of(
    rows: list[dict[str, Any]], asked: set[tuple[str, str, str]], variant: str, code: str, persona: str | None = None
) -> list[dict[str, Any]]:
    """The labelled answers of one variant with one code: exactly one for each question asked (of ``persona`` only,
    when given)."""
    want = {a for a in asked if persona is None or a[0] == persona}
    got = [r for r in rows if r["variant"] == variant and r["code"] == code]
    assert {(r["persona"], r["stage"], r["question"]) for r in got} == want and len(got) == len(want)
    return got
