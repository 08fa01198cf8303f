"""Passage vectors kept on disk, by embedding model and text, so a corpus is embedded once per machine.

A second collection of the same universe (the demo's scratch copy, a Chroma server beside the embedded store,
a memory rebuilt after `memory reset`) takes its vectors from here instead of running the model again. The
model is deterministic, so a stored vector is the one it would compute. The cache is only ever a shortcut: a
file that cannot be read or written is left alone and the texts are embedded as if it were not there.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class VectorCache:
    """``text -> vector`` for one embedding model, in one SQLite file (several processes may share it)."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model
        self.broken = False  # after the first failure the cache is skipped for the rest of the run

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))")
        return db

    def _failed(self, exc: Exception) -> None:
        self.broken = True
        print(f"persona-rag: the vector cache {self.path} is not usable ({exc}); embedding without it", file=sys.stderr)

    def get(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of those texts that have one."""
        if self.broken or not texts:
            return {}
        keys = {self._key(t): t for t in texts}
        found: dict[str, list[float]] = {}
        try:
            with contextlib.closing(self._connect()) as db:
                items = list(keys)
                for start in range(0, len(items), 500):
                    part = items[start : start + 500]
                    rows = db.execute(
                        f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(part))})",
                        [self.model, *part],
                    ).fetchall()
                    for key, blob in rows:
                        found[keys[key]] = np.frombuffer(blob, dtype=np.float32).tolist()
        except (sqlite3.Error, OSError, ValueError) as exc:
            self._failed(exc)
            return {}
        return found

    def put(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        if self.broken or not texts:
            return
        rows = [
            (self.model, self._key(t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        try:
            with contextlib.closing(self._connect()) as db, db:  # closed after the commit
                db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)

    def embed(self, texts: Sequence[str], embed: Callable[[list[str]], list[list[float]]]) -> list[list[float]]:
        """The vectors of ``texts``: stored ones as they are, the rest from ``embed`` (then stored)."""
        have = self.get(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in have]
        if missing:
            new = embed(missing)
            self.put(missing, new)
            have.update(zip(missing, new, strict=True))
        return [have[t] for t in texts]
