"""Faults and concurrency: a killed process or several writers never lose or mix state.

Each case runs the real code in child processes (kill -9 cannot be simulated in-process).
Workers use the hash embedder and the small Sherlock Holmes universe, so a child costs
its imports (about 3 s), not a model load.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.corpus import OPEN, load_universe

PRELUDE = """
import json, sys, time
from persona_rag.corpus import load_universe
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import StaleVersionError, TemporalMemory, make_client
from persona_rag.settings import load_settings

kind, where, collection = sys.argv[1], sys.argv[2], sys.argv[3]
uni = load_universe("sherlock_holmes")
if kind == "persistent":
    from pathlib import Path
    client = make_client("persistent", Path(where))
    lock = Path(where) / ".write.lock"
else:
    client = make_client("server", None, where)
    lock = None
mem = TemporalMemory(uni, client, HashEmbedding(), collection=collection, lock_path=lock, lock_timeout=120)
"""


def child(kind: str, where: str, collection: str, code: str) -> subprocess.Popen[str]:
    script = PRELUDE + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script, kind, where, collection],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def finish(proc: subprocess.Popen[str], timeout: float = 150) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


WORKER = """
proc = int(sys.argv[4])
first = sys.argv[5]
stage = uni.stage(sys.argv[6])
done = 0
while done < 25:
    head = mem.history(first)[-1]
    try:
        mem.correct(head.id, stage, f"correction {proc}.{done}")
    except StaleVersionError:
        continue  # someone else corrected that version first: correct the newer one
    done += 1
print(done)
"""


def _memory(kind: str, where: str, collection: str) -> TemporalMemory:
    path = Path(where) if kind == "persistent" else None
    client = make_client(kind, path, "" if path else where)
    lock = path / ".write.lock" if path else None
    return TemporalMemory(
        load_universe("sherlock_holmes"), client, HashEmbedding(), collection=collection, lock_path=lock
    )


def _concurrent_corrections(kind: str, where: str) -> None:
    collection = f"c_{uuid.uuid4().hex[:10]}"
    mem = _memory(kind, where, collection)
    first = mem.add("watson", mem.universe.stage("1888"), "Watson keeps a brass telescope.").id
    script = PRELUDE + textwrap.dedent(WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, kind, where, collection, str(i), first, "1888"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for i in range(4)
    ]
    for p in procs:
        assert finish(p, timeout=170).strip() == "25"
    hist = mem.history(first)
    assert [h.version for h in hist] == list(range(1, 102))  # strictly increasing, no gap, none lost
    assert {h.text for h in hist[1:]} == {f"correction {p}.{d}" for p in range(4) for d in range(25)}
    assert sum(1 for h in hist if h.valid_to >= OPEN) == 1  # only the newest version still holds


def test_four_processes_correct_the_same_fact_on_the_embedded_store(tmp_path: Path) -> None:
    _concurrent_corrections("persistent", str(tmp_path / "chroma"))


def test_four_processes_correct_the_same_fact_on_a_chroma_server(chroma_server: str) -> None:
    _concurrent_corrections("server", chroma_server)


RACE = """
import os
from pathlib import Path
from persona_rag.corpus import OPEN
from persona_rag.errors import UsageError
op, first, stage, gate = sys.argv[4], sys.argv[5], uni.stage(sys.argv[6]), Path(sys.argv[7])
mem.history(first)  # warm: imports and client done before the start
(gate / f"ready-{os.getpid()}").touch()
while not (gate / "go").exists():
    time.sleep(0.005)
done = 0
while done < 6:
    head = mem.history(first)[-1]
    if head.valid_to < OPEN:
        break  # retired by someone: nothing left to change
    try:
        if op == "retire":
            mem.retire(head.id, stage)
        else:
            mem.correct(head.id, stage, f"{op} {os.getpid()}.{done}")
    except StaleVersionError:
        continue  # another writer changed that version first: look again
    except UsageError:
        break  # it already stopped holding there
    done += 1
    if op == "retire":
        break
print(json.dumps({"op": op, "done": done}))
"""


def test_retires_and_corrections_of_one_fact_race_on_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    """Two processes correct and two retire (from different stages) the same fact at once: exactly one
    retirement lands, every correction that reported success is a version in the history, and no version is
    left open. (Two identical retirements would both succeed: the second finds its own change made.)"""
    collection = f"r_{uuid.uuid4().hex[:10]}"
    mem = _memory("server", chroma_server, collection)
    uni = mem.universe
    first = mem.add("watson", uni.stage("1888"), "Watson keeps a brass telescope.").id
    script = PRELUDE + textwrap.dedent(RACE)
    ops = [("correct", "1889"), ("retire", "1889"), ("correct", "1889"), ("retire", "1891")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, "server", chroma_server, collection, op, first, stage, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for op, stage in ops
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < len(procs) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs if p.poll()]
        time.sleep(0.05)
    (tmp_path / "go").touch()
    results = [json.loads(finish(p, timeout=150)) for p in procs]
    hist = mem.history(first)
    corrections = sum(r["done"] for r in results if r["op"] == "correct")
    assert sum(r["done"] for r in results if r["op"] == "retire") == 1
    assert [h.version for h in hist] == list(range(1, corrections + 2))  # every reported correction is there
    assert all(h.valid_to == uni.stage("1889").ordinal for h in hist[:-1])  # each closed where corrected
    assert hist[-1].valid_to in (uni.stage("1889").ordinal, uni.stage("1891").ordinal)  # where one retired it
    assert not [h for h in hist if h.valid_to >= OPEN]  # retired: no open version, never two


def _run_until_killed(code: str, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=170
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_first_ingest_killed_midway_is_completed_by_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    # kill -9 right after the first batch of passages reached the store
    _run_until_killed(
        """
        import os, signal, sys
        from pathlib import Path
        from persona_rag.corpus import load_universe
        from persona_rag.memory.embeddings import HashEmbedding
        from persona_rag.memory.store import TemporalMemory, make_client
        path = Path(sys.argv[1])
        mem = TemporalMemory(load_universe("sherlock_holmes"), make_client("persistent", path), HashEmbedding(),
                             collection="c_ingest", lock_path=path / ".write.lock")
        upsert = mem.collection.upsert
        def upsert_then_die(**kw):
            upsert(**{k: v[:5] for k, v in kw.items()})
            os.kill(os.getpid(), signal.SIGKILL)
        mem.collection.upsert = upsert_then_die
        mem.ingest(progress=False)
        """,
        str(path),
    )
    uni = load_universe("sherlock_holmes")
    mem = TemporalMemory(
        uni, make_client("persistent", path), HashEmbedding(), collection="c_ingest", lock_path=path / ".write.lock"
    )
    assert 0 < mem.count() < len(uni.passages())  # the partial store the killed run left
    assert not mem.ingest_complete()
    report = mem.ensure_ingested()  # what every command does on open
    assert report is not None and report.added == len(uni.passages()) - 5
    assert mem.count() == len(uni.passages()) and mem.ingest_complete()
    assert mem.ensure_ingested() is None


SAVE = """
import os, signal, sys
from pathlib import Path

import pytest
from persona_rag.finetune import train

class Model:
    def save_pretrained(self, folder):
        Path(folder).mkdir(parents=True)
        (Path(folder) / "adapter_config.json").write_text('{"new": true}')
        if sys.argv[2] == "during-write":
            os.kill(os.getpid(), signal.SIGKILL)
        (Path(folder) / "adapter_model.safetensors").write_text("new weights")

if sys.argv[2] == "between-renames":
    replace = Path.replace
    def replace_then_die(self, target):
        out = replace(self, target)
        if Path(target).name.endswith(".old"):
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    Path.replace = replace_then_die
card = {"persona": "harry", "universe": "hp", "step": "sft", "base_model": "m", "recipe": "tiny",
        "train_items": 1, "data_sha256": "0" * 64, "metrics": {"loss": 1.0}}
train.save_adapter(Model(), Path(sys.argv[1]), card)
"""


@pytest.mark.parametrize("when", ["during-write", "between-renames"])
def test_adapter_save_killed_leaves_the_old_adapter(tmp_path: Path, when: str) -> None:
    from persona_rag.finetune.train import save_adapter

    from persona_rag.paths import find_adapter
    from persona_rag.settings import load_settings

    settings = load_settings(home=str(tmp_path))
    target = settings.adapters_dir / "hp" / "harry" / "sft"
    target.mkdir(parents=True)
    (target / "adapter_config.json").write_text('{"old": true}')
    (target / "adapter_model.safetensors").write_text("old weights")
    _run_until_killed(SAVE, str(target), when)
    found = find_adapter(settings, "hp", "harry")
    assert found is not None
    assert json.loads((found / "adapter_config.json").read_text()) == {"old": True}
    assert (found / "adapter_model.safetensors").read_text() == "old weights"  # whole, never a mix

    class Model:
        def save_pretrained(self, folder: str) -> None:
            Path(folder).mkdir(parents=True)
            (Path(folder) / "adapter_config.json").write_text('{"new": true}')

    card = {"persona": "harry", "universe": "hp", "step": "sft", "base_model": "m", "recipe": "tiny"}
    save_adapter(Model(), target, {**card, "train_items": 1, "data_sha256": "0" * 64, "metrics": {}})
    assert json.loads((target / "adapter_config.json").read_text()) == {"new": True}
    assert sorted(p.name for p in target.parent.iterdir()) == ["sft"]  # nothing left behind


CORRECT = """
import os, signal, sys
from chromadb.api.models.Collection import Collection
from persona_rag.cli import main

when = sys.argv[1]
real_add, real_upsert = Collection.add, Collection.upsert

def claims(kw):
    return any(str(i).startswith("__pr__:claim") for i in kw.get("ids") or [])

def add(self, **kw):
    real_add(self, **kw)
    if when == "claimed" and claims(kw):
        os.kill(os.getpid(), signal.SIGKILL)  # the claim is in, nothing committed

def upsert(self, **kw):
    real_upsert(self, **kw)
    if when == "committed" and claims(kw):
        os.kill(os.getpid(), signal.SIGKILL)  # committed, the process never reports it

Collection.add, Collection.upsert = add, upsert
main(["memory", "correct", sys.argv[2], "--from-stage", "1889", "--text", sys.argv[3], "--universe", "sherlock_holmes"])
"""


@pytest.mark.parametrize("when", ["claimed", "committed"])
def test_memory_correct_killed_leaves_the_old_or_the_new_version(tmp_path: Path, when: str) -> None:
    """kill -9 inside `persona-rag memory correct`: the fact is in its old state or its new one, never two open
    versions; the next correct completes the half-written one (or says it is done) and list shows one version."""
    from persona_rag.memory.store import StaleVersionError, open_memory

    from persona_rag.settings import load_settings

    home = tmp_path / "home"
    settings = load_settings(home=str(home), embed_model="hash")
    mem = open_memory(settings, load_universe("sherlock_holmes"), embed_model=HashEmbedding())
    mem.claim_timeout = 0.2  # the killed writer's lease; the product waits 10 s
    uni = mem.universe
    first = mem.add("watson", uni.stage("1888"), "Watson keeps a brass telescope.").id
    text = "Watson sold the brass telescope."
    env = {**os.environ, "PERSONA_RAG_HOME": str(home), "PERSONA_RAG_EMBED_MODEL": "hash", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CORRECT, when, first, text], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]

    def open_versions() -> list[str]:
        return [p.text for p in mem.list("watson") if "telescope" in p.text and p.valid_to >= OPEN]

    hist = mem.history(first)
    if when == "claimed":  # the old state: the claim alone changes nothing anyone reads
        assert [h.text for h in hist] == ["Watson keeps a brass telescope."] and hist[0].valid_to >= OPEN
        assert open_versions() == ["Watson keeps a brass telescope."]
    else:  # the new state, whole
        assert [h.text for h in hist] == ["Watson keeps a brass telescope.", text]
        assert open_versions() == [text]
    # The user runs the same correction again: it completes the half-written one or finds it made.
    if when == "claimed":
        again = mem.correct(first, uni.stage("1889"), text)
        assert again.id == f"{first}@v2"
    else:
        with pytest.raises(StaleVersionError, match="already corrected"):
            mem.correct(first, uni.stage("1889"), text)
    assert [h.text for h in mem.history(first)] == ["Watson keeps a brass telescope.", text]
    assert open_versions() == [text]
    assert mem.search("watson", "brass telescope", uni.stage("1889"), k=1)[0].passage.text == text
    newest = mem.correct(f"{first}@v2", uni.stage("1891"), "Watson bought the telescope back.")
    assert [h.version for h in mem.history(first)] == [1, 2, 3] and newest.id == f"{first}@v3"
    assert open_versions() == ["Watson bought the telescope back."]


BUILD = """
import os, signal, sys
from pathlib import Path
import importlib
from persona_rag.cli import main

build_module = importlib.import_module("persona_rag.builder.build")  # the package exports a function `build`

when, source, out = sys.argv[1], sys.argv[2], sys.argv[3]
if when == "second-pass":
    flush = build_module._flush_events
    def flush_then_die(*args, **kw):
        flush(*args, **kw)
        os.kill(os.getpid(), signal.SIGKILL)  # events written into the temporary folder, nothing else
    build_module._flush_events = flush_then_die
else:  # between the two renames that swap a rebuilt folder in
    replace = Path.replace
    def replace_then_die(self, target):
        done = replace(self, target)
        if ".old-" in Path(target).name:
            os.kill(os.getpid(), signal.SIGKILL)
        return done
    Path.replace = replace_then_die
personas = ["--persona", "Nell"] + (["--persona", "Marsh"] if when == "swap" else [])
main(["corpus", "build", source, *personas, "--out", out, "--no-ingest"])
"""


@pytest.mark.parametrize("when", ["second-pass", "swap"])
def test_corpus_build_killed_leaves_no_half_universe_and_the_next_run_completes(tmp_path: Path, when: str) -> None:
    """kill -9 inside `persona-rag corpus build`: the universe folder is absent or complete (the previous build),
    never half-written, and the next run builds it whole, reusing the first pass it had cached."""
    from persona_rag.cli import main
    from persona_rag.corpus import check_corpus

    source = Path(__file__).parent / "data" / "builder" / "lantern.txt"
    home, out = tmp_path / "home", tmp_path / "tale"
    argv = ["corpus", "build", str(source), "--persona", "Nell", "--out", str(out), "--no-ingest"]
    if when == "swap":  # a complete previous build, with one persona
        assert main(argv) == 0 and (out / "build.json").is_file()
    env = {**os.environ, "PERSONA_RAG_HOME": str(home), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", BUILD, when, str(source), str(out)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    if out.exists():  # only the previous build, whole
        assert check_corpus(out) == [] and (out / "build.json").is_file() and when == "swap"
    scans = sorted((home / "builds" / "tale").glob("scan-*.json"))
    assert scans  # the first pass survived the kill
    stamps = {p: p.stat().st_mtime_ns for p in scans}
    personas = ["--persona", "Nell"] + (["--persona", "Marsh"] if when == "swap" else [])
    assert main(["corpus", "build", str(source), *personas, "--out", str(out), "--no-ingest"]) == 0
    assert check_corpus(out) == [] and (out / "build.json").is_file()
    assert (out / "personas" / "nell.jsonl").is_file()
    assert (when == "swap") == (out / "personas" / "marsh.jsonl").is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p.exists())  # reused, not redone
    assert sorted((home / "builds" / "tale").glob("scan-*.json")) == scans
