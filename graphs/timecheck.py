"""Point-in-time checks computed from the memory, without an extra LLM call.

- :func:`verdict`: is a question about the persona's future (``future``), about a
  past event it neither witnessed nor heard of (``past-absence``), something it
  lived (``past-presence``), known background (``past-only``), or ``unknown``.
- :func:`find_leaks`: names and details in an answer that the persona cannot
  know yet at its stage.

Both rest on an entity index: for every name in the corpus, the first stage at
which it appears in the world, and the first stage at which this persona knows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from persona_rag.corpus import OPEN

VERDICTS = ("future", "past-absence", "past-presence", "past-only", "unknown")
# Words too generic to stand for an entity on their own (last word of a multi-word name).
GENERIC = {
    "hall", "forest", "lake", "office", "ministry", "school", "house", "room", "street", "alley", "cup", "stone",
    "tower", "castle", "village", "road", "lane", "common", "table", "book", "cloak", "map", "day", "night",
    "team", "club", "army", "order", "family", "magic", "potion", "charm", "spell", "wand", "prize", "match",
    "cottage", "manor", "place", "inn", "pub", "shop", "bank", "train", "station", "platform", "world",
}
STOP = {
    "about", "after", "again", "their", "there", "these", "those", "which", "where", "would", "could", "should",
    "while", "being", "other", "every", "still", "never", "because", "before", "first", "years", "think", "really",
    "what", "when", "with", "from", "that", "this", "have", "they", "them", "were", "your", "into", "just", "know",
    "harry", "hermione", "potter", "granger", "weasley", "hogwarts",
}


@dataclass
class EntityIndex:
    """name (lower-case) -> first stage in the world / first stage known by the persona."""

    world_first: dict[str, int] = field(default_factory=dict)
    persona_first: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # distinctive single word -> names containing it

    @classmethod
    def build(cls, world: list[dict[str, Any]], persona: list[dict[str, Any]]) -> EntityIndex:
        """``world``/``persona``: metadata dicts with ``entities`` ('|'-joined) and stages."""
        idx = cls()
        for meta in world:
            for name in _names(meta):
                idx.world_first[name] = min(idx.world_first.get(name, OPEN), int(meta.get("stage", 0)))
        for meta in persona:
            for name in _names(meta):
                idx.persona_first[name] = min(idx.persona_first.get(name, OPEN), int(meta.get("known_from", 0)))
                idx.world_first.setdefault(name, int(meta.get("stage", 0)))
        for name in idx.world_first:
            words = name.split()
            if len(words) >= 2:
                for word in (words[-1], words[0]):
                    if len(word) >= 4 and word not in GENERIC and word not in {"professor", "lord", "aunt", "uncle",
                                                                               "madam", "mister", "the", "mrs", "great"}:
                        idx.tokens.setdefault(word, set()).add(name)
        return idx

    def mentioned(self, text: str) -> dict[str, tuple[int, int]]:
        """Names in ``text`` -> (first stage in the world, first stage the persona knows it, OPEN if never)."""
        low = " " + re.sub(r"[^a-z0-9' -]+", " ", text.lower()) + " "
        found: dict[str, tuple[int, int]] = {}
        for name, wf in self.world_first.items():
            if len(name) >= 4 and f" {name} " in low:
                found[name] = (wf, self.persona_first.get(name, OPEN))
        # Single distinctive words count only when capitalised in the text ("Lockhart", not "lock").
        for word in set(re.findall(r"\b[A-Z][a-z']{3,}\b", text)):
            key = word.lower()
            names = self.tokens.get(key)
            if not names or any(key in n.split() for n in found):
                continue
            wf = min(self.world_first[n] for n in names)
            pf = min(self.persona_first.get(n, OPEN) for n in names)
            found[key] = (wf, pf)
        return found


def _names(meta: dict[str, Any]) -> list[str]:
    return [e.strip().lower() for e in str(meta.get("entities", "")).split("|") if e.strip()]


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
) -> Evidence:
    """Decide the time verdict.

    ``world_hits``: the universe's event log searched across all stages;
    ``known_hits``: the persona's memory at ``stage``. Hits have ``.passage`` and ``.score``.
    """
    named = entities.mentioned(question)
    future_names = {n: v for n, v in named.items() if v[0] > stage}
    if future_names:
        texts = [h.passage.text for h in world_hits if h.passage.stage > stage][:3]
        return Evidence("future", f"{', '.join(future_names)} first appear after this stage", texts, named)
    unknown_names = {n: v for n, v in named.items() if v[1] > stage}
    best_known = known_hits[0].score if known_hits else -1.0
    if unknown_names and not any(v[1] <= stage for v in named.values()):
        return Evidence("past-absence", f"{', '.join(unknown_names)} not known to {persona_id} yet", [], named)
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
            return Evidence("past-presence" if top_known.witnessed else "past-only", f"known names: {', '.join(named)}",
                            [], named)
        return Evidence("past-only", f"best known passage {top_known.id}", [], named)
    return Evidence("unknown", "nothing relevant in memory", [], named)


_ROLE_BREAK = re.compile(
    r"\b(as an ai|an ai (language )?model|language model|i am an ai|i'm an ai|artificial intelligence|"
    r"as a (helpful )?assistant|i am a chatbot|openai|smollm|hugging ?face)\b",
    re.IGNORECASE,
)


def breaks_role(answer: str) -> bool:
    return bool(_ROLE_BREAK.search(answer))


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']{5,}", text.lower()) if w not in STOP}


def find_leaks(answer: str, question: str, stage: int, entities: EntityIndex, future_texts: list[str]) -> list[str]:
    """What in ``answer`` the persona cannot know at ``stage``.

    Names that appear after the stage (unless the question itself used them), and
    for questions about the future, two or more distinctive words of the future
    evidence that the question did not contain.
    """
    leaks = []
    asked = entities.mentioned(question)
    for name, (wf, pf) in entities.mentioned(answer).items():
        if name in asked:
            continue
        if wf > stage or pf > stage:
            leaks.append(name)
    if future_texts:
        q_words = _content_words(question)
        shared = set()
        a_words = _content_words(answer)
        for text in future_texts:
            shared |= (_content_words(text) - q_words) & a_words
        if len(shared) >= 2:
            leaks.extend(sorted(shared))
    return leaks
