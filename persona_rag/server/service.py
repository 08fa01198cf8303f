"""What the server does, without HTTP: one universe, one model and one memory, shared by every client.

Each persona answers with its own model (:mod:`persona_rag.server.models`: its adapter,
or an endpoint's LoRA module). Without batching the models answer one request at a time
behind a first-come, first-served lock (:class:`FairLock`); with batching (the default
for the local engine) concurrent requests decode together and the lock is not used.
Retrieval, the time check and memory reads run outside either, so a long answer does
not hold up other clients' reads of the memory.

A request whose client went away is cancelled (:data:`CANCEL`): its generation stops at
the next token, and a request still queued for the model never starts.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from persona_rag.backends.base import StopGeneration
from persona_rag.errors import PersonaRagError, UsageError
from persona_rag.persona import Persona
from persona_rag.timeline import Stage

if TYPE_CHECKING:
    from persona_rag.corpus import Universe
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.settings import Settings


class NotFound(UsageError):
    """An unknown persona or memory record (HTTP 404)."""


class Forbidden(UsageError):
    """A write the server does not allow (HTTP 403)."""


class StageError(UsageError):
    """An unknown or out-of-range stage (HTTP 400 with the valid stage keys)."""

    def __init__(self, message: str, valid: list[str]) -> None:
        super().__init__(message)
        self.valid = valid


class FairLock:
    """A lock that serves waiters in arrival order (``threading.Lock`` promises no order)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self) -> FairLock:
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    @property
    def queued(self) -> int:
        """Requests holding or waiting for the model."""
        with self._cond:
            return self._next - self._serving


class RequestCancelled(PersonaRagError):
    """The client of this request went away: its generation was stopped."""


# Set by the HTTP layer for the thread that runs one request; the event is set when its client disconnects.
CANCEL: ContextVar[threading.Event | None] = ContextVar("persona_rag_cancel", default=None)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise RequestCancelled("the client disconnected; its answer was stopped")


def _watching(on_token: Any, cancel: threading.Event) -> Any:
    """``on_token`` that also ends the generation at the next token once the request is cancelled."""

    def watched(piece: str) -> None:
        if on_token is not None:
            on_token(piece)
        if cancel.is_set():
            raise StopGeneration

    return watched


@dataclass
class SharedGenerator:
    """The models, used by every persona graph, and the order in which requests get them.

    ``serial`` (no batching): one request at a time. Inside :meth:`turn` (one request) the model
    is taken at the first ``generate`` and kept until the request ends, so a regeneration after
    review does not queue again behind every request that arrived meanwhile: requests are served
    whole, in arrival order. Not ``serial``: calls go to the model at once (a batching engine or a
    remote endpoint schedules them).
    """

    inner: Any
    lock: FairLock = field(default_factory=FairLock)
    serial: bool = True
    # A context variable, not a thread-local: LangGraph may run a node in another thread, with a copy
    # of the caller's context. The value is a mutable holder, so every copy sees the same request.
    _turn: ContextVar[list[bool] | None] = field(
        default_factory=lambda: ContextVar("persona_rag_turn", default=None), repr=False
    )

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def adapter(self) -> str | None:
        return self.inner.adapter  # type: ignore[no-any-return]

    def bound(self, model: Any) -> BoundGenerator:
        """``model`` (one persona's) behind this scheduling."""
        return BoundGenerator(self, model)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """One request: the model, once taken, stays with it until the request ends."""
        if self._turn.get() is not None:  # nested: the outer turn owns the model
            yield
            return
        held = [False]
        token = self._turn.set(held)
        try:
            yield
        finally:
            self._turn.reset(token)
            if held[0]:
                self.lock.__exit__()

    def generate(
        self, messages: Sequence[dict[str, str]], *, max_new_tokens: int = 96, on_token: Any = None, **kw: Any
    ) -> str:
        return self.generate_with(self.inner, messages, max_new_tokens=max_new_tokens, on_token=on_token, **kw)

    def generate_with(
        self,
        model: Any,
        messages: Sequence[dict[str, str]],
        *,
        max_new_tokens: int = 96,
        on_token: Any = None,
        **kw: Any,
    ) -> str:
        cancel = CANCEL.get()
        ready = getattr(model, "ready", None)
        if ready is not None:
            ready()  # a model loaded (or converted) on first use does not hold the others' queue
        if cancel is not None:
            on_token = _watching(on_token, cancel)
        if not self.serial:
            _check(cancel)
            text = str(model.generate(messages, max_new_tokens=max_new_tokens, on_token=on_token, **kw))
            _check(cancel)
            return text
        held = self._turn.get()
        if held is not None:
            if not held[0]:
                self.lock.__enter__()
                held[0] = True
            _check(cancel)  # its client left while it waited: the next request starts now
            text = str(model.generate(messages, max_new_tokens=max_new_tokens, on_token=on_token, **kw))
        else:
            with self.lock:
                _check(cancel)
                text = str(model.generate(messages, max_new_tokens=max_new_tokens, on_token=on_token, **kw))
        _check(cancel)
        return text

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))


@dataclass
class BoundGenerator:
    """One persona's model, scheduled by the shared generator: what that persona's graph calls."""

    shared: SharedGenerator
    model: Any

    @property
    def name(self) -> str:
        return str(self.model.name)

    @property
    def adapter(self) -> str | None:
        return self.model.adapter  # type: ignore[no-any-return]

    def generate(
        self, messages: Sequence[dict[str, str]], *, max_new_tokens: int = 96, on_token: Any = None, **kw: Any
    ) -> str:
        return self.shared.generate_with(self.model, messages, max_new_tokens=max_new_tokens, on_token=on_token, **kw)

    def count_tokens(self, text: str) -> int:
        return int(self.model.count_tokens(text))


def public_result(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON of ``persona-rag ask --json``, with who wrote the answer."""
    from persona_rag.graphs.persona_graph import PersonaGraph

    out = PersonaGraph.public_result(result)
    if "answered_by" not in out:
        out["answered_by"] = result.get("answered_by")
    return out


class PersonaService:
    """The personas of one universe, answering through one shared model and one memory."""

    def __init__(
        self,
        settings: Settings,
        universe: Universe,
        generator: Any,
        memory: Any,
        *,
        read_only: bool = False,
        max_question_chars: int = 4000,
        models: Any = None,
    ) -> None:
        """``generator`` answers for every persona, unless ``models`` (see :mod:`persona_rag.server.models`)
        gives each persona its own; then ``generator`` is the base model (None: the models' default)."""
        from persona_rag.server.models import FixedModels

        self.settings = settings
        self.universe = universe
        self.models = models if models is not None else FixedModels(generator)
        if generator is None:
            generator = self.models.default
        self.generator = (
            generator
            if isinstance(generator, SharedGenerator)
            else SharedGenerator(generator, serial=not getattr(self.models, "concurrent", False))
        )
        self.memory = memory
        self.read_only = read_only
        self.max_question_chars = max_question_chars
        self._graphs: dict[str, PersonaGraph] = {}
        self._graphs_lock = threading.Lock()
        self._threads: OrderedDict[tuple[str, str], PersonaGraph] = OrderedDict()
        self.max_threads = 1000

    # ------------------------------------------------------------------ personas and stages

    def persona(self, name: str) -> Persona:
        try:
            return Persona(self.universe, self.universe.persona(unquote(name)))
        except UsageError as exc:
            raise NotFound(str(exc)) from None

    def stage(self, persona: Persona | None, value: Any) -> Stage:
        """Resolve a stage phrase; ``persona=None`` and no value is an error (a write needs a stage)."""
        try:
            if persona is None:
                return self.universe.stage(value)
            return persona.stage(value, default=persona.default_stage())
        except UsageError as exc:
            raise StageError(str(exc), [s.key for s in self.universe.timeline.stages]) from None

    def stages(self) -> list[dict[str, Any]]:
        tl = self.universe.timeline
        return [{**s.as_dict(), "group": tl.group_of(s.ordinal)} for s in tl.stages]

    def personas(self) -> list[dict[str, Any]]:
        out = []
        for c in self.universe.characters.values():
            p = Persona(self.universe, c)
            out.append(
                {
                    "id": c.id,
                    "name": c.name,
                    "aliases": list(c.aliases),
                    "summary": str(p.profile.get("summary", "")).strip(),
                    "default_stage": p.default_stage().as_dict(),
                    "model": c.id,
                    "tuned": self.models.tuned(c.id) is not None,
                    "adapter": self.models.tuned(c.id),
                }
            )
        return out

    def model_ids(self) -> list[str]:
        """``persona`` (its default stage) and ``persona@stage-key`` for every stage."""
        ids = []
        for c in self.universe.characters.values():
            ids.append(c.id)
            ids += [f"{c.id}@{s.key}" for s in self.universe.timeline.stages]
        return ids

    def parse_model(self, model: str) -> tuple[Persona, Stage]:
        """``harry``, ``harry@y2.end``, ``harry@year%202``: a persona and a stage."""
        name, _, stage = unquote(model).partition("@")
        if not name.strip():
            raise UsageError(f"model {model!r} names no persona; use 'persona' or 'persona@stage', see GET /v1/models")
        try:
            persona = self.persona(name)
        except NotFound as exc:
            raise NotFound(
                f"unknown model {model!r}: {exc}; model ids are 'persona' or 'persona@stage' (GET /v1/models)"
            ) from None
        return persona, self.stage(persona, stage or None)

    def check_question(self, question: str) -> str:
        if not question.strip():
            raise UsageError("the question is empty; ask the persona something")
        if len(question) > self.max_question_chars:
            raise TooLong(f"the question is {len(question)} characters long; the limit is {self.max_question_chars}")
        return question

    def reload_universe(self) -> None:
        """Pick up a persona imported into the served universe (its memory was updated by the import)."""
        from persona_rag.corpus import load_universe

        uni = load_universe(self.universe.root)
        with self._graphs_lock:
            self.universe = uni
            if hasattr(self.models, "universe"):
                self.models.universe = uni
            if self.memory is not None:
                self.memory.universe = uni
            self._graphs.clear()

    # ------------------------------------------------------------------ answering

    def graph(self, persona: Persona) -> PersonaGraph:
        with self._graphs_lock:
            graph = self._graphs.get(persona.id)
            if graph is None:
                from persona_rag.graphs.persona_graph import PersonaGraph

                graph = PersonaGraph.from_persona(
                    persona,
                    settings=self.settings,
                    generator=self.generator_for(persona),
                    memory=self.memory,
                    use_memory=self.memory is not None,
                    checkpointer="memory",
                )
                self._graphs[persona.id] = graph
            return graph

    def generator_for(self, persona: Persona) -> Any:
        """The persona's own model (its adapter, its LoRA module, or the base), behind the shared scheduling."""
        model = self.models.for_persona(persona.id)
        return self.generator if model is self.generator.inner else self.generator.bound(model)

    def events(
        self,
        persona: Persona,
        question: str,
        stage: Stage,
        *,
        thread_id: str | None = None,
        history: Sequence[dict[str, str]] = (),
    ) -> Iterator[tuple[str, Any]]:
        """("token", text) and ("reset", None) while drafting, then ("result", public result).

        Without ``thread_id`` the answer's thread is dropped afterwards (``history`` is what the
        client resent); named threads are kept, the oldest dropped past ``max_threads``.
        """
        graph = self.graph(persona)
        thread = thread_id or f"once-{uuid.uuid4().hex}"
        try:
            with self.generator.turn():
                if history:
                    seed_history(graph, thread, history)
                for kind, value in graph.stream_events({"question": question, "stage": stage.key}, thread_id=thread):
                    yield kind, (public_result(value) if kind == "result" else value)
        finally:
            self._keep_thread(graph, thread, keep=thread_id is not None)

    def _keep_thread(self, graph: PersonaGraph, thread: str, *, keep: bool) -> None:
        drop: list[tuple[PersonaGraph, str]] = [] if keep else [(graph, thread)]
        if keep:
            with self._graphs_lock:
                self._threads.pop((graph.persona.id, thread), None)
                self._threads[(graph.persona.id, thread)] = graph
                while len(self._threads) > self.max_threads:
                    (_, old), old_graph = self._threads.popitem(last=False)
                    drop.append((old_graph, old))  # whichever persona's graph holds it
        for owner, t in drop:
            saver = owner.graph.checkpointer
            if saver is not None and hasattr(saver, "delete_thread"):
                saver.delete_thread(t)

    def ask(self, persona: Persona, question: str, stage: Stage, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for kind, value in self.events(persona, question, stage, **kw):
            if kind == "result":
                result = value
        return result

    def converse(self, speakers: list[tuple[str, Any]], topic: str, turns: int) -> list[dict[str, Any]]:
        """``persona-rag converse --json``: each speaker at its own stage, through the shared model."""
        from persona_rag.graphs.conversation import Conversation
        from persona_rag.graphs.persona_graph import PersonaGraph

        graphs: list[tuple[PersonaGraph, str | None]] = []
        for name, stage in speakers:  # bad input fails before any model call
            p = self.persona(name)
            key = self.stage(p, stage).key
            graph = PersonaGraph.from_persona(
                p, settings=self.settings, generator=self.generator_for(p), memory=self.memory, checkpointer=None
            )
            graphs.append((graph, key))
        return Conversation(graphs).run(topic, turns=turns)

    # ------------------------------------------------------------------ memory

    def require_memory(self) -> Any:
        if self.memory is None:
            raise UsageError("this server runs without a memory")
        return self.memory

    def check_record_id(self, record_id: str) -> None:
        """A record of the memory (404 otherwise); ids the store reserves for its own records are never one."""
        from persona_rag.memory.index import RESERVED

        missing = NotFound(f"no memory record {record_id!r}; find ids with `persona-rag memory list PERSONA`")
        if record_id.startswith(RESERVED):
            raise missing
        try:
            self.require_memory().history(record_id)
        except UsageError:
            raise missing from None

    def memory_action(self, action: str, **fields: Any) -> Any:
        """``persona-rag memory ACTION --json``: the same operations and the same JSON as the CLI."""
        memory = self.require_memory()
        if action in ("add", "correct", "retire") and self.read_only:
            raise Forbidden("this server is read-only (started with --read-only): memory writes are off")
        if "persona" in fields:
            fields["persona"] = self.persona(fields["persona"]).id
        if "id" in fields:
            self.check_record_id(fields["id"])
        stage = None if fields.get("stage") is None else self.stage(None, fields["stage"])
        if action == "add":
            p = memory.add(
                fields["persona"], self.stage(None, fields.get("stage")), fields["text"], kind=fields["kind"]
            )
            return {"id": p.id, "stage": p.stage}
        if action == "correct":
            p = memory.correct(fields["id"], self.stage(None, fields["from_stage"]), fields["text"])
            return {"id": p.id, "replaces": fields["id"], "from_stage": p.stage}
        if action == "retire":
            p = memory.retire(fields["id"], self.stage(None, fields["from_stage"]))
            return {"id": p.id, "valid_to": p.valid_to}
        if action == "history":
            from persona_rag.memory.store import version_row

            return [version_row(v) for v in memory.history(fields["id"])]
        if action == "search":
            hits = memory.search(fields["persona"], fields["query"], stage, k=fields["k"], all_stages=stage is None)
            return [h.as_dict() for h in hits]
        if action == "list":
            from persona_rag.memory.store import record_row

            return [record_row(p) for p in memory.list(fields["persona"], stage)]
        raise UsageError(f"unknown memory action {action!r}")


class TooLong(UsageError):
    """A question or body over the server's limits (HTTP 413)."""


def seed_history(graph: Any, thread_id: str, history: Sequence[dict[str, str]]) -> None:
    """Give a new thread the conversation a chat client sent (OpenAI clients resend it each time)."""
    turns = [{"role": m["role"], "content": m["content"]} for m in history if m["role"] in ("user", "assistant")]
    if turns:
        # As if the graph had just finished a turn: the next run starts fresh and reads this history.
        graph.graph.update_state(graph._config(thread_id), {"history": turns}, as_node="remember")
