"""The entity index: for every name in a universe, the first stage at which it appears
in the world, and the first stage at which one persona knows it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_rag.corpus import OPEN
from persona_rag.vocabulary import Vocabulary


@dataclass
class EntityIndex:
    """name (lower-case) -> first stage in the world / first stage known by the persona."""

    world_first: dict[str, int] = field(default_factory=dict)
    persona_first: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # distinctive single word -> names containing it
    proper_words: set[str] = field(default_factory=set)  # every capitalised word of the corpus, lower-case
    vocab: Vocabulary = field(default_factory=Vocabulary)

    @classmethod
    def build(
        cls,
        world: list[dict[str, Any]],
        persona: list[dict[str, Any]],
        texts: Sequence[str] = (),
        aliases: dict[str, str] | None = None,
        vocab: Vocabulary | None = None,
        *,
        world_texts: Sequence[str] = (),
        persona_texts: Sequence[str] = (),
    ) -> EntityIndex:
        """``world``/``persona``: metadata dicts with ``entities`` ('|'-joined) and stages;
        ``texts``: the universe's passages, whose capitalised words count as known names;
        ``world_texts``/``persona_texts``: the texts of ``world``/``persona``, in the same order (a name is there
        from the first passage that says it, tagged or not)."""
        vocab = vocab or Vocabulary()
        idx = cls(vocab=vocab)
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
        # A tag is not the first mention: "the hospital wing", tagged only on a sixth-year event, is where Harry
        # woke in his first year. A name is in the world, and known to the persona, from the first passage that
        # says it.
        names = list(idx.world_first)
        _first_said(idx.world_first, names, world, world_texts, "stage")
        _first_said(idx.persona_first, names, persona, persona_texts, "known_from")
        for name in idx.world_first:
            words = name.split()
            if len(words) >= 2:
                word = words[-1]  # surnames stand for people; first words ("Muggle ...") do not
                if len(word) >= 4 and word not in vocab.generic_words and word not in vocab.titles and word != "the":
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
        low = f" {_plain(text)} "
        found: dict[str, tuple[int, int]] = {}
        for name, wf in self.world_first.items():
            # "S.P.E.W." is looked for as the text is written after its punctuation goes: " s p e w ".
            if len(name) >= 4 and f" {_key(name)} " in low:
                found[name] = (wf, self.persona_first.get(name, OPEN))
        # Single distinctive words count only when capitalised in the text ("Lockhart", not "lock").
        for word in set(re.findall(r"\b[A-Z][a-z']{2,}\b", text)):
            key = word.lower().removesuffix("'s")  # "Dumbledore's sister" names Dumbledore ...
            names = self.tokens.get(key)
            if not names or any(key in n.split() or n.startswith(f"{key}'s ") for n in found):
                continue  # ... but "Dumbledore's Army", a name of its own, does not
            wf = min(self.world_first[n] for n in names)
            pf = min(self.persona_first.get(n, OPEN) for n in names)
            found[key] = (wf, pf)
        return found


def _key(name: str) -> str:
    """``name`` as :meth:`EntityIndex.mentioned` looks for it in a text whose punctuation is gone."""
    return name if name.replace(" ", "").isalnum() else " ".join(re.sub(r"[^a-z0-9' -]+", " ", name).split())


def _plain(text: str) -> str:
    """Lower-case words, punctuation gone, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9' -]+", " ", text.lower()).split())


def _first_said(
    table: dict[str, int], names: Sequence[str], metas: Sequence[dict[str, Any]], texts: Sequence[str], when: str
) -> None:
    """Lower ``table[name]`` to the earliest ``when`` of the passages whose text says the name."""
    if not texts:
        return
    padded = [(int(m.get(when, 0)), f" {_plain(t)} ") for m, t in zip(metas, texts, strict=True)]
    for name in names:
        if len(name) < 4:
            continue
        key = f" {_key(name)} "
        first = min((st for st, low in padded if key in low), default=OPEN)
        if first < table.get(name, OPEN):
            table[name] = first


def _names(meta: dict[str, Any]) -> list[str]:
    return [e.strip().lower() for e in str(meta.get("entities", "")).split("|") if e.strip()]
