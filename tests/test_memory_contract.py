"""One contract, every store: in-memory, embedded persistent, and a real `chroma run` server."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.corpus import Universe
from persona_rag.errors import UsageError


@pytest.fixture(params=["numpy", "chroma"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def small(hp: Universe, n_events: int = 80) -> Universe:
    """A slice of the real corpus (whole years 1-2 for speed), same schema."""
    uni = copy.copy(hp)
    uni.events = [e for e in hp.events if e["stage"].startswith(("before", "y1", "y2", "y3"))][:n_events] + [
        e for e in hp.events if "Lockhart" in e["text"]
    ]
    seen: set[str] = set()
    uni.events = [e for e in uni.events if not (e["id"] in seen or seen.add(e["id"]))]  # type: ignore[func-returns-value]
    uni.personal = {k: v[:25] + [r for r in v[25:] if "Lockhart" in r["text"]] for k, v in hp.personal.items()}
    return uni


def texts(hits) -> str:  # type: ignore[no-untyped-def]
    return " ".join(h.passage.text for h in hits).lower()


def test_ingest_is_incremental(make_memory, hp: Universe) -> None:  # type: ignore[no-untyped-def]
    uni = small(hp)
    mem = make_memory(uni)
    first = mem.ingest(progress=False)
    assert first.added == len(uni.passages()) and first.updated == first.removed == 0
    again = mem.ingest(progress=False)
    assert again.writes == 0 and again.unchanged == first.added
    # Change one personal passage, drop one event.
    changed = copy.copy(uni)
    changed.personal = dict(uni.personal)
    row = dict(uni.personal["ron"][0], text="Ron now owns a brand-new broomstick.")
    changed.personal["ron"] = [row, *uni.personal["ron"][1:]]
    dropped = uni.events[0]
    changed.events = uni.events[1:]
    mem.universe = changed
    rep = mem.ingest(progress=False)
    assert rep.updated == 1
    assert rep.removed == sum(1 for p in uni.passages() if p.id.endswith(":" + dropped["id"]))
    assert rep.added == 0
    hits = mem.search("ron", "brand-new broomstick", k=1)
    assert hits[0].passage.text == "Ron now owns a brand-new broomstick."


def test_lockhart_is_unknown_in_year_1_and_known_in_year_2(make_memory, hp: Universe, backend: str) -> None:  # type: ignore[no-untyped-def]
    mem = make_memory(small(hp), backend=backend)
    mem.ingest(progress=False)
    y1 = mem.search("harry", "Gilderoy Lockhart", hp.stage("year 1"), k=10)
    y2 = mem.search("harry", "Gilderoy Lockhart", hp.stage("year 2"), k=10)
    assert "lockhart" not in texts(y1)
    assert "lockhart" in texts(y2)
    assert all(h.passage.known_from <= hp.stage("year 1").ordinal for h in y1)
    # Scores are cosine similarities, best first.
    assert [h.score for h in y2] == sorted((h.score for h in y2), reverse=True)
    assert -1.0 <= y2[-1].score <= y2[0].score <= 1.0 + 1e-6


def test_add_correct_retire_history(make_memory, hp: Universe, backend: str) -> None:  # type: ignore[no-untyped-def]
    mem = make_memory(small(hp, 10), backend=backend)
    mem.ingest(progress=False)
    y3 = hp.stage("Christmas of year 3")
    fact = mem.add("harry", y3, "Harry keeps a jar of purple glowing pebbles under his bed.")
    q = "purple glowing pebbles jar"
    assert fact.id not in [h.passage.id for h in mem.search("harry", q, hp.stage("Halloween of year 3"))]
    assert mem.search("harry", q, y3)[0].passage.id == fact.id
    assert mem.search("harry", q, hp.stage("year 7"))[0].passage.id == fact.id

    y5 = hp.stage("year 5")
    new = mem.correct(fact.id, hp.stage("start of year 5"), "Harry gave his jar of purple glowing pebbles to Luna.")
    before = mem.search("harry", q, hp.stage("year 4"), k=1)[0].passage
    after = mem.search("harry", q, y5, k=1)[0].passage
    assert before.id == fact.id and "under his bed" in before.text
    assert after.id == new.id and "Luna" in after.text
    hist = mem.history(new.id)
    assert [v.text for v in hist] == [fact.text, new.text]
    assert hist[0].valid_to == hp.stage("start of year 5").ordinal
    assert mem.history(fact.id) == hist

    mem.retire(new.id, hp.stage("start of year 7"))
    assert new.id not in [h.passage.id for h in mem.search("harry", q, hp.stage("year 7"))]
    assert mem.search("harry", q, hp.stage("year 6"), k=1)[0].passage.id == new.id
    assert len(mem.history(new.id)) == 2  # retired, not deleted


def test_update_errors_are_clear_and_change_nothing(make_memory, hp: Universe) -> None:  # type: ignore[no-untyped-def]
    mem = make_memory(small(hp, 5))
    mem.ingest(progress=False)
    count = mem.count()
    with pytest.raises(UsageError, match="no memory record"):
        mem.correct("harry:nope", hp.stage("year 3"), "x")
    fact = mem.add("ron", hp.stage("year 2"), "Ron learned a new card trick.")
    with pytest.raises(UsageError, match="after the stage"):
        mem.correct(fact.id, hp.stage("year 1"), "earlier")
    with pytest.raises(UsageError, match="empty"):
        mem.add("ron", hp.stage("year 2"), "   ")
    with pytest.raises(UsageError, match="unknown persona"):
        mem.add("neville", hp.stage("year 2"), "x")
    mem.correct(fact.id, hp.stage("year 3"), "Ron learned two card tricks.")
    with pytest.raises(UsageError, match="already corrected"):
        mem.correct(fact.id, hp.stage("year 4"), "again")
    assert mem.count() == count + 2


def test_reingest_keeps_runtime_updates(make_memory, hp: Universe) -> None:  # type: ignore[no-untyped-def]
    uni = small(hp, 5)
    mem = make_memory(uni)
    mem.ingest(progress=False)
    fact = mem.add("hermione", hp.stage("year 2"), "Hermione's favourite quill is made of owl feather.")
    corpus_id = next(p.id for p in uni.passages() if p.persona == "hermione" and p.known_from < 5)
    mem.retire(corpus_id, hp.stage("year 2"))
    assert mem.ingest(progress=False).writes == 0
    assert mem.search("hermione", "favourite quill owl feather", hp.stage("year 3"), k=1)[0].passage.id == fact.id
    assert corpus_id not in [p.id for p in mem.list("hermione", hp.stage("year 3"))]


def test_forget_updates_removes_only_added_facts(make_memory, hp: Universe) -> None:  # type: ignore[no-untyped-def]
    mem = make_memory(small(hp, 5))
    mem.ingest(progress=False)
    count = mem.count()
    a = mem.add("ron", hp.stage("year 2"), "Ron keeps a lucky sock.")
    mem.add("ron", hp.stage("year 3"), "Ron keeps a second lucky sock.")
    mem.correct(a.id, hp.stage("year 4"), "Ron lost his lucky sock.")
    corpus_id = next(p.id for p in mem.list("ron") if p.source != "update" and p.known_from < 3)
    fixed = mem.correct(corpus_id, hp.stage("year 3"), "Ron's corpus fact, corrected.")
    assert mem.forget_updates("ron") == 3  # two added facts and the correction of one of them
    assert mem.count() == count + 1  # the correction of a corpus passage stays
    assert [v.id for v in mem.history(fixed.id)] == [corpus_id, fixed.id]
    assert mem.ingest(progress=False).writes == 0


def test_list_by_stage(make_memory, hp: Universe) -> None:  # type: ignore[no-untyped-def]
    mem = make_memory(small(hp, 20))
    mem.ingest(progress=False)
    y1 = hp.stage("year 1").ordinal
    listed = mem.list("harry", hp.stage("year 1"))
    assert listed and all(p.known_from <= y1 < p.valid_to for p in listed)
    assert len(mem.list("harry")) >= len(listed)


def _child(home: Path, code: str) -> str:
    script = textwrap.dedent(
        """
        import json, sys
        from persona_rag.corpus import load_universe
        from persona_rag.memory.store import open_memory
        from persona_rag.memory.embeddings import HashEmbedding
        from persona_rag.settings import load_settings
        s = load_settings(home=sys.argv[1], embed_model="hash")
        uni = load_universe("sherlock_holmes")
        mem = open_memory(s, uni, embed_model=HashEmbedding())
        """
    ) + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_a_new_process_sees_an_update(tmp_path: Path) -> None:
    home = tmp_path / "h"
    added = json.loads(
        _child(
            home,
            """
        p = mem.add("watson", uni.stage("1888"), "Watson keeps a brass telescope on the mantelpiece.")
        print(json.dumps({"id": p.id}))
    """,
        )
    )["id"]
    found = _child(
        home,
        """
        print(mem.search("watson", "brass telescope mantelpiece", uni.stage("1889"), k=1)[0].passage.id)
    """,
    ).strip()
    assert found == added


def test_two_processes_writing_at_once_both_succeed(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _child(home, "print(mem.count())")  # create and ingest once
    code = """
        import sys
        tag = sys.argv[2] if len(sys.argv) > 2 else ""
        ids = [mem.add("holmes", uni.stage("1894"), f"Holmes filed case note {i} of writer {TAG}.").id for i in range(15)]
        print(len(ids))
    """
    procs = []
    for tag in ("A", "B"):
        script = code.replace("{TAG}", tag)
        full = textwrap.dedent("""
            import json, sys
            from persona_rag.corpus import load_universe
            from persona_rag.memory.store import open_memory
            from persona_rag.memory.embeddings import HashEmbedding
            from persona_rag.settings import load_settings
            s = load_settings(home=sys.argv[1], embed_model="hash")
            uni = load_universe("sherlock_holmes")
            mem = open_memory(s, uni, embed_model=HashEmbedding())
        """) + textwrap.dedent(script)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", full, str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "15"
    notes = _child(
        home,
        """
        rows = [p for p in mem.list("holmes") if "case note" in p.text]
        print(len(rows))
    """,
    )
    assert notes.strip() == "30"


def test_an_edited_corpus_is_brought_in_line_on_next_open(tmp_path: Path, hp: Universe) -> None:
    """A user edits an event after a first ingest: the next open re-ingests what changed (not the whole store),
    so answers never come from the stale text."""
    import shutil

    from persona_rag.memory.store import open_memory

    from persona_rag.corpus import load_universe
    from persona_rag.settings import load_settings

    root = tmp_path / "hp"
    shutil.copytree(hp.root, root)
    settings = load_settings().with_overrides(home=tmp_path / "home", embed_model="hash")
    first = open_memory(settings, load_universe(str(root)))
    assert first.ensure_ingested() is None  # complete, and in line with the corpus
    events = root / "events" / "y0-y2.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    row["text"] = row["text"] + " (edited by the user)"
    lines[0] = json.dumps(row)
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    edited = load_universe(str(root))
    second = open_memory(settings, edited, ingest=False)
    report = second.ensure_ingested()
    assert report is not None and report.updated >= 1 and report.added == 0 and report.unchanged > 100
    assert any("(edited by the user)" in p.text for p in second.list("_world") if p.id.endswith(row["id"]))


class _Killed(BaseException):
    """Stands for a kill -9 right after a store call returned."""


def _die_after_first_write(mem) -> None:  # type: ignore[no-untyped-def]
    upsert = mem.collection.upsert

    def write_then_die(**kw: object) -> None:
        upsert(**kw)
        raise _Killed

    mem.collection.upsert = write_then_die


def test_a_write_cut_after_its_first_store_call_is_seen_whole_by_an_open_reader(make_memory, hp: Universe) -> None:  # type: ignore[no-untyped-def]
    """The revision is written with the data it announces: whatever a killed writer left in the store, a reader
    whose index was already loaded sees exactly that (never rows that no revision announces), and a forgotten
    fact cut midway is gone for every reader."""
    from persona_rag.memory.store import TemporalMemory

    reader = make_memory(small(hp, 5))
    reader.ingest(progress=False)
    reader.revision_ttl = 0.0
    q = "silver lantern under the stairs"
    assert not [h for h in reader.search("ron", q, k=3) if "lantern" in h.passage.text]  # index loaded
    count = reader.count()

    writer = TemporalMemory(reader.universe, reader.client, reader.embed_model, collection=reader.collection_name)
    _die_after_first_write(writer)
    before = reader.revision()
    with pytest.raises(_Killed):
        writer.add("ron", hp.stage("year 2"), "Ron hides a silver lantern under the stairs.")
    stored = [p for p in reader.list("ron") if "lantern" in p.text]
    found = [h.passage for h in reader.search("ron", q, k=3) if "lantern" in h.passage.text]
    assert [p.id for p in found] == [p.id for p in stored]
    assert stored and reader.revision() != before and reader.count() == count + 1

    writer = TemporalMemory(reader.universe, reader.client, reader.embed_model, collection=reader.collection_name)
    _die_after_first_write(writer)
    with pytest.raises(_Killed):
        writer.forget_updates("ron")
    assert not [h for h in reader.search("ron", q, k=3) if "lantern" in h.passage.text]
    assert not [p for p in reader.list("ron") if "lantern" in p.text]
    assert reader.count() == count and reader.updates() == []
    assert reader.ingest(progress=False).writes == 0  # clears what the killed forget left
    assert reader.count() == count


def test_an_open_reader_finds_what_another_process_wrote_on_the_embedded_store(tmp_path: Path) -> None:
    """Process B has the embedded store open with its index loaded; process A adds a passage; B's next search
    finds it (B cannot read the new row's vector from Chroma: it embeds the text again)."""
    import time

    from persona_rag.memory.embeddings import HashEmbedding
    from persona_rag.memory.store import open_memory

    from persona_rag.corpus import load_universe
    from persona_rag.settings import load_settings

    home, gate = tmp_path / "h", tmp_path / "gate"
    gate.mkdir()
    settings = load_settings(home=str(home), embed_model="hash")
    writer = open_memory(settings, load_universe("sherlock_holmes"), embed_model=HashEmbedding())
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from persona_rag.corpus import load_universe
        from persona_rag.memory.store import open_memory
        from persona_rag.memory.embeddings import HashEmbedding
        from persona_rag.settings import load_settings
        uni = load_universe("sherlock_holmes")
        mem = open_memory(load_settings(home=sys.argv[1], embed_model="hash"), uni, embed_model=HashEmbedding())
        mem.revision_ttl = 0.0
        q = "Watson keeps a brass telescope on the mantelpiece."
        before = mem.search("watson", q, uni.stage("1889"), k=1)  # index loaded before the write
        gate = Path(sys.argv[2])
        (gate / "ready").touch()
        while not (gate / "go").exists():
            time.sleep(0.01)
        hits = mem.search("watson", q, uni.stage("1889"), k=1)
        print(before[0].passage.id, hits[0].passage.id)
        """
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", script, str(home), str(gate)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (gate / "ready").exists():
        assert reader.poll() is None and time.monotonic() < deadline, reader.communicate()[1][-2000:]
        time.sleep(0.02)
    added = writer.add("watson", writer.universe.stage("1888"), "Watson keeps a brass telescope on the mantelpiece.")
    (gate / "go").touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-2000:]
    before, after = out.split()
    assert before != added.id and after == added.id


def test_a_corrected_fact_stays_closed_when_its_corpus_text_changes(tmp_path: Path, hp: Universe) -> None:
    """Re-ingesting an edited corpus passage that a correction closed keeps it closed and linked to its
    correction, and the next ingest finds nothing to rewrite (no second open version, no churn)."""
    import shutil

    from persona_rag.memory.store import open_memory

    from persona_rag.corpus import load_universe
    from persona_rag.settings import load_settings

    root = tmp_path / "hp"
    shutil.copytree(hp.root, root)
    settings = load_settings().with_overrides(home=tmp_path / "home", embed_model="hash")
    uni = load_universe(str(root))
    mem = open_memory(settings, uni)
    events = root / "events" / "y0-y2.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    old_id = f"harry:{row['id']}"
    assert any(p.id == old_id for p in mem.list("harry"))
    new = mem.correct(old_id, uni.stage("year 5"), "A corrected account of that day.")
    row["text"] = row["text"] + " (edited by the user)"
    lines[0] = json.dumps(row)
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    edited = load_universe(str(root))
    reports = []
    for _ in range(2):
        again = open_memory(settings, edited, ingest=False)
        reports.append(again.ingest(progress=False))
    assert reports[0].updated >= 1 and reports[1].updated == 0  # the closed passage keeps the corpus hash
    versions = again.history(old_id)
    open_versions = [v for v in versions if v.valid_to >= 1_000_000]
    assert [v.id for v in open_versions] == [new.id]
    assert any("(edited by the user)" in v.text for v in versions if v.id == old_id)
    with pytest.raises(UsageError, match=r"superseded|already|closed|no longer"):
        again.correct(old_id, edited.stage("year 6"), "A second correction of the closed version.")


def test_many_questions_are_embedded_in_one_batch_with_the_vectors_of_one_at_a_time(hp: Universe) -> None:
    """The data builder warms the question cache with thousands of questions at once (embed_queries)."""
    from persona_rag.memory.embeddings import HashEmbedding

    class Batching(HashEmbedding):
        def get_query_embedding_batch(self, texts: list[str]) -> list[list[float]]:
            batches.append(list(texts))
            return [self.get_query_embedding(t) for t in texts]

    batches: list[list[str]] = []
    mem = TemporalMemory(hp, make_client("memory"), Batching(), collection=f"t_{uuid.uuid4().hex[:12]}")
    questions = ["Who is Hagrid?", "What is a Horcrux?", "Who is Hagrid?", "Tell me about Hedwig."]
    one = mem.embed_query("What is a Horcrux?")  # cached already: not embedded again
    vecs = mem.embed_queries(questions)
    assert batches == [["Who is Hagrid?", "Tell me about Hedwig."]]
    assert vecs.shape[0] == 4 and np.allclose(vecs[1], one) and np.allclose(vecs[0], vecs[2])
    plain = TemporalMemory(hp, make_client("memory"), HashEmbedding(), collection=f"t_{uuid.uuid4().hex[:12]}")
    assert np.allclose(plain.embed_queries(questions), vecs)  # a model without batches: one at a time, same vectors
    assert mem.embed_queries([]).shape[0] == 0
