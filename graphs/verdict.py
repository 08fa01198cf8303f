"""The time verdict, computed from the memory without an extra model call.

Is a question about the persona's future (``future``), about a past event it
was not at and has not heard of (``past-absence``), a past event it was not at
but has heard of (``past-hearsay``), an event it was at (``past-presence``),
known background (``past-only``), or ``unknown``?

The decision is made about the event the question is about, matched in the
world log, from the event's ``participants`` and ``learned_by``: not from
whichever personal memory ranks first. A matched past event is never
``future`` because its names reach the persona later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from persona_rag.memory.entities import EntityIndex

VERDICTS = ("future", "past-absence", "past-hearsay", "past-presence", "past-only", "unknown")
NAME_BONUS = 0.08  # added to an event's similarity for each name of the question it contains
WORD_WEIGHT = 0.2  # weight of the shared (rare) words in the ranking of events for a presence question
FUTURE_MARGIN = 0.05  # a presence question is about a later event only when it matches clearly better
VERDICT_K = 5  # hits of the persona's memory the verdict looks at
WORLD_K = 20  # hits of the world log the verdict looks at (the log is small; names re-rank it)

# Questions that take the persona's presence for granted ("when you saw ...", "were you there
# when ...", "how did you feel watching ..."). English grammar, not a universe's words.
_PRESENCE = re.compile(
    r"\b(were|was) you (ever |actually |really |truly |even )?(there|present|around|at|in the|inside|with|watching)\b"
    r"|\bwhen you (saw|watched|witnessed|were there|were at|were in|stood)\b"
    r"|\b(did|do|didn't) you (ever |actually |really |truly |yourself |personally )?"
    r"(see|watch|witness|remember seeing|get to see|hear(?! about| of| that| the news| anything| from))\b"
    r"|\bhow did (it|you) feel (watching|seeing|to see|to watch|to be there|being there|when you saw)\b"
    r"|\bwhat was it like (to see|to watch|seeing|watching|being there|to be there)\b"
    r"|\bwhat did you (see|feel|think|do) when you (saw|watched|were there)\b"
    r"|\b(you saw|you watched|you witnessed|you were there|with your own eyes|in person|first-?hand)\b",
    re.IGNORECASE,
)


def asks_presence(question: str) -> bool:
    """The question asserts (or asks about) the persona having been there."""
    return bool(_PRESENCE.search(question))


# The wrapper of a presence question, dropped before the event is searched for: what is left
# describes the event ("Were you there when Hagrid told you ..." -> "Hagrid told Harry ...").
_WRAPPER = re.compile(
    r"^\W*(tell me,?\s*)?(so,?\s*)?("
    r"(were|was) you (ever |actually |really |truly |even )?(there|present|around)?\s*(when|while|as|at the time)?"
    r"|(did|do|didn't) you (ever |actually |really |truly |yourself |personally )?"
    r"(see|watch|witness|remember seeing|get to see|hear)"
    r"|how did (it|you) feel (watching|seeing|to see|to watch|to be there|being there|when you saw)"
    r"|what was it like (to see|to watch|seeing|watching|being there|to be there)( when)?"
    r"|what did you (see|feel|think|do) when you (saw|watched|were there)"
    r"|when you (saw|watched|witnessed)"
    r")\s*",
    re.IGNORECASE,
)


def persona_name(universe: Any, persona_id: str) -> str:
    character = universe.characters.get(persona_id) if universe is not None else None
    return str(character.name) if character is not None else ""


def event_query(question: str, persona_name: str = "") -> str:
    """What a presence question says happened, in the third person, for searching the world log."""
    rest = _WRAPPER.sub("", question.strip(), count=1).strip() or question
    if persona_name:
        rest = re.sub(r"\byour\b", f"{persona_name}'s", rest, flags=re.IGNORECASE)
        rest = re.sub(r"\byou(rself)?\b", persona_name, rest, flags=re.IGNORECASE)
    return rest


@dataclass
class Evidence:
    verdict: str
    reason: str
    future_texts: list[str] = field(default_factory=list)
    entities: dict[str, tuple[int, int]] = field(default_factory=dict)
    event: str = ""  # the world event the verdict is about ("" when none was matched)
    hearsay_from: str = ""  # past-hearsay: who told the persona, where the corpus says
    premise: bool = False  # the question takes the persona's presence for granted


@dataclass(frozen=True)
class EventRecord:
    """What the world log says about one event, for one persona."""

    id: str
    stage: int
    text: str
    participants: tuple[str, ...]
    known_from: int | None  # when the persona learned of it second-hand (learned_by or public), None: never
    told_by: str = ""  # who told it, where the corpus says


def event_record(universe: Any, hit_passage: Any, persona_id: str) -> EventRecord:
    """The event behind a world-log passage, with what ``persona_id`` learned of it and when."""
    event_id = hit_passage.id.split(":", 1)[-1]
    ev = universe.events_by_id.get(event_id) if universe is not None else None
    if ev is None:  # not in the corpus (a run-time record): only its participants are known
        return EventRecord(event_id, hit_passage.stage, hit_passage.text, tuple(hit_passage.participants), None)
    keys = universe.timeline.by_key
    stage = keys[ev["stage"]].ordinal
    starts: list[tuple[int, str]] = []
    learned = (ev.get("learned_by") or {}).get(persona_id)
    if learned:
        starts.append((max(stage, keys[learned].ordinal), universe.learned_from(ev, persona_id)))
    if ev.get("public"):
        starts.append((max(stage, keys[ev["public"]].ordinal), ""))
    known_from, told = min(starts, key=lambda s: s[0]) if starts else (None, "")
    return EventRecord(event_id, stage, ev["text"], tuple(ev.get("participants") or ()), known_from, told)


# ----------------------------------------------------------------------------- matching


def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9' -]+", " ", text.lower()) + " "


def names_in(passage: Any, names: list[str]) -> list[str]:
    """Which of the question's ``names`` (lower-case) an event passage mentions, in its text or entities."""
    hay = _norm(passage.text + " " + " ".join(passage.entities))
    return [n for n in names if f" {n} " in hay or f" {n}'s " in hay]


_SUFFIX = re.compile(r"(?:'s|ing|ed|es|s)$")


def _stems(text: str, stop: frozenset[str]) -> set[str]:
    """Crude word stems ("killed" -> "kill"), for counting the words a question shares with an event."""
    out = set()
    for w in re.findall(r"[a-z']{3,}", text.lower()):
        if w in stop:
            continue
        stem = _SUFFIX.sub("", w)
        out.add(stem if len(stem) >= 3 else w)
    return out


def word_overlap(query: str, hits: list[Any], stop: frozenset[str]) -> list[float]:
    """For each hit, the share of the query's words it contains, each word weighted by how rare
    it is among ``hits`` (a word every candidate has tells nothing)."""
    import math

    q = _stems(query, stop)
    docs = [_stems(h.passage.text + " " + " ".join(h.passage.entities), stop) & q for h in hits]
    if not q or not hits:
        return [0.0] * len(hits)
    idf = {w: math.log((len(hits) + 1) / (sum(w in d for d in docs) + 0.5)) for w in q}
    total = sum(idf.values()) or 1.0
    return [sum(idf[w] for w in d) / total for d in docs]


def rank_events(
    world_hits: list[Any], names: list[str], query: str = "", stop: frozenset[str] = frozenset()
) -> list[tuple[float, Any]]:
    """World hits re-ranked: similarity, plus a bonus per name of the question the event mentions,
    plus the (rarity-weighted) share of the question's words it contains. When some event
    mentions a name of the question, events mentioning none are dropped."""
    lexical = word_overlap(query, world_hits, stop) if query else [0.0] * len(world_hits)
    scored = [
        (h.score + NAME_BONUS * len(names_in(h.passage, names)) + WORD_WEIGHT * lex, h)
        for h, lex in zip(world_hits, lexical, strict=True)
    ]
    if names and any(names_in(h.passage, names) for _, h in scored):
        scored = [(s, h) for s, h in scored if names_in(h.passage, names)]
    return sorted(scored, key=lambda sh: -sh[0])


def _event_view_id(passage: Any) -> str | None:
    """The world event behind a persona's event memory (``harry:ev-1-sorting`` -> ``ev-1-sorting``)."""
    return passage.id.split(":", 1)[-1] if passage.kind == "event" else None


def match_event(
    world_hits: list[Any],
    known_hits: list[Any],
    names: list[str],
    stage: int,
    *,
    premise: bool,
    all_known: bool,
    margin: float,
    known_floor: float,
    query: str = "",
    stop: frozenset[str] = frozenset(),
) -> Any | None:
    """The world-log passage of the event the question is about, or None.

    A question that takes presence for granted is about an event: the best one (names first).
    Any other question is about an event when the world log matches it clearly better than the
    persona's memory does, or when the persona's best memory is itself an event.
    """
    if not world_hits:
        return None
    if premise:
        ranked = rank_events(world_hits, names, query, stop)
        if not ranked:
            return None
        past = [(s, h) for s, h in ranked if h.passage.stage <= stage]
        best_score, best = ranked[0]
        if best.passage.stage > stage and past and best_score < past[0][0] + FUTURE_MARGIN:
            return past[0][1].passage
        return best.passage
    best_known = known_hits[0].score if known_hits else -1.0
    candidates = world_hits
    if all_known and best_known >= known_floor:
        # A persona with a clearly relevant memory answers from it; a later event that matches
        # better only means the story goes on (the review still stops it from leaking).
        candidates = [h for h in world_hits if h.passage.stage <= stage]
    if candidates and candidates[0].score >= best_known + margin:
        return candidates[0].passage
    if known_hits and best_known >= known_floor:  # a weak best memory says nothing about which event
        view = _event_view_id(known_hits[0].passage)
        if view is not None:
            return next((h.passage for h in world_hits if h.passage.id.split(":", 1)[-1] == view), None)
    return None


# ----------------------------------------------------------------------------- deciding


def about_event(
    event: EventRecord, stage: int, persona_id: str, named: dict[str, tuple[int, int]], premise: bool
) -> Evidence:
    """The verdict on a matched event: was the persona there, has it heard of it by ``stage``?"""
    if event.stage > stage:
        return Evidence("future", f"{event.id} happens after this stage", [event.text], named, event.id, "", premise)
    if persona_id in event.participants:
        return Evidence("past-presence", f"{persona_id} was at {event.id}", [], named, event.id, "", premise)
    if event.known_from is not None and event.known_from <= stage:
        told = f", told by {event.told_by}" if event.told_by else ""
        return Evidence(
            "past-hearsay",
            f"{event.id} happened without {persona_id}, who has heard of it{told}",
            [],
            named,
            event.id,
            event.told_by,
            premise,
        )
    return Evidence(
        "past-absence",
        f"{event.id} happened without {persona_id}, who has not heard of it yet",
        [event.text],
        named,
        event.id,
        "",
        premise,
    )


def future_names(named: dict[str, tuple[int, int]], stage: int) -> dict[str, tuple[int, int]]:
    """Names that first appear in the world after ``stage``."""
    known_here = [n for n, v in named.items() if v[1] <= stage]
    # "Tom Riddle's diary" tagged late is still something of "Tom Riddle", whom the persona knows.
    return {n: v for n, v in named.items() if v[0] > stage and not any(f"{k}'s " in n for k in known_here)}


def from_memory(named: dict[str, tuple[int, int]], stage: int, known_hits: list[Any], persona_id: str) -> Evidence:
    """No event matched: what the persona's own memory says (background, traits, relations)."""
    if not known_hits:
        return Evidence("unknown", "nothing relevant in memory", [], named)
    top = known_hits[0].passage
    if named and all(v[1] <= stage for v in named.values()):
        # Someone or something the persona has itself met.
        return Evidence(
            "past-presence" if top.witnessed else "past-only", f"known names: {', '.join(named)}", [], named
        )
    return Evidence("past-only", f"best known passage {top.id}", [], named)


def verdict(
    question: str,
    stage: int,
    entities: EntityIndex,
    world_hits: list[Any],
    known_hits: list[Any],
    persona_id: str,
    *,
    universe: Any = None,
    margin: float = 0.05,
    known_names_margin: float = 0.15,
    known_floor: float = 0.45,
) -> Evidence:
    """Decide the time verdict.

    ``world_hits``: the universe's event log searched across all stages; ``known_hits``: the
    persona's memory at ``stage``. Hits have ``.passage`` and ``.score``. ``universe`` gives each
    event's ``learned_by`` (without it, only presence is known).
    """
    named = entities.mentioned(question)
    premise = asks_presence(question)
    all_known = bool(named) and all(v[1] <= stage for v in named.values())
    future = future_names(named, stage)
    passage = match_event(
        world_hits,
        known_hits,
        list(named),
        stage,
        premise=premise,
        all_known=all_known,
        margin=known_names_margin if all_known else margin,
        known_floor=known_floor,
        query=event_query(question, persona_name(universe, persona_id)) if premise else "",
        stop=entities.vocab.stop_words,
    )
    if passage is not None:
        event = event_record(universe, passage, persona_id)
        # A past event decides, whatever its names: unless the question names a later thing it lacks.
        if event.stage > stage or not set(future) - set(names_in(passage, list(future))):
            ev = about_event(event, stage, persona_id, named, premise)
            if ev.verdict == "future":
                ev.future_texts = [h.passage.text for h in world_hits if h.passage.stage > stage][:3]
            return ev
    if future:
        texts = [h.passage.text for h in world_hits if h.passage.stage > stage][:3]
        return Evidence("future", f"{', '.join(future)} first appear after this stage", texts, named, "", "", premise)
    unknown = {n: v for n, v in named.items() if v[1] > stage}
    if unknown and not any(v[1] <= stage for v in named.values()):
        return Evidence(
            "past-absence", f"{', '.join(unknown)} not known to {persona_id} yet", [], named, "", "", premise
        )
    ev = from_memory(named, stage, known_hits, persona_id)
    ev.premise = premise
    return ev


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

    universe = getattr(memory, "universe", None)
    query = event_query(question, persona_name(universe, persona_id)) if asks_presence(question) else question
    world = memory.search(WORLD, query, k=WORLD_K, all_stages=True)
    known = known_hits if known_hits is not None else memory.search(persona_id, question, stage, k=VERDICT_K)
    return verdict(
        question,
        stage.ordinal,
        memory.entity_index(persona_id),
        world,
        known[:VERDICT_K],
        persona_id,
        universe=universe,
        known_floor=known_floor,
    )
