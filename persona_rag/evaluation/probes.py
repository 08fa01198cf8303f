"""Time-consistency probes with a known TimeChara type, built from the corpus timeline."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from persona_rag.corpus import Universe

TIME_TYPES = ("future", "past-absence", "past-hearsay", "past-presence", "past-only")


@dataclass(frozen=True)
class Probe:
    type: str
    question: str
    stage: int
    event_text: str


PRESENCE_QUESTIONS = ("What happened with {n}?", "Tell me about {n}.", "What do you remember about {n}?")
HEARD_QUESTIONS = ("What have you heard about {n}?", "Do you know what happened with {n}?")


def time_probes(universe: Universe, persona: str, limit: int = 40) -> list[Probe]:
    """Questions with a known TimeChara type, built from the corpus's own timeline.

    Every probe is phrased as a user would ask it, naming one person, place or thing of the event
    (never the event's own text, which would make the answer easy to match by construction).
    """
    keys = universe.timeline.by_key
    first: dict[str, int] = {}
    for ev in universe.events:
        for name in ev.get("entities") or []:
            first[name] = min(first.get(name, 10**6), keys[ev["stage"]].ordinal)
    knows: dict[str, int] = {}  # name -> first stage this persona knows it
    for passage in universe.passages():
        if passage.persona == persona:
            for name in passage.entities:
                knows[name] = min(knows.get(name, 10**6), passage.known_from)
    by_type: dict[str, list[Probe]] = defaultdict(list)
    for ev in universe.events:
        s = keys[ev["stage"]].ordinal
        own = universe.characters[persona].name if persona in universe.characters else ""
        names = [n for n in ev.get("entities") or [] if len(n.split()) >= 2 and n != own]
        if not names:
            continue
        new = [n for n in names if first[n] == s]
        learned = (ev.get("learned_by") or {}).get(persona)
        public = ev.get("public")
        if persona in ev["participants"]:
            if new and s > 0:
                by_type["future"].append(Probe("future", f"What do you know about {new[0]}?", s - 1, ev["text"]))
            name = (new or names)[0]
            q = PRESENCE_QUESTIONS[len(by_type["past-presence"]) % len(PRESENCE_QUESTIONS)].format(n=name)
            by_type["past-presence"].append(Probe("past-presence", q, min(s + 1, len(keys) - 1), ev["text"]))
        elif learned and not public:
            at = max(s, keys[learned].ordinal)
            name = (new or names)[0]
            # Not there, heard of it by then: past-hearsay (issue 12).
            q = HEARD_QUESTIONS[len(by_type["past-hearsay"]) % len(HEARD_QUESTIONS)].format(n=name)
            by_type["past-hearsay"].append(Probe("past-hearsay", q, at, ev["text"]))
        if persona not in ev["participants"] and not public:
            # It has happened, but the persona was not there and does not know these names yet.
            at = s + 1 if s + 1 < len(keys) else s
            unknown = [n for n in new if knows.get(n, 10**6) > at]
            if unknown and (not learned or keys[learned].ordinal > at):
                by_type["past-absence"].append(
                    Probe("past-absence", f"What happened with {unknown[0]}?", at, ev["text"])
                )
    for t, items in by_type.items():  # one probe per question and stage
        by_type[t] = list({(p.question, p.stage): p for p in reversed(items)}.values())[::-1]
    if limit <= 0:
        return []
    per_type = max(1, limit // len(TIME_TYPES))
    out: list[Probe] = []
    for t in TIME_TYPES:
        items = by_type[t]
        step = max(1, len(items) // per_type)
        out += items[::step][:per_type]
    return out
