"""Scoring quotation speakers against hand-annotated gold (tests/data/quotes/README.md).

A gold quotation is matched to the found quotation with the same spans (a different cut counts as a
miss). Its speaker name is looked up among the cast's names and aliases (case-insensitive); the
prediction is right when it names that same cast member, or when both are null.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona_rag.builder.cast import Character


def read_gold(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Score:
    total: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    named: Counter[str] = field(default_factory=Counter)
    named_right: Counter[str] = field(default_factory=Counter)
    missing_quotes: int = 0
    unknown_names: set[str] = field(default_factory=set)
    errors: list[tuple[int, Any, Any]] = field(default_factory=list)  # (gold index, gold entry, predicted)

    def accuracy(self, kind: str = "all") -> float:
        return self.right[kind] / self.total[kind] if self.total[kind] else 0.0

    def precision(self, kind: str = "all") -> float:
        return self.named_right[kind] / self.named[kind] if self.named[kind] else 0.0

    def table(self) -> str:
        rows = []
        for kind in ("explicit", "pronoun", "untagged", "all"):
            rows.append(
                f"  {kind:9} n={self.total[kind]:4d}  accuracy {self.accuracy(kind):.3f}  "
                f"precision {self.precision(kind):.3f} ({self.named_right[kind]}/{self.named[kind]} named)"
            )
        return "\n".join(rows)


def owner_of(cast: list[Character]) -> dict[str, str]:
    """Lower-cased name or alias -> cast name (the most frequent character wins a shared alias)."""
    out: dict[str, str] = {}
    for c in sorted(cast, key=lambda c: c.count):
        for a in [c.name, *c.aliases]:
            out[a.lower()] = c.name
    return out


def score(
    gold: list[dict[str, Any]], predicted: dict[tuple[tuple[int, int], ...], str | None], cast: list[Character]
) -> Score:
    """``predicted``: spans (as a tuple of pairs) -> predicted cast name or None."""
    owner = owner_of(cast)
    s = Score()
    for n, g in enumerate(gold):
        key = tuple((a, b) for a, b in g["spans"])
        kinds = (g["cue"], "all")
        want = None
        if g["speaker"] is not None:
            want = owner.get(g["speaker"].lower())
            if want is None:
                s.unknown_names.add(g["speaker"])
                want = f"<not in cast: {g['speaker']}>"
        got: str | None
        if key not in predicted:
            s.missing_quotes += 1
            got = "<quotation cut differently>"
        else:
            got = predicted[key]
        ok = got == want
        for k in kinds:
            s.total[k] += 1
            s.right[k] += ok
            if got is not None and key in predicted:
                s.named[k] += 1
                s.named_right[k] += ok
        if not ok:
            s.errors.append((n, want, got))
    return s


def by_text(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["file"]].append(r)
    return out
