"""The temporal memory: what a persona knows at a stage, in Chroma.

Records (see :class:`persona_rag.corpus.Passage`) live in one Chroma collection
per universe, written in llama-index's ChromaVectorStore format, and carry
``persona``, ``stage``, ``known_from`` and ``valid_to`` as numeric metadata.
The world event log (persona ``_world``) holds every event once, for the time
check.

This module keeps the memory's own jobs (ingest, run-time updates, history,
export) and delegates the rest: :mod:`persona_rag.memory.client` makes the
Chroma client, the writers' file lock, the error wrapping and the collection
name; :mod:`persona_rag.memory.index` holds the search (an exact in-process
index over the same vectors, the default "numpy" backend, rows grouped by
persona; and Chroma's own filtered search, the "chroma" backend, covered by the
same tests and compared in ``benchmarks/memory_bench.py``) and the change log
below. In this module ``pid`` is always a passage id; a persona's id is
``persona_id``.

The change log. Every write carries, in the same ``collection.upsert`` call as
its data rows, a log entry naming the ids it touched and the new head (the
revision token ``epoch:seq:nonce``). Both are records of the data collection
with ids under the reserved prefix ``__pr__:`` and persona ``~``, so no
persona filter, search, list or export ever sees them. One Chroma upsert is
applied whole or not at all, so a kill -9 at any point leaves either no data
and no revision, or the data and the revision that announces it: a reader never
sees a revision whose rows are missing, nor rows that no revision announces
(writing the data first and the log entry after, in two calls, would leave rows
that a reader with an open index never fetches when a kill lands in between).
A reader that sees a newer token fetches only the touched rows and updates its
index in place, so noticing another process's write costs the size of the
change, not of the store. Deletions are announced the same way: the rows are
first overwritten by invisible tombstones in one upsert with their log entry,
then deleted; a kill in between leaves tombstones that nothing reads and that
the next ingest or forget removes.

Corrections and retirements are compare-and-set on the state they change: the
writer first ``add``s a claim record keyed by the version id and its current
end (``add`` keeps the first writer of an id), and only the claim's owner
commits, again in one upsert with its log entry. A claim whose writer died
before committing is completed by the next writer of that fact once its lease
has run out, so a half-written correction ends as the old state (while
nothing has committed it) or the new one, never as two open versions.
Writers on an embedded store also take a file lock; a second writer waits for
it and gives up with a clear error after ``lock_timeout`` seconds.
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from persona_rag.memory.client import STORES, FileLock, collection_name, is_store_failure, make_client, store_call
from persona_rag.memory.index import (
    OWN_KINDS,
    RESERVED,
    ChangeLog,
    LiveIndex,
    VectorIndex,
    chroma_search,
    is_data,
    stored,
)

from persona_rag.corpus import OPEN, WORLD, Passage, Universe
from persona_rag.errors import MemoryStoreError, UsageError
from persona_rag.timeline import Stage

if TYPE_CHECKING:
    from persona_rag.memory.entities import EntityIndex
    from persona_rag.memory.vectors import VectorCache

    from persona_rag.settings import Settings

__all__ = ["STORES", "Hit", "IngestReport", "StaleVersionError", "TemporalMemory", "make_client", "open_memory"]

BACKENDS = ("numpy", "chroma")
ORIGIN_CORPUS = "corpus"
ORIGIN_UPDATE = "update"
META_COLLECTION = "persona_rag_meta"
# Rows per write: one upsert (rows + log entry) stays well under Chroma's batch limit.
_BATCH = 256
QUERY_CACHE = 8192  # question vectors kept (1.5 KB each with MiniLM): a data build asks a few thousand


class StaleVersionError(UsageError):
    """The record was corrected by another writer first: correct the newest version instead."""


@dataclass
class Hit:
    passage: Passage
    score: float

    def as_dict(self) -> dict[str, Any]:
        p = self.passage
        return {
            "id": p.id,
            "text": p.text,
            "stage": p.stage,
            "known_from": p.known_from,
            "valid_to": None if p.valid_to >= OPEN else p.valid_to,
            "kind": p.kind,
            "persona": p.persona,
            "witnessed": p.witnessed,
            "source": p.source,
            "score": round(self.score, 4),
        }


def version_row(p: Passage) -> dict[str, Any]:
    """One version of a fact as `memory history` and the server show it (``valid_to`` None while it holds)."""
    return {
        "id": p.id,
        "version": p.version,
        "text": p.text,
        "stage": p.stage,
        "known_from": p.known_from,
        "valid_to": None if p.valid_to >= OPEN else p.valid_to,
        "source": p.source,
    }


def record_row(p: Passage) -> dict[str, Any]:
    """One record as `memory list` and the server show it."""
    return {"id": p.id, "stage": p.stage, "known_from": p.known_from, "kind": p.kind, "text": p.text}


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    @property
    def writes(self) -> int:
        return self.added + self.updated + self.removed

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged"


def _hash(p: Passage) -> str:
    h = hashlib.sha256()
    h.update(p.text.encode())
    for key in ("persona", "stage", "known_from", "valid_to", "kind", "participants", "entities", "witnessed"):
        h.update(f"|{key}={p.metadata()[key]}".encode())
    return h.hexdigest()[:20]


class TemporalMemory:
    """A universe's memory: ingest, query by (persona, stage), and update at run time."""

    def __init__(
        self,
        universe: Universe,
        client: Any,
        embed_model: Any,
        *,
        collection: str | None = None,
        backend: str = "numpy",
        lock_path: Path | None = None,
        lock_timeout: float = 30.0,
        revision_ttl: float = 0.25,
        claim_timeout: float = 10.0,
        vector_cache: VectorCache | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise UsageError(f"unknown search backend {backend!r}; valid: {', '.join(BACKENDS)}")
        self.universe = universe
        self.client = client
        self.embed_model = embed_model
        self.vector_cache = vector_cache  # corpus passages' vectors by text, shared by every collection
        self.backend = backend
        self.collection_name = collection_name(collection or f"pr_{universe.id}")
        self._lock = FileLock(lock_path, lock_timeout)
        try:
            self.collection = client.get_or_create_collection(self.collection_name, metadata={"hnsw:space": "cosine"})
            self._meta = client.get_or_create_collection(META_COLLECTION)  # ingest markers
        except Exception as exc:
            raise MemoryStoreError(f"cannot open the memory store: {exc}") from exc
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)
        self._log = ChangeLog(self.collection, self._embed)
        self._live = LiveIndex(self.collection, self._log, self._embed, revision_ttl)
        # A correction's writer commits within milliseconds of claiming it; one still uncommitted after
        # this long belonged to a process that died, and the next writer of that fact completes it.
        self.claim_timeout = claim_timeout
        self._entities: dict[tuple[str, str], Any] = {}
        self._query_cache: dict[str, np.ndarray] = {}

    @property
    def revision_ttl(self) -> float:
        """Seconds between two reads of the revision by searches (writes of this object apply at once)."""
        return self._live.ttl

    @revision_ttl.setter
    def revision_ttl(self, value: float) -> None:
        self._live.ttl = value

    # ------------------------------------------------------------------ writes

    def _remove(self, ids: Sequence[str]) -> None:
        """Delete rows: first overwrite them with tombstones in one upsert with their log entry (readers drop
        them at once), then delete them. A kill in between leaves only tombstones, which nothing reads."""
        for start in range(0, len(ids), _BATCH):
            chunk = list(ids[start : start + _BATCH])
            gone = {"rec": "gone", "origin": "gone", "root": "", "closed_by_update": 0, "superseded_by": ""}
            self._log.commit(self._log.own_records(chunk, [gone] * len(chunk)), chunk)
            self.collection.delete(ids=chunk)

    def _clear_tombstones(self) -> None:
        """Delete what a killed :meth:`_remove` left (already invisible and announced)."""
        left = self._stored({"rec": "gone"}, include=())["ids"]
        if left:
            self.collection.delete(ids=left)

    @store_call("reading the memory's revision")
    def revision(self) -> str:
        """A token that changes with every write (``epoch:seq:nonce``)."""
        return self._log.revision()

    def _wrote(self) -> None:
        # Our own write is applied like anyone else's: by the change log, on the next read.
        self._live.expire()

    def _records(
        self,
        passages: Sequence[Passage],
        embeddings: Sequence[Sequence[float]],
        origin: str,
        extra: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        from llama_index.core.schema import TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        ids, metas, docs = [], [], []
        for p in passages:
            meta = p.metadata()
            meta["hash"] = _hash(p)
            meta["origin"] = origin
            meta.update((extra or {}).get(p.id, {}))
            node = TextNode(id_=p.id, text=p.text, metadata=meta)
            full = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
            full["document_id"] = full["doc_id"] = full["ref_doc_id"] = p.id
            ids.append(p.id)
            metas.append(full)
            docs.append(p.text)
        return {"ids": ids, "metadatas": metas, "documents": docs, "embeddings": [list(e) for e in embeddings]}

    def _upsert(
        self,
        passages: Sequence[Passage],
        embeddings: Sequence[Sequence[float]],
        origin: str,
        extra: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Write passages and their log entry in one call. ``extra``: metadata to keep, by id."""
        if not passages:
            return
        try:
            self._log.commit(self._records(passages, embeddings, origin, extra), [p.id for p in passages])
        except Exception as exc:
            if not is_store_failure(exc):
                raise
            raise MemoryStoreError(f"writing to the memory failed, nothing was lost: {exc}; retry the command") from exc

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        # The embed model batches by its own embed_batch_size; we write with upsert ourselves (atomic, id-stable).
        return [list(v) for v in self.embed_model.get_text_embedding_batch(list(texts), show_progress=False)]

    def _stored(self, where: dict[str, Any] | None = None, include: Sequence[str] = ("metadatas",)) -> dict[str, Any]:
        """All records matching ``where``, paged (Chroma caps one get)."""
        return stored(self.collection, where, include)

    @store_call("ingesting into the memory")
    def ingest(self, progress: bool | None = None) -> IngestReport:
        """Bring the store in line with the corpus. Unchanged passages are not written.

        Records added at run time (``origin: update``) are never touched, and a
        corpus passage closed by a correction keeps its closing.
        """
        show = sys.stderr.isatty() if progress is None else progress
        wanted = {p.id: p for p in self.universe.passages()}
        report = IngestReport()
        with self._lock:
            self._clear_tombstones()
            stored = self._stored({"origin": ORIGIN_CORPUS})
            have = {i: m for i, m in zip(stored["ids"], stored["metadatas"], strict=True)}
            todo = []
            keep: dict[str, dict[str, Any]] = {}
            for pid, p in wanted.items():
                meta = have.get(pid)
                if meta is None:
                    report.added += 1
                elif meta.get("hash") != _hash(p):
                    report.updated += 1
                    if meta.get("closed_by_update"):
                        # A correction closed this passage: the new corpus text keeps the closing, its link to
                        # the correction and the corpus hash (so the next ingest sees it unchanged).
                        keep[pid] = {k: meta[k] for k in ("closed_by_update", "superseded_by") if k in meta}
                        keep[pid]["hash"] = _hash(p)
                        p.valid_to = int(meta.get("valid_to", OPEN))
                else:
                    report.unchanged += 1
                    continue
                todo.append(p)
            gone = [pid for pid in have if pid not in wanted]
            # Similar lengths in one encoder batch pad less: as fast as the raw encoder on the whole list.
            todo.sort(key=lambda p: len(p.text))
            batch = _BATCH
            from concurrent.futures import Future, ThreadPoolExecutor

            from tqdm import tqdm

            with (
                tqdm(
                    total=len(todo),
                    desc=f"ingesting {self.universe.id}",
                    unit="passage",
                    disable=not show or not todo,
                    file=sys.stderr,
                ) as bar,
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write") as writer,
            ):
                # Chunk i is written (Chroma, SQLite) on the second core while chunk i+1 is embedded; one
                # writer thread keeps the writes in order, and a failed write stops the loop at the next chunk.
                pending: Future[None] | None = None
                written = 0
                for start in range(0, len(todo), batch):
                    chunk = todo[start : start + batch]
                    texts = [p.text for p in chunk]
                    vectors = self.vector_cache.embed(texts, self._embed) if self.vector_cache else self._embed(texts)
                    if pending is not None:
                        pending.result()
                        bar.update(start - written)
                        written = start
                    pending = writer.submit(self._upsert, chunk, vectors, ORIGIN_CORPUS, keep)
                if pending is not None:
                    pending.result()
                    bar.update(len(todo) - written)
            if gone:
                self._remove(gone)
                report.removed = len(gone)
            # Written last: a run killed before this line leaves no marker, and the next one completes it.
            self._meta.upsert(
                ids=[self._marker_id()],
                documents=[""],
                embeddings=[[0.0]],
                metadatas=[{"ingested": time.time(), "fingerprint": self.universe.fingerprint()}],
            )
        self._wrote()
        return report

    @store_call("opening the memory")
    def ensure_ingested(self) -> IngestReport | None:
        """Ingest on first use, complete an ingest that was interrupted (no marker yet), and bring the store
        in line when the corpus changed since the last ingest (an edited event must not stay stale)."""
        if self.ingest_complete():
            return None
        return self.ingest()

    def _marker_id(self) -> str:
        return f"{self.collection_name}#ingested"

    def ingest_complete(self) -> bool:
        """Whether a whole ingest of the corpus as it is now finished: its marker is written after the last
        passage and records the corpus fingerprint."""
        got = self._meta.get(ids=[self._marker_id()], include=["metadatas"])
        if not got["ids"]:
            return False
        return (got["metadatas"][0] or {}).get("fingerprint") == self.universe.fingerprint()

    def _get_one(self, pid: str, embed: bool = True) -> tuple[Passage, dict[str, Any], list[float]]:
        """A record and a fresh embedding of its text. The stored vector is not read back: an embedded
        store cannot read vectors another process wrote while this one had it open (Chroma fails)."""
        got = self.collection.get(ids=[pid], include=["metadatas", "documents"])
        if not got["ids"] or not is_data(got["metadatas"][0]) or pid.startswith(RESERVED):
            raise UsageError(f"no memory record {pid!r}; find ids with `persona-rag memory list PERSONA`")
        meta = got["metadatas"][0]
        passage = Passage.from_metadata(got["documents"][0], meta)
        return passage, meta, (self._embed([passage.text])[0] if embed else [])

    @store_call("adding to the memory")
    def add(self, persona: str, stage: Stage, text: str, kind: str = "fact", entities: Sequence[str] = ()) -> Passage:
        """Teach the persona a new fact, known from ``stage`` on."""
        text = text.strip()
        if not text:
            raise UsageError("the text of a memory must not be empty")
        persona_id = self.universe.persona(persona).id
        new_id = f"{persona_id}:add-{uuid.uuid4().hex[:10]}"
        passage = Passage(
            new_id,
            self.universe.id,
            persona_id,
            text,
            stage.ordinal,
            stage.ordinal,
            OPEN,
            kind,
            (persona_id,),
            tuple(entities),
            "update",
            witnessed=True,
        )
        emb = self._embed([text])
        with self._lock:
            self._upsert([passage], emb, ORIGIN_UPDATE)
        self._wrote()
        return passage

    @store_call("the correction")
    def correct(self, pid: str, from_stage: Stage, text: str) -> Passage:
        """Replace a fact from ``from_stage`` on. The old version is closed there and kept."""
        text = text.strip()
        if not text:
            raise UsageError("the corrected text must not be empty")
        with self._lock:
            old, meta, old_emb = self._get_one(pid)
            self._check_open(old, meta, from_stage)
            new_emb = self._embed([text])  # before claiming: the claim's owner commits right after
            claim, mine = self._claim(old, "correct", from_stage.ordinal, text)
            if mine:
                new = self._commit_claim(claim, (old, meta, old_emb, new_emb))
            else:
                claim = self._settle(claim)
                if (claim.get("op"), claim.get("text"), int(claim.get("from", -1))) != (
                    "correct",
                    text,
                    from_stage.ordinal,
                ):
                    raise self._stale(claim)
                new = self._get_one(str(claim["new_id"]), embed=False)[0]  # this very correction, already made
        self._wrote()
        return new

    @store_call("retiring the record")
    def retire(self, pid: str, from_stage: Stage) -> Passage:
        """Mark a fact as no longer true from ``from_stage`` on (kept for history)."""
        with self._lock:
            old, meta, emb = self._get_one(pid)
            self._check_open(old, meta, from_stage)
            claim, mine = self._claim(old, "retire", from_stage.ordinal, "")
            if mine:
                closed = self._commit_claim(claim, (old, meta, emb, None))
            else:
                claim = self._settle(claim)
                if (claim.get("op"), int(claim.get("from", -1))) != ("retire", from_stage.ordinal):
                    raise self._stale(claim)
                closed = self._get_one(pid, embed=False)[0]
        self._wrote()
        return closed

    # Compare-and-set for corrections and retirements. Both change one state of one version: (id, valid_to).
    # The claim record's id names that state, and `add` keeps the first writer of an id, so of several
    # writers that read the same state (processes on a Chroma server, where the file lock does not reach)
    # exactly one owns the change; the others are told, never lost. The owner commits the claim (rows,
    # claim marked committed, log entry) in one upsert; a claim left uncommitted past its lease belonged
    # to a writer that died, and whoever meets it next commits it (the commit is rebuilt from the claim).

    def _claim(self, target: Passage, op: str, stage: int, text: str) -> tuple[dict[str, Any], bool]:
        cid = f"{RESERVED}claim:{target.id}@{target.valid_to}"
        token = uuid.uuid4().hex
        mine = {
            "rec": "claim",
            "claim": cid,
            "op": op,
            "target": target.id,
            "was_valid_to": target.valid_to,
            "from": stage,
            "text": text,
            "new_id": self._next_version(target, stage, text).id if op == "correct" else "",
            "token": token,
            "claimed_at": time.time(),
            "committed": 0,
        }
        self.collection.add(**self._log.own_records([cid], [mine]))
        got = self.collection.get(ids=[cid], include=["metadatas"])
        claim = (got.get("metadatas") or [{}])[0] or {}
        return dict(claim), claim.get("token") == token

    def _settle(self, claim: dict[str, Any]) -> dict[str, Any]:
        """Wait for another writer's claim to be committed; past its lease, commit it ourselves."""
        while not int(claim.get("committed", 0)):
            if time.time() - float(claim.get("claimed_at", 0)) > self.claim_timeout:
                self._commit_claim(claim, None)
                break
            time.sleep(0.02)
            got = self.collection.get(ids=[str(claim["claim"])], include=["metadatas"])
            claim = dict((got.get("metadatas") or [{}])[0] or {})
        return claim

    def _stale(self, claim: dict[str, Any]) -> StaleVersionError:
        what = f"corrected ({claim.get('new_id')})" if claim.get("op") == "correct" else "retired"
        return StaleVersionError(
            f"{claim.get('target')} was {what} by another writer at the same time; list its history and "
            "change the newest version instead"
        )

    def _next_version(self, old: Passage, stage: int, text: str) -> Passage:
        root = old.root or old.id
        return Passage(
            f"{root}@v{old.version + 1}",
            old.universe,
            old.persona,
            text,
            stage,
            max(stage, old.known_from),
            old.valid_to,
            old.kind,
            old.participants,
            old.entities,
            "update",
            old.witnessed,
            root,
            old.version + 1,
        )

    def _commit_claim(
        self,
        claim: dict[str, Any],
        known: tuple[Passage, dict[str, Any], list[float], list[list[float]] | None] | None,
    ) -> Passage:
        """Write what ``claim`` decided, with its log entry, in one upsert. The same rows whoever commits."""
        if known is None:
            old, meta, old_emb = self._get_one(str(claim["target"]))
            new_emb = self._embed([str(claim["text"])]) if claim["op"] == "correct" else None
        else:
            old, meta, old_emb, new_emb = known
        old = Passage(**{**old.__dict__, "valid_to": int(claim["was_valid_to"])})  # as it was when claimed
        stage = int(claim["from"])
        closed = Passage(**{**old.__dict__, "valid_to": stage})
        recs = self._records([closed], [old_emb], str(meta.get("origin", ORIGIN_CORPUS)))
        # Keep the corpus hash: a re-ingest must not undo the closing.
        recs["metadatas"][0].update({"closed_by_update": 1, "hash": meta.get("hash", "")})
        result, touched = closed, [old.id]
        if claim["op"] == "correct":
            new = self._next_version(old, stage, str(claim["text"]))
            recs["metadatas"][0]["superseded_by"] = new.id
            more = self._records([new], new_emb or [], ORIGIN_UPDATE)
            recs = {k: recs[k] + more[k] for k in recs}
            result, touched = new, [old.id, new.id]
        done = self._log.own_records([str(claim["claim"])], [{**claim, "committed": 1}], len(old_emb))
        self._log.commit({k: recs[k] + done[k] for k in recs}, touched)
        return result

    def _check_open(self, old: Passage, meta: dict[str, Any], from_stage: Stage) -> None:
        if meta.get("superseded_by"):
            raise StaleVersionError(
                f"{old.id} was already corrected by {meta['superseded_by']}; correct that version instead"
            )
        # From the very stage it is known from: the old version never held (it stays in the history).
        if from_stage.ordinal < old.known_from:
            raise UsageError(
                f"--from-stage must be at or after the stage the fact is known from ({old.known_from}); "
                f"to replace it everywhere, retire it and add a new one"
            )
        if from_stage.ordinal >= old.valid_to:
            raise UsageError(f"{old.id} already stopped holding at stage {old.valid_to}")

    @store_call("forgetting updates")
    def forget_updates(self, persona: str) -> int:
        """Delete the facts added at run time for ``persona``, with all their versions.

        Corpus passages, and corrections made to them, are kept.
        """
        persona_id = self.universe.persona(persona).id
        with self._lock:
            self._clear_tombstones()
            got = self.collection.get(
                where={"$and": [{"persona": persona_id}, {"origin": ORIGIN_UPDATE}]}, include=["metadatas"]
            )
            ids = [
                i
                for i, m in zip(got["ids"], got["metadatas"], strict=True)
                if str(m.get("root", "")).startswith(f"{persona_id}:add-")
            ]
            if ids:
                self._remove(ids)
        self._wrote()
        return len(ids)

    @store_call("reading the history")
    def history(self, pid: str) -> list[Passage]:
        """Every version of a fact, oldest first."""
        first, _, _ = self._get_one(pid, embed=False)
        got = self.collection.get(where={"root": first.root or first.id}, include=["metadatas", "documents"])
        versions = [Passage.from_metadata(d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True)]
        return sorted(versions, key=lambda p: p.version)

    # ------------------------------------------------------------------ reads

    def embed_query(self, text: str) -> np.ndarray:
        """The normalised query vector. One question is searched several times per answer
        (its facts, the world log, the persona's memory), so recent vectors are kept."""
        cached = self._query_cache.get(text)
        if cached is not None:
            return cached
        return self._keep_query(text, self.embed_model.get_query_embedding(text))

    def _keep_query(self, text: str, vector: Any) -> np.ndarray:
        vec = np.asarray(vector, dtype=np.float32)
        vec = vec / (float(np.linalg.norm(vec)) or 1.0)
        if len(self._query_cache) >= QUERY_CACHE:
            self._query_cache.pop(next(iter(self._query_cache)))
        self._query_cache[text] = vec
        return vec

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``embed_query`` of many texts (rows in order), those not cached embedded in one batch when the
        embedding model can (the default MiniLM: sentence-transformers' batches, several times faster than
        one question at a time). The data builder asks its thousands of questions this way first."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._query_cache))
        batch = getattr(self.embed_model, "get_query_embedding_batch", None)
        if batch is not None and len(todo) > 1:
            for start in range(0, len(todo), QUERY_CACHE // 2):  # never evict what this call just embedded
                part = todo[start : start + QUERY_CACHE // 2]
                for text, vector in zip(part, batch(part), strict=True):
                    self._keep_query(text, vector)
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack([self.embed_query(t) for t in texts])

    @store_call("searching the memory")
    def search(
        self,
        persona: str,
        query: str | np.ndarray,
        stage: Stage | None = None,
        k: int = 5,
        *,
        all_stages: bool = False,
    ) -> list[Hit]:
        """Top-k passages ``persona`` knows at ``stage`` (still valid then).

        ``all_stages=True`` (or no stage) searches every record of the persona,
        whenever it became known and whether or not it still holds. Use persona
        ``_world`` for the universe's event log.
        """
        persona_id = persona if persona == WORLD else self.universe.persona(persona).id
        if k <= 0:
            return []
        qvec = self.embed_query(query) if isinstance(query, str) else query
        ordinal = None if (stage is None or all_stages) else stage.ordinal
        if self.backend == "chroma":
            found = chroma_search(self.vector_store, persona_id, qvec, ordinal, k)
        else:
            with self._live.lock:
                found = self._live.current().search(persona_id, qvec, ordinal, k)
        return [Hit(Passage.from_metadata(text, meta), score) for text, meta, score in found]

    def _load_index(self) -> VectorIndex:
        """The in-process index, brought up to date with the store."""
        return self._live.current()

    @store_call("reading the memory")
    def entity_index(self, persona: str) -> EntityIndex:
        """Names -> first stage in the world / first stage ``persona`` knows them (for time checks)."""
        from persona_rag.memory.entities import EntityIndex

        with self._live.lock:
            index = self._load_index()
            key = (index.revision, persona)
            cached = self._entities.get(key)
            if cached is None:
                world, mine, texts = index.metas(WORLD), index.metas(persona), list(index.texts())
                world_texts, my_texts = index.texts_of(WORLD), index.texts_of(persona)
        if cached is None:
            aliases = {a.lower(): c.name.lower() for c in self.universe.characters.values() for a in c.aliases}
            cached = EntityIndex.build(
                world, mine, texts, aliases, self.universe.vocabulary, world_texts=world_texts, persona_texts=my_texts
            )
            self._entities = {key: cached, **{k: v for k, v in self._entities.items() if k[0] == key[0]}}
        return cached

    @store_call("listing the memory")
    def list(self, persona: str, stage: Stage | None = None) -> list[Passage]:
        """Every record of a persona (known and valid at ``stage`` if given), in time order."""
        persona_id = persona if persona == WORLD else self.universe.persona(persona).id
        where: dict[str, Any] = {"persona": persona_id}
        if stage is not None:
            where = {"$and": [where, {"known_from": {"$lte": stage.ordinal}}, {"valid_to": {"$gt": stage.ordinal}}]}
        got = self._stored(where, include=("metadatas", "documents"))
        out = [Passage.from_metadata(d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True)]
        return sorted(out, key=lambda p: (p.known_from, p.stage, p.id))

    @store_call("exporting run-time changes")
    def updates(self) -> Sequence[tuple[Passage, dict[str, Any]]]:
        """Every record a run-time change wrote, oldest version first: additions and corrections, and
        corpus records closed by a correction or a retirement. Each with its bookkeeping fields
        (origin, superseded_by, closed_by_update, hash)."""
        found: dict[str, tuple[Passage, dict[str, Any]]] = {}
        for where in ({"origin": ORIGIN_UPDATE}, {"closed_by_update": 1}):
            got = self._stored(where, include=("metadatas", "documents"))
            for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
                p = Passage.from_metadata(doc, meta)
                extra = {k: meta[k] for k in ("origin", "superseded_by", "closed_by_update", "hash") if k in meta}
                found[p.id] = (p, extra)
        return sorted(found.values(), key=lambda r: (r[0].root or r[0].id, r[0].version))

    @store_call("importing run-time changes")
    def restore(self, records: Sequence[tuple[Passage, dict[str, Any]]]) -> int:
        """Write records exported by :meth:`updates`, with their ids: importing twice changes nothing."""
        touched: list[str] = []
        with self._lock:
            self._clear_tombstones()
            for start in range(0, len(records), _BATCH):
                chunk = records[start : start + _BATCH]
                embs = self._embed([p.text for p, _ in chunk])
                recs: dict[str, list[Any]] = {"ids": [], "metadatas": [], "documents": [], "embeddings": []}
                for (p, extra), emb in zip(chunk, embs, strict=True):
                    one = self._records([p], [emb], str(extra.get("origin", ORIGIN_UPDATE)))
                    one["metadatas"][0].update(extra)
                    for k in recs:
                        recs[k] += one[k]
                self._log.commit(recs, recs["ids"])
                touched += recs["ids"]
        self._wrote()
        return len(touched)

    @store_call("counting the memory")
    def count(self) -> int:
        """Passages in the store (not the store's own records)."""
        own = self._stored({"rec": {"$in": list(OWN_KINDS)}}, include=())["ids"]
        return int(self.collection.count()) - len(own)


def open_memory(
    settings: Settings,
    universe: Universe | None = None,
    *,
    store: str | None = None,
    embed_model: Any = None,
    backend: str = "numpy",
    ingest: bool = True,
    collection: str | None = None,
) -> TemporalMemory:
    """The memory for ``settings``: a Chroma server if ``chroma_url`` is set, else the embedded store."""
    from persona_rag.corpus import load_universe

    uni = universe or load_universe(settings.corpus)
    kind = store or ("server" if settings.chroma_url else "persistent")
    path = settings.memory_dir / "chroma"
    client = make_client(kind, path if kind == "persistent" else None, settings.chroma_url)
    if embed_model is None:
        from persona_rag.memory.embeddings import load_embed_model

        embed_model = load_embed_model(settings)
    from persona_rag.memory.embeddings import HashEmbedding
    from persona_rag.memory.vectors import VectorCache

    memory = TemporalMemory(
        uni,
        client,
        embed_model,
        backend=backend,
        collection=collection,
        lock_path=(path / ".write.lock") if kind == "persistent" else None,
        # the fake embeds faster than a cache reads; a real model's vectors are kept for the next collection
        vector_cache=None
        if isinstance(embed_model, HashEmbedding)
        else VectorCache(settings.memory_dir / "vectors.sqlite", settings.embed_model),
    )
    if ingest:
        memory.ensure_ingested()
    return memory
