"""Dialogues from the book (``source: book``, written by `corpus build`) in the SFT/DPO datasets.

A book item is a character's own reply to another character's line, so it needs no annotator. Its DPO
negatives come from the book too: ``other_persona`` is another character's reply to the same line (or, when
nobody else answered that line, to the line most like it), ``other_stage`` the same persona's reply from a
distant stage (at least a quarter of the timeline away) to the line most like it. Lines are compared by the
words they share, so this needs no model.

The character's words are not backed by a memory sentence, so book items skip the answer plan's claim check
(finetune/plan_items.py): they are trained with the inference prompt, as they are.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from typing import Any

from persona_rag.corpus import Universe

_WORD = re.compile(r"[a-z']+")


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if len(w) > 2)


def _tidy(text: str) -> str:
    return text[:-1] + "." if text.endswith((",", ";", ":")) else text


def _rows(path: Any) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def source_counts(universe: Universe, persona_id: str) -> dict[str, int]:
    """Dialogues of a persona by source: ``book`` (from `corpus build`) or ``curated`` (everything else)."""
    rows = _rows(universe.root / "dialogues" / f"{persona_id}.jsonl")
    return dict(Counter(str(r.get("source") or "curated") for r in rows))


class BookItems:
    """The persona's book items and the book's replies their negatives are drawn from."""

    def __init__(self, universe: Universe, persona_id: str) -> None:
        self.universe = universe
        rows = _rows(universe.root / "dialogues" / f"{persona_id}.jsonl")
        self.items = {r["id"]: r for r in rows if r.get("source") == "book" and isinstance(r.get("id"), str)}
        self.ids = set(self.items)
        self.replies: list[tuple[frozenset[str], str, str, str]] = []  # (line words, line, speaker, reply)
        self.text_of: dict[str, str] = {}
        self.persona_name = universe.characters[persona_id].name if persona_id in universe.characters else ""
        if not self.items:
            return
        quotes = _rows(universe.root / "quotes.jsonl")
        self.text_of = {str(q.get("id")): str(q.get("text", "")) for q in quotes}
        for prev, cur in itertools.pairwise(quotes):
            if cur.get("speaker") and prev.get("speaker") and cur["speaker"] != prev["speaker"]:
                self.replies.append((_words(prev["text"]), prev["text"], cur["speaker"], cur["text"]))

    def rejected(self, dialogue: Any, kind: str, own: list[Any]) -> str | None:
        """A book negative of ``kind`` for a book item (None for other items or when the book has none)."""
        item = self.items.get(dialogue.id)
        if item is None:
            return None
        ids = item.get("quotes") or []
        line = self.text_of.get(str(ids[0]), "") if ids else ""
        line = line or item["question"].split(": ", 1)[-1]
        words = _words(line)
        if kind == "other_persona":
            same = [r for r in self.replies if r[1] == line and r[2] != self.persona_name and r[3] != dialogue.response]
            if same:
                return _tidy(same[0][3])
            best = max(
                (r for r in self.replies if r[2] != self.persona_name and r[3] != dialogue.response),
                key=lambda r: len(words & r[0]) / (1 + len(r[0])),
                default=None,
            )
            return _tidy(best[3]) if best is not None else None
        if kind == "other_stage":
            stages = len(self.universe.timeline.stages)
            far = max(1, stages // 4)
            pool = [
                o
                for o in own
                if o.id in self.ids and not o.heldout and abs(o.stage.ordinal - dialogue.stage.ordinal) >= far
            ]
            best_o = max(pool, key=lambda o: len(words & _words(o.question)), default=None)
            return best_o.response if best_o is not None else None
        return None
