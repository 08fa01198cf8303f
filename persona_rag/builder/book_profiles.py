"""A persona's profile fields derived from the book (corpora/SCHEMA.md, profiles).

- ``phrases``: the word sequences (2 to 4 words) the persona says far more often than the rest of the cast,
  counted over its own quotations;
- ``speech_style``: one sentence on how it talks: typical length of a turn, how often it asks or exclaims,
  how it addresses others (the vocatives of its quotations) and a few of its phrases;
- ``summary``: the build's presence line, then what the narration says the persona is ("Holmes was ...").

Everything here is counted from the text; the README says how to edit the result.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from persona_rag.builder.speakers import lexicon
from persona_rag.vocabulary import STOP_WORDS

_WORDS = re.compile(r"[A-Za-z][A-Za-z'\-]*")


def _grams(text: str, n: int, forms: dict[str, Counter[str]] | None = None) -> list[str]:
    """Word n-grams, lower-cased; a gram holding a name (a capital inside the sentence) is left out unless it
    starts with "my dear". ``forms`` collects each gram's written forms."""
    words = _WORDS.findall(text)
    out = []
    for i in range(len(words) - n + 1):
        group = words[i : i + n]
        low = " ".join(w.lower() for w in group)
        named = any(w[0].isupper() and w != "I" for w in group[1:]) or (group[0][0].isupper() and i > 0)
        if named and not low.startswith("my dear"):
            continue
        out.append(low)
        if forms is not None:
            forms.setdefault(low, Counter())[" ".join(group)] += 1
    return out


def distinctive_phrases(own: Sequence[str], others: Sequence[str], limit: int = 8, min_count: int = 3) -> list[str]:
    """Word sequences the persona uses much more than everyone else (smoothed log-odds, at least ``min_count``
    times), longest first among near-duplicates."""
    function = lexicon().function
    scored: list[tuple[float, str]] = []
    forms: dict[str, Counter[str]] = {}
    for n in (4, 3, 2):
        mine = Counter(g for t in own for g in _grams(t, n, forms))
        theirs = Counter(g for t in others for g in _grams(t, n))
        total_mine = sum(mine.values()) or 1
        total_theirs = sum(theirs.values()) or 1
        for gram, c in mine.items():
            words = gram.split()
            if c < min_count or all(w in function or w in STOP_WORDS for w in words):
                continue
            if words[0] in ("and", "of", "to") or words[-1] in function:
                continue
            ratio = math.log((c + 0.5) / total_mine) - math.log((theirs[gram] + 0.5) / total_theirs)
            if ratio > 1.0:
                scored.append((ratio * math.log(1 + c) * (1 + 0.3 * (n - 2)), gram))
    out: list[str] = []
    for _, gram in sorted(scored, reverse=True):
        if any(gram in kept or kept in gram for kept in out):
            continue
        out.append(gram)
        if len(out) >= limit:
            break
    return [forms[g].most_common(1)[0][0] if g in forms else g for g in out]


_VOCATIVE = re.compile(
    r"(?:^|[,!?;]\s+|\b(?:Oh|Well|Come|Now|Yes|No),?\s+)((?:my\s+)?(?:dear\s+|good\s+)?(?:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?|"
    r"fellow|friend|sir|madam|ma'am|boy|girl|child))(?=\s*[,!?])"
)


def vocatives(own: Sequence[str]) -> Counter[str]:
    """How the persona addresses others: the names and forms it uses in the vocative (``my dear fellow``)."""
    found: Counter[str] = Counter()
    for text in own:
        for m in _VOCATIVE.finditer(text):
            form = m.group(1)
            last = form.split()[-1].lower()
            if last in lexicon().function or last in lexicon().interjections or form == "I":
                continue
            found[form] += 1
    return Counter({k: v for k, v in found.items() if v >= 2})


def speech_style(own: Sequence[str], addressed: Counter[str], phrases: Sequence[str]) -> str:
    """One sentence on how the persona talks (the system prompt reads only the first sentence)."""
    if not own:
        return ""
    lengths = [len(t.split()) for t in own]
    median = int(statistics.median(lengths))
    size = "short" if median <= 12 else "long" if median >= 35 else "middling"
    asks = sum("?" in t for t in own) / len(own)
    exclaims = sum("!" in t for t in own) / len(own)
    bits = [f"Speaks in {size} turns (about {median} words)"]
    if asks >= 0.3:
        bits.append("asks many questions")
    if exclaims >= 0.2:
        bits.append("often exclaims")
    if addressed:
        names = ", ".join(f'"{n}"' for n, _ in addressed.most_common(3))
        bits.append(f"addresses others as {names}")
    if phrases:
        bits.append("says things like " + ", ".join(f'"{p}"' for p in phrases[:3]))
    return ", ".join(bits) + "."


def described(narration: str, aliases: Sequence[str], limit: int = 2) -> list[str]:
    """Narration sentences that say what the persona is: an alias followed by "was"/"is" and a description."""
    if not aliases:
        return []
    names = "|".join(sorted((re.escape(a) for a in aliases if a), key=len, reverse=True))
    rx = re.compile(
        rf"(?<![\w'])(?:{names})\s+(?:was|is|had been|seemed)\s+(?:a|an|one of|always|by nature)\b"
        rf"[^.!?\"\u201c\u201d]{{10,220}}[.!?]"
    )
    out: list[str] = []
    for m in rx.finditer(narration):
        start = max(narration.rfind(c, max(0, m.start() - 60), m.start()) for c in ".!?\n")
        head = narration[start + 1 : m.start()] if start >= 0 else ""
        if len(head) > 60 or any(c in head for c in '"\u201c\u201d') or re.search(r"[A-Z][\w.]*\s+$", head):
            continue  # "Mycroft Holmes was ..." is someone else
        sentence = " ".join((head + m.group(0)).split())
        if sentence not in out:
            out.append(sentence)
        if len(out) >= limit:
            break
    return out


def book_profile(
    own: Sequence[str],
    others: Sequence[str],
    narration: str,
    aliases: Sequence[str],
    presence: str,
) -> dict[str, Any]:
    """``summary``, ``speech_style`` and ``phrases`` of a persona from its quotations and the narration."""
    phrases = distinctive_phrases(own, others)
    summary = presence
    said = described(narration, aliases)
    if said:
        summary = f"{presence} The book says: {' '.join(said)}"
    return {"summary": summary, "speech_style": speech_style(own, vocatives(own), phrases), "phrases": phrases}
