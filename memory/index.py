"""Search over the memory's records: an exact in-process index kept in step with the store, and Chroma's own.

:class:`VectorIndex` keeps rows per persona (a persona-and-stage query scans only that
persona's rows), each persona in its own growable arrays, so changing, adding or
removing one record costs O(dimension), not O(store).

:class:`ChangeLog` is how writers announce and readers notice changes: every write
carries, in the same Chroma upsert as its rows, a log entry naming the ids it touched
and the new head (the revision token). These are records of the data collection under
the reserved id prefix ``__pr__:`` with persona ``~``, so no persona filter matches them.
:class:`LiveIndex` reads the head at most every ``ttl`` seconds and, when it moved,
fetches only the rows the new entries touched.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from persona_rag.memory.client import vectors_unreadable

from persona_rag.corpus import OPEN

# Ids of the store's own records (change log, head, claims) start with this; their persona is NOT_A_PERSONA.
RESERVED = "__pr__:"
HEAD_ID = RESERVED + "head"
NOT_A_PERSONA = "~"
OWN_KINDS = ("head", "log", "claim", "gone")
# A reader behind by more touched ids than this reloads whole instead of fetching them.
LOG_MAX_IDS = 2000
# Log entries kept per collection; a reader further behind reloads.
LOG_KEEP = 256
PAGE = 2000  # Chroma caps one get

Embed = Callable[[Sequence[str]], list[list[float]]]


def is_data(meta: dict[str, Any] | None) -> bool:
    """A passage, as opposed to one of the store's own records (log, head, claim, tombstone)."""
    return not (meta or {}).get("rec")


def stored(
    collection: Any, where: dict[str, Any] | None = None, include: Sequence[str] = ("metadatas",)
) -> dict[str, Any]:
    """All records matching ``where``, paged."""
    out: dict[str, list[Any]] = {"ids": [], **{k: [] for k in include}}
    offset = 0
    while True:
        got = collection.get(where=where, include=list(include), limit=PAGE, offset=offset)
        n = len(got["ids"])
        out["ids"].extend(got["ids"])
        for k in include:
            vals = got.get(k)
            out[k].extend(list(vals) if vals is not None else [None] * n)
        if n < PAGE:
            return out
        offset += n


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

    def texts_of(self, persona: str) -> list[str]:
        """The texts of ``persona``'s rows, in the order of :meth:`metas`."""
        part = self._parts.get(persona)
        return list(part.texts) if part is not None else []

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


class ChangeLog:
    """The change log of one collection: the head (``epoch``, ``seq``, ``log_from``, ``nonce``) and one entry per
    write, both written in the writer's own upsert (:meth:`commit`)."""

    def __init__(self, collection: Any, embed: Embed) -> None:
        self.collection = collection
        self.embed = embed
        self.dimension = 0

    def dim(self) -> int:
        if not self.dimension:
            self.dimension = len(self.embed(["dimension"])[0])
        return self.dimension

    def head(self) -> tuple[str, int, int, str]:
        """(epoch, seq, oldest seq still in the log, nonce)."""
        got = self.collection.get(ids=[HEAD_ID], include=["metadatas"])
        metas = got.get("metadatas") or []
        meta = metas[0] if metas and metas[0] else {}
        return (
            str(meta.get("epoch", "")),
            int(meta.get("seq", 0)),
            int(meta.get("log_from", 0)),
            str(meta.get("nonce", "")),
        )

    @staticmethod
    def token(epoch: str, seq: int, nonce: str) -> str:
        # The nonce tells apart two writers on a server that read the same head and both wrote seq + 1.
        return f"{epoch}:{seq}:{nonce}" if epoch else ""

    def revision(self) -> str:
        epoch, seq, _, nonce = self.head()
        return self.token(epoch, seq, nonce)

    def own_records(self, ids: Sequence[str], metas: Sequence[dict[str, Any]], dim: int = 0) -> dict[str, list[Any]]:
        """The store's own records: persona ``~``, a unit vector of the collection's dimension."""
        unit = [1.0] + [0.0] * ((dim or self.dim()) - 1)
        return {
            "ids": list(ids),
            "metadatas": [{"persona": NOT_A_PERSONA, **m} for m in metas],
            "documents": [str(m.get("text", "")) for m in metas],
            "embeddings": [list(unit) for _ in ids],
        }

    def commit(self, recs: dict[str, list[Any]] | None, touched: Sequence[str]) -> None:
        """Write ``recs`` and the entry announcing ``touched`` (plus the new head) in ONE upsert."""
        recs = recs or {"ids": [], "metadatas": [], "documents": [], "embeddings": []}
        epoch, seq, log_from, _ = self.head()
        if not epoch:
            epoch, seq, log_from = uuid.uuid4().hex[:12], 0, 1
        seq += 1
        trim_below = 0
        if seq - log_from >= 2 * LOG_KEEP:
            log_from = trim_below = seq - LOG_KEEP
        nonce = uuid.uuid4().hex[:8]
        if recs["embeddings"]:
            self.dimension = len(recs["embeddings"][0])
        own = self.own_records(
            [HEAD_ID, f"{RESERVED}log:{epoch}:{seq}:{nonce}"],
            [
                {"rec": "head", "epoch": epoch, "seq": seq, "log_from": log_from, "nonce": nonce},
                {"rec": "log", "epoch": epoch, "seq": seq, "ids": json.dumps(sorted(set(touched)))},
            ],
        )
        self.collection.upsert(**{k: list(recs[k]) + own[k] for k in own})
        if trim_below:  # entries nobody needs any more; a kill here only leaves a few more behind
            self.collection.delete(where={"$and": [{"rec": "log"}, {"seq": {"$lt": trim_below}}]})

    def new_epoch(self) -> None:
        """Tell every reader to reload whole (after rows were written without :meth:`commit`)."""
        head = {"rec": "head", "epoch": uuid.uuid4().hex[:12], "seq": 0, "log_from": 1, "nonce": ""}
        self.collection.upsert(**self.own_records([HEAD_ID], [head]))

    def touched(self, epoch: str, have: int, seq: int, log_from: int) -> list[str] | None:
        """The ids touched by the entries after ``have`` up to ``seq``; None if the log cannot say (trimmed, a
        writer's entry missing, too many ids): then reload.

        Entries at ``have`` itself are read again: on a server two writers may have written the same seq (both
        read the same head), and a reader may have seen only one of them."""
        lo, hi = min(have, seq), max(have, seq)
        if lo + 1 < log_from:
            return None
        log = self.collection.get(
            where={"$and": [{"rec": "log"}, {"epoch": epoch}, {"seq": {"$gte": lo}}, {"seq": {"$lte": hi}}]},
            include=["metadatas"],
        )
        entries = log.get("metadatas") or []
        if not set(range(lo + 1, seq + 1)) <= {int(m["seq"]) for m in entries}:
            return None
        ids = sorted({i for m in entries for i in json.loads(str(m.get("ids", "[]")))})
        return ids if len(ids) <= LOG_MAX_IDS else None


class LiveIndex:
    """A :class:`VectorIndex` kept in step with a collection through its :class:`ChangeLog`."""

    def __init__(self, collection: Any, log: ChangeLog, embed: Embed, ttl: float = 0.25) -> None:
        self.collection = collection
        self.log = log
        self.embed = embed
        # Writes from this process expire the check at once; writes from other processes are noticed
        # by the head, read at most every ``ttl`` seconds.
        self.ttl = ttl
        self.index: VectorIndex | None = None
        self.checked = 0.0
        self.lock = threading.RLock()  # the index is updated in place

    def expire(self) -> None:
        """Read the head on the next search (after a write of ours, or to measure a refresh)."""
        self.checked = -math.inf

    def current(self) -> VectorIndex:
        """The index, brought up to date: by the change log when possible, else reloaded whole."""
        with self.lock:
            now = time.monotonic()
            index = self.index
            if index is not None and now - self.checked < self.ttl:
                return index
            epoch, seq, log_from, nonce = self.log.head()
            self.checked = now
            token = ChangeLog.token(epoch, seq, nonce)
            if index is not None and index.revision == token:
                return index
            if index is not None and epoch and index.revision.startswith(f"{epoch}:"):
                touched = self.log.touched(epoch, int(index.revision.split(":")[1]), seq, log_from)
                if touched is not None:
                    present = self.fetch_rows(touched)
                    found = {r.id for r in present}
                    index.apply(present, [i for i in touched if i not in found])
                    index.revision = token
                    return index
            self.index = VectorIndex.build(self._all_rows(), token)
            return self.index

    def _all_rows(self) -> list[Row]:
        try:
            got = stored(self.collection, None, include=("metadatas", "documents", "embeddings"))
        except Exception as exc:
            if not vectors_unreadable(exc):
                raise
            ids = stored(self.collection, None, include=())["ids"]
            return [r for start in range(0, len(ids), PAGE) for r in self.fetch_rows(ids[start : start + PAGE])]
        rows = zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
        return [Row(i, d, m, e) for i, d, m, e in rows if is_data(m)]

    def fetch_rows(self, ids: Sequence[str]) -> list[Row]:
        """The data rows among ``ids``, with their vectors.

        An embedded store opened before another process wrote some rows cannot read those rows' vectors
        (Chroma fails with "Error finding id" while metadata reads fine): the failing ids are found by
        halving and their texts embedded again (the same model gives the same vectors)."""
        if not ids:
            return []
        try:
            got = self.collection.get(ids=list(ids), include=["metadatas", "documents", "embeddings"])
            rows = zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
            return [Row(i, d, m, e) for i, d, m, e in rows if is_data(m)]
        except Exception as exc:
            if not vectors_unreadable(exc):
                raise
        if len(ids) > 16:
            half = len(ids) // 2
            return self.fetch_rows(ids[:half]) + self.fetch_rows(ids[half:])
        got = self.collection.get(ids=list(ids), include=["metadatas", "documents"])
        kept = [(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True) if is_data(m)]
        vectors = self.embed([d for _, d, _ in kept])
        return [Row(i, d, m, v) for (i, d, m), v in zip(kept, vectors, strict=True)]


def chroma_search(
    vector_store: Any, persona_id: str, qvec: np.ndarray, ordinal: int | None, k: int
) -> list[tuple[str, dict[str, Any], float]]:
    """Chroma's own filtered search through llama-index: top-k (text, metadata, cosine), like
    :meth:`VectorIndex.search`."""
    from llama_index.core.vector_stores.types import (
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
    )

    conditions = [MetadataFilter(key="persona", value=persona_id, operator=FilterOperator.EQ)]
    if ordinal is not None:
        conditions += [
            MetadataFilter(key="known_from", value=ordinal, operator=FilterOperator.LTE),
            MetadataFilter(key="valid_to", value=ordinal, operator=FilterOperator.GT),
        ]
    filters = MetadataFilters(filters=conditions, condition=FilterCondition.AND)  # type: ignore[arg-type]
    result = vector_store.query(
        VectorStoreQuery(query_embedding=[float(x) for x in qvec], similarity_top_k=k, filters=filters)
    )
    found = []
    for node, sim in zip(result.nodes or [], result.similarities or [], strict=False):
        meta = dict(node.metadata)
        meta.setdefault("pid", node.node_id)
        cosine = 1.0 + math.log(sim) if sim > 0 else -1.0  # llama-index reports exp(-distance)
        found.append((node.get_content(), meta, cosine))
    return found
