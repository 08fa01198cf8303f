"""An embedding wrapper that embeds each distinct text once.

A built universe repeats every event's text in the world log and in each persona
that lived it; the ingest meets those copies next to each other, so a small
bounded cache halves or thirds the embedding work without holding the book.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

DEFAULT_BATCH = 64  # texts per call to the wrapped model when it does not say (load_embed_model's batch size)


class DedupEmbedding(BaseEmbedding):
    _inner: Any = PrivateAttr()
    _cache: OrderedDict[str, list[float]] = PrivateAttr(default_factory=OrderedDict)
    _limit: int = PrivateAttr(default=4096)

    @classmethod
    def wrap(cls, inner: Any, limit: int = 4096) -> DedupEmbedding:
        # Any object with get_text_embedding_batch and get_query_embedding will do: a llama-index embedding
        # (which has embed_batch_size) or the default MiniLM's FastStartEmbedding (which has not).
        batch = getattr(inner, "embed_batch_size", None) or DEFAULT_BATCH
        obj = cls(model_name=getattr(inner, "model_name", "dedup"), embed_batch_size=batch)
        obj._inner = inner
        obj._limit = limit
        return obj

    @classmethod
    def class_name(cls) -> str:
        return "DedupEmbedding"

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        keys = [hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache}
        if todo:
            vectors = self._inner.get_text_embedding_batch(list(todo.values()))
            for k, v in zip(todo, vectors, strict=True):
                self._cache[k] = list(v)
        out = [self._cache[k] for k in keys]
        for k in keys:
            self._cache.move_to_end(k)
        while len(self._cache) > self._limit:
            self._cache.popitem(last=False)
        return out

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return list(self._inner.get_query_embedding(query))

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
