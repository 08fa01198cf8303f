"""A BERT sentence encoder in numpy: the question's vector without importing torch.

The memory's documents are embedded by sentence-transformers (through llama-index) at
ingest, in large batches. A question needs one vector, and importing torch,
transformers and sentence-transformers for it costs about 5 s of process start on
this 2-core machine, more than the answer itself. For the models this module can
run (a BERT encoder with mean pooling and L2 normalisation, as the default MiniLM),
the question is embedded here with the same weights; the vectors equal
sentence-transformers' within float32 rounding (a test checks it), so stored vectors
stay compatible. Any other model goes through sentence-transformers for everything.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SMALL_BATCH = 8  # up to this many texts are embedded here; larger batches go to sentence-transformers
# ... and up to this many while sentence-transformers is not loaded yet: 32 texts here take about 0.5 s, loading
# torch and the model 5-10 s (an answer plan embeds the persona's dialogue questions of a stage, 3 to 9 of them)
COLD_BATCH = 32


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to about 1e-7 (Chebyshev fit of erfc, Numerical Recipes' erfcc); numpy has none built in."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))
                    )
                )
            )
        )
    )
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def supported(folder: Path) -> bool:
    """A sentence-transformers BERT folder with mean pooling and normalisation, stored as safetensors."""
    try:
        config = json.loads((folder / "config.json").read_text())
        modules = json.loads((folder / "modules.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and kinds == ["Transformer", "Pooling", "Normalize"]
        and modes == ["pooling_mode_mean_tokens"]
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


class BertEncoder:
    """Mean-pooled, normalised BERT sentence vectors, one text at a time (no padding, so no mask)."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        st_config_path = folder / "sentence_bert_config.json"
        st_config = json.loads(st_config_path.read_text()) if st_config_path.is_file() else {}
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(st_config.get("max_seq_length") or config["max_position_embeddings"]))
        weights = load_file(str(folder / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.w = {k[len(prefix) :]: v.astype(np.float32) for k, v in weights.items() if k.startswith(prefix)}
        self.dimension = int(config["hidden_size"])

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.LayerNorm.weight"], self.w[f"{name}.LayerNorm.bias"], self.eps)

    def encode_one(self, text: str) -> np.ndarray:
        ids = np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)
        n = len(ids)
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings")
        size = self.dimension // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (
                self._dense(x, f"{p}.attention.self.{part}").reshape(n, self.heads, size).transpose(1, 0, 2)
                for part in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(np.float32(size))
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, self.dimension)
            x = self._norm(self._dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output")
            hidden = self._dense(x, f"{p}.intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + _erf(hidden / np.sqrt(np.float32(2.0))))
            x = self._norm(self._dense(hidden, f"{p}.output.dense") + x, f"{p}.output")
        pooled = x.mean(0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)


class FastStartEmbedding:
    """Questions and small batches on :class:`BertEncoder`; ingest batches on sentence-transformers,
    loaded the first time one comes (so ``ask`` never imports torch).

    Offers the two methods the memory and the builder call on a llama-index embedding.
    """

    def __init__(self, folder: Path, load_batch_model: Any) -> None:
        self.encoder = BertEncoder(folder)
        self._load_batch_model = load_batch_model
        self._batch_model: Any = None
        self._loading = threading.Lock()  # the server embeds from several threads: load the batch model once
        self.model_name = str(folder)

    def get_query_embedding(self, query: str) -> list[float]:
        return [float(v) for v in self.encoder.encode_one(query)]

    def get_text_embedding(self, text: str) -> list[float]:
        return self.get_query_embedding(text)

    def get_query_embedding_batch(self, queries: Sequence[str]) -> list[list[float]]:
        """Many questions at once: the same vectors (a supported model has no query prompt), in batches."""
        return self.get_text_embedding_batch(queries)

    def get_text_embedding_batch(
        self, texts: Sequence[str], show_progress: bool = False, **_: Any
    ) -> list[list[float]]:
        if len(texts) <= (SMALL_BATCH if self._batch_model is not None else COLD_BATCH):
            return [self.get_query_embedding(t) for t in texts]
        with self._loading:
            if self._batch_model is None:
                self._batch_model = self._load_batch_model()
        return [list(v) for v in self._batch_model.get_text_embedding_batch(list(texts), show_progress=show_progress)]
