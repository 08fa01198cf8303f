"""Shared fixtures. Every test runs offline with its own PERSONA_RAG_HOME."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.corpus import Universe, load_universe
from persona_rag.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- helpers shared by test modules


def run(
    *args: str, home: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # A test's own choice of prompt (the without_answer_plan fixture) reaches the command; no other PERSONA_RAG_ setting.
    keep = ("PERSONA_RAG_ANSWER_PLAN",)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_RAG_") or k in keep}
    full_env.update({"PERSONA_RAG_HOME": str(home), "PERSONA_RAG_EMBED_MODEL": "hash", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "persona_rag.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        input=stdin,
    )


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("persona-rag: error: ")
    return lines[0]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("PERSONA_RAG_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("PERSONA_RAG_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def hp() -> Universe:
    return load_universe("harry_potter")


@pytest.fixture()
def settings(_isolated_home: Path) -> Settings:
    return load_settings().with_overrides(embed_model="hash")  # the product's own review thresholds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real `chroma run` on 127.0.0.1, for the server-mode contract tests."""
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("chroma run exited early")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma run did not start in 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["memory", "persistent", "server"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def make_memory(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    """Build a TemporalMemory on the parametrised store, with the deterministic fake embedder."""

    def build(universe: Universe, backend: str = "numpy", collection: str | None = None) -> TemporalMemory:
        url = request.getfixturevalue("chroma_server") if store_kind == "server" else ""
        path = tmp_path / "chroma"
        client = make_client(store_kind, path if store_kind == "persistent" else None, url)
        return TemporalMemory(
            universe,
            client,
            HashEmbedding(),
            backend=backend,
            collection=collection or f"t_{uuid.uuid4().hex[:12]}",
            lock_path=(path / ".write.lock") if store_kind == "persistent" else None,
        )

    return build


@pytest.fixture(scope="session")
def hp_memory(hp: Universe) -> TemporalMemory:
    """The Harry Potter corpus in an in-memory Chroma with the fake embedder (read-only: tests must not write)."""
    mem = TemporalMemory(hp, make_client("memory"), HashEmbedding(), collection=f"t_{uuid.uuid4().hex[:12]}")
    mem.ingest(progress=False)
    return mem


@pytest.fixture(scope="session")
def real_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for all slow tests: the GGUF conversion and the ingest happen once."""
    return tmp_path_factory.mktemp("real-home")


class _ChatServer:
    """A minimal OpenAI-compatible chat endpoint: replies 'Hello, I'm <the system prompt's name>.' (a greeting in the first person)"""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                system = body["messages"][0]["content"]
                name = system.split("You are ", 1)[-1].split(".")[0] if "You are " in system else "Someone"
                content = f"Hello, I'm {name}."
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for i, word in enumerate(content.split(" ")):
                        delta = {"choices": [{"delta": {"content": (" " if i else "") + word}}]}
                        self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.requests: list[dict[str, object]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture()
def chat_server():
    srv = _ChatServer()
    yield srv
    srv.httpd.shutdown()


@pytest.fixture
def without_answer_plan(_isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph without the answer plan and its decoding constraint (PERSONA_RAG_ANSWER_PLAN=0): for tests of the
    review, threads, streams and the CLI whose scripted replies are written for the top passages; the plan path has
    its own tests (tests/test_answer_plan.py) and the README test runs it with the real models."""
    monkeypatch.setenv("PERSONA_RAG_ANSWER_PLAN", "0")
