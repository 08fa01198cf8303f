"""Embedding models: the real one from the foundation, and a deterministic fake.

Both are llama-index ``BaseEmbedding`` objects, so the ingestion pipeline and the
store treat them alike.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from typing import TYPE_CHECKING, Any

from llama_index.core.base.embeddings.base import BaseEmbedding

if TYPE_CHECKING:
    from persona_rag.settings import Settings

_WORD = re.compile(r"[a-z0-9']+")


class HashEmbedding(BaseEmbedding):
    """Bag of hashed words and word pairs, L2-normalised. Deterministic and instant.

    Texts that share words get similar vectors, so retrieval tests are meaningful
    without a neural model. Use it in your own tests; never in production.
    """

    embed_dim: int = 256

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    def _vector(self, text: str) -> list[float]:
        words = [w for w in _WORD.findall(text.lower()) if len(w) > 2]
        vec = [0.0] * self.embed_dim
        for token in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
            h = hashlib.blake2b(token.encode(), digest_size=8).digest()
            vec[int.from_bytes(h[:4], "little") % self.embed_dim] += 1.0 if h[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)


def load_embed_model(settings: Settings, batch_size: int = 64) -> Any:
    """The configured embedding model (default MiniLM from its PyPI package), offline.

    ``hash`` selects :class:`HashEmbedding`, the built-in fake for tests.
    """
    from persona_rag.errors import ModelError

    if settings.embed_model == "hash":
        return HashEmbedding()
    from persona_rag.models import embed_model_path
    from persona_rag.offline import configure_offline

    target = embed_model_path(settings)
    configure_offline(settings.allow_downloads)

    def sentence_transformers() -> Any:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        try:
            return HuggingFaceEmbedding(
                model_name=target,
                device=settings.device,
                normalize=True,
                embed_batch_size=batch_size,
                cache_folder=str(settings.models_dir / "hf"),
            )
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"cannot load embedding model {settings.embed_model!r}: {str(exc).splitlines()[0]}"
            ) from exc

    from pathlib import Path

    from persona_rag.memory import minilm

    folder = Path(target)
    if settings.device == "cpu" and minilm.supported(folder):
        # Questions are embedded in numpy (no torch import at start); ingest batches still use the model above.
        try:
            return minilm.FastStartEmbedding(folder, sentence_transformers)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load embedding model {settings.embed_model!r}: {exc}") from exc
    return sentence_transformers()
