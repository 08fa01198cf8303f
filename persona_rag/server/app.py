"""The HTTP face of persona-rag: an OpenAI-compatible endpoint, the native API and the web page.

``create_app`` builds the app around one :class:`PersonaService` (one model, one memory).
Tests inject a scripted generator and a fake-embedding memory; ``persona-rag serve``
loads the real ones once.

Memory writes change the persona for every client of the server; ``read_only=True``
turns them off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from persona_rag.errors import MemoryStoreError, ModelError, PersonaRagError, UsageError
from persona_rag.server.security import Guard, error_body, is_loopback
from persona_rag.server.service import (
    CANCEL,
    Forbidden,
    NotFound,
    PersonaService,
    RequestCancelled,
    StageError,
    TooLong,
)

log = logging.getLogger("persona_rag.server")
STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 256 * 1024
MAX_CARD_BODY = 8 * 1024 * 1024
MAX_TEXT = 2000

# Most specific first: the status of an error the CLI would print as one line.
STATUS: list[tuple[type[Exception], int, str]] = [
    (NotFound, 404, "not_found_error"),
    (Forbidden, 403, "permission_error"),
    (TooLong, 413, "invalid_request_error"),
    (UsageError, 400, "invalid_request_error"),
    (ModelError, 503, "server_error"),
    (MemoryStoreError, 503, "server_error"),
    (PersonaRagError, 500, "server_error"),
]
HTTP_KIND = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 413: "invalid_request_error"}


def error_json(exc: Exception) -> tuple[int, dict[str, Any]]:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            err: dict[str, Any] = {"message": str(exc), "type": kind, "code": status}
            if isinstance(exc, StageError):
                err["valid_stages"] = exc.valid
            return status, {"error": err}
    log.exception("internal error", exc_info=exc)
    return 500, {"error": {"message": "internal server error; the server log has the details", "type": "server_error"}}


# ----------------------------------------------------------------------------- request bodies


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(max_length=32)
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type", "text") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """What OpenAI clients send. Sampling fields (temperature, top_p, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=200, description="persona or persona@stage, see GET /v1/models")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class AskRequest(BaseModel):
    persona: str = Field(max_length=100, examples=["harry"])
    question: str = Field(examples=["Who is Gilderoy Lockhart?"])
    stage: str | int | None = Field(None, examples=["year 2"], description="default: the persona's last stage")
    thread_id: str | None = Field(None, max_length=128, description="keeps a conversation between calls")
    stream: bool = Field(False, description="SSE: provisional tokens, 'reset' when review rejects a draft, 'result'")


class ConverseRequest(BaseModel):
    a: str = Field(max_length=100)
    b: str = Field(max_length=100)
    stage_a: str | int | None = None
    stage_b: str | int | None = None
    topic: str = Field(min_length=1, max_length=MAX_TEXT)
    turns: int = Field(4, ge=1, le=12)


class AddFact(BaseModel):
    stage: str | int = Field(description="from when the persona knows it")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    kind: str = Field("fact", max_length=32)


class CorrectFact(BaseModel):
    from_stage: str | int
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class RetireFact(BaseModel):
    from_stage: str | int


# ----------------------------------------------------------------------------- streaming helpers


def sse(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


async def from_thread(
    produce: Callable[[], Iterator[Any]], request: Request | None = None, poll: float = 0.1
) -> AsyncIterator[Any]:
    """Run a blocking iterator in a thread; items arrive here as it yields them.

    The thread never waits for the client: a slow reader does not hold the model. With ``request``,
    a client that disconnects (or a consumer that stops reading) cancels the thread's request
    (:data:`persona_rag.server.service.CANCEL`): its generation stops at the next token and, if it
    was still queued for the model, it never starts.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def put(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the client is gone
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def work() -> None:
        CANCEL.set(cancel)
        try:
            for item in produce():
                put("item", item)
        except BaseException as exc:
            put("error", exc)
        finally:
            put("done", None)

    threading.Thread(target=work, daemon=True, name="persona-rag-answer").start()
    try:
        while True:
            if request is None:
                kind, value = await queue.get()
            else:
                try:
                    kind, value = await asyncio.wait_for(queue.get(), poll)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        return
                    continue
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        cancel.set()  # a no-op for a request that finished


async def in_own_thread(fn: Callable[..., Any], *args: Any, request: Request | None = None, **kw: Any) -> Any:
    """Run work that waits for the model in a thread of its own, not in the pool that serves memory reads."""

    def produce() -> Iterator[Any]:
        yield fn(*args, **kw)

    async for value in from_thread(produce, request):
        return value
    raise RequestCancelled("the client disconnected; its answer was stopped")


def _error_event(exc: Exception) -> str:
    _, body = error_json(exc)
    return sse(body, "error")


# ----------------------------------------------------------------------------- the app


def create_app(
    settings: Any,
    *,
    universe: Any = None,
    generator: Any = None,
    memory: Any = None,
    api_key: str | None = None,
    read_only: bool = False,
    max_body: int = MAX_BODY,
    max_question_chars: int = 4000,
    models: Any = None,
    batching: bool = True,
    max_models: int = 4,
    mix_constraints: bool = False,
) -> FastAPI:
    """The server app. Without ``generator``/``models``/``memory`` the defaults for ``settings`` are loaded once
    here: the local model, each persona with its own adapter (at most ``max_models`` engines loaded), decoding
    concurrent requests in batches unless ``batching`` is False. ``models`` (a :mod:`persona_rag.server.models`
    source) picks each persona's model; ``generator`` alone answers for every persona."""
    from persona_rag.builder.cards import load_universe_for

    uni = universe or load_universe_for(settings, settings.corpus)
    if memory is None:
        from persona_rag.memory.store import open_memory

        memory = open_memory(settings, uni)
    if generator is None and models is None:
        models = local_models(settings, uni, batching=batching, max_models=max_models, mix_constraints=mix_constraints)
    service = PersonaService(
        settings, uni, generator, memory, read_only=read_only, max_question_chars=max_question_chars, models=models
    )
    app = FastAPI(
        title="persona-rag",
        version="1",
        description=(
            "Personas that answer as one character at one moment of its life. OpenAI-compatible chat at "
            "/v1/chat/completions (model = persona@stage), a native API, and a web page at /. Memory writes "
            "change the persona for every client of this server."
        ),
        docs_url=None,  # Swagger UI loads from a CDN; the schema is at /openapi.json
        redoc_url=None,
    )
    app.state.service = service
    app.state.api_key = api_key
    _install_errors(app)
    _install_routes(app, service, api_key)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        Guard, api_key=api_key, max_body=max_body, max_body_for={"/v1/cards/import": max(max_body, MAX_CARD_BODY)}
    )
    return app


def local_models(
    settings: Any, universe: Any, *, batching: bool = True, max_models: int = 4, mix_constraints: bool = False
) -> Any:
    """Every persona with its adapter on the local engine; the base model is loaded now. ``mix_constraints``:
    requests with different answer-plan constraints share a batch (see :mod:`persona_rag.backends.batching`)."""
    from persona_rag.models import require_chat_model
    from persona_rag.server.models import EnginePool, LocalModels

    resolved = require_chat_model(settings)
    batcher = None
    if batching:
        from persona_rag.backends.batching import Batcher

        batcher = Batcher(mix_constraints=mix_constraints)
    models = LocalModels(
        settings, universe, EnginePool(settings, max_models=max_models, batcher=batcher), resolved.name
    )
    models.default.ready()
    return models


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(PersonaRagError)
    async def on_error(request: Request, exc: PersonaRagError) -> JSONResponse:
        status, body = error_json(exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        body_error = next((e for e in errors if tuple(e.get("loc", ()))[:1] == ("body",)), None)
        if body_error is not None and body_error.get("type") == "json_invalid":  # malformed or cut short
            pos = tuple(body_error.get("loc", ()))[1:2]
            at = f" (it breaks at character {pos[0]})" if pos else ""
            message = f"the request body is not valid JSON{at}; send one complete JSON object"
            return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": 400}}, 400)
        if body_error is not None and tuple(body_error.get("loc", ())) == ("body",):
            what = "has no JSON body" if body_error.get("type") == "missing" else "body is not a JSON object"
            message = f"invalid request: the request {what}; send one JSON object (the schema is at /openapi.json)"
            return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": 422}}, 422)
        parts = []
        for e in errors[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid")))
        message = "invalid request: " + "; ".join(parts)
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": 422}}, 422)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> Response:
        kind = HTTP_KIND.get(exc.status_code, "invalid_request_error")
        return Response(
            error_body(exc.status_code, str(exc.detail), kind), exc.status_code, exc.headers, "application/json"
        )

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        status, body = error_json(exc)
        return JSONResponse(body, status_code=status)


def _install_routes(app: FastAPI, service: PersonaService, api_key: str | None) -> None:
    def guard_write(request: Request) -> None:
        if service.read_only:
            raise Forbidden("this server is read-only (started with --read-only): memory writes are off")
        client = request.client.host if request.client else None
        # Behind a reverse proxy every client looks like 127.0.0.1: a forwarded request counts as remote.
        forwarded = any(h in request.headers for h in ("x-forwarded-for", "forwarded", "x-real-ip"))
        if not api_key and (forwarded or not is_loopback(client)):
            raise Forbidden("memory writes from another machine need a server started with --api-key")

    # -------------------------------------------------------------- page

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/health", tags=["server"])
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "universe": service.universe.id,
            "model": service.generator.name,
            "engine": str(getattr(service.generator.inner, "engine", type(service.generator.inner).__name__)),
            "queued": service.generator.lock.queued,
            "batching": not service.generator.serial,
            "read_only": service.read_only,
            "auth": bool(api_key),
        }

    # -------------------------------------------------------------- OpenAI-compatible

    @app.get("/v1/models", tags=["openai"])
    async def models() -> dict[str, Any]:
        now = int(time.time())
        tuned = {p["id"]: p["adapter"] for p in service.personas()}
        data = [
            {
                "id": m,
                "object": "model",
                "created": now,
                "owned_by": "persona-rag",
                "persona_rag": {"tuned": tuned.get(m.partition("@")[0]) is not None},
            }
            for m in service.model_ids()
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", tags=["openai"], response_model=None)
    async def chat_completions(req: ChatRequest, request: Request) -> Any:
        persona, stage = service.parse_model(req.model)
        users = [i for i, m in enumerate(req.messages) if m.role == "user"]
        if not users:
            raise UsageError("no user message: the last user message is the question for the persona")
        question = service.check_question(req.messages[users[-1]].text())
        history = [{"role": m.role, "content": m.text()} for m in req.messages[: users[-1]]]
        cid, created, model = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), req.model

        def extension(result: dict[str, Any]) -> dict[str, Any]:
            keys = ("persona", "stage", "verdict", "verdict_reason", "answered_by", "sources", "notices", "adapter")
            return {k: result.get(k) for k in keys}

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return sse(body)

        if not req.stream:
            result = await in_own_thread(service.ask, persona, question, stage, history=history, request=request)
            answer = result.get("answer") or ""
            own = service.generator_for(persona)  # its tokenizer; the base model may not be loaded
            p_tok, c_tok = own.count_tokens(question), own.count_tokens(answer)
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok},
                "persona_rag": extension(result),
            }

        async def stream() -> AsyncIterator[str]:
            # A chat client cannot take text back, so only the reviewed answer is sent.
            yield chunk({"role": "assistant", "content": ""})
            try:
                result: dict[str, Any] = {}
                async for kind, value in from_thread(
                    lambda: service.events(persona, question, stage, history=history), request
                ):
                    if kind == "result":
                        result = value
                words = (result.get("answer") or "").split(" ")
                for i, word in enumerate(words):
                    yield chunk({"content": word if i == 0 else " " + word})
                yield chunk({}, "stop", persona_rag=extension(result))
            except Exception as exc:
                yield _error_event(exc)
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # -------------------------------------------------------------- personas

    @app.get("/v1/personas", tags=["personas"])
    async def personas() -> dict[str, Any]:
        return {"universe": {"id": service.universe.id, "name": service.universe.name}, "personas": service.personas()}

    @app.get("/v1/stages", tags=["personas"])
    async def stages() -> list[dict[str, Any]]:
        return service.stages()

    @app.get("/v1/personas/{persona}", tags=["personas"])
    async def persona_info(persona: str) -> dict[str, Any]:
        p = service.persona(persona)
        info = next(x for x in service.personas() if x["id"] == p.id)
        return {**info, "stages": [{**s, "model": f"{p.id}@{s['key']}"} for s in service.stages()]}

    @app.post("/v1/ask", tags=["personas"], response_model=None)
    async def ask(req: AskRequest, request: Request) -> Any:
        """The JSON of ``persona-rag ask --json``; with ``stream`` an SSE stream of the draft, then the result."""
        persona = service.persona(req.persona)
        stage = service.stage(persona, req.stage)
        question = service.check_question(req.question)
        if not req.stream:
            return await in_own_thread(service.ask, persona, question, stage, thread_id=req.thread_id, request=request)

        async def stream() -> AsyncIterator[str]:
            try:
                async for kind, value in from_thread(
                    lambda: service.events(persona, question, stage, thread_id=req.thread_id), request
                ):
                    if kind == "token":
                        yield sse({"text": value}, "token")
                    elif kind == "reset":
                        yield sse({}, "reset")
                    elif kind == "result":
                        yield sse(value, "result")
            except Exception as exc:
                yield _error_event(exc)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/converse", tags=["personas"])
    async def converse(req: ConverseRequest) -> list[dict[str, Any]]:
        """Two personas, each at its own stage, talk about a topic (``persona-rag converse --json``)."""
        return await in_own_thread(service.converse, [(req.a, req.stage_a), (req.b, req.stage_b)], req.topic, req.turns)

    # -------------------------------------------------------------- memory (same JSON as `persona-rag memory --json`)

    @app.get("/v1/memory/records/{record_id}/history", tags=["memory"])
    async def memory_history(record_id: str) -> Any:
        return await asyncio.to_thread(service.memory_action, "history", id=record_id)

    @app.post("/v1/memory/records/{record_id}/correct", tags=["memory"])
    async def memory_correct(record_id: str, body: CorrectFact, request: Request) -> Any:
        guard_write(request)
        return await asyncio.to_thread(
            service.memory_action, "correct", id=record_id, from_stage=body.from_stage, text=body.text
        )

    @app.post("/v1/memory/records/{record_id}/retire", tags=["memory"])
    async def memory_retire(record_id: str, body: RetireFact, request: Request) -> Any:
        guard_write(request)
        return await asyncio.to_thread(service.memory_action, "retire", id=record_id, from_stage=body.from_stage)

    @app.post("/v1/memory/{persona}/facts", tags=["memory"], status_code=201)
    async def memory_add(persona: str, body: AddFact, request: Request) -> Any:
        guard_write(request)
        return await asyncio.to_thread(
            service.memory_action, "add", persona=persona, stage=body.stage, text=body.text, kind=body.kind
        )

    @app.get("/v1/memory/{persona}/search", tags=["memory"])
    async def memory_search(
        persona: str,
        query: str = Query(min_length=1, max_length=MAX_TEXT),
        stage: str | None = Query(None, description="omit to search every stage"),
        k: int = Query(5, ge=1, le=50),
    ) -> Any:
        return await asyncio.to_thread(service.memory_action, "search", persona=persona, query=query, stage=stage, k=k)

    @app.get("/v1/memory/{persona}", tags=["memory"])
    async def memory_list(persona: str, stage: str | None = None) -> Any:
        return await asyncio.to_thread(service.memory_action, "list", persona=persona, stage=stage)

    # -------------------------------------------------------------- character cards

    @app.get("/v1/personas/{persona}/card", tags=["cards"], response_model=None)
    async def card(
        persona: str,
        stage: str | None = None,
        format: str = Query("json", pattern="^(json|png)$"),
        spec: str = Query("v3", pattern="^(v2|v3)$"),
    ) -> Any:
        """A Character Card (V2 or V3) of the persona at a stage; its lorebook holds only what it knows then."""
        from persona_rag.builder.cards import card_png, export_card

        p = service.persona(persona)
        st = service.stage(p, stage)
        data = await asyncio.to_thread(export_card, p, st, service.memory)
        name = f"{p.id}@{st.key}"
        if format == "png":
            return Response(
                card_png(data),
                media_type="image/png",
                headers={"Content-Disposition": f'attachment; filename="{name}.png"'},
            )
        return data["v2"] if spec == "v2" else data["v3"]

    @app.post("/v1/cards/import", tags=["cards"], status_code=201)
    async def card_import(
        request: Request,
        universe: str = Query(pattern=r"^[a-z0-9_]{1,40}$", description="user universe under the home folder"),
        stage: str | None = Query(None, description="from when the persona knows its lorebook"),
        id: str | None = Query(None, pattern=r"^[a-z0-9_]{1,40}$", description="persona id (default: from the name)"),
    ) -> dict[str, Any]:
        """Import a V2/V3 card (JSON or PNG body) as a new persona of a user universe."""
        from persona_rag.builder.cards import import_card, read_card, user_universe_root

        guard_write(request)
        card = read_card(await request.body())
        same = (
            universe == service.universe.id
            and service.universe.root == user_universe_root(service.settings, universe).resolve()
        )
        report = await asyncio.to_thread(
            import_card,
            card,
            service.settings,
            universe,
            stage=stage,
            persona_id=id,
            memory=service.memory if same else None,
            embed_model=getattr(service.memory, "embed_model", None),
        )
        if same:
            service.reload_universe()
        return report
