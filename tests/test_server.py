"""`persona-rag serve`: the OpenAI-compatible endpoint (with the official client), the native API, memory
writes and who may make them, limits and errors. A scripted model and the fake embedder keep it fast."""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from persona_rag.graphs.persona_graph import PersonaGraph
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.backends import ScriptedGenerator
from persona_rag.corpus import Universe
from persona_rag.errors import UsageError
from persona_rag.server.app import create_app
from persona_rag.server.security import check_bind
from persona_rag.server.service import FairLock
from persona_rag.settings import Settings, load_settings
from tests.live_server import LiveServer

LOCAL = ("127.0.0.1", 50000)
LEAK = "Gilderoy Lockhart is our new Defence Against the Dark Arts teacher."
LOCKHART = "Who is Gilderoy Lockhart?"


@pytest.fixture(scope="module")
def memory(hp: Universe) -> TemporalMemory:
    """A writable copy of the Harry Potter memory for this module (the shared one is read-only)."""
    mem = TemporalMemory(hp, make_client("memory"), HashEmbedding(), collection=f"srv_{uuid.uuid4().hex[:10]}")
    mem.ingest(progress=False)
    return mem


@pytest.fixture(scope="module")
def server_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("server-home")
    # Scripted replies written for the top passages (no answer plan): the plan has its own tests (test_answer_plan.py).
    return load_settings(environ={}).with_overrides(
        home=home, embed_model="hash", grounding_score=0.6, answer_plan=False
    )


def make_app(settings: Settings, memory: TemporalMemory, replies: Any = ("Lockhart? Never heard of him.",), **kw: Any):
    return create_app(settings, universe=memory.universe, generator=ScriptedGenerator(replies), memory=memory, **kw)


@pytest.fixture()
def client(server_settings: Settings, memory: TemporalMemory) -> TestClient:
    return TestClient(make_app(server_settings, memory), client=LOCAL)


def sse_events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.strip().split("\n\n"):
        event, data = "message", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
        out.append((event, data if data == "[DONE]" else json.loads(data)))
    return out


# ----------------------------------------------------------------------------- OpenAI-compatible


def test_models_lists_each_persona_and_each_stage(client: TestClient, hp: Universe) -> None:
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert "harry" in ids and "harry@y2.end" in ids and "hermione@before" in ids
    assert len(ids) == len(hp.characters) * (len(hp.timeline.stages) + 1)


def test_chat_completion_takes_persona_and_stage_from_the_model_id(client: TestClient) -> None:
    body = {
        "model": "harry@year%201",
        "messages": [
            {"role": "system", "content": "You are a helpful roleplay partner."},
            {"role": "system", "content": "Stay in character."},
            {"role": "user", "content": "Hello there."},
            {"role": "assistant", "content": "Hello yourself."},
            {"role": "user", "content": [{"type": "text", "text": LOCKHART}]},
        ],
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 50,
        "presence_penalty": 0.1,
    }
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "chat.completion" and out["model"] == "harry@year%201"
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Lockhart? Never heard of him."}
    ext = out["persona_rag"]
    assert ext["stage"]["key"] == "y1.end" and ext["verdict"] == "future"
    assert ext["answered_by"] == "model" and isinstance(ext["sources"], list)
    # The client's history reached the model; its system messages did not replace the persona's.
    prompt = client.app.state.service.generator.inner.calls[-1]  # type: ignore[attr-defined]
    assert any(m["content"] == "Hello there." for m in prompt)
    assert "helpful roleplay partner" not in json.dumps(prompt)
    assert (
        client.post("/v1/chat/completions", json={**body, "model": "harry@y2.end"}).json()["persona_rag"]["verdict"]
        != "future"
    )


def test_chat_stream_carries_only_the_reviewed_answer(server_settings: Settings, memory: TemporalMemory) -> None:
    c = TestClient(make_app(server_settings, memory, [LEAK]), client=LOCAL)
    body = {"model": "harry@y1.end", "messages": [{"role": "user", "content": LOCKHART}], "stream": True}
    with c.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    assert raw.rstrip().endswith("data: [DONE]")
    events = sse_events(raw)
    chunks = [d for _, d in events if d != "[DONE]"]
    text = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks)
    assert "Defence" not in raw and "teacher" not in text.lower()  # the rejected drafts never left the server
    assert text.strip()
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["persona_rag"]["verdict"] == "future"
    assert chunks[-1]["persona_rag"]["answered_by"] not in (None, "model")


def test_official_openai_client_streaming_and_not(server_settings: Settings, memory: TemporalMemory) -> None:
    openai = pytest.importorskip("openai")
    app = make_app(server_settings, memory, api_key="s3cret")
    with LiveServer(app) as srv:
        cl = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="s3cret", max_retries=0, timeout=30)
        assert "harry@y2.end" in [m.id for m in cl.models.list()]
        done = cl.chat.completions.create(
            model="harry@year 1", messages=[{"role": "user", "content": LOCKHART}], temperature=0.2
        )
        assert done.choices[0].message.content == "Lockhart? Never heard of him."
        assert done.model_extra["persona_rag"]["verdict"] == "future"
        stream = cl.chat.completions.create(
            model="harry", messages=[{"role": "user", "content": LOCKHART}], stream=True
        )
        pieces, extension = [], None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            extension = (chunk.model_extra or {}).get("persona_rag") or extension
        assert "".join(pieces) == "Lockhart? Never heard of him."
        assert extension["stage"]["key"] == "y7.end"
        with pytest.raises(openai.NotFoundError, match="valid personas: harry"):
            cl.chat.completions.create(model="neville", messages=[{"role": "user", "content": "Hi"}])
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{srv.url}/v1", api_key="wrong", max_retries=0).models.list()


# ----------------------------------------------------------------------------- native API


def test_ask_returns_the_json_of_ask_json(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"persona": "Harry", "question": LOCKHART, "stage": "year 2"})
    assert r.status_code == 200
    out = r.json()
    assert set(out) == set(PersonaGraph.public_result({})) | {"answered_by"}
    assert out["stage"]["key"] == "y2.end" and out["persona"] == "harry"
    assert out["verdict"] in ("past-presence", "past-only", "past-hearsay")


def test_ask_stream_is_provisional_then_reviewed(server_settings: Settings, memory: TemporalMemory) -> None:
    c = TestClient(make_app(server_settings, memory, [LEAK]), client=LOCAL)
    with c.stream("POST", "/v1/ask", json={"persona": "harry", "question": LOCKHART, "stage": 4, "stream": True}) as r:
        events = sse_events(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds[0] == "token" and "reset" in kinds and kinds[-1] == "result"
    draft = "".join(d["text"] for k, d in events[: kinds.index("reset")] if k == "token")
    assert draft == LEAK  # the provisional draft is shown, then taken back
    assert "Defence" not in events[-1][1]["answer"] and events[-1][1]["verdict"] == "future"


def test_personas_stages_and_openapi(client: TestClient, hp: Universe) -> None:
    personas = client.get("/v1/personas").json()
    assert personas["universe"]["id"] == "harry_potter"
    assert {p["id"] for p in personas["personas"]} == set(hp.characters)
    harry = client.get("/v1/personas/harry").json()
    assert harry["stages"][5] == {**hp.stage(5).as_dict(), "group": "second year", "model": "harry@y2.start"}
    schema = client.get("/openapi.json").json()
    for path in ("/v1/chat/completions", "/v1/ask", "/v1/memory/{persona}/facts", "/v1/personas/{persona}/card"):
        assert path in schema["paths"]


def test_converse_runs_two_personas_at_their_own_stages(server_settings: Settings, memory: TemporalMemory) -> None:
    c = TestClient(make_app(server_settings, memory, ["I like Quidditch.", "So do I, honestly."]), client=LOCAL)
    body = {"a": "harry", "b": "ron", "stage_a": "year 1", "stage_b": "year 3", "topic": "Quidditch", "turns": 2}
    turns = c.post("/v1/converse", json=body).json()
    assert [t["speaker"] for t in turns] == ["harry", "ron"]
    assert [t["stage"]["key"] for t in turns] == ["y1.end", "y3.end"]


def test_memory_api_has_the_cli_semantics(client: TestClient, memory: TemporalMemory, hp: Universe) -> None:
    text = "Harry keeps a brass compass from a junk shop in Diagon Alley."
    added = client.post(
        "/v1/memory/harry/facts", json={"stage": "Christmas of year 3", "text": text, "kind": "possession"}
    )
    assert added.status_code == 201, added.text
    fid = added.json()["id"]

    def found(stage: str) -> list[str]:
        r = client.get("/v1/memory/harry/search", params={"query": "brass compass junk shop", "stage": stage, "k": 3})
        return [h["id"] for h in r.json()]

    assert fid not in found("Halloween of year 3") and found("year 3")[0] == fid
    assert fid in [p["id"] for p in client.get("/v1/memory/harry", params={"stage": "year 3"}).json()]
    new = client.post(f"/v1/memory/records/{fid}/correct", json={"from_stage": "year 5", "text": "Harry lost it."})
    assert new.json()["replaces"] == fid
    history = client.get(f"/v1/memory/records/{new.json()['id']}/history").json()
    assert [h["id"] for h in history] == [fid, new.json()["id"]] and history[0]["valid_to"] == 20
    retired = client.post(f"/v1/memory/records/{new.json()['id']}/retire", json={"from_stage": "year 7"})
    assert retired.json()["valid_to"] == 28
    # The same JSON as `persona-rag memory ... --json`.
    from persona_rag.cli.memory import ACTIONS

    cli_history, _ = ACTIONS["history"](memory, hp, argparse.Namespace(id=fid))
    assert client.get(f"/v1/memory/records/{fid}/history").json() == cli_history
    cli_list, _ = ACTIONS["list"](memory, hp, argparse.Namespace(persona="harry", stage="year 3"))
    assert client.get("/v1/memory/harry", params={"stage": "year 3"}).json() == cli_list
    ns = argparse.Namespace(persona="harry", query="brass compass", stage="year 4", k=3)
    cli_search, _ = ACTIONS["search"](memory, hp, ns)
    params = {"query": "brass compass", "stage": "year 4", "k": 3}
    assert client.get("/v1/memory/harry/search", params=params).json() == cli_search


# ----------------------------------------------------------------------------- security


def test_writes_need_loopback_or_a_key_and_read_only_refuses(server_settings: Settings, memory: TemporalMemory) -> None:
    fact = {"stage": "year 2", "text": "Harry can whistle a tune from the radio.", "kind": "skill"}
    remote = TestClient(make_app(server_settings, memory), client=("203.0.113.9", 40000))
    r = remote.post("/v1/memory/harry/facts", json=fact)
    assert r.status_code == 403 and "--api-key" in r.json()["error"]["message"]
    assert remote.get("/v1/memory/harry").status_code == 200  # reads stay open
    proxied = TestClient(make_app(server_settings, memory), client=LOCAL)  # a reverse proxy on the same machine
    r = proxied.post("/v1/memory/harry/facts", json=fact, headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 403
    ro = TestClient(make_app(server_settings, memory, read_only=True), client=LOCAL)
    r = ro.post("/v1/memory/harry/facts", json=fact)
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]
    keyed = TestClient(make_app(server_settings, memory, api_key="k1"), client=("203.0.113.9", 40000))
    assert keyed.post("/v1/memory/harry/facts", json=fact).status_code == 401
    assert keyed.get("/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert keyed.get("/").status_code == 200  # the page loads; the API behind it asks for the key
    r = keyed.post("/v1/memory/harry/facts", json=fact, headers={"Authorization": "Bearer k1"})
    assert r.status_code == 201


def test_no_key_means_loopback_only() -> None:
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "key")
    with pytest.raises(UsageError, match="without --api-key"):
        check_bind("0.0.0.0", None)
    with pytest.raises(UsageError, match="without --api-key"):
        check_bind("192.168.1.20", None)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("post", "/v1/ask", {"persona": "neville", "question": "Hi"}, 404, "valid personas: harry, hermione, ron"),
        ("post", "/v1/ask", {"persona": "harry", "question": "Hi", "stage": "year 9"}, 400, "out of range"),
        ("post", "/v1/ask", {"persona": "harry", "question": "Hi", "stage": "the ice age"}, 400, "unknown stage"),
        ("post", "/v1/ask", {"persona": "harry", "question": "   "}, 400, "question is empty"),
        ("post", "/v1/ask", {"persona": "harry", "question": "x" * 4001}, 413, "the limit is 4000"),
        ("post", "/v1/ask", {"persona": "harry"}, 422, "question: Field required"),
        (
            "post",
            "/v1/chat/completions",
            {"model": "neville", "messages": [{"role": "user", "content": "Hi"}]},
            404,
            "valid personas",
        ),
        (
            "post",
            "/v1/chat/completions",
            {"model": "harry@year 9", "messages": [{"role": "user", "content": "Hi"}]},
            400,
            "out of range",
        ),
        (
            "post",
            "/v1/chat/completions",
            {"model": "harry", "messages": [{"role": "system", "content": "Hi"}]},
            400,
            "no user message",
        ),
        ("post", "/v1/chat/completions", {"model": "harry", "messages": []}, 422, "messages"),
        ("get", "/v1/memory/records/harry:nope/history", None, 404, "no memory record"),
        ("post", "/v1/memory/harry/facts", {"stage": "year 1", "text": " "}, 400, "must not be empty"),
        ("get", "/v1/memory/neville", None, 404, "valid personas"),
        ("get", "/v1/personas/harry/card?stage=year%209", None, 400, "out of range"),
        ("post", "/v1/cards/import?universe=mine", "not a card", 400, "not a character card"),
        ("get", "/v1/nowhere", None, 404, "Not Found"),
    ],
)
def test_bad_input_is_a_json_error_with_the_cli_wording(
    client: TestClient, method: str, path: str, body: Any, status: int, words: str
) -> None:
    kw = {"json": body} if isinstance(body, dict) else {"content": body} if body else {}
    r = getattr(client, method)(path, **kw)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert words in err["message"] and "Traceback" not in r.text
    if status == 400 and "stage" in words:
        assert err["valid_stages"][0] == "before"


def test_bodies_are_bounded_and_bugs_do_not_leak_tracebacks(server_settings: Settings, memory: TemporalMemory) -> None:
    small = TestClient(make_app(server_settings, memory, max_body=2048), client=LOCAL)
    big = {"persona": "harry", "question": "Hi", "padding": "x" * 5000}
    r = small.post("/v1/ask", json=big)
    assert r.status_code == 413 and "2048 bytes" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: counted while read
        yield json.dumps(big).encode()

    r = small.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413

    def broken(messages: Any) -> str:
        raise RuntimeError("secret internals /home/x/model.py line 3")

    bug = TestClient(make_app(server_settings, memory, broken), client=LOCAL, raise_server_exceptions=False)
    r = bug.post("/v1/ask", json={"persona": "harry", "question": "Hi"})
    assert r.status_code == 500 and "secret" not in r.text and "server log" in r.json()["error"]["message"]
    r = bug.post(
        "/v1/chat/completions", json={"model": "harry", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    )
    assert "event: error" in r.text and "secret" not in r.text and r.text.rstrip().endswith("data: [DONE]")


def test_serve_refuses_a_public_address_without_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    from persona_rag.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 2
    assert "without --api-key" in capsys.readouterr().err


# ----------------------------------------------------------------------------- sharing one model


def test_fair_lock_serves_in_arrival_order() -> None:
    lock, order = FairLock(), []
    lock.__enter__()
    threads = []
    for i in range(6):
        t = threading.Thread(target=lambda i=i: (lock.__enter__(), order.append(i), lock.__exit__()))
        t.start()
        threads.append(t)
        while lock.queued < i + 2:  # wait until this one is queued before starting the next
            time.sleep(0.001)
    lock.__exit__()
    for t in threads:
        t.join(5)
    assert order == list(range(6))


def test_a_request_keeps_the_model_for_its_regeneration(server_settings: Settings, memory: TemporalMemory) -> None:
    gate, order = threading.Event(), []

    def reply(messages: Any) -> str:
        lockhart = "Lockhart" in messages[-1]["content"]
        order.append("lockhart" if lockhart else "ron")
        if len(order) == 1:
            gate.wait(10)
        return LEAK if lockhart else "Ron is my friend."  # too short a claim to judge: passes review

    service = make_app(server_settings.with_overrides(retries=1), memory, reply).state.service
    harry = service.persona("harry")
    y1 = service.stage(harry, "year 1")
    first = threading.Thread(target=service.ask, args=(harry, LOCKHART, y1))
    first.start()
    while not order:
        time.sleep(0.005)
    second = threading.Thread(target=service.ask, args=(harry, "Who is Ron Weasley?", y1))
    second.start()
    while service.generator.lock.queued < 2:
        time.sleep(0.005)
    gate.set()
    first.join(10)
    second.join(10)
    # The first request's draft fails review; its retry comes before the second request.
    assert order == ["lockhart", "lockhart", "ron"]


def test_a_slow_answer_does_not_block_memory_reads(server_settings: Settings, memory: TemporalMemory) -> None:
    release = threading.Event()

    def slow(messages: Any) -> str:
        release.wait(20)
        return "Lockhart? Never heard of him."

    with LiveServer(make_app(server_settings, memory, slow)) as srv:
        body = {"persona": "harry", "question": LOCKHART, "stage": "year 1"}
        # More waiting answers than a default thread pool has threads on a small machine.
        askers = [
            threading.Thread(target=lambda: httpx.post(f"{srv.url}/v1/ask", json=body, timeout=30)) for _ in range(8)
        ]
        for t in askers:
            t.start()
        deadline = time.monotonic() + 10
        while httpx.get(f"{srv.url}/health").json()["queued"] < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        t0 = time.monotonic()
        r = httpx.get(f"{srv.url}/v1/memory/harry/search", params={"query": "owl", "stage": "year 1"}, timeout=10)
        waited = time.monotonic() - t0
        release.set()
        for t in askers:
            t.join(20)
    assert r.status_code == 200 and r.json() and waited < 2


def test_web_page_is_served_without_anything_from_elsewhere(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'src="/static/app.js"' in page.text
    for name in ("index.html", "app.js", "style.css"):
        text = client.get(f"/static/{name}").text
        assert "http://" not in text and "https://" not in text


def test_named_threads_past_the_limit_are_dropped_from_their_own_persona(
    server_settings: Settings, memory: TemporalMemory
) -> None:
    """The server keeps at most max_threads named conversations; the oldest is deleted from the checkpointer
    of the persona that held it, whichever persona asks next (no unbounded growth)."""
    service = make_app(server_settings, memory).state.service
    service.max_threads = 1
    harry, hermione = service.persona("harry"), service.persona("hermione")
    service.ask(harry, "Who is Ron Weasley?", service.stage(harry, "year 1"), thread_id="talk-a")
    harry_saver = service.graph(harry).graph.checkpointer
    assert list(harry_saver.list({"configurable": {"thread_id": "talk-a"}}))
    service.ask(hermione, "Who is Ron Weasley?", service.stage(hermione, "year 1"), thread_id="talk-b")
    assert not list(harry_saver.list({"configurable": {"thread_id": "talk-a"}}))
