"""Generator backends: the OpenAI-compatible one against a real local HTTP server, and the scripted fake."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from persona_rag.graphs.persona_graph import PersonaGraph
from persona_rag.memory.store import TemporalMemory

from persona_rag.backends import ScriptedGenerator
from persona_rag.backends.openai_compat import OpenAICompatGenerator
from persona_rag.errors import ModelError
from persona_rag.settings import Settings

REPLY = "Hogwarts is the best place I've ever lived."


class _Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if body.get("model") == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model exploded")
            return
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in REPLY.split(" "):
                chunk = {"choices": [{"delta": {"content": word + " "}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        out = {"choices": [{"message": {"role": "assistant", "content": REPLY}}]}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def server() -> Iterator[str]:
    _Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_openai_backend_completes_and_streams(server: str) -> None:
    gen = OpenAICompatGenerator(server, "persona-model", api_key="k")
    msgs = [{"role": "system", "content": "You are Harry."}, {"role": "user", "content": "Hi"}]
    assert gen.generate(msgs, max_new_tokens=20) == REPLY
    got: list[str] = []
    assert gen.generate(msgs, on_token=got.append) == REPLY
    assert len(got) == len(REPLY.split(" "))
    first = _Handler.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["body"]["messages"] == msgs and first["body"]["max_tokens"] == 20
    assert first["auth"] == "Bearer k"
    assert gen.count_tokens("Hello there, Hogwarts") > 0  # tiktoken from the offline cache


def test_openai_backend_errors_are_one_line(server: str) -> None:
    with pytest.raises(ModelError, match="answered 500"):
        OpenAICompatGenerator(server, "broken").generate([{"role": "user", "content": "x"}])
    with pytest.raises(ModelError, match="cannot reach"):
        OpenAICompatGenerator("http://127.0.0.1:9", "m", timeout=2).generate([{"role": "user", "content": "x"}])


@pytest.mark.usefixtures("without_answer_plan")  # the fake server's one canned reply, not a plan's words
def test_persona_graph_runs_on_the_openai_backend(server: str, settings: Settings, hp_memory: TemporalMemory) -> None:
    g = PersonaGraph.from_persona(
        "harry", settings=settings, memory=hp_memory, openai_url=server, openai_model="persona-model"
    )
    out = g.invoke({"question": "What do you think of Hogwarts?", "stage": "year 1"})
    assert out["answer"] == REPLY
    sent = _Handler.requests[-1]["body"]["messages"]
    assert sent[0]["role"] == "system" and "Harry Potter" in sent[0]["content"]
    assert "Question: What do you think of Hogwarts?" in sent[-1]["content"]


@pytest.mark.parametrize("kind", ["scripted", "openai"])
def test_every_backend_keeps_the_generator_contract(kind: str, server: str) -> None:
    """One contract over every backend the graph can be given: a string back, streamed pieces that add up to it,
    the token limit respected, and a positive token count."""
    gen: Any = ScriptedGenerator([REPLY]) if kind == "scripted" else OpenAICompatGenerator(server, "persona-model")
    msgs = [{"role": "system", "content": "You are Harry."}, {"role": "user", "content": "Hi"}]
    pieces: list[str] = []
    text = gen.generate(msgs, max_new_tokens=64, on_token=pieces.append)
    assert text == REPLY and "".join(pieces).strip() == text
    assert isinstance(gen.name, str) and gen.name and gen.adapter is None
    assert gen.count_tokens("Hello there") > 0


@pytest.mark.parametrize("kind", ["scripted", "openai"])
def test_every_backend_stops_when_the_caller_says_so(kind: str, server: str) -> None:
    """``on_token`` raising StopGeneration ends the answer there: the text so far comes back, nothing after."""
    from persona_rag.backends.base import StopGeneration

    gen: Any = ScriptedGenerator([REPLY]) if kind == "scripted" else OpenAICompatGenerator(server, "persona-model")
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            raise StopGeneration

    text = gen.generate([{"role": "user", "content": "Hi"}], max_new_tokens=64, on_token=on_token)
    assert len(pieces) == 3 and text == "".join(pieces).strip() == "Hogwarts is the"
