"""The persona graph: resolve the stage, retrieve what the persona knew then,
check the question against the timeline, generate in character, review.

    resolve_stage -> retrieve -> check_time -> generate -> review -> remember
                                                  ^           |
                                                  +-- leak ---+--> fallback -> remember
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from persona_rag.graphs import timecheck
from persona_rag.graphs.state import InputState, OutputState, PersonaContext, PersonaState

from persona_rag import prompts
from persona_rag.corpus import WORLD
from persona_rag.errors import UsageError
from persona_rag.persona import Persona
from persona_rag.settings import Settings, load_settings
from persona_rag.timeline import Stage, find_stage_in_text

MAX_ATTEMPTS = 2


# ----------------------------------------------------------------------------- nodes


def _split_persona(question: str, persona: Persona) -> tuple[str | None, str]:
    """ "Harry in year 2, who ..." -> ("harry", "in year 2, who ...")."""
    for c in persona.universe.characters.values():
        for alias in sorted({c.id, c.name, *c.aliases}, key=len, reverse=True):
            m = re.match(rf"\s*{re.escape(alias)}\b[,:]?\s*(?=(in|at|during)\b)", question, re.IGNORECASE)
            if m:
                return c.id, question[m.end() :]
    return None, question


def resolve_stage(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    ctx = runtime.context
    question = str(state.get("question") or "").strip()
    notices: list[str] = []
    if not question:
        raise UsageError("the question is empty; ask the persona something")
    words = question.split()
    limit = ctx.settings.max_question_words
    if len(words) > limit:
        question = " ".join(words[:limit])
        notices.append(f"the question had {len(words)} words; only the first {limit} were used")
    persona_id = state.get("persona") or None
    asked_persona, rest = _split_persona(question, ctx.persona)
    stage_value = state.get("stage")
    if asked_persona and not persona_id:
        persona_id = asked_persona
    if stage_value in (None, ""):
        found, matched = find_stage_in_text(rest if asked_persona else question, ctx.persona.universe.timeline)
        if found is not None:
            stage_value = found
            if asked_persona:
                question = rest.replace(matched, "", 1).strip(" ,:;") or question
    persona = ctx.persona.universe.persona(persona_id) if persona_id else ctx.persona.character
    stage = ctx.persona.stage(stage_value, default=ctx.persona.default_stage())
    return {
        "question": question,
        "persona": persona.id,
        "stage": stage.as_dict(),
        "stage_key": stage.key,
        "notices": notices,
        "attempts": 0,
        "leaks": [],
        "adapter": ctx.generator.adapter,
    }


def _persona(state: PersonaState, ctx: PersonaContext) -> Persona:
    pid = state.get("persona") or ctx.persona.id
    return ctx.persona if pid == ctx.persona.id else Persona(ctx.persona.universe, ctx.persona.universe.persona(pid))


def retrieve_facts(
    memory: Any,
    persona_id: str,
    question: str,
    stage: Stage,
    k: int,
    budget: int,
    count_tokens: Callable[[str], int],
    all_stages: bool = False,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Top-k passages the persona knows at ``stage``, cut to ``budget`` tokens. Shared with finetune."""
    facts, kept = [], []
    for hit in memory.search(persona_id, question, stage, k=k, all_stages=all_stages):
        cost = count_tokens(hit.passage.text) + 2
        if cost > budget:
            break
        budget -= cost
        facts.append(hit.passage.text)
        kept.append(hit.as_dict())
    return kept, facts


def time_verdict(
    memory: Any, persona_id: str, question: str, stage: Stage, known_floor: float = 0.45
) -> timecheck.Evidence:
    """The time verdict from the memory alone (no model call). Shared with finetune."""
    world = memory.search(WORLD, question, k=5, all_stages=True)
    known = memory.search(persona_id, question, stage, k=5)
    return timecheck.verdict(
        question, stage.ordinal, memory.entity_index(persona_id), world, known, persona_id, known_floor=known_floor
    )


def retrieve(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    ctx = runtime.context
    if ctx.memory is None:
        return {"retrieved": [], "facts": []}
    persona = _persona(state, ctx)
    kept, facts = retrieve_facts(
        ctx.memory,
        persona.id,
        state["question"],
        persona.stage(state["stage_key"]),
        ctx.settings.top_k,
        ctx.settings.context_tokens,
        ctx.generator.count_tokens,
        all_stages=not ctx.stage_filter,
    )
    return {"retrieved": kept, "facts": facts}


def check_time(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    ctx = runtime.context
    if ctx.memory is None or not ctx.time_check:
        return {"verdict": "unknown", "verdict_reason": "no time check", "future_texts": []}
    persona = _persona(state, ctx)
    ev = time_verdict(
        ctx.memory, persona.id, state["question"], persona.stage(state["stage_key"]), ctx.settings.grounding_score
    )
    return {"verdict": ev.verdict, "verdict_reason": ev.reason, "future_texts": ev.future_texts}


def generate(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    ctx = runtime.context
    persona = _persona(state, ctx)
    stage = persona.stage(state["stage_key"])
    system = persona.system_prompt(stage)
    names = [leak for leak in state.get("leaks") or [] if not leak.startswith("<")]
    if names:
        system += "\nDo not mention: " + ", ".join(names) + "."
    history = list(state.get("history") or [])[-2 * ctx.history_turns :]
    verdict = state.get("verdict") if ctx.time_check else None
    msgs = prompts.messages(system, state["question"], state.get("facts") or [], verdict, history)
    writer = runtime.stream_writer
    if state.get("attempts"):
        writer({"type": "reset"})
    answer = ctx.generator.generate(
        msgs, max_new_tokens=ctx.settings.max_new_tokens, on_token=lambda t: writer({"type": "token", "text": t})
    )
    return {"answer": trim_to_sentence(answer), "attempts": int(state.get("attempts") or 0) + 1}


def trim_to_sentence(text: str) -> str:
    """Drop a trailing half sentence left by the token limit."""
    text = text.strip()
    if not text or text[-1] in ".!?\"'”)":
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "), text.rfind(".\n"))
    return text[: cut + 1] if cut > len(text) // 3 else text


def review(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """Catch what the persona must not say: its future, invented names, assistant talk."""
    ctx = runtime.context
    answer = state.get("answer") or ""
    leaks: list[str] = []
    if not ctx.review:
        return {"leaks": leaks}
    if not answer.strip():
        leaks.append("<empty answer>")
    if timecheck.breaks_role(answer):
        leaks.append("<role break>")
    if ctx.memory is not None:
        persona = _persona(state, ctx)
        stage = persona.stage(state["stage_key"])
        index = ctx.memory.entity_index(persona.id)
        verdict = state.get("verdict")
        if verdict in ("future", "past-absence"):
            if not timecheck.admits_ignorance(answer):
                leaks.append("<claims to know>")
            leaks += timecheck.find_leaks(
                answer, state["question"], stage.ordinal, index, list(state.get("future_texts") or [])
            )
        else:
            leaks += timecheck.find_leaks(answer, state["question"], stage.ordinal, index, [])
            retrieved = state.get("retrieved") or []
            strong = [r["text"] for r in retrieved if r["score"] >= ctx.settings.grounding_score]
            if strong and timecheck.ungrounded(answer, state["question"], strong):
                leaks.append("<ignores its memory>")
        leaks += [f"<invented {n}>" for n in timecheck.invented_names(answer, state["question"], index)]
    return {"leaks": leaks}


def after_review(state: PersonaState) -> str:
    if not state.get("leaks"):
        return "remember"
    return "generate" if int(state.get("attempts") or 0) < MAX_ATTEMPTS else "fallback"


def fallback(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """A safe in-character answer when the model's attempts failed review."""
    ctx = runtime.context
    persona = _persona(state, ctx)
    first = (
        persona.name.split()[-1]
        if persona.name.split()[0] in ("Lord", "Professor", "Aunt")
        else persona.name.split()[0]
    )
    verdict = state.get("verdict") or "unknown"
    leaks = state.get("leaks") or []
    facts = state.get("facts") or []
    if verdict in ("future", "past-absence"):
        answer = prompts.dont_know(verdict)
    elif "<role break>" in leaks:
        answer = f"I don't follow you. I'm {first}, and that's all there is to it. Ask me something sensible."
    elif facts:
        answer = timecheck.first_person(facts[0], first)
    else:
        answer = prompts.dont_know("unknown")
    runtime.stream_writer({"type": "reset"})
    runtime.stream_writer({"type": "token", "text": answer})
    notices = [*list(state.get("notices") or []), f"answer replaced after review ({', '.join(leaks)})"]
    return {"answer": answer, "notices": notices}


def remember(state: PersonaState) -> dict[str, Any]:
    return {
        "history": [
            {"role": "user", "content": state["question"]},
            {"role": "assistant", "content": state.get("answer") or ""},
        ]
    }


def build_persona_graph(checkpointer: Any = None) -> Any:
    """Compile the persona graph. Dependencies arrive at run time as a PersonaContext."""
    g = StateGraph(PersonaState, context_schema=PersonaContext, input_schema=InputState, output_schema=OutputState)
    g.add_node("resolve_stage", resolve_stage)
    g.add_node("retrieve", retrieve)
    g.add_node("check_time", check_time)
    g.add_node("generate", generate)
    g.add_node("review", review)
    g.add_node("fallback", fallback)
    g.add_node("remember", remember)
    g.add_edge(START, "resolve_stage")
    g.add_edge("resolve_stage", "retrieve")
    g.add_edge("retrieve", "check_time")
    g.add_edge("check_time", "generate")
    g.add_edge("generate", "review")
    g.add_conditional_edges("review", after_review, ["generate", "fallback", "remember"])
    g.add_edge("fallback", "remember")
    g.add_edge("remember", END)
    return g.compile(checkpointer=checkpointer)


# ----------------------------------------------------------------------------- facade


def find_adapter(settings: Settings, universe: str, persona: str) -> Path | None:
    """The persona's trained LoRA adapter under the home folder: DPO if there, else SFT."""
    base = settings.adapters_dir / universe / persona
    for step in ("dpo", "sft"):
        if (base / step / "adapter_config.json").is_file():
            return base / step
    return None


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
        persona: str,
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
        quiet: bool = False,
    ) -> PersonaGraph:
        """Build a graph with the defaults: the shipped corpus (ingested on first use),
        the offline default model, and the persona's adapter if one was trained."""
        settings = settings or load_settings()
        p = Persona.load(persona, universe or settings.corpus)
        if memory is None and use_memory:
            from persona_rag.memory.store import open_memory

            memory = open_memory(settings, p.universe)
        if generator is None:
            if openai_url:
                from persona_rag.generators import OpenAICompatGenerator

                if not openai_model:
                    raise UsageError("--openai-url needs --openai-model (the model name at that endpoint)")
                generator = OpenAICompatGenerator(openai_url, openai_model)
            else:
                from persona_rag.generators import TransformersGenerator

                path: Path | None
                if adapter in (None, "none", ""):
                    path = None
                elif adapter == "auto":
                    path = find_adapter(settings, p.universe.id, p.id)
                else:
                    path = Path(str(adapter)).expanduser()
                    if not (path / "adapter_config.json").is_file():
                        raise UsageError(f"no LoRA adapter at {path} (adapter_config.json missing)")
                generator = TransformersGenerator.load(settings, path, quiet=quiet)
        ctx = PersonaContext(
            persona=p, generator=generator, settings=settings, memory=memory if use_memory else None, review=review
        )
        return cls(ctx, checkpointer)

    def _config(self, thread_id: str | None) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id or f"once-{uuid.uuid4().hex}"}}

    def stream_events(self, input: dict[str, Any], *, thread_id: str | None = None) -> Iterator[tuple[str, Any]]:
        """("token", text), ("reset", None) while generating, then ("result", final state)."""
        final: dict[str, Any] = {}
        for mode, chunk in self.graph.stream(
            input, self._config(thread_id), context=self.context, stream_mode=["custom", "values"]
        ):
            if mode == "custom":
                yield chunk["type"], chunk.get("text")
            else:
                final = chunk
        yield "result", self._output(final)

    def invoke(
        self,
        input: dict[str, Any],
        config: dict[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Answer one question. Returns the final state with ``answer``, ``stage``, ``verdict``, ``sources``, ``adapter``."""
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
        final = await self.graph.ainvoke(input, self._config(thread_id), context=self.context)
        return self._output(dict(final))

    async def astream(self, input: dict[str, Any], *, thread_id: str | None = None) -> AsyncIterator[str]:
        async for mode, chunk in self.graph.astream(
            input, self._config(thread_id), context=self.context, stream_mode=["custom"]
        ):
            if mode == "custom" and chunk.get("type") == "token":
                yield chunk["text"]
            elif mode == "custom" and chunk.get("type") == "reset":
                yield "\n"

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
        out.setdefault("notices", [])
        return out

    @staticmethod
    def public_result(result: dict[str, Any]) -> dict[str, Any]:
        keys = ("persona", "question", "answer", "stage", "verdict", "verdict_reason", "sources", "adapter", "notices")
        return {k: result.get(k) for k in keys}
