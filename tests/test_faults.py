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
