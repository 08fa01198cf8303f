"""A memory said as the persona: the rule-based first-person rewrite the fallback and the training data use.

"Hagrid told Harry that he is a wizard" -> "Hagrid told me that I am a wizard". Only words are swapped or
reordered: what comes out never says more than the memory did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from persona_rag.vocabulary import STOP_WORDS


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_VERB_FIX = {
    "is": "am",
    "was": "was",
    "has": "have",
    "does": "do",
    "doesn't": "don't",
    "isn't": "am not",
    "hasn't": "haven't",
    "wasn't": "wasn't",
    "goes": "go",
}
_NOT_VERBS = _words(
    "always sometimes perhaps as his hers its this thus us yes less unless across plus towards afterwards "
    "downstairs upstairs outdoors indoors nevertheless whereas regardless"
)
_ADVERBS = _words(
    "now still often never always also once sometimes already even only just really quietly secretly finally "
    "soon later usually rarely first then hardly barely clearly truly simply"
)
# Words after which a name starts a new clause: the name is a subject ("I"), not an object ("me").
_IRREGULAR_PAST = _words(
    "went saw took thought made gave got came became knew found felt told taught left kept heard met fought won lost "
    "said ran began bought brought caught held led stood sat wrote spoke broke chose drew flew grew hid fell sent "
    "spent swore might may must should shall"
)
_CLAUSE_WORDS = _words(
    "and but when that while because so if as until after before where though although since whom who or "
    "yet once whenever unless"
)
_PRONOUNS = {
    "he": {"he": "I", "him": "me", "his": "my", "himself": "myself"},
    "she": {"she": "I", "her": "me", "hers": "mine", "herself": "myself"},
}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|[^A-Za-z\s]+|\s+")


def persona_gender(profile: dict[str, Any]) -> str | None:
    """'he' or 'she' from the pronouns of the profile's summary; None when it does not tell."""
    words = re.findall(r"[a-z]+", str(profile.get("summary") or "").lower())
    he = sum(w in ("he", "him", "his", "himself") for w in words)
    she = sum(w in ("she", "her", "hers", "herself") for w in words)
    if he == she:
        return None
    return "he" if he > she else "she"


def _conjugate(word: str) -> str:
    """A third-person present verb in the first person: "knows" -> "know", "is" -> "am"."""
    low = word.lower()
    if low in _VERB_FIX:
        return _VERB_FIX[low]
    if not low.isalpha() or low in _NOT_VERBS or len(low) < 3 or not low.endswith("s") or low.endswith(("ss", "us")):
        return word
    if low.endswith("ies") and len(low) > 4:
        return word[:-3] + "y"
    if low.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return word[:-2]
    return word[:-1]


def _looks_like_verb(word: str) -> bool:
    low = word.lower()
    return (
        low in _VERB_FIX
        or low in _IRREGULAR_PAST
        or low in ("are", "were", "have", "had", "did", "can", "could", "will", "would")
        or (
            low.isalpha()
            and low not in _NOT_VERBS
            and ((low.endswith("s") and not low.endswith("ss")) or low.endswith("ed"))
        )
    )


def first_person(
    fact: str, names: Sequence[str] | str, gender: str | None = None, not_names: frozenset[str] = frozenset()
) -> str:
    """Rewrite a third-person memory about the persona in the persona's own words.

    "For almost ten years Harry lived with the Dursleys" -> "For almost ten years I lived with the Dursleys";
    "Harry's wand is holly" -> "My wand is holly"; "Hagrid told Harry that he is a wizard" -> "Hagrid told me
    that I am a wizard". ``names`` are the persona's names (full name first); ``gender`` ('he'/'she') lets
    pronouns that follow a mention of the persona be rewritten too. Only words are swapped: the fallback built
    from this must never add anything the memory lacks. A memory already in the first person is kept as it is.
    """
    if isinstance(names, str):
        names = [names]
    alts = sorted({n for n in names if n and n[:1].isupper()}, key=len, reverse=True)
    if not alts:
        return fact.strip()
    name_re = re.compile(r"(?:" + "|".join(re.escape(n) for n in alts) + r")(?:'s|’s)?(?![A-Za-z])")
    if not name_re.search(fact):
        return fact.strip()
    pron = _PRONOUNS.get(gender or "", {})
    out: list[str] = []
    tokens = _TOKEN.findall(fact.strip())
    i = 0
    words_before: list[str] = []  # words of the current sentence so far (original)
    last_named: str | None = None  # who the most recent name or pronoun of this sentence stands for
    about_persona = False  # the previous sentence was about the persona
    pending_verb = False  # the next word after "I" (skipping adverbs) is conjugated
    after_my_verb = False  # the last word was the verb of "I": "I distrust him" (him is someone else)
    in_thing_name = False  # inside a capitalised name after "the" ("the Hogwarts Express"): a place or thing
    not_names = frozenset(w.lower() for w in not_names)

    def emit(text: str) -> None:
        out.append(text)

    while i < len(tokens):
        tok = tokens[i]
        if tok.isspace():
            emit(tok)
            i += 1
            continue
        if not tok[0].isalpha():
            emit(tok)
            if any(c in tok for c in ".!?"):
                about_persona = last_named == "persona"
                words_before, last_named = [], None
            i += 1
            continue
        # A name of the persona, possibly over several tokens ("Harry Potter") and possessive.
        rest = "".join(tokens[i : i + 7])
        m = name_re.match(rest)
        prev_capital = (
            bool(words_before)
            and words_before[-1][:1].isupper()
            and words_before[-1] not in ("I", "My")
            and words_before[-1].lower() not in not_names
            and not (len(words_before) == 1 and words_before[0].lower() in STOP_WORDS)
        )
        if m and (m.end() == len(rest) or not rest[m.end()].isalpha()) and not prev_capital:
            matched = m.group(0)
            n_tokens, acc = 0, ""
            while len(acc) < len(matched):
                acc += tokens[i + n_tokens]
                n_tokens += 1
            start = not words_before
            after = [t for t in tokens[i + n_tokens : i + n_tokens + 6] if not t.isspace()]
            nxt = after[0] if after else ""
            if nxt.lower() in _ADVERBS and len(after) > 1:
                nxt = after[1]
            if matched.endswith(("'s", "’s")):
                word = "My" if start else "my"
            elif (
                start
                or _looks_like_verb(nxt)
                or (words_before[-1].lower() in _CLAUSE_WORDS - {"and", "or"} and nxt[:1].islower())
            ):
                word = "I"
                pending_verb = True
            else:
                word = "me"
            emit(word)
            words_before.append(word)
            last_named = "persona"
            i += n_tokens
            continue
        low = tok.lower()
        if pending_verb:
            if low in _ADVERBS or (low.endswith("ly") and len(low) > 4):
                emit(tok)
                words_before.append(tok)
                i += 1
                continue
            pending_verb = False
            tok = _conjugate(tok)
            emit(tok)
            words_before.append(tok)
            after_my_verb = True
            i += 1
            continue
        if after_my_verb and low in ("him", "her") and low in pron:
            # The object of the persona's own verb is someone else (the persona would be "myself").
            after_my_verb = False
            emit(tok)
            words_before.append(tok)
            last_named = "other"
            i += 1
            continue
        after_my_verb = False
        if low in pron and (
            last_named == "persona"
            or (last_named is None and (about_persona or name_re.search("".join(tokens[i:]).split(".")[0])))
        ):
            nxt = next((t for t in tokens[i + 1 :] if not t.isspace()), "")
            word = pron[low]
            if low == "her":  # "her wand" (my) or "told her" (me)
                word = (
                    "my"
                    if nxt[:1].isalpha()
                    and nxt.lower()
                    not in _CLAUSE_WORDS | {"to", "in", "at", "on", "for", "with", "from", "by", "of", "a", "the"}
                    else "me"
                )
            if word == "I":
                pending_verb = True
            if not words_before and word != "I":
                word = word.capitalize()
            emit(word)
            words_before.append(word)
            last_named = "persona"
            i += 1
            continue
        if (
            low == "and"
            and last_named == "persona"
            and "I" in words_before
            and (nxt := next((t for t in tokens[i + 1 :] if not t.isspace()), ""))
            and _looks_like_verb(nxt)
            and not nxt.endswith("ed")
        ):
            pending_verb = True  # "I have read it and is surprised" -> "... and am surprised"
        follower = next((t for t in tokens[i + 1 :] if not t.isspace()), "")
        looks_named = bool(words_before) or follower[:1].isupper() or follower in (",", "'s") or follower == "and"
        if tok[0].isupper() and words_before and words_before[-1] == "the":
            in_thing_name = True
        elif not tok[0].isupper():
            in_thing_name = False
        if tok[0].isupper() and looks_named and low not in not_names and not in_thing_name:
            last_named = "other"
        emit(tok)
        words_before.append(tok)
        i += 1
    text = "".join(out)
    # "I and Ron Weasley are friends" -> "Ron Weasley and I are friends"
    text = re.sub(r"\bI and ((?:[A-Z][\w'.-]*\s?)+?)(?=\s+(?:am|are|were|have|had|[a-z]+ed)\b)", r"\1 and I", text)
    text = re.sub(r"\b(I|me|my)\s+\1\b", r"\1", text)  # never a doubled pronoun
    return text[:1].upper() + text[1:]


def persona_names(persona: Any) -> list[str]:
    """How the persona's memories name it: full name, short name, capitalised aliases ("Dr Watson")."""
    names = [persona.name, persona.short_name, persona.name.split()[0], persona.name.split()[-1]]
    for alias in persona.character.aliases:
        if not alias.lower().startswith("the "):
            names.append(" ".join(w[:1].upper() + w[1:] for w in alias.split()))
    return names


def in_own_words(fact: str, persona: Any) -> str:
    """:func:`first_person` with the persona's names, pronouns and its universe's non-name capitals."""
    vocab = persona.universe.vocabulary
    return first_person(fact, persona_names(persona), persona_gender(persona.profile), vocab.common_capitals)
