"""A persona's dialogues from the book: each of its quotations that answers another character's.

A reply is a quotation by the persona that opens its paragraph right after a paragraph opened by another
character's quotation (the previous turn of the same exchange). The item (corpora/SCHEMA.md, dialogues)
asks what was said to the persona, prefixed with who said it, and answers with the persona's own words;
its ``analysis`` is a note taken from the narration around the reply, never an invented thought. Items
carry ``source: book`` and the ids of the two quotations in ``quotes.jsonl``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from persona_rag.builder.book_quotes import FileQuotes

MAX_CHARS = 1500  # a longer speech (a story told over pages) is not one turn of a dialogue
_FACT_QUESTION = re.compile(
    r"(?:^|[.!;]\s+|,\s*)(?:what|who|whom|whose|where|when|which|why|how|did|do|does|is|are|was|were|has|have|had|"
    r"can|could|will|would|shall)\b[^.!?]*\?\s*$",
    re.IGNORECASE,
)


def mode_of(line: str) -> str:
    """``knowledge`` when the line ends with a question about a fact, else ``opinion``."""
    last = re.split(r"(?<=[.!])\s+", line.strip())[-1]
    return "knowledge" if _FACT_QUESTION.search(last) else "opinion"


def spoken(fq: FileQuotes, i: int) -> str:
    """The quotation's words as said: a part cut by a speech tag after a comma ends its sentence when the next
    part starts a new one (``"Nell does," said Marsh. "Better..."``), and the last part ends with a stop."""
    q = fq.found.quotes[i]
    parts = [" ".join(fq.text[a:b].split()) for a, b in q.spans]
    parts = [p for p in parts if p]
    for k in range(len(parts) - 1):
        if parts[k].endswith(",") and parts[k + 1][:1].isupper():
            parts[k] = parts[k][:-1] + "."
    text = " ".join(parts)
    if text.endswith((",", ";", ":")):
        text = text[:-1] + "."
    return text


def _narration(fq: FileQuotes, i: int) -> str:
    """The narration of the reply's own paragraph (the quoted words left out), tidied."""
    q = fq.found.quotes[i]
    a, b = fq.found.paragraphs[q.paragraph]
    pieces = []
    pos = a
    for x, y in q.spans:
        if x - 1 > pos:
            pieces.append(fq.text[pos : x - 1])
        pos = y + 1
    pieces.append(fq.text[pos:b])
    text = " ".join(" ".join(pieces).split())
    return re.sub(r"^[\s,;:.\-\u2014\"\u201c\u201d]+|[\s,;:\-\u2014\"\u201c\u201d]+$", "", text)


def dialogue_items(
    files: Sequence[FileQuotes],
    rows: Sequence[dict[str, Any]],
    persona_name: str,
    persona_id: str,
    short_name: str,
    stage_labels: dict[str, str],
) -> list[dict[str, Any]]:
    """The persona's book dialogues, in text order; ``rows`` are the ``quotes.jsonl`` rows of ``files``."""
    items: list[dict[str, Any]] = []
    n = 0
    for fq in files:
        quotes = fq.found.quotes
        offset = next((k for k, r in enumerate(rows) if r["file"] == fq.name), None)
        if offset is None:
            continue
        for i in range(1, len(quotes)):
            reply, line = rows[offset + i], rows[offset + i - 1]
            if reply["speaker"] != persona_name or line["speaker"] in (None, persona_name):
                continue
            prev_q, q = quotes[i - 1], quotes[i]
            paragraphs = fq.found.paragraphs
            opens = all(x.start == paragraphs[x.paragraph][0] + 1 for x in (prev_q, q))
            if not opens or q.paragraph != prev_q.last_paragraph + 1:
                continue
            if len(reply["text"]) > MAX_CHARS or len(line["text"]) > MAX_CHARS or len(reply["text"]) < 2:
                continue
            n += 1
            note = _narration(fq, i)
            note = note if len(note.split()) > 4 else ""  # a bare "said he" adds nothing
            where = stage_labels.get(reply["stage"], reply["stage"])
            analysis = f"{line['speaker']} has just said this to {short_name} ({where})."
            if note:
                analysis += f" The book: {note[:240]}"
            items.append(
                {
                    "id": f"{persona_id}-book-{n:05d}",
                    "stage": reply["stage"],
                    "mode": mode_of(line["text"]),
                    "question": f"{line['speaker']}: {spoken(fq, i - 1)}",
                    "analysis": analysis,
                    "response": spoken(fq, i),
                    "source": "book",
                    "quotes": [line["id"], reply["id"]],
                }
            )
    return items
