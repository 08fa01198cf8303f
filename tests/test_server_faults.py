"""`persona-rag serve` under faults: kill -9 during a memory write, a client that leaves mid-answer, ids the store
reserves for itself, and bodies that are not what the API takes. Scripted or fake models: no model loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.index import HEAD_ID
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.backends.base import StopGeneration
from persona_rag.corpus import Universe, load_universe
from persona_rag.server.app import create_app
from persona_rag.server.models import FixedModels
from persona_rag.settings import Settings, load_settings
from tests.conftest import free_port
from tests.live_server import LiveServer

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture(scope="module")
def sherlock() -> Universe:
    return load_universe("sherlock_holmes")


@pytest.fixture(scope="module")
def memory(sherlock: Universe) -> TemporalMemory:
    mem = TemporalMemory(sherlock, make_client("memory"), HashEmbedding(), collection=f"sf_{uuid.uuid4().hex[:10]}")
    mem.ingest(progress=False)
    return mem


@pytest.fixture(scope="module")
def srv_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(environ={}).with_overrides(home=tmp_path_factory.mktemp("sf-home"), embed_model="hash")


class Slow:
    """A model that writes ``steps`` tokens of 50 ms (``quick`` for a prompt that mentions ``quick_for``) and
    records each call: (which, started, ended, tokens produced)."""

    name = "slow"
    adapter = None

    def __init__(self, steps: int, quick: int = 4, quick_for: str = "in a word") -> None:
        self.steps, self.quick, self.quick_for = steps, quick, quick_for
        self.calls: list[dict[str, Any]] = []

    @property
    def started(self) -> list[float]:
        return [c["started"] for c in self.calls]

    def generate(self, messages: Any, *, max_new_tokens: int = 96, on_token: Any = None, **kw: Any) -> str:
        second = self.quick_for in str(messages)
        call = {"second": second, "started": time.monotonic(), "ended": None, "produced": 0}
        self.calls.append(call)
        try:
            for _ in range(self.quick if second else self.steps):
                time.sleep(0.05)
                call["produced"] += 1
                if on_token is not None:
                    on_token(" well")  # a word every answer may use
        except StopGeneration:
            pass
        call["ended"] = time.monotonic()
        return "well " * call["produced"]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


# ----------------------------------------------------------------------------- a client that leaves


def _wait(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


@pytest.mark.parametrize(("endpoint", "concurrent"), [("native", False), ("openai", False), ("native", True)])
def test_a_client_that_disconnects_mid_stream_stops_its_generation(
    srv_settings: Settings, memory: TemporalMemory, endpoint: str, concurrent: bool
) -> None:
    """The first answer would take 10 s; its client reads a little and leaves. Its generation stops at the next
    token and the request queued behind it starts at once (without batching: in the same second)."""
    slow = Slow(200)
    app = create_app(
        srv_settings, universe=memory.universe, models=FixedModels(slow, concurrent=concurrent), memory=memory
    )
    if endpoint == "native":
        url, body = "/v1/ask", {"persona": "watson", "question": "What is Holmes like?", "stream": True}
    else:
        url = "/v1/chat/completions"
        body = {"model": "watson", "stream": True, "messages": [{"role": "user", "content": "What is Holmes like?"}]}
    second: dict[str, Any] = {}
    first = [c for c in slow.calls if not c["second"]]
    with LiveServer(app) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        with client.stream("POST", url, json=body) as r:
            want = "event: token" if endpoint == "native" else "data: "
            seen = 0
            lines = r.iter_lines()  # kept: a dropped iterator closes the connection
            for line in lines:
                seen += line.startswith(want)
                if seen >= (3 if endpoint == "native" else 1):
                    break
            _wait(lambda: slow.calls and slow.calls[-1]["produced"] >= 3)

            def ask_second() -> None:
                # (a question the persona's memory answers: one it cannot is refused with no generation)
                q = {"persona": "watson", "question": "What is Holmes like, in a word?"}
                second["status"] = httpx.post(f"{srv.url}/v1/ask", json=q, timeout=30).status_code

            t = threading.Thread(target=ask_second)
            t.start()
            if not concurrent:
                _wait(lambda: client.get("/health").json()["queued"] == 2)
            else:
                _wait(lambda: any(c["second"] for c in slow.calls))
            left = time.monotonic()
        # leaving the block closed the connection mid-answer
        _wait(lambda: all(c["ended"] for c in slow.calls if not c["second"]))
        _wait(lambda: any(c["second"] for c in slow.calls))
        t.join(20)
    first = [c for c in slow.calls if not c["second"]]
    stopped_after = max(c["ended"] for c in first) - left
    assert max(c["produced"] for c in first) < 60, first  # not the 200 tokens it was going to write
    assert all(c["started"] < left for c in first)  # and no retry after its client left
    assert stopped_after < 1.0, stopped_after
    if not concurrent:
        next_started_after = min(c["started"] for c in slow.calls if c["second"]) - left
        assert next_started_after < 1.0, next_started_after
    assert second["status"] == 200
    print(
        f"disconnect ({endpoint}, concurrent={concurrent}): generation stopped {stopped_after:.3f} s after, "
        + (f"next request started {next_started_after:.3f} s after" if not concurrent else "")
    )


# ----------------------------------------------------------------------------- ids the store reserves


@pytest.mark.parametrize("record_id", [HEAD_ID, "__pr__:log:0:1:x", "__pr__:claim:watson:x@9999", "__pr__:"])
def test_reserved_ids_are_refused_by_every_endpoint_that_takes_an_id(
    srv_settings: Settings, memory: TemporalMemory, record_id: str
) -> None:
    client = TestClient(
        create_app(srv_settings, universe=memory.universe, generator=Slow(1), memory=memory), client=LOCAL
    )
    before = memory.collection.get(include=["metadatas", "documents"])
    quoted = httpx.URL("http://x/" + record_id).raw_path.decode()[1:]
    for method, path, body in [
        ("get", f"/v1/memory/records/{quoted}/history", None),
        ("post", f"/v1/memory/records/{quoted}/correct", {"from_stage": "1889", "text": "Holmes keeps bees."}),
        ("post", f"/v1/memory/records/{quoted}/retire", {"from_stage": "1889"}),
    ]:
        r = getattr(client, method)(path, **({"json": body} if body else {}))
        assert r.status_code == 404, (path, r.text)
        assert "no memory record" in r.json()["error"]["message"] and "Traceback" not in r.text
    after = memory.collection.get(include=["metadatas", "documents"])
    assert after == before  # nothing written, the store's own records untouched


# ----------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (
            "/v1/chat/completions",
            b'{"model": "watson", "messages": [{"role": "user", "content": "Hi',
            400,
            "not valid JSON",
        ),
        ("/v1/chat/completions", b"model=watson", 400, "not valid JSON"),
        ("/v1/ask", b'{"persona": "watson", "question": "Hi"', 400, "not valid JSON"),
        ("/v1/memory/watson/facts", b'{"stage": "1889", "text": ', 400, "not valid JSON"),
        ("/v1/chat/completions", b"[1, 2]", 422, "not a JSON object"),
        ("/v1/ask", b"", 422, "no JSON body"),
        (
            "/v1/chat/completions",
            json.dumps({"model": "moriarty", "messages": [{"role": "user", "content": "Hi"}]}).encode(),
            404,
            "GET /v1/models",
        ),
        (
            "/v1/chat/completions",
            json.dumps({"model": "watson@1999", "messages": [{"role": "user", "content": "Hi"}]}).encode(),
            400,
            "unknown stage",
        ),
        ("/v1/ask", json.dumps({"persona": "watson", "question": "x" * 3000}).encode(), 413, "limit of 2048 bytes"),
    ],
    ids=[
        "truncated",
        "not JSON",
        "truncated ask",
        "truncated fact",
        "a list",
        "empty",
        "unknown model",
        "bad stage",
        "over limit",
    ],
)
def test_bad_bodies_get_the_documented_status_and_a_json_error(
    srv_settings: Settings, memory: TemporalMemory, path: str, body: bytes, status: int, words: str
) -> None:
    slow = Slow(1)
    app = create_app(srv_settings, universe=memory.universe, generator=slow, memory=memory, max_body=2048)
    r = TestClient(app, client=LOCAL).post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert words in err["message"] and err["code"] == status and "Traceback" not in r.text
    assert not slow.started  # refused before any model call


# ----------------------------------------------------------------------------- kill -9 during a memory write

SERVE = """
import os, signal, sys
from chromadb.api.models.Collection import Collection
from persona_rag.cli import main

when, port, url = sys.argv[1], sys.argv[2], sys.argv[3]
real_upsert = Collection.upsert

def upsert(self, **kw):
    adding = any(":add-" in str(i) for i in kw.get("ids") or [])
    if adding and when == "before-write":
        os.kill(os.getpid(), signal.SIGKILL)
    real_upsert(self, **kw)
    if adding and when == "after-write":
        os.kill(os.getpid(), signal.SIGKILL)  # written, the client never hears it

Collection.upsert = upsert
main(["serve", "--universe", "sherlock_holmes", "--port", port, "--openai-url", url, "--openai-model", "m",
      "--log-level", "warning"])
"""


def _serve(home: Path, when: str, url: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_RAG_")}
    env.update({"PERSONA_RAG_HOME": str(home), "PERSONA_RAG_EMBED_MODEL": "hash", "OMP_NUM_THREADS": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, when, str(port), url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def test_serve_killed_during_a_memory_write_leaves_the_fact_absent_or_whole(tmp_path: Path, chat_server: Any) -> None:
    """kill -9 while `persona-rag serve` writes a fact: before the write lands the fact is absent, after it the
    fact is whole; the next start serves the memory as it was left (and answers)."""
    home = tmp_path / "home"
    facts = {"before-write": "Watson keeps a brass telescope.", "after-write": "Watson keeps a green umbrella."}
    for when, text in facts.items():
        proc, base = _serve(home, when, chat_server.url)
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"{base}/v1/memory/watson/facts", json={"stage": "1888", "text": text}, timeout=60)
        assert proc.wait(30) == -signal.SIGKILL
    proc, base = _serve(home, "none", chat_server.url)
    try:
        rows = httpx.get(f"{base}/v1/memory/watson", timeout=30).json()
        mine = [r for r in rows if "brass telescope" in r["text"] or "green umbrella" in r["text"]]
        assert [r["text"] for r in mine] == [facts["after-write"]]  # the first absent, the second whole, once
        assert mine[0]["stage"] == load_universe("sherlock_holmes").stage("1888").ordinal
        hits = httpx.get(
            f"{base}/v1/memory/watson/search", params={"query": "green umbrella", "stage": "1889"}, timeout=30
        ).json()
        assert hits and hits[0]["text"] == facts["after-write"]
        r = httpx.post(f"{base}/v1/ask", json={"persona": "watson", "question": "What do you carry?"}, timeout=60)
        assert r.status_code == 200 and r.json()["answer"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


# ----------------------------------------------------------------------------- the serve command


def test_serve_names_the_install_that_exists_when_the_server_libraries_are_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from persona_rag.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn raises ImportError
    assert main(["serve", "--port", "8123"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "uvicorn" in err
    assert "[serve]" not in err and "pip install persona-rag" in err
