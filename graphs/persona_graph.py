"""The persona graph: resolve the stage, retrieve what the persona knew then,
check the question against the timeline, generate in character, review.

    resolve_stage -> retrieve -> check_time -> plan -> generate -> review -> remember
                                                          ^           |
                                                          +-- leak ---+--> fallback -> remember

Nodes live in :mod:`persona_rag.graphs.nodes` and :mod:`persona_rag.graphs.review`;
this module wires them and holds the :class:`PersonaGraph` facade.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph
from persona_rag.graphs.nodes import check_time, generate, remember, resolve_stage, retrieve
from persona_rag.graphs.plan import plan_answer
from persona_rag.graphs.review import after_plan, after_review, fallback, review
from persona_rag.graphs.state import InputState, OutputState, PersonaContext, PersonaState

from persona_rag.errors import UsageError
from persona_rag.persona import Persona
from persona_rag.settings import Settings, load_settings


def build_persona_graph(checkpointer: Any = None) -> Any:
    """Compile the persona graph. Dependencies arrive at run time as a PersonaContext."""
    g = StateGraph(PersonaState, context_schema=PersonaContext, input_schema=InputState, output_schema=OutputState)
    g.add_node("resolve_stage", resolve_stage)
    g.add_node("retrieve", retrieve)
    g.add_node("check_time", check_time)
    g.add_node("plan", plan_answer)
    g.add_node("generate", generate)
    g.add_node("review", review)
    g.add_node("fallback", fallback)
    g.add_node("remember", remember)
    g.add_edge(START, "resolve_stage")
    g.add_edge("resolve_stage", "retrieve")
    g.add_edge("retrieve", "check_time")
    g.add_edge("check_time", "plan")
    g.add_conditional_edges("plan", after_plan, ["generate", "fallback"])
    g.add_edge("generate", "review")
    g.add_conditional_edges("review", after_review, ["generate", "fallback", "remember"])
    g.add_edge("fallback", "remember")
    g.add_edge("remember", END)
    return g.compile(checkpointer=checkpointer)


# ----------------------------------------------------------------------------- facade


def make_checkpointer(spec: Any) -> Any:
    """'memory' (default), 'sqlite:PATH', None (no thread memory) or a checkpointer object."""
    if spec is None or spec is False:
        return None
    if spec == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if isinstance(spec, str) and spec.startswith("sqlite:"):
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(spec[len("sqlite:") :]).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
    if isinstance(spec, str):
        raise UsageError(f"unknown checkpointer {spec!r}; use 'memory' or 'sqlite:PATH'")
    return spec


class PersonaGraph:
    """A persona you can question at any stage of its life.

    >>> graph = PersonaGraph.from_persona("harry")            # doctest: +SKIP
    >>> graph.invoke({"question": "Who is Gilderoy Lockhart?", "stage": "year 2"})["answer"]  # doctest: +SKIP
    """

    def __init__(self, context: PersonaContext, checkpointer: Any = "memory") -> None:
        self.context = context
        self.graph = build_persona_graph(make_checkpointer(checkpointer))

    @property
    def persona(self) -> Persona:
        return self.context.persona

    @classmethod
    def from_persona(
        cls,
        persona: str | Persona,
        *,
        settings: Settings | None = None,
        universe: str | None = None,
        generator: Any = None,
        memory: Any = None,
        use_memory: bool = True,
        adapter: str | Path | None = "auto",
        openai_url: str | None = None,
        openai_model: str | None = None,
        checkpointer: Any = "memory",
        review: bool = True,
        time_check: bool = True,
        stage_filter: bool = True,
        quiet: bool = False,
    ) -> PersonaGraph:
        """Build a graph with the defaults: the shipped corpus (ingested on first use),
        the offline default model, and the persona's adapter if one was trained.

        ``persona`` is a name or an already loaded :class:`Persona` (then ``universe`` is ignored).
        ``time_check=False`` and ``stage_filter=False`` build the evaluation's baselines.
        """
        settings = settings or load_settings()
        p = persona if isinstance(persona, Persona) else Persona.load(persona, universe or settings.corpus)
        if memory is None and use_memory:
            from persona_rag.memory.store import open_memory

            memory = open_memory(settings, p.universe)
        if generator is None:
            from persona_rag.backends.engine import default_generator

            generator = default_generator(
                settings,
                p.universe.id,
                p.id,
                adapter=adapter,
                openai_url=openai_url,
                openai_model=openai_model,
                quiet=quiet,
            )
        ctx = PersonaContext(
            persona=p,
            generator=generator,
            settings=settings,
            memory=memory if use_memory else None,
            review=review,
            time_check=time_check,
            stage_filter=stage_filter,
            plan=settings.answer_plan,
            constrain=settings.answer_plan,
        )
        return cls(ctx, checkpointer)

    def _config(self, thread_id: str | None) -> dict[str, Any]:
        # An explicit recursion limit: run inside another graph's node (a conversation turn), the graph would
        # otherwise inherit the caller's limit, too low for a rejected draft, a retry and the fallback.
        return {"configurable": {"thread_id": thread_id or f"once-{uuid.uuid4().hex}"}, "recursion_limit": 25}

    def stream_events(
        self, input: dict[str, Any], *, thread_id: str | None = None, reviewed_only: bool = False
    ) -> Iterator[tuple[str, Any]]:
        """("token", text) and ("reset", None) while generating, ("answered_by", who) once the words are
        final, then ("result", final state, with ``answered_by``).

        A draft the review rejects is withdrawn by a reset. ``reviewed_only=True`` is for streams that cannot
        withdraw text (an OpenAI-compatible server): tokens are held back until the review has passed them,
        so only the words the user finally reads are sent, and no reset ever is.
        """
        final: dict[str, Any] = {}
        held: list[str] = []
        config = self._config(thread_id)
        try:
            for mode, chunk in self._run_stream(input, config):
                if mode != "custom":
                    final = chunk
                elif not reviewed_only:
                    yield chunk["type"], chunk.get("text")
                elif chunk["type"] == "token":
                    held.append(chunk["text"])
                elif chunk["type"] == "reset":
                    held.clear()
                elif chunk["type"] == "answered_by":
                    yield from (("token", t) for t in held)
                    held.clear()
                    yield "answered_by", chunk.get("text")
        finally:
            if thread_id is None:
                self._forget(config)
        yield "result", self._output(final)

    def _run_stream(self, input: dict[str, Any], config: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        yield from self.graph.stream(input, config, context=self.context, stream_mode=["custom", "values"])

    def _forget(self, config: dict[str, Any]) -> None:
        """A one-off question (no thread_id) leaves no conversation behind in the checkpointer."""
        saver = self.graph.checkpointer
        if saver is not None and hasattr(saver, "delete_thread"):
            saver.delete_thread(config["configurable"]["thread_id"])

    def invoke(
        self,
        input: dict[str, Any],
        config: dict[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Answer one question. Returns the final state with ``answer``, ``answered_by``, ``stage``, ``verdict``,
        ``sources``, ``adapter``."""
        if config and not thread_id:
            thread_id = (config.get("configurable") or {}).get("thread_id")
        result: dict[str, Any] = {}
        for kind, value in self.stream_events(input, thread_id=thread_id):
            if kind == "token" and on_token is not None:
                on_token(value)
            elif kind == "reset" and on_token is not None:
                on_token("\n[revised] ")
            elif kind == "result":
                result = value
        return result

    def stream(self, input: dict[str, Any], *, thread_id: str | None = None) -> Iterator[str]:
        """Yield the answer's tokens as they are generated.

        When review rejects a draft, a newline is yielded and the revised answer follows.
        """
        for kind, value in self.stream_events(input, thread_id=thread_id):
            if kind == "token":
                yield value
            elif kind == "reset":
                yield "\n"

    async def ainvoke(self, input: dict[str, Any], *, thread_id: str | None = None) -> dict[str, Any]:
        config = self._config(thread_id)
        try:
            final = await self.graph.ainvoke(input, config, context=self.context)
        finally:
            if thread_id is None:
                self._forget(config)
        return self._output(dict(final))

    async def astream(self, input: dict[str, Any], *, thread_id: str | None = None) -> AsyncIterator[str]:
        config = self._config(thread_id)
        try:
            async for mode, chunk in self.graph.astream(input, config, context=self.context, stream_mode=["custom"]):
                if mode == "custom" and chunk.get("type") == "token":
                    yield chunk["text"]
                elif mode == "custom" and chunk.get("type") == "reset":
                    yield "\n"
        finally:
            if thread_id is None:
                self._forget(config)

    def history(self, thread_id: str) -> list[dict[str, str]]:
        snap = self.graph.get_state(self._config(thread_id))
        return list((snap.values or {}).get("history") or [])

    def _output(self, final: dict[str, Any]) -> dict[str, Any]:
        out = dict(final)
        out["sources"] = [
            {"id": r["id"], "stage": r["stage"], "score": r["score"], "text": r["text"]}
            for r in final.get("retrieved") or []
        ]
        out.setdefault("adapter", self.context.generator.adapter)
        # What the answer rests on: the passage ids of the answer plan (empty for "I don't know" and the baselines).
        out["grounds"] = list((final.get("plan") or {}).get("grounds") or [])
        out.setdefault("notices", [])
        # Who wrote the words: model, model-retry, memory or refusal (set by the review or the fallback).
        out["answered_by"] = final.get("answered_by") or ("model" if final.get("answer") else "refusal")
        return out

    @staticmethod
    def public_result(result: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "persona",
            "question",
            "answer",
            "answered_by",
            "stage",
            "verdict",
            "verdict_reason",
            "sources",
            "grounds",
            "adapter",
            "notices",
        )
        return {k: result.get(k) for k in keys}
