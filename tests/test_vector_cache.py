"""The on-disk vector cache: a corpus is embedded once per machine, whatever collection it goes into."""

from __future__ import annotations

import uuid
from pathlib import Path

from persona_rag.memory.client import make_client
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory
from persona_rag.memory.vectors import VectorCache


class CountingEmbedding(HashEmbedding):
    """The fake embedder, counting the texts it is asked to embed."""

    texts: int = 0

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return super()._get_text_embeddings(texts)


def _memory(hp, client, embedder, cache: VectorCache | None) -> TemporalMemory:
    return TemporalMemory(hp, client, embedder, collection=f"t_{uuid.uuid4().hex[:12]}", vector_cache=cache)


def test_a_second_collection_of_the_corpus_takes_its_vectors_from_the_cache(hp, tmp_path: Path) -> None:
    client = make_client("memory")
    cache = VectorCache(tmp_path / "vectors.sqlite", "counting")
    first, second = CountingEmbedding(), CountingEmbedding()
    a = _memory(hp, client, first, cache)
    a.ingest(progress=False)
    passages = len(list(hp.passages()))
    assert len({p.text for p in hp.passages()}) <= first.texts <= passages and passages > 100
    b = _memory(hp, client, second, cache)
    b.ingest(progress=False)
    assert second.texts == 0  # the demo's scratch copy, a rebuilt memory: no passage embedded again
    ids = [p.id for p in hp.passages()][:50]
    got_a = a.collection.get(ids=ids, include=["embeddings"])
    got_b = b.collection.get(ids=ids, include=["embeddings"])
    vec_a = dict(zip(got_a["ids"], got_a["embeddings"], strict=True))
    vec_b = dict(zip(got_b["ids"], got_b["embeddings"], strict=True))
    assert sorted(vec_a) == sorted(vec_b) == sorted(ids)
    assert all((vec_a[i] == vec_b[i]).all() for i in ids)  # the very vectors the model gave
    # Another model's vectors are not this one's.
    assert VectorCache(tmp_path / "vectors.sqlite", "another").get([p.text for p in hp.passages()][:5]) == {}


def test_an_unreadable_cache_is_skipped_and_the_corpus_embedded_as_without_it(hp, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "vectors.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    embedder, without = CountingEmbedding(), CountingEmbedding()
    client = make_client("memory")
    mem = _memory(hp, client, embedder, VectorCache(bad, "counting"))
    mem.ingest(progress=False)
    plain = _memory(hp, client, without, None)
    plain.ingest(progress=False)
    assert 0 < embedder.texts <= without.texts  # every text embedded (a text two passages share, once)
    ids = [p.id for p in hp.passages()]
    got = mem.collection.get(ids=ids, include=["embeddings"])
    ref = plain.collection.get(ids=ids, include=["embeddings"])
    assert len(got["ids"]) == len(ids)
    vec = dict(zip(ref["ids"], ref["embeddings"], strict=True))
    assert all((v == vec[i]).all() for i, v in zip(got["ids"], got["embeddings"], strict=True))
    assert mem.ingest_complete()
    err = capsys.readouterr().err
    assert err.count("is not usable") == 1 and "embedding without it" in err
    assert bad.read_bytes().startswith(b"this is not a database")  # left as it was
