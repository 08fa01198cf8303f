"""The time verdict, computed from the memory without an extra model call.

Is a question about the persona's future (``future``), about a past event it
neither witnessed nor heard of (``past-absence``), something it lived
(``past-presence``), known background (``past-only``), or ``unknown``?
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from persona_rag.memory.entities import EntityIndex

VERDICTS = ("future", "past-absence", "past-presence", "past-only", "unknown")


@dataclass
class Evidence:
    verdict: str
    reason: str
    future_texts: list[str] = field(default_factory=list)
    entities: dict[str, tuple[int, int]] = field(default_factory=dict)


def verdict(
    question: str,
    stage: int,
    entities: EntityIndex,
    world_hits: list[Any],
    known_hits: list[Any],
    persona_id: str,
    *,
    margin: float = 0.05,
    known_names_margin: float = 0.15,
    known_floor: float = 0.45,
) -> Evidence:
    """Decide the time verdict.

    ``world_hits``: the universe's event log searched across all stages;
    ``known_hits``: the persona's memory at ``stage``. Hits have ``.passage`` and ``.score``.
    """
    named = entities.mentioned(question)
    known_here = [n for n, v in named.items() if v[1] <= stage]
    # "Tom Riddle's diary" tagged late is still something of "Tom Riddle", whom the persona knows.
    future_names = {n: v for n, v in named.items() if v[0] > stage and not any(f"{k}'s " in n for k in known_here)}
    if future_names:
        texts = [h.passage.text for h in world_hits if h.passage.stage > stage][:3]
        return Evidence("future", f"{', '.join(future_names)} first appear after this stage", texts, named)
    unknown_names = {n: v for n, v in named.items() if v[1] > stage}
    best_known = known_hits[0].score if known_hits else -1.0
    if unknown_names and not any(v[1] <= stage for v in named.values()):
        return Evidence("past-absence", f"{', '.join(unknown_names)} not known to {persona_id} yet", [], named)
    all_known = bool(named) and all(v[1] <= stage for v in named.values())
    if all_known:
        # The question is about people the persona knows: only a clearly better event match says otherwise.
        margin = known_names_margin
    # A persona with a clearly relevant memory answers from it; a later event that matches better only
    # means the story goes on (the review still stops it from leaking).
    if all_known and best_known >= known_floor:
        world_hits = [h for h in world_hits if h.passage.stage <= stage]
    if world_hits:
        top = world_hits[0]
        ev = top.passage
        if top.score >= best_known + margin:
            if ev.stage > stage:
                texts = [h.passage.text for h in world_hits if h.passage.stage > stage][:3]
                return Evidence("future", f"best evidence {ev.id} happens after this stage", texts, named)
            known_ids = {h.passage.id.split(":", 1)[-1] for h in known_hits}
            if ev.id.split(":", 1)[-1] not in known_ids and persona_id not in ev.participants:
                return Evidence("past-absence", f"{ev.id} happened without {persona_id}", [ev.text], named)
    if known_hits:
        top_known = known_hits[0].passage
        if top_known.witnessed and top_known.kind == "event":
            return Evidence("past-presence", f"{top_known.id} was lived by {persona_id}", [], named)
        if named and all(v[1] <= stage for v in named.values()):
            return Evidence(
                "past-presence" if top_known.witnessed else "past-only", f"known names: {', '.join(named)}", [], named
            )
        return Evidence("past-only", f"best known passage {top_known.id}", [], named)
    return Evidence("unknown", "nothing relevant in memory", [], named)


VERDICT_K = 5  # hits of the world log and of the persona's memory the verdict looks at


def time_verdict(
    memory: Any,
    persona_id: str,
    question: str,
    stage: Any,
    known_floor: float = 0.45,
    *,
    known_hits: list[Any] | None = None,
) -> Evidence:
    """The time verdict from the memory alone (no model call).

    ``known_hits``: the persona's memory at ``stage`` already searched for this question
    (the graph's retrieve node passes its hits so the memory is searched once).
    """
    from persona_rag.corpus import WORLD

    world = memory.search(WORLD, question, k=VERDICT_K, all_stages=True)
    known = known_hits if known_hits is not None else memory.search(persona_id, question, stage, k=VERDICT_K)
    return verdict(
        question,
        stage.ordinal,
        memory.entity_index(persona_id),
        world,
        known[:VERDICT_K],
        persona_id,
        known_floor=known_floor,
    )
