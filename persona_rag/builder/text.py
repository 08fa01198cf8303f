"""Reading a book: sources, table of contents, works, parts, chapters and scenes.

The text is streamed one work at a time (memory is bounded by the longest work,
not the whole book). Headings are found by their shape, never by words of one
book: Markdown ``#`` headings, ``CHAPTER XII`` / ``Chapter 12: Title`` lines,
``PART II`` / ``BOOK 2`` lines, lone numbers (``IV.``), and titles in capitals
standing apart from the prose. When the text opens with a table of contents,
only headings listed there start works, and a listed heading with no prose of
its own (the title of a collection) groups the works after it. Front matter
(preface, contents, foreword, ...) is not a work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from persona_rag.errors import UsageError

FRONT_MATTER = frozenset(
    ["preface", "contents", "table of contents", "foreword", "introduction", "acknowledgements", "acknowledgments"]
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|first|second|third|fourth|fifth|sixth|seventh|"
    "eighth|ninth|tenth|last|final"
)
_NUM = rf"(?:\d+|[ivxlcdm]+|(?:{_NUMBER_WORDS})(?:-(?:{_NUMBER_WORDS}))?)"
CHAPTER_RE = re.compile(rf"^(?:chapter|chap\.)\s+({_NUM})\b\.?\s*[:.\-\u2014]*\s*(.*)$", re.IGNORECASE)
PART_RE = re.compile(rf"^(?:part|book|volume)\s+({_NUM})\b\.?\s*[:.\-\u2014]*\s*(.*)$", re.IGNORECASE)
NUMBERED_RE = re.compile(r"^(\d{1,3}|[IVXLC]{1,7})\.?$")
MARKDOWN_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
BREAK_RE = re.compile(r"^(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,}|(?:~\s*){3,}|#|\*)$")
TOC_RE = re.compile(r"^(?:table of )?contents:?$", re.IGNORECASE)
YEAR_RE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_SMALL = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "in",
        "into",
        "nor",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "from",
    ]
)


def norm_title(text: str) -> str:
    """How titles are compared: case, quotes and punctuation do not matter."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # Markdown links in a table of contents
    text = re.sub(r"^[-*+]\s+|^\d+[.)]\s+", "", text.strip())
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]+", " ", text.lower())).strip()


def nice_title(text: str) -> str:
    """A heading in capitals as a title: "THE SIGN OF THE FOUR" -> "The Sign of the Four"."""
    text = text.strip().strip("#").strip()
    if any(c.islower() for c in text):
        return text
    words = text.lower().split()
    out = [
        w if (i and w in _SMALL) else re.sub(r"(^|[-\"(])([a-z])", lambda m: m.group(1) + m.group(2).upper(), w)
        for i, w in enumerate(words)
    ]
    return " ".join(out)


@dataclass
class Scene:
    text: str
    line: int  # first line in the source file
    source: str


@dataclass
class Chapter:
    number: int  # 1-based within its work
    title: str
    part: str
    line: int
    source: str
    scenes: list[Scene] = field(default_factory=list)
    index: int = 0  # 1-based across the whole text (set by the reader)

    @property
    def words(self) -> int:
        return sum(len(s.text.split()) for s in self.scenes)

    def year(self) -> int | None:
        """A year in the heading, else in the first lines of the chapter (dated biographies)."""
        m = YEAR_RE.search(self.title)
        if m is None and self.scenes:
            m = YEAR_RE.search(self.scenes[0].text[:400])
        return int(m.group(1)) if m else None


@dataclass
class Work:
    index: int  # 0-based, in text order
    title: str
    collection: str
    line: int
    source: str
    chapters: list[Chapter] = field(default_factory=list)
    toc_chapters: int = 0  # chapter titles in the work's own table of contents (0: none)


@dataclass
class Layout:
    """What a first look at the sources found: a table of contents and Markdown heading levels."""

    toc: list[str]  # normalised titles listed in the opening table of contents
    markdown_levels: list[int]
    notices: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- reading files


def check_source(path: Path) -> None:
    """A one-line error for a source that cannot be a book: missing, empty, binary, EPUB."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix.lower() == ".epub":
        raise UsageError(f"{path}: EPUB is not read directly; convert it to text first (e.g. `pandoc -t plain`)")
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise UsageError(f"{path} is empty; give a plain-text or Markdown file with the book's text")
    if b"\0" in head or _undecodable(head) > 0.02:
        raise UsageError(f"{path} is not text (binary data); give a plain-text or Markdown file (UTF-8)")


def _undecodable(head: bytes) -> float:
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") + sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    return bad / max(1, len(text))


def iter_lines(paths: Sequence[Path]) -> Iterator[tuple[str, int, str]]:
    """(file name, line number, line without its newline), file after file, streamed."""
    for path in paths:
        with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                yield path.name, n, line.rstrip("\r\n").replace("\t", "    ")
        yield path.name, 0, ""  # a file ends a paragraph


def scan_layout(paths: Sequence[Path]) -> Layout:
    """The opening table of contents (if any) and the Markdown heading levels used."""
    toc: list[str] = []
    levels: set[int] = set()
    state = "before"  # before -> in (reading entries) -> done
    blanks = 0
    seen_prose = 0
    for _, _, raw in iter_lines(paths):
        line = raw.strip()
        m = MARKDOWN_RE.match(line)
        if m:
            levels.add(len(m.group(1)))
        if state == "done":
            continue
        if not line:
            blanks += 1
            if state == "in" and toc and blanks >= 3:
                state = "done"
            continue
        blanks = 0
        if state == "before":
            if TOC_RE.match(line.strip("# ").strip()):
                state = "in"
            elif len(line.split()) > 12:
                seen_prose += 1
                if seen_prose > 5:  # the text has begun: no opening table of contents
                    state = "done"
        elif state == "in":
            title = norm_title(line)
            if title and not PART_RE.match(title):
                toc.append(title)
    return Layout(toc, sorted(levels))


# ----------------------------------------------------------------------------- structure


@dataclass
class _Heading:
    kind: str  # work, part, chapter, break
    title: str
    number: str = ""


class _Classifier:
    def __init__(self, layout: Layout) -> None:
        self.toc = set(layout.toc)
        levels = layout.markdown_levels
        self.md_kind: dict[int, str] = {}
        if len(levels) == 1:
            self.md_kind = {levels[0]: "chapter"}
        elif len(levels) == 2:
            self.md_kind = {levels[0]: "work", levels[1]: "chapter"}
        elif levels:
            self.md_kind = {levels[0]: "work", levels[1]: "part", **{lv: "chapter" for lv in levels[2:]}}

    def classify(self, line: str, blanks_before: int, next_line: str) -> _Heading | None:
        s = line.strip()
        if not s or len(s) > 90:
            return None
        next_blank = not next_line.strip()
        m = MARKDOWN_RE.match(s)
        if m:
            kind = self.md_kind.get(len(m.group(1)), "chapter")
            title = m.group(2).strip()
            if kind == "work" and self.toc and norm_title(title) not in self.toc:
                kind = "chapter"
            return _Heading(kind, title)
        if blanks_before < 1:
            return None
        if BREAK_RE.match(s):
            return _Heading("break", "")
        m = CHAPTER_RE.match(s)
        if m:
            return _Heading("chapter", m.group(2).strip(), m.group(1))
        m = PART_RE.match(s)
        if m and next_blank:
            return _Heading("part", s)
        if NUMBERED_RE.match(s) and next_blank:
            return _Heading("chapter", "", s.rstrip("."))
        letters = [c for c in s if c.isalpha()]
        if len(letters) >= 3:
            title = norm_title(s)
            if self.toc:
                if title in self.toc and blanks_before >= 2:
                    return _Heading("work", s)
            elif (
                next_blank
                and blanks_before >= 2
                and sum(c.isupper() for c in letters) >= 0.9 * len(letters)
                and len(s.split()) <= 12
                and not s.endswith((",", ";"))
            ):
                return _Heading("work", s)
        return None


def is_front_matter(title: str) -> bool:
    return norm_title(title) in FRONT_MATTER


def read_works(paths: Sequence[Path], layout: Layout) -> Iterator[Work]:
    """The works of the sources in text order, streamed: each is yielded once it is complete.

    Text before a work's first chapter heading (a part's subtitle, an epigraph) joins that chapter.
    """
    cls = _Classifier(layout)
    work: Work | None = None
    chapter: Chapter | None = None
    implicit = False  # the current chapter was opened by prose, not by a heading
    lines_: list[str] = []
    start = (0, "")
    collection = ""
    part = ""
    blanks = 2
    in_toc = False
    toc_count = 0
    count = 0
    front = bool(layout.toc)  # with a table of contents, text before the first listed work is front matter
    title_due: int | None = None  # line of a chapter heading that had no title on its own line

    def flush() -> None:
        nonlocal lines_, work, chapter, implicit
        text = "\n".join(lines_).strip()
        lines_ = []
        if not text or front:
            return
        if work is None:
            work = Work(count, "", collection, start[0], start[1])
        if chapter is None:
            chapter = Chapter(len(work.chapters) + 1, "", part, start[0], start[1])
            work.chapters.append(chapter)
            implicit = True
        chapter.scenes.append(Scene(_unwrap(text), start[0], start[1]))

    def finish() -> Work | None:
        nonlocal work, chapter, count
        flush()
        done, work, chapter = work, None, None
        if done is None:
            return None
        done.chapters = [c for c in done.chapters if c.scenes]
        if not done.chapters:
            return None
        for i, c in enumerate(done.chapters, 1):
            c.number = i
        count += 1
        return done

    for (source, n, raw), nxt in _lookahead(iter_lines(paths)):
        s = raw.strip()
        if n == 0:  # the end of a file ends a paragraph
            flush()
            blanks = 2
            continue
        if not s:
            blanks += 1
            if in_toc and blanks >= 3:
                in_toc = False
                if work is not None:
                    work.toc_chapters = toc_count
            continue
        if in_toc:
            toc_count += 0 if PART_RE.match(s) else 1
            blanks = 0
            continue
        if title_due is not None and chapter is not None and not chapter.title:
            due, title_due = title_due, None
            if n - due <= 4 and len(s.split()) <= 10 and not nxt.strip() and not s.startswith(('"', "'")):
                chapter.title = nice_title(s)
                blanks = 0
                continue
        if blanks >= 1 and TOC_RE.match(s.strip("# ").strip()):
            in_toc, toc_count, blanks = True, 0, 0
            continue
        head = cls.classify(raw, blanks, nxt)
        blanks_before, blanks = blanks, 0
        if head is None:
            if not lines_:
                start = (n, source)
            elif blanks_before:
                lines_.append("")
            lines_.append(s)
            continue
        if head.kind == "work":
            previous = work
            done = finish()
            if done is not None:
                yield done
            elif previous is not None and previous.title and not front:
                collection = previous.title  # a listed heading with no prose of its own: a collection
            front = is_front_matter(head.title)
            part = ""
            if not front:
                work = Work(count, nice_title(head.title), collection, n, source)
            continue
        flush()
        start = (n, source)
        if head.kind == "part":
            part, chapter, implicit = nice_title(head.title), None, False
        elif head.kind == "chapter":
            front = False
            if work is None:
                work = Work(count, "", collection, n, source)
            new = Chapter(len(work.chapters) + 1, nice_title(head.title), part, n, source)
            if chapter is not None and implicit:
                new.scenes, new.line = chapter.scenes, chapter.line  # a preamble joins the chapter it leads to
                work.chapters.remove(chapter)
            work.chapters.append(new)
            chapter, implicit = new, False
            title_due = None if head.title else n
    done = finish()
    if done is not None:
        yield done


def _lookahead(lines: Iterator[tuple[str, int, str]]) -> Iterator[tuple[tuple[str, int, str], str]]:
    prev: tuple[str, int, str] | None = None
    for item in lines:
        if prev is not None:
            yield prev, item[2] if item[1] else ""
        prev = item
    if prev is not None:
        yield prev, ""


def _unwrap(text: str) -> str:
    """Hard-wrapped lines joined into paragraphs (blank lines kept as paragraph breaks)."""
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paras if p)
