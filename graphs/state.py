"""What flows through the persona graph."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from persona_rag.memory.store import Hit

from persona_rag.persona import Persona
from persona_rag.timeline import Stage

# An answer plan's reason when the question asks what is going to happen ("Is Buckbeak going to be put down?"):
# the persona cannot know it yet, and the fallback says so with a `not-yet` refusal (graphs/plan.py, review.py).
NOT_YET = "asks what is going to happen: not known yet"

# An answer plan's grounds when it rests on the persona's own answer in its universe's dialogues
# (graphs/plan.py said_plan): its sentences are the persona's words already, in the first person.
SAID_PREFIX = "dialogue:"


# The context of a plan sentence that is in the persona's own words already (a line of its feelings file): said as
# it is, never put through the third-to-first-person rewrite.
OWN_WORDS = "<own words>"


def own_words(plan: dict[str, Any] | None) -> bool:
    """The plan's sentences are the persona's own words (its answer in a dialogue), said as they are: the
    third-to-first-person rewrite of a memory would turn its "He hates me" into "I hate me"."""
    grounds = (plan or {}).get("grounds") or []
    return bool(grounds) and all(str(g).startswith(SAID_PREFIX) for g in grounds)


# Who wrote the words the user reads: the model's first attempt, its second attempt after the review
# rejected the first, the grounded fallback built from a memory, or an in-character refusal template.
ANSWERED_BY = ("model", "model-retry", "memory", "refusal")

if TYPE_CHECKING:
    from persona_rag.memory.store import TemporalMemory

    from persona_rag.backends.base import Generator
    from persona_rag.settings import Settings


class InputState(TypedDict, total=False):
    """What a caller passes to ``invoke``."""

    question: str
    stage: Any  # "year 2", 7, "y2.christmas" ... resolved into a dict by resolve_stage
    persona: str


class PersonaState(InputState, total=False):
    """The full state. Nodes return partial updates."""

    stage_key: str
    stage_ref: Stage  # resolved once by resolve_stage; every later node uses it
    known_hits: list[Hit] | None  # the persona's memory searched once for this question
    retrieved: list[dict[str, Any]]
    facts: list[str]
    verdict: str
    verdict_reason: str
    future_texts: list[str]
    event_id: str  # the world event the verdict is about, when one was matched
    hearsay_from: str  # past-hearsay: who told the persona of the event, where the corpus says
    plan: dict[str, Any] | None  # what the answer rests on (graphs.plan.Plan.as_dict); None for the baselines
    answer: str
    leaks: list[str]
    answered_by: str  # one of ANSWERED_BY, set by the review (model, model-retry) or the fallback
    attempts: int
    retry: bool  # the review rejected the draft and settings.retries allows another one
    adapter: str | None
    notices: list[str]
    # The conversation of this thread_id, kept by the checkpointer.
    history: Annotated[list[dict[str, str]], operator.add]


class OutputState(TypedDict, total=False):
    question: str
    persona: str
    stage: Any
    answer: str
    verdict: str
    verdict_reason: str
    retrieved: list[dict[str, Any]]
    plan: dict[str, Any] | None
    leaks: list[str]
    answered_by: str
    adapter: str | None
    notices: list[str]


@dataclass
class PersonaContext:
    """Run-time dependencies of the graph (LangGraph ``context_schema``)."""

    persona: Persona
    generator: Generator
    settings: Settings
    memory: TemporalMemory | None = None
    review: bool = True
    stage_filter: bool = True  # False: retrieve from every stage (the "rag" baseline)
    time_check: bool = True  # False: no verdict, no hint (the "prompt" and "rag" baselines)
    plan: bool = True  # False: the top passages go to the model as they are, no answer plan (the baselines)
    constrain: bool = True  # the plan's decoding constraint (content words from the plan, question and voice)
    history_turns: int = 3
    extra: dict[str, Any] = field(default_factory=dict)
    _personas: dict[str, Persona] = field(default_factory=dict, repr=False)

    def persona_for(self, persona_id: str | None) -> Persona:
        """The graph's persona, or another of its universe ("Ron in year 1, ..."), looked up once."""
        if not persona_id or persona_id == self.persona.id:
            return self.persona
        found = self._personas.get(persona_id)
        if found is None:
            found = Persona(self.persona.universe, self.persona.universe.persona(persona_id))
            self._personas[found.id] = found
        return found
