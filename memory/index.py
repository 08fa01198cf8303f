"""The exact in-process vector index over the memory's records, updatable row by row.

Rows are kept per persona (a persona-and-stage query scans only that persona's
rows), each persona in its own growable arrays, so changing, adding or removing
one record costs O(dimension), not O(store): a write by another process is
applied by fetching only the rows it touched (see the change log in
:mod:`persona_rag.memory.store`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from persona_rag.corpus import OPEN


@dataclass
class Row:
    """One record as the index needs it: id, text, metadata and its vector."""

    id: str
    text: str
    meta: dict[str, Any]
    vector: Sequence[float] | np.ndarray


def _normalised(vec: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(vec, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


@dataclass
class _Part:
    """One persona's rows: arrays with spare capacity, and id -> row position."""

    dim: int
    size: int = 0
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)
    emb: np.ndarray = field(init=False)
    known_from: np.ndarray = field(init=False)
    valid_to: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.emb = np.zeros((0, self.dim), dtype=np.float32)
        self.known_from = np.zeros(0, dtype=np.int32)
        self.valid_to = np.zeros(0, dtype=np.int32)

    def _reserve(self, n: int) -> None:
        if n <= self.emb.shape[0]:
            return
        cap = max(n, 2 * self.emb.shape[0], 16)
        for name in ("emb", "known_from", "valid_to"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def put(self, row: Row, vec: np.ndarray) -> None:
        i = self.pos.get(row.id)
        if i is None:
            self._reserve(self.size + 1)
            i = self.size
            self.size += 1
            self.pos[row.id] = i
            self.ids.append(row.id)
            self.texts.append(row.text)
            self.metas.append(row.meta)
        else:
            self.texts[i] = row.text
            self.metas[i] = row.meta
        self.emb[i] = vec
        self.known_from[i] = int(row.meta.get("known_from", 0))
        self.valid_to[i] = int(row.meta.get("valid_to", OPEN))

    def drop(self, rid: str) -> None:
        """Remove a row by moving the last row into its place (order within a persona is free)."""
        i = self.pos.pop(rid)
        last = self.size - 1
        if i != last:
            moved = self.ids[last]
            self.ids[i], self.texts[i], self.metas[i] = self.ids[last], self.texts[last], self.metas[last]
            self.emb[i], self.known_from[i], self.valid_to[i] = (
                self.emb[last],
                self.known_from[last],
                self.valid_to[last],
            )
            self.pos[moved] = i
        self.ids.pop()
        self.texts.pop()
        self.metas.pop()
        self.size = last


class VectorIndex:
    """Exact cosine search over normalised vectors, filtered by persona and stage.

    ``revision`` is the store's revision token the index reflects.
    """

    def __init__(self, revision: str = "", dim: int = 0) -> None:
        self.revision = revision
        self.dim = dim
        self._parts: dict[str, _Part] = {}
        self._persona_of: dict[str, str] = {}

    @classmethod
    def build(cls, rows: Iterable[Row], revision: str = "") -> VectorIndex:
        index = cls(revision)
        index.apply(rows, ())
        return index

    def __len__(self) -> int:
        return len(self._persona_of)

    def apply(self, present: Iterable[Row], absent: Iterable[str]) -> None:
        """Upsert the ``present`` rows (a row may change persona) and remove the ``absent`` ids."""
        for rid in absent:
            persona = self._persona_of.pop(rid, None)
            if persona is not None:
                self._parts[persona].drop(rid)
        for row in present:
            vec = _normalised(row.vector)
            if not self.dim:
                self.dim = vec.shape[0]
            persona = str(row.meta.get("persona", ""))
            old = self._persona_of.get(row.id)
            if old is not None and old != persona:
                self._parts[old].drop(row.id)
            part = self._parts.get(persona)
            if part is None:
                part = self._parts[persona] = _Part(self.dim)
            part.put(row, vec)
            self._persona_of[row.id] = persona

    def metas(self, persona: str) -> list[dict[str, Any]]:
        part = self._parts.get(persona)
        return list(part.metas) if part is not None else []

    def texts(self) -> Iterator[str]:
        for part in self._parts.values():
            yield from part.texts

    def search(
        self, persona: str, qvec: np.ndarray, ordinal: int | None, k: int
    ) -> list[tuple[str, dict[str, Any], float]]:
        """Top-k (text, metadata, cosine) of ``persona`` known and still valid at ``ordinal`` (None: all)."""
        part = self._parts.get(persona)
        if part is None or part.size == 0 or k <= 0:
            return []
        n = part.size
        rows = np.arange(n)
        if ordinal is not None:
            rows = rows[(part.known_from[:n] <= ordinal) & (part.valid_to[:n] > ordinal)]
        if rows.size == 0:
            return []
        scores = part.emb[rows] @ qvec
        top = np.argpartition(-scores, k - 1)[:k] if rows.size > k else np.arange(rows.size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(part.texts[rows[i]], part.metas[rows[i]], float(scores[i])) for i in top]
