"""Finding the quotations of a book: where each one is, in code-point offsets of its file.

A quotation is what stands between quotation marks: straight or curly double
quotes, or single quotes in a book that opens its speeches with them (decided by
which mark starts more paragraphs). Marks are read paragraph by paragraph
(paragraphs are separated by blank lines):

- a quotation still open at the end of its paragraph continues when the next
  paragraph opens with a quotation mark (the printers' rule for a long speech);
  otherwise it is closed at the paragraph's end and counted as *unbalanced*;
- the quoted pieces of one paragraph are one quotation in several parts when
  only a short stretch of narration stands between them
  (``"My dear," said his lady, "have you heard?"``): a new speaker takes a new
  paragraph. Two pieces with nothing but spaces between them are two quotations
  (a paragraph break the printer lost).

Spans exclude the marks, so ``text[start:end]`` is exactly the quoted words
(with the file's own line breaks). Nothing here knows who speaks: that is
``persona_rag.builder.speakers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Narration between two quoted pieces of one paragraph that still joins them into one quotation.
JOIN_GAP = 200
_PARA_SPLIT = re.compile(r"\n[ \t\f\v\r]*\n")
_DOUBLE = re.compile(r"[\"\u201c\u201d]")
_OPEN_MARK = re.compile(r"\s*[\"\u201c\u2018']")
_SINGLE_OPEN = re.compile(r"(?:(?<=^)|(?<=[\s(\[\u2014-]))[\u2018'](?=[^\s'\u2019])")
_SINGLE_CLOSE = re.compile(r"(?<=\S)[\u2019'](?![A-Za-z0-9])")
_LEADING = {"double": re.compile(r"\s*[\"\u201c]"), "single": re.compile(r"\s*[\u2018']")}


@dataclass
class Quote:
    """One quotation: its parts as ``[start, end)`` offsets into the file's text, marks excluded."""

    spans: list[tuple[int, int]]
    paragraph: int  # index of the paragraph it starts in
    last_paragraph: int
    closed_by_paragraph: bool = False  # unbalanced: no closing mark, ended with its paragraph

    def text(self, source: str) -> str:
        return " ".join(" ".join(source[a:b].split()) for a, b in self.spans if source[a:b].strip())

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]


@dataclass
class Quotations:
    """The quotations of one text, with the paragraphs they were read in."""

    text: str
    paragraphs: list[tuple[int, int]]
    quotes: list[Quote] = field(default_factory=list)
    mark: str = "double"  # double | single | none
    unbalanced: int = 0


def paragraphs(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each non-blank paragraph (blank lines separate paragraphs)."""
    out = []
    pos = 0
    for m in _PARA_SPLIT.finditer(text):
        if text[pos : m.start()].strip():
            out.append(_trim(text, pos, m.start()))
        pos = m.end()
    if text[pos:].strip():
        out.append(_trim(text, pos, len(text)))
    return out


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def quote_mark(text: str, paras: list[tuple[int, int]]) -> str:
    """Which marks the book opens its speeches with: "double", "single", or "none"."""
    double = sum(1 for a, _ in paras if text[a] in '"\u201c')
    single = sum(1 for a, _ in paras if text[a] in "'\u2018" and a + 1 < len(text) and text[a + 1].isalpha())
    if double == 0 and single == 0:
        return "double" if _DOUBLE.search(text) else "none"
    return "double" if double >= single else "single"


def _marks(text: str, a: int, b: int, mode: str) -> list[tuple[int, str]]:
    """(offset, kind) of the quotation marks in ``text[a:b]``: kind is open, close or toggle."""
    if mode == "double":
        out = []
        for m in _DOUBLE.finditer(text, a, b):
            ch = m.group(0)
            out.append((m.start(), "open" if ch == "\u201c" else "close" if ch == "\u201d" else "toggle"))
        return out
    seg = text[a:b]
    found = {m.start() + a: "open" for m in _SINGLE_OPEN.finditer(seg)}
    for m in _SINGLE_CLOSE.finditer(seg):
        found.setdefault(m.start() + a, "close")
    return sorted(found.items())


def find_quotes(text: str, join_gap: int = JOIN_GAP) -> Quotations:
    """Every quotation of ``text`` in text order (see the module doc)."""
    paras = paragraphs(text)
    mode = quote_mark(text, paras)
    result = Quotations(text, paras, mark=mode)
    if mode == "none":
        return result
    leading = _LEADING[mode]
    current: Quote | None = None  # a quotation still open at the end of the paragraph before
    for pi, (a, b) in enumerate(paras):
        lead = leading.match(text, a, b)
        continuing = current is not None and lead is not None
        if current is not None and not continuing:
            current.closed_by_paragraph = True
            result.unbalanced += 1
            result.quotes.append(current)
            current = None
        pieces, ends_open = _pieces(text, a, b, mode, lead.end() if continuing and lead else None)
        groups: list[list[tuple[int, int]]] = []
        for piece in pieces:
            gap = text[groups[-1][-1][1] + 1 : piece[0] - 1] if groups else ""
            if groups and len(gap) <= join_gap and any(c.isalpha() for c in gap):
                groups[-1].append(piece)
            else:
                groups.append([piece])
        quotes = [Quote(g, pi, pi) for g in groups]
        if continuing and current is not None:
            if quotes and lead is not None and quotes[0].start <= lead.end() + 2:
                current.spans += quotes[0].spans
                current.last_paragraph = pi
                quotes[0] = current
            else:  # an empty paragraph-opening mark: the speech goes on after it
                quotes.insert(0, current)
                ends_open = ends_open or len(quotes) == 1
            current = None
        if ends_open and quotes:
            current = quotes.pop()
        result.quotes += quotes
    if current is not None:
        current.closed_by_paragraph = True
        result.unbalanced += 1
        result.quotes.append(current)
    result.quotes = [q for q in result.quotes if any(text[x:y].strip() for x, y in q.spans)]
    return result


def _pieces(text: str, a: int, b: int, mode: str, open_at: int | None) -> tuple[list[tuple[int, int]], bool]:
    """The quoted pieces of one paragraph, and whether its last quotation is still open at its end."""
    pieces: list[tuple[int, int]] = []
    for pos, kind in _marks(text, open_at if open_at is not None else a, b, mode):
        if open_at is None:
            if kind != "close":
                open_at = pos + 1
        elif kind == "open" and mode == "single":
            continue  # an elision or a nested mark inside the speech
        else:
            pieces.append((open_at, pos))
            open_at = pos + 1 if kind == "open" else None  # a second opening mark: the first never closed
    ends_open = open_at is not None and bool(text[open_at:b].strip())
    if ends_open and open_at is not None:
        pieces.append(_trim(text, open_at, b))
    return [p for p in pieces if text[p[0] : p[1]].strip()], ends_open
