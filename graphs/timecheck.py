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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_rag.corpus import OPEN

VERDICTS = ("future", "past-absence", "past-presence", "past-only", "unknown")
# Words too generic to stand for an entity on their own (last word of a multi-word name).
GENERIC = {
    "hall",
    "forest",
    "lake",
    "office",
    "ministry",
    "school",
    "house",
    "room",
    "street",
    "alley",
    "cup",
    "stone",
    "tower",
    "castle",
    "village",
    "road",
    "lane",
    "common",
    "table",
    "book",
    "cloak",
    "map",
    "day",
    "night",
    "team",
    "club",
    "army",
    "order",
    "family",
    "magic",
    "potion",
    "charm",
    "spell",
    "wand",
    "prize",
    "match",
    "cottage",
    "manor",
    "place",
    "inn",
    "pub",
    "shop",
    "bank",
    "train",
    "station",
    "platform",
    "world",
}
STOP = {
    "about",
    "after",
    "again",
    "their",
    "there",
    "these",
    "those",
    "which",
    "where",
    "would",
    "could",
    "should",
    "while",
    "being",
    "other",
    "every",
    "still",
    "never",
    "because",
    "before",
    "first",
    "years",
    "think",
    "really",
    "what",
    "when",
    "with",
    "from",
    "that",
    "this",
    "have",
    "they",
    "them",
    "were",
    "your",
    "into",
    "just",
    "know",
    "harry",
    "hermione",
    "potter",
    "granger",
    "weasley",
    "hogwarts",
}


@dataclass
class EntityIndex:
    """name (lower-case) -> first stage in the world / first stage known by the persona."""

    world_first: dict[str, int] = field(default_factory=dict)
    persona_first: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # distinctive single word -> names containing it
    proper_words: set[str] = field(default_factory=set)  # every capitalised word of the corpus, lower-case

    @classmethod
    def build(
        cls,
        world: list[dict[str, Any]],
        persona: list[dict[str, Any]],
        texts: Sequence[str] = (),
        aliases: dict[str, str] | None = None,
    ) -> EntityIndex:
        """``world``/``persona``: metadata dicts with ``entities`` ('|'-joined) and stages;
        ``texts``: the universe's passages, whose capitalised words count as known names."""
        idx = cls()
        for text in texts:
            idx.proper_words.update(w.lower() for w in re.findall(r"\b[A-Z][A-Za-z']+", text))
        for meta in world:
            for name in _names(meta):
                idx.world_first[name] = min(idx.world_first.get(name, OPEN), int(meta.get("stage", 0)))
        for meta in world + persona:
            for name in _names(meta):
                idx.proper_words.update(name.split())
        for meta in persona:
            for name in _names(meta):
                idx.persona_first[name] = min(idx.persona_first.get(name, OPEN), int(meta.get("known_from", 0)))
                idx.world_first.setdefault(name, int(meta.get("stage", 0)))
        for name in idx.world_first:
            words = name.split()
            if len(words) >= 2:
                for word in (words[-1],):  # surnames stand for people; first words ("Muggle ...") do not
                    if (
                        len(word) >= 4
                        and word not in GENERIC
                        and word not in {"professor", "lord", "aunt", "uncle", "madam", "mister", "the", "mrs", "great"}
                    ):
                        idx.tokens.setdefault(word, set()).add(name)
        # "Dumbledore" and "Albus Dumbledore" are one person: a single word inherits the earliest
        # stage of the longer names that contain it, so inconsistent tagging cannot fake a "future".
        for table in (idx.world_first, idx.persona_first):
            singles = [n for n in table if " " not in n]
            for single in singles:
                longer = [table[n] for n in table if " " in n and single in n.split()]
                if longer:
                    table[single] = min(table[single], *longer)
        # Characters' short names ("Ron", "Voldemort") stand for their full names; other aliases
        # ("Tom Riddle" for Voldemort) are secrets the persona may learn later, so they stay separate.
        for alias, full in (aliases or {}).items():
            if full in idx.world_first and " " not in alias and len(alias) >= 3 and alias in full.split():
                idx.tokens.setdefault(alias, set()).add(full)
        return idx

    def mentioned(self, text: str) -> dict[str, tuple[int, int]]:
        """Names in ``text`` -> (first stage in the world, first stage the persona knows it, OPEN if never)."""
        low = " " + re.sub(r"[^a-z0-9' -]+", " ", text.lower()) + " "
        found: dict[str, tuple[int, int]] = {}
        for name, wf in self.world_first.items():
            if len(name) >= 4 and f" {name} " in low:
                found[name] = (wf, self.persona_first.get(name, OPEN))
        # Single distinctive words count only when capitalised in the text ("Lockhart", not "lock").
        for word in set(re.findall(r"\b[A-Z][a-z']{2,}\b", text)):
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


_ROLE_BREAK = re.compile(
    r"\b(language model|artificial intelligence|chat ?bot|virtual assistant|helpful assistant|as an assistant|"
    r"openai|smollm|hugging ?face|my training data|my programming|i was trained|i'm programmed|i am programmed)\b",
    re.IGNORECASE,
)
_AI = re.compile(r"\bA\.?I\b")
# Capitalised words that are not names.
_COMMON_CAPS = {
    "i",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "mr",
    "mrs",
    "ms",
    "sir",
    "madam",
    "professor",
    "dear",
    "oh",
    "ah",
    "well",
    "yes",
    "no",
    "hey",
    "okay",
    "ok",
    "god",
    "christmas",
    "halloween",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "english",
    "muggle",
    "muggles",
    "wizard",
    "wizards",
}
_IGNORANCE = re.compile(
    r"(don't know|do not know|never heard|no idea|not sure|haven't heard|have not heard|can't say|cannot say|"
    r"couldn't say|wasn't there|was not there|no clue|don't recognise|don't recognize|doesn't ring|nobody's told|"
    r"not heard|unfamiliar|can't tell|haven't a clue|not something i know)",
    re.IGNORECASE,
)


def breaks_role(answer: str) -> bool:
    """The answer talks like an assistant or an AI instead of the persona."""
    return bool(_ROLE_BREAK.search(answer) or _AI.search(answer))


def admits_ignorance(answer: str) -> bool:
    return bool(_IGNORANCE.search(answer))


def invented_names(answer: str, question: str, index: EntityIndex) -> list[str]:
    """Capitalised words in ``answer`` (not opening a sentence) that appear nowhere in the corpus or the question."""
    asked = {w.lower() for w in re.findall(r"[A-Za-z']+", question)}
    out = []
    for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z']{2,})\b", answer):
        word = m.group(1).lower().removesuffix("'s")
        start = m.start(1)
        before = answer[:start].rstrip()
        if not before or before[-1] in ".!?\"'(:\n-":
            continue
        if word in _COMMON_CAPS or word in asked or word in index.proper_words:
            continue
        out.append(m.group(1))
    return sorted(set(out))


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
    asked_words = {w for name in asked for w in name.split()}
    for name, (wf, pf) in entities.mentioned(answer).items():
        if name in asked or set(name.split()) & asked_words:
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


_VERB_FIX = {
    "is": "am",
    "was": "was",
    "has": "have",
    "does": "do",
    "doesn't": "don't",
    "isn't": "am not",
    "hasn't": "haven't",
}


def first_person(fact: str, first_name: str) -> str:
    """Turn a third-person memory ("Harry thinks X") into the persona's words ("I think X").

    Only the leading subject is rewritten; this is the grounded fallback used when
    the model invents names, so it must never add anything the memory lacks.
    """
    m = re.match(rf"\s*{re.escape(first_name)}('s)?\s+(\w+'?\w*)(.*)", fact, re.DOTALL)
    if not m:
        return f"What I remember is this: {fact}"
    possessive, word, rest = m.groups()
    if possessive:
        return f"My {word}{rest}"
    if word in _VERB_FIX:
        verb = _VERB_FIX[word]
    elif word.endswith("ies") and len(word) > 4:
        verb = word[:-3] + "y"
    elif word.endswith(("ches", "shes", "sses", "xes")):
        verb = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        verb = word[:-1]
    else:
        verb = word
    return f"I {verb}{rest}"


def ungrounded(answer: str, question: str, facts: Sequence[str]) -> bool:
    """True when the answer shares no distinctive word with the best facts (it ignored its memory)."""
    if not facts:
        return False
    wanted = set()
    for fact in facts[:2]:
        wanted |= _content_words(fact)
    wanted -= _content_words(question)
    return bool(wanted) and not (_content_words(answer) & wanted)
