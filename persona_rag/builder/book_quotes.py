"""The quotations of a book's files, with their speakers, as ``quotes.jsonl`` rows (corpora/SCHEMA.md).

Offsets are code points into each source file as given (after a byte-order mark, line endings
untouched), so ``text[start:end]`` of the file gives a quotation's words back. Works and
chapters are placed by the line they start on (the reader's ``Work.line`` and ``Chapter.line``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona_rag.builder.cast import Character
from persona_rag.builder.quotes import Quotations, find_quotes
from persona_rag.builder.speakers import Attribution, Attributor, learn_genders


def read_source(path: Path) -> str:
    """A source file's text exactly as the offsets count it."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        return fh.read()


def line_starts(text: str) -> list[int]:
    """Offset of the start of each line (index 0 is line 1)."""
    out = [0]
    pos = text.find("\n")
    while pos != -1:
        out.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return out


@dataclass
class FileQuotes:
    """One source file's quotations and who says them."""

    name: str
    text: str
    found: Quotations
    speakers: list[Attribution]
    stages: list[str] = field(default_factory=list)

    @property
    def unbalanced(self) -> int:
        return self.found.unbalanced


def attribute_file(
    path: Path,
    cast: Sequence[Character],
    narrators: Sequence[tuple[int, str | None]] = (),
    stage_at: Callable[[int], str] | None = None,
    genders: dict[str, str] | None = None,
) -> FileQuotes:
    """Find and attribute the quotations of one file. ``narrators``: (line, narrator or None) where each
    work starts; ``stage_at``: the stage key of a line."""
    text = read_source(path)
    found = find_quotes(text)
    starts = line_starts(text)
    by_offset = [(starts[min(len(starts), max(1, line)) - 1], n) for line, n in narrators]
    if genders is None:
        genders = learn_genders(text, cast)
    speakers = Attributor(cast, genders, by_offset).attribute(found)
    stages = []
    if stage_at is not None:
        for q in found.quotes:
            stages.append(stage_at(bisect.bisect_right(starts, q.start)))
    return FileQuotes(path.name, text, found, speakers, stages)


def quote_rows(files: Sequence[FileQuotes], first_id: int = 1) -> list[dict[str, Any]]:
    """``quotes.jsonl`` rows in text order."""
    rows = []
    n = first_id
    for fq in files:
        for i, (q, a) in enumerate(zip(fq.found.quotes, fq.speakers, strict=True)):
            rows.append(
                {
                    "id": f"q{n:06d}",
                    "stage": fq.stages[i] if fq.stages else None,
                    "speaker": a.speaker,
                    "addressees": a.addressees,
                    "text": q.text(fq.text),
                    "file": fq.name,
                    "spans": [[s, e] for s, e in q.spans],
                    "cue": a.cue,
                }
            )
            n += 1
    return rows


@dataclass
class BookQuotes:
    """Every source file's quotations, attributed, and the ``quotes.jsonl`` rows."""

    files: list[FileQuotes]
    rows: list[dict[str, Any]]

    @property
    def unbalanced(self) -> int:
        return sum(f.unbalanced for f in self.files)

    @property
    def attributed(self) -> int:
        return sum(r["speaker"] is not None for r in self.rows)

    def marks(self) -> set[str]:
        return {f.found.mark for f in self.files}


def book_quotes(
    sources: Sequence[Path],
    works: Sequence[dict[str, Any]],
    narrators: Sequence[str | None],
    stage_of_chapter: dict[tuple[int, int], str],
    first_stage: str,
    cast: Sequence[Character],
) -> BookQuotes:
    """Find and attribute the quotations of every source. ``works`` are the first pass's works (each with its
    ``source`` file name, ``line`` and chapters with their ``line``); the stage of a quotation is its chapter's."""
    files = []
    for path in sources:
        starts: list[tuple[int, str]] = []
        tellers: list[tuple[int, str | None]] = []
        for wi, w in enumerate(works):
            if w.get("source") != path.name:
                continue
            tellers.append((int(w.get("line", 1)), narrators[wi] if wi < len(narrators) else None))
            for ci, ch in enumerate(w["chapters"]):
                starts.append((int(ch.get("line", w.get("line", 1))), stage_of_chapter.get((wi, ci + 1), first_stage)))
        starts.sort()
        lines = [s[0] for s in starts]

        def stage_at(line: int, lines: list[int] = lines, starts: list[tuple[int, str]] = starts) -> str:
            k = bisect.bisect_right(lines, line) - 1
            return starts[k][1] if k >= 0 else (starts[0][1] if starts else first_stage)

        files.append(attribute_file(path, cast, sorted(tellers, key=lambda t: t[0]), stage_at))
    return BookQuotes(files, quote_rows(files))


def narration(fq: FileQuotes) -> str:
    """The file's text with every quotation blanked out (offsets kept)."""
    from persona_rag.builder.speakers import masked_text

    return masked_text(fq.found)
