"""The numpy question encoder: same vectors as sentence-transformers, and no torch at question time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from persona_rag.memory import minilm

from persona_rag.models import embed_model_path
from persona_rag.settings import load_settings

TEXTS = [
    "Who is your best friend?",
    "Hi",
    "What do you think of Professor Snape and the potions class down in the dungeons?",
    "Ça va? Émile's café served naïve crème brûlée — 3 spoons.",
    "word " * 400,  # past the model's 256-token limit: truncated the same way
]


def minilm_folder() -> Path:
    return Path(embed_model_path(load_settings(embed_model="all-minilm-l6-v2")))


@pytest.mark.slow
def test_vectors_equal_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    folder = minilm_folder()
    ours = np.array([minilm.BertEncoder(folder).encode_one(t) for t in TEXTS])
    theirs = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.abs(ours - theirs).max() < 1e-5
    # Many questions at once (the data builder's warm-up) go through the product's ingest model in batches,
    # padded: the same vectors as one at a time.
    from persona_rag.memory.embeddings import load_embed_model

    emb = load_embed_model(load_settings(embed_model="all-minilm-l6-v2"))
    times = minilm.COLD_BATCH // len(TEXTS) + 1
    batched = np.array(emb.get_query_embedding_batch(TEXTS * times))
    assert emb._batch_model is not None  # past COLD_BATCH: the batch model did it
    assert np.abs(batched - np.concatenate([ours] * times)).max() < 1e-5


def test_a_question_is_embedded_without_importing_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from persona_rag.settings import load_settings; "
        "from persona_rag.memory.embeddings import load_embed_model; "
        "m = load_embed_model(load_settings(embed_model='all-minilm-l6-v2')); "
        "v = m.get_query_embedding('Who is Sirius Black?'); "
        "print(len(v), round(sum(x * x for x in v), 4), 'torch' in sys.modules, type(m).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_RAG_")}
    env["PERSONA_RAG_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["384", "1.0", "False", "FastStartEmbedding"]


def test_only_models_it_can_run_are_taken(tmp_path: Path) -> None:
    folder = minilm_folder()
    assert minilm.supported(folder)
    copy = tmp_path / "model"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(folder / "model.safetensors")
    assert minilm.supported(copy)
    pooling = json.loads((copy / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (copy / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert not minilm.supported(copy)  # CLS pooling: sentence-transformers does it all
    assert not minilm.supported(tmp_path / "missing")


def test_ingest_batches_go_to_the_batch_model() -> None:
    loads: list[int] = []

    class Batch:
        def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False) -> list[list[float]]:
            return [[1.0, 0.0]] * len(texts)

    def load() -> Batch:
        loads.append(1)
        return Batch()

    emb = minilm.FastStartEmbedding(minilm_folder(), load)
    # Until an ingest batch comes, a stage's few dialogue questions are embedded here: torch is not loaded for them.
    small = emb.get_text_embedding_batch(["a memory"] * minilm.COLD_BATCH)
    assert loads == [] and len(small[0]) == 384
    big = emb.get_text_embedding_batch(["a memory"] * (minilm.COLD_BATCH + 1))
    assert loads == [1] and big[0] == [1.0, 0.0]
    # Once loaded, it takes every batch past SMALL_BATCH, and is loaded once.
    again = emb.get_text_embedding_batch(["a memory"] * (minilm.SMALL_BATCH + 1))
    assert loads == [1] and again[0] == [1.0, 0.0]
    assert len(emb.get_text_embedding_batch(["a memory"] * minilm.SMALL_BATCH)[0]) == 384
