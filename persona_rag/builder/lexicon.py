"""The English word lists of ``speech.txt`` (speech verbs, pronouns, gendered honorifics), read once.

Both the cast (which titles tell a man from a woman) and the attributor (which verbs tag a
speaker) read them; a book in another language needs its own lists, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Lexicon:
    verbs: frozenset[str]
    said_words: frozenset[str]
    he: frozenset[str]
    she: frozenset[str]
    i: frozenset[str]
    male: frozenset[str]
    female: frozenset[str]
    maiden: frozenset[str]
    companions: frozenset[str]
    persons: frozenset[str]
    called: frozenset[str]
    not_speech: frozenset[str]
    listening: frozenset[str]
    latter: frozenset[str]
    former: frozenset[str]
    function: frozenset[str]
    interjections: frozenset[str]
    titles: tuple[tuple[str, ...], ...] = ()  # (description word, the titles of a name that hold it)


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The English word lists of ``speech.txt`` beside this module."""
    sections: dict[str, set[str]] = {}
    titles: list[tuple[str, ...]] = []
    current = ""
    for line in Path(__file__).with_name("speech.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections[current] = set()
            continue
        if current == "titles":
            words = [w.lower() for w in line.split()]
            titles.append((words[0], *(words[1:] or words[:1])))
            continue
        sections[current].update(w.lower() for w in line.split())
    sets = {k: frozenset(sections.get(k, ())) for k in Lexicon.__dataclass_fields__ if k != "titles"}
    return Lexicon(**sets, titles=tuple(titles))
