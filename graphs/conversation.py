"""Several personas, each at its own stage, talking about a topic (PersLLM's multi-agent case).

    START -> speak -> (more turns?) -> speak ... -> END

Each turn is one run of the speaker's persona graph, so every speaker retrieves
only what it knew at its own stage, and its time check and review apply.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from persona_rag.graphs.persona_graph import PersonaGraph

from persona_rag.errors import UsageError
from persona_rag.settings import Settings, load_settings


class ConversationState(TypedDict, total=False):
    topic: str
    max_turns: int
    turns: Annotated[list[dict[str, Any]], operator.add]


@dataclass
class ConversationContext:
    speakers: list[tuple[PersonaGraph, str | None]]  # (graph, stage)
    on_turn: Callable[[dict[str, Any]], None] | None = None


def turn_prompt(topic: str, last: dict[str, Any] | None, listener: str) -> str:
    if last is None:
        return f"You are talking with {listener} about {topic}. What do you say to start?"
    return f'{last["name"]} just said to you: "{last["text"]}" Reply to {last["name"]} about {topic}.'


def speak(state: ConversationState, runtime: Runtime[ConversationContext]) -> dict[str, Any]:
    ctx = runtime.context
    turns = state.get("turns") or []
    i = len(turns) % len(ctx.speakers)
    graph, stage = ctx.speakers[i]
    listener = ctx.speakers[(i + 1) % len(ctx.speakers)][0].persona.name
    question = turn_prompt(state["topic"], turns[-1] if turns else None, listener)
    # Always an explicit stage: the question quotes the other speaker, whose words must not move this one in time.
    result = graph.invoke({"question": question, "stage": stage or graph.persona.default_stage().key})
    turn = {
        "speaker": graph.persona.id,
        "name": graph.persona.name,
        "stage": result["stage"],
        "text": result["answer"],
        "verdict": result["verdict"],
        "answered_by": result["answered_by"],
    }
    if ctx.on_turn is not None:
        ctx.on_turn(turn)
    return {"turns": [turn]}


def more_turns(state: ConversationState) -> str:
    return "speak" if len(state.get("turns") or []) < state["max_turns"] else END


def build_conversation_graph() -> Any:
    g = StateGraph(ConversationState, context_schema=ConversationContext)
    g.add_node("speak", speak)
    g.add_edge(START, "speak")
    g.add_conditional_edges("speak", more_turns, ["speak", END])
    return g.compile()


class Conversation:
    def __init__(self, speakers: list[tuple[PersonaGraph, str | None]]) -> None:
        if len(speakers) < 2:
            raise UsageError("a conversation needs at least two personas")
        self.speakers = speakers
        self.graph = build_conversation_graph()

    @classmethod
    def from_personas(
        cls,
        speakers: Sequence[tuple[str, str | None]],
        *,
        settings: Settings | None = None,
        generator: Any = None,
        memory: Any = None,
    ) -> Conversation:
        """Speakers share one model and one memory; each keeps its own stage."""
        settings = settings or load_settings()
        graphs: list[tuple[PersonaGraph, str | None]] = []
        for name, stage in speakers:
            graph = PersonaGraph.from_persona(
                name, settings=settings, generator=generator, memory=memory, adapter=None, checkpointer=None, quiet=True
            )
            generator, memory = graph.context.generator, graph.context.memory
            # Resolved once, here: the stage travels explicitly into every turn, so nothing the other
            # speaker says ("... in year 7, ...") can move this persona in time.
            resolved = graph.persona.stage(stage, default=graph.persona.default_stage())
            graphs.append((graph, resolved.key))
        return cls(graphs)

    def run(
        self, topic: str, turns: int = 4, on_turn: Callable[[dict[str, Any]], None] | None = None
    ) -> list[dict[str, Any]]:
        if not topic.strip():
            raise UsageError("the topic is empty")
        if not 1 <= turns <= 50:
            raise UsageError("--turns must be between 1 and 50")
        final = self.graph.invoke(
            {"topic": topic.strip(), "max_turns": turns, "turns": []},
            context=ConversationContext(self.speakers, on_turn),
            config={"recursion_limit": 2 * turns + 5},
        )
        return list(final["turns"])
