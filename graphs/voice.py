"""Does a model answer speak as the persona? Each of its sentences is held against the rule-based rewrite of the
plan sentence it retells (graphs/rewrite.py), and a sentence that says "he" or the persona's name where the
rewrite says "I", or "they" where the rewrite says "we", is the memory copied in the third person
("They shared the ride with Luna" for "We shared the ride with Luna"). No model call: the same rewrite the
fallback says, so a rejected answer gives way to the corrected one.

Also what no reader takes for the persona talking: a possessive made of a pronoun ("Her's article", "I's since"),
the same sentence twice, an answer cut after an initial ("bearing the name of T. M.").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from persona_rag.graphs.rewrite import in_own_words, persona_gender, persona_names
from persona_rag.graphs.state import OWN_WORDS

from persona_rag.vocabulary import STOP_WORDS

THIRD_PERSON = "<speaks of itself in the third person>"
LEFT_OUT = "<leaves itself out of its group>"
GARBLED = "<garbled pronoun>"
TWICE = "<says a sentence twice>"
CUT_SHORT = "<cut short>"
# What only the rewrite can put right, and a second attempt of the same model rarely does: the review goes to the
# fallback at once (saves a generation).
VOICE_PROBLEMS = frozenset([THIRD_PERSON, LEFT_OUT, GARBLED, TWICE, CUT_SHORT])

# An answer sentence retells a plan sentence when at least this share of its content words are that sentence's.
RETELLS_SHARE = 0.5
# Two sentences of one answer are the same sentence when this share of the shorter one's content words are shared.
TWICE_SHARE = 0.8
# ... and has at least this many content words ("I don't know him. Never heard of him." says no fact twice)
TWICE_MIN_WORDS = 4

# a full stop after an initial or a title ends no sentence ("the name of T. M. Riddle", "Mr. Darcy")
_SENTENCE = re.compile(
    r"(?<![\s.][A-HJ-Z]\.)(?<!\bMrs\.)(?<!\bMr\.)(?<!\bDr\.)(?<!\bSt\.)(?<=[.!?])[\"'”)]*\s+(?=[A-Z\"'“])"
)
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_GARBLED = re.compile(r"\b(?:I|[Mm]e|[Hh]er|[Hh]is|[Tt]heir|[Oo]ur|[Mm]y|[Yy]our|[Uu]s|[Tt]hem)'s\b")
# ends on an initial: "the name of T. M." (not "Plan B" mid-sentence; "p.m." is lower case)
_CUT_AFTER_INITIAL = re.compile(r"(?:^|\s)(?:[A-Z]\.\s*){1,3}$")
_FIRST = frozenset(["i", "me", "my", "mine", "myself"])
_GROUP = frozenset(["they", "them", "their", "theirs", "themselves"])
_WE = frozenset(["we", "us", "our", "ours", "ourselves"])
_COUNTED_GROUP = re.compile(r"\bthe (?:two|three|four|five|trio|pair)\b(?! of us)", re.IGNORECASE)
_THIRD = {
    "he": frozenset(["he", "him", "his", "himself"]),
    "she": frozenset(["she", "her", "hers", "herself"]),
}


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def _content(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) > 2 and w not in STOP_WORDS}


def _count(text: str, words: frozenset[str]) -> int:
    return sum(w.lower() in words for w in _WORD.findall(text))


def _says_twice(sentences: Sequence[str]) -> bool:
    seen: list[set[str]] = []
    for s in sentences:
        words = _content(s)
        if len(words) >= TWICE_MIN_WORDS and any(len(words & w) >= TWICE_SHARE * min(len(words), len(w)) for w in seen):
            return True
        seen.append(words)
    return False


def voice_problems(
    answer: str,
    plan_sentences: Sequence[str],
    context: Sequence[str],
    persona: Any,
    *,
    partial: bool = False,
    spoken: bool = False,
) -> list[str]:
    """What in ``answer`` is not the persona speaking, judged against the rewrite of ``plan_sentences`` (each with
    what its passage says before it, ``context``). With ``partial`` (a draft cut at a sentence end), all but an
    answer cut short. With ``spoken``, the plan's sentences are the persona's own words already (its answer in a
    dialogue) and are held against as they are."""
    problems: list[str] = []
    if _GARBLED.search(answer):
        problems.append(GARBLED)
    if not partial and _CUT_AFTER_INITIAL.search(answer.rstrip()):
        problems.append(CUT_SHORT)
    said = _sentences(answer)
    if _says_twice(said):
        problems.append(TWICE)
    if not plan_sentences:
        return problems
    before = list(context) if len(context) == len(plan_sentences) else [""] * len(plan_sentences)
    own = (
        list(plan_sentences)
        if spoken
        else [s if c == OWN_WORDS else in_own_words(s, persona, c) for s, c in zip(plan_sentences, before, strict=True)]
    )
    plan_words = [_content(s) for s in plan_sentences]
    gender = persona_gender(persona.profile)
    third = _THIRD.get(gender or "", frozenset())
    names = frozenset(n.lower() for n in persona_names(persona) for n in n.split() if n[:1].isupper() and len(n) > 2)
    for sentence in said:
        words = _content(sentence)
        if not words:
            continue
        share, at = max((len(words & w) / len(words), i) for i, w in enumerate(plan_words))
        if share < RETELLS_SHARE:
            continue  # not a retelling of a plan sentence: the claim check judges it
        mine = own[at]
        if _count(mine, _FIRST) > _count(sentence, _FIRST) and (
            _count(sentence, third) + _count(sentence, names) > _count(mine, third) + _count(mine, names)
        ):
            problems.append(THIRD_PERSON)  # an "I" of the rewrite is a "he" or a name in the answer
        if _count(mine, _WE) > _count(sentence, _WE) and (
            _count(sentence, _GROUP) > _count(mine, _GROUP) or _COUNTED_GROUP.search(sentence)
        ):
            problems.append(LEFT_OUT)
    return list(dict.fromkeys(problems))
