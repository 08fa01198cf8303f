"""The decoding constraint of an answer plan: the words an answer may use.

An answer's content words (names, nouns, verbs, numbers) must come from the plan's memory, the question, or the
persona's own voice (its profile's phrases, its refusal and recall lines); :data:`FUNCTION_WORDS` (articles,
pronouns, auxiliaries, prepositions, conjunctions, common adverbs, interjections) are always allowed. Inflections
of an allowed word are allowed ("know" allows "knows", "knew" does not).

Two halves, because neither is enough alone:

- a token mask: a backend that can (CTranslate2, transformers) never starts a word that no allowed word starts
  with (:meth:`Constraint.start_allowed` over the vocabulary's word-initial tokens);
- a check of finished words (:meth:`Constraint.violations`): a mask cannot stop a new word built from allowed
  pieces ("planet" from "plan" + "et"), so the graph stops a draft at the first finished word that is not
  allowed and decodes again with that word banned (:attr:`Constraint.banned`, as token sequences), then cuts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

_FUNCTION_TEXT = """
    a an the this that these those there here it its it's itself i i'm i've i'd i'll me my mine myself we we're
    we've we'd we'll us our ours ourselves you you're you've you'd you'll your yours yourself he he's he'd he'll
    him his himself she she's she'd she'll her hers herself they they're they've they'd they'll them their theirs
    themselves who whom whose which what what's when where why how that's there's here's who's
    am is are was were be been being have has had having do does did doing done don't doesn't didn't isn't aren't
    wasn't weren't haven't hasn't hadn't won't wouldn't can't cannot couldn't shouldn't mustn't shan't
    will would shall should can could may might must ought let let's get got gets getting go goes went gone
    going come came comes make made say said says tell told know knew known think thought see saw seen
    and or but nor so yet if then than because as while though although since until unless whether
    of in on at to for from by with about into onto over under after before between through during without
    within against among around up down out off away back again also too very just only even still ever never
    not no yes yeah oh ah well right really quite rather much many more most some any all both each every
    either neither other another such own same few lot lots little bit one ones first last next once twice
    now then soon later already always often sometimes perhaps maybe probably certainly sure honestly
    something anything nothing everything someone anyone nobody everyone somebody anybody somewhere
    thing things way time times day days year years people person
    like just mean meant feel felt want wanted
    look listen honestly blimey well hmm er um mind yes no
    """
FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")


def _acronym(word: str) -> bool:
    """A word in capitals, two letters or more ("IT", "HTML"); "I" and "A" are not."""
    return len(word) >= 2 and word.isalpha() and word.isupper()


def _norm(word: str) -> str:
    w = word.lower().replace("’", "'")
    return w[:-2] if w.endswith("'s") else w


def _stem(word: str) -> str:
    for suffix in ("ing", "ied", "ies", "ed", "es", "s", "d"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


_FUNCTION_STEMS = frozenset(_stem(w) for w in FUNCTION_WORDS)


def words_of(text: str) -> list[str]:
    return [_norm(w) for w in _WORD.findall(text)]


@dataclass(frozen=True)
class Constraint:
    """The allowed words of one answer, and the words a regeneration must not produce."""

    allowed: frozenset[str]
    banned: tuple[str, ...] = ()
    _stems: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    # words written in capitals in the allowed texts ("DA", "OWL"): an acronym is a word of its own, so "IT" is
    # not "it" ("I'm not an IT person" in a wizard's mouth)
    acronyms: frozenset[str] = frozenset()

    @classmethod
    def build(cls, texts: Iterable[str]) -> Constraint:
        texts = list(texts)
        allowed = frozenset(w for t in texts for w in words_of(t))
        acronyms = frozenset(w for t in texts for w in _WORD.findall(t) if _acronym(w))
        return cls(allowed, (), frozenset(_stem(w) for w in allowed), acronyms)

    @property
    def key(self) -> str:
        """Equal for equal constraints (the server batches only requests with the same key)."""
        text = " ".join(sorted(self.allowed)) + "|" + " ".join(self.banned)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def ban(self, word: str) -> Constraint:
        return replace(self, banned=(*self.banned, word))

    def allows(self, word: str) -> bool:
        if _acronym(word) and word not in self.acronyms:
            return False
        w = _norm(word)
        if not w or w in FUNCTION_WORDS or w in self.allowed:
            return True
        stems = self._stems or frozenset(_stem(a) for a in self.allowed)
        return _stem(w) in stems or _stem(w) in _FUNCTION_STEMS

    def violations(self, text: str, *, finished: bool = True) -> list[str]:
        """The words of ``text`` that are not allowed. With ``finished=False`` the last word is still being
        written (no space or punctuation after it yet) and is not judged."""
        found = list(_WORD.finditer(text))
        if not finished and found and found[-1].end() == len(text):
            found = found[:-1]
        return [m.group(0) for m in found if not self.allows(m.group(0))]

    @cached_property
    def _prefixes(self) -> frozenset[str]:
        out: set[str] = set()
        for w in self.allowed | FUNCTION_WORDS:
            for form in (w, w + "s", w + "es", w + "ed", w + "d", w + "ing", w + "'s"):
                out.update(form[:i] for i in range(1, len(form) + 1))
        return frozenset(out)

    def start_allowed(self, piece: str) -> bool:
        """Whether a word may start with ``piece`` (the text of a word-initial token, without its space)."""
        p = piece.lower().replace("’", "'")
        if not p or not (p[0].isalnum()):
            return True  # punctuation and symbols: not words
        return p in self._prefixes


# Markers of a word-initial token: byte-level BPE (GPT-2, SmolLM2, Llama 3) and SentencePiece.
_SPACE_MARKS = ("Ġ", "▁")


def word_starts(vocab: dict[str, int]) -> list[tuple[int, str]]:
    """(id, text without the space marker) of every token that starts a new word."""
    out = []
    for token, idx in vocab.items():
        if token[:1] in _SPACE_MARKS and len(token) > 1:
            out.append((idx, token[1:]))
    return sorted(out)


def masked_ids(constraint: Constraint, starts: list[tuple[int, str]]) -> list[int]:
    """Ids of the word-initial tokens no allowed word starts with."""
    return [idx for idx, piece in starts if not constraint.start_allowed(piece)]


def banned_forms(word: str) -> list[str]:
    """How a banned word may appear: after a space or opening the answer, as written, lower-case and capitalised."""
    w = word.strip()
    if _acronym(w):
        return sorted({w, " " + w})  # "IT" banned, "it" never
    forms = {w, w.lower(), w[:1].upper() + w[1:].lower()}
    return sorted(forms | {" " + f for f in forms})
