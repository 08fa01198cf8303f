"""A memory said as the persona: the rule-based first-person rewrite the fallback and the training data use.

"Hagrid told Harry that he is a wizard" -> "Hagrid told me that I am a wizard". Only words are swapped or
reordered: what comes out never says more than the memory did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from persona_rag.graphs.claims import PERSONA, Cast, genders_of, persona_gender, persona_names, read_mentions

from persona_rag.vocabulary import GENERIC_WORDS

__all__ = [
    "first_person",
    "in_own_words",
    "known_names",
    "narrated_by",
    "narrator_of",
    "persona_gender",
    "persona_names",
]


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
    "spent swore might may must should shall drove rode threw wore bit hid shook woke rose struck stole swam dug "
    "slept crept wept forgave forgot understood"
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


_VERB_PREFIXES = ("over", "under", "with", "mis", "fore", "out", "up")


def _looks_like_verb(word: str) -> bool:
    low = word.lower()
    return (
        low in _VERB_FIX
        or low in _IRREGULAR_PAST
        or any(low.startswith(p) and low[len(p) :] in _IRREGULAR_PAST for p in _VERB_PREFIXES)  # "overheard"
        or low in ("are", "were", "have", "had", "did", "can", "could", "will", "would", "cannot", "should", "must")
        or (
            low.isalpha()
            and low not in _NOT_VERBS
            and ((low.endswith("s") and not low.endswith("ss")) or low.endswith("ed"))
        )
    )


_TOKEN_WS = re.compile(r"[A-Za-z][A-Za-z'’\-]*|[\"“”]|[^\sA-Za-z\"“”]+|\s+")
_ABBREV = r"\b(?:[A-Z]|Mr|Mrs|Ms|Dr|St|Jr|Sr|Capt|Col|Prof)\."  # a full stop that ends no sentence
_SENTENCE = re.compile(rf"(?:{_ABBREV}|[^.!?])*[.!?]+[\"'”)\]]*\s*|(?:{_ABBREV}|[^.!?])+$")
_SAID = _words("said says asked replied cried answered whispered shouted added called exclaimed")
_AFTER_OBJECT = (
    "to|in|at|into|from|with|as|off|away|back|up|down|out|on|for|by|over|through|home|inside|outside|across|"
    "round|around|along|past|toward|towards|behind|before|after|while|when|because|until|since|together|that"
)
_THIRD = {"he", "she", "him", "her", "his", "hers", "himself", "herself"}


def first_person(
    fact: str,
    names: Sequence[str] | str,
    gender: str | None = None,
    not_names: frozenset[str] = frozenset(),
    known: frozenset[str] = frozenset(),
    places: frozenset[str] | None = None,
    narrator: str | None = None,
    context: str = "",
    genders: dict[str, str] | None = None,
) -> str:
    """Rewrite a third-person memory about the persona in the persona's own words.

    "For almost ten years Harry lived with the Dursleys" -> "For almost ten years I lived with the Dursleys";
    "Harry's wand is holly" -> "My wand is holly"; "Hagrid told Harry that he is a wizard" -> "Hagrid told me
    that I am a wizard". ``names`` are the persona's names (full name first); ``gender`` ('he'/'she') lets
    pronouns that stand for the persona be rewritten too; ``known`` are the lower-case words of the
    universe's names (so that "Hagrid" opening a sentence is a person "he" may stand for); ``not_names`` are
    capitalised words that are not names. Who a pronoun stands for comes from the same reading the claim check
    uses (:func:`persona_rag.graphs.claims.read_mentions`): "Dumbledore told him" is "told me" only when
    "him" is the persona, and "his hut" after another person stays his. Quoted speech is kept word for word;
    a speech tag of the persona turns round ('"...," said Elizabeth' -> '"...," I said'). Only words are
    swapped or reordered: the fallback built from this never adds anything the memory lacks. A memory
    already in the first person is kept as it is. Works on one sentence as on a passage: a sentence that
    opens with "He" and names no one else is the persona's. ``narrator``: the name of the character who says
    "I" in the narration of a book told in the first person by someone other than the persona
    (:func:`narrated_by` turns that "I" into the name first). ``context``: what the memory says just before
    ``fact`` (a sentence cut from its passage): read for whom the pronouns stand for, not said. ``genders``:
    a given name (lower case) -> 'he'/'she', where the universe tells (so "He" after "Hermione ..." is not her).
    """
    if isinstance(names, str):
        names = [names]
    alts = [n for n in names if n and n[:1].isupper()]
    fact = fact.strip()
    if not alts:
        return fact
    if narrator:
        fact = narrated_by(fact, narrator)
        context = narrated_by(context, narrator) if context.strip() else ""
    skip = len(_SENTENCE.findall(context.strip())) if context.strip() else 0
    if skip:
        fact = f"{context.strip()} {fact}"
    titles = frozenset({"mr", "mrs", "ms", "miss", "dr", "professor", "sir", "madam", "lady", "captain"})
    persona = tuple(
        frozenset(w.lower().rstrip(".") for w in n.split() if w.lower().rstrip(".") not in titles)
        for n in alts
        if n.strip()
    )
    persona = tuple(p for p in persona if p)
    cast = Cast(
        persona=persona,
        gender=gender,
        known=frozenset(known) | frozenset(w for p in persona for w in p),
        titles=titles,
        common=frozenset(w.lower() for w in not_names) - frozenset(w for p in persona for w in p),
        places=frozenset(places) if places is not None else GENERIC_WORDS,
        raw_persona=tuple(frozenset(w.lower().rstrip(".") for w in n.split()) for n in alts),
        given=alts[1].lower() if len(alts) > 1 and len(alts[1].split()) == 1 else "",
        genders=dict(genders or {}),
    )
    out: list[str] = []
    surface: dict[frozenset[str], str] = {}  # who the context names, as it names them
    with_others = False  # the sentence before had the persona act with others ("Harry and Hermione carried ...")
    for n_sentence, (tokens, mentions) in enumerate(read_mentions(fact, cast, _TOKEN_WS, _SENTENCE)):
        words = [k for k, t in enumerate(tokens) if not t.isspace()]
        group_before, with_others = with_others, _acts_with_others(tokens, words, mentions)
        if n_sentence < skip:  # the context: read, not said
            for m in mentions:
                if m.entity not in (None, PERSONA) and m.form in ("name", "owner") and not m.thing:
                    name = " ".join(tokens[words[k]] for k in range(m.start, m.end))
                    surface[m.entity] = re.sub(r"['’]s$", "", name)  # type: ignore[index]
            continue
        new = list(tokens)
        if group_before and words and tokens[words[0]] == "They":
            new[words[0]] = "We"  # "... Harry and I carried the dragon. They forgot the cloak" -> "We forgot"
        for m in mentions:
            if m.entity is None or m.entity == PERSONA or m.quoted:
                continue
            if m.form in ("name", "owner") and not m.gender:
                surface.pop(m.entity, None)  # named here: its pronouns read as they are
            elif m.gender and m.entity in surface and m.form in ("subject", "object", "owner") and not m.reflexive:
                # "He also introduced Lupin", cut from "Dumbledore welcomed them. He also ...": say who
                name = surface.pop(m.entity)
                new[words[m.start]] = name + "'s" if m.form == "owner" else name
        at = {m.start: m for m in mentions if m.entity == PERSONA and not m.quoted}
        if not at:
            out.append("".join(new))
            continue
        made: set[int] = set()  # the tokens that became "I": the verb after each is conjugated
        for w_i in range(len(words)):
            m = at.get(w_i)
            if m is None:
                continue
            span = words[m.start : m.end]
            low = tokens[span[0]].lower()
            nxt = [tokens[j] for j in words[m.end : m.end + 6]]
            prev = tokens[words[m.start - 1]].lower() if m.start > 0 else ""
            if m.form == "owner":
                word = "my"
            elif m.reflexive:
                word = "myself"
            elif m.form == "object":
                word = "me"
            elif m.form == "subject":
                word = "I"
            elif prev in _SAID:
                word = "I"  # '"...," said Elizabeth'
            else:
                # a verb right before the name, with its own doer before it: the name is its object
                doer = {x.end for x in mentions if x.form in ("subject", "name")}
                after_verb = (
                    m.start >= 2
                    and _looks_like_verb(prev)
                    and prev not in _CLAUSE_WORDS | {"and", "or", "then"}
                    and (m.start - 1 in doer or m.start - 2 in doer)
                )
                word = "I" if _subject_name(nxt, prev, m.start == 0, after_verb) else "me"
            if low in _THIRD and m.form == "owner" and low == "hers":
                word = "mine"
            if word == "I" and prev in _SAID and m.start > 0:
                # '"...," said Elizabeth' -> '"...," I said'
                new[words[m.start - 1]] = "I"
                word = prev
                for j in range(span[0], span[-1] + 1):
                    new[j] = ""
                new[span[0]] = word
                continue
            if m.start == 0 or (low in _THIRD and tokens[span[0]][:1].isupper()):
                word = word[:1].upper() + word[1:]  # "Her sister laughed" -> "My sister laughed"
            for j in range(span[0], span[-1] + 1):
                new[j] = ""
            new[span[0]] = word
            if word == "I" and nxt and nxt[0] not in (",", "and", "or"):
                made.add(m.end - 1)
        # the verb after "I" (past adverbs) in the first person: "I often visits" -> "I often visit"
        _conjugate_after(new, tokens, words, made)
        _conjugate_and(new, tokens, words, made, {m.start: m.end for m in mentions if m.gender or m.form == "name"})
        text = "".join(new)
        text = re.sub(r"[ \t]{2,}", " ", text)
        out.append(text)
    text = "".join(out)
    # "I and Ron Weasley are friends" -> "Ron Weasley and I are friends" (a verb follows the list); "told me and
    # Hermione to wait" -> "told Hermione and me to wait" (the list ends the clause or a preposition follows): a
    # list that runs on into another clause ("chose me and Mr Ollivander remarked") stays as it is.
    names = r"((?:,\s[A-Z][\w'.-]*(?:\s[A-Z][\w'.-]*)*)*),?\s(and|or)\s((?:[A-Z][\w'.-]*\s?)+?)"
    text = re.sub(rf"\bI{names}(?=\s+[a-z])", lambda mm: _reorder(mm, "I"), text)
    text = re.sub(
        rf"(?<![.!?]\s)\bme{names}(?=[,.;:!?]|\s+(?:{_AFTER_OBJECT})\b|$)", lambda mm: _reorder(mm, "me"), text
    )
    text = re.sub(r"\b(I|me|my)\s+\1\b", r"\1", text)  # never a doubled pronoun
    return text[:1].upper() + text[1:]


def _acts_with_others(tokens: list[str], words: list[int], mentions: Sequence[Any]) -> bool:
    """A name of the persona listed with another person's ("Harry and Hermione carried", "Filch caught Ron and
    Harry"): a "They" opening the next sentence is the group, "we"."""
    people = {m.start: m for m in mentions if m.entity is not None and not m.thing and m.form in ("name", "subject")}
    for m in mentions:
        if m.entity != PERSONA or m.form not in ("name", "subject") or m.quoted:
            continue
        left = m.start - 1
        right = m.end
        if (
            left >= 1
            and tokens[words[left]] in ("and", ",")
            and any(x.end == left and x.entity != PERSONA for x in people.values())
        ):
            return True
        if right < len(words) and tokens[words[right]] in ("and", ",") and (right + 1) in people:
            return True
    return False


def _reorder(m: re.Match[str], pronoun: str) -> str:
    """ "I, Ron and Hermione" -> "Ron, Hermione and I": the persona goes last in a list of people."""
    others = [x.strip() for x in (m.group(1) or "").split(",") if x.strip()] + [m.group(3).strip()]
    if len(others) == 1:
        return f"{others[0]} {m.group(2)} {pronoun}"
    return f"{', '.join(others)} {m.group(2)} {pronoun}"


_CAUSATIVE = _words("get got let make made have had help helped watch watched see saw hear heard keep kept")
_PREPOSITIONS = _words(
    "with to from for at by of on in about against behind beside like than into towards toward over under "
    "without past near among between onto upon"
)


def _subject_name(nxt: list[str], prev: str, start: bool, after_verb: bool = False) -> bool:
    """Is a name of the persona the doer ("Harry found it", "when Harry, Ron and Hermione found it") or the
    object ("Snape disarmed Harry")? Decided by what follows the name, past a list of other names."""
    k = 0
    while k + 1 < len(nxt) and nxt[k] in (",", "and", "or") and nxt[k + 1][:1].isupper():
        k += 2
        while k < len(nxt) and nxt[k][:1].isupper() and nxt[k][0].isalpha():
            k += 1
    after = nxt[k] if k < len(nxt) else ""
    if after == "," and "," in nxt[k + 1 :]:  # "and Harry, without knowing it, spoke": past the aside
        k = nxt.index(",", k + 1) + 1
        after = nxt[k] if k < len(nxt) else ""
    while after.lower() in _ADVERBS | {"all", "both", "together"} and k + 1 < len(nxt):
        k += 1
        after = nxt[k]
    if start or prev in (";", ":"):
        return True
    if prev in _CAUSATIVE:
        return False  # "to get Harry sent home", "let Harry go"
    if prev in _PREPOSITIONS or after_verb:
        return False  # after a preposition or a verb that has its doer: "with Harry", "he sends Harry letters"
    if _looks_like_verb(after):
        return True
    return prev in _CLAUSE_WORDS | {"then"} and after[:1].islower() and after.lower() not in _CLAUSE_WORDS


def _conjugate_and(new: list[str], tokens: list[str], words: list[int], made: set[int], named: dict[int, int]) -> None:
    """ "I cannot explain it and gets punished" -> "... and get punished": a second verb of the same "I" (past
    the people it acts on: "I hate Black and want revenge")."""
    if not made:
        return
    for w_i in range(min(made) + 1, len(words) - 1):
        if w_i in named and w_i not in made:
            before = tokens[words[w_i - 1]].lower() if w_i > 0 else ""
            if not (_looks_like_verb(before) or before in _PREPOSITIONS) or before in _CLAUSE_WORDS:
                return  # not what "I" acts on: someone else is the doer from here on ("I know that Black, ...")
        if tokens[words[w_i]].lower() == "and":
            verb = tokens[words[w_i + 1]]
            third = verb.lower() in _VERB_FIX or (verb.islower() and verb.endswith("s") and _looks_like_verb(verb))
            if third and w_i + 1 not in named and new[words[w_i + 1]] == verb:
                new[words[w_i + 1]] = _conjugate(verb)


def _conjugate_after(new: list[str], tokens: list[str], words: list[int], made: set[int]) -> None:
    for w_i in sorted(made):
        j = w_i + 1
        while j < len(words) and (tokens[words[j]].lower() in _ADVERBS or tokens[words[j]].lower().endswith("ly")):
            j += 1
        if j < len(words) and tokens[words[j]][:1].isalpha() and new[words[j]] == tokens[words[j]]:
            new[words[j]] = _conjugate(tokens[words[j]])


_KNOWN: dict[int, tuple[Any, frozenset[str]]] = {}


def known_names(universe: Any) -> frozenset[str]:
    """Lower-case words of every name the universe's characters and events use (computed once per universe)."""
    got = _KNOWN.get(id(universe))
    if got is not None and got[0] is universe:
        return got[1]
    words: set[str] = set()
    for c in universe.characters.values():
        words |= {w.lower() for w in c.name.split()}
        words |= {w.lower() for a in c.aliases for w in a.split()}
    for ev in universe.events:
        words |= {w.lower() for e in ev.get("entities") or () for w in str(e).split()}
    for rows in universe.personal.values():
        for row in rows:
            words |= {w.lower() for e in row.get("entities") or () for w in str(e).split()}
    found = frozenset(w for w in words if w[:1].isalpha()) - universe.vocabulary.common_capitals
    _KNOWN[id(universe)] = (universe, found)
    return found


_NARRATOR_VERB = {"am": "is", "have": "has", "do": "does", "'m": " is", "'ve": " has"}


def narrated_by(text: str, narrator: str) -> str:
    """The narration's "I" said as the narrator's name, quoted speech kept as it is: "I came to Gullwick with a
    letter for Captain Marsh" -> "Nell came to Gullwick with a letter for Captain Marsh" (so that Marsh can say
    it as "Nell came to Gullwick with a letter for me")."""
    out: list[str] = []
    quoted = False
    tokens = _TOKEN_WS.findall(text)
    for i, tok in enumerate(tokens):
        if tok in ('"', "“", "”"):
            quoted = not quoted if tok == '"' else tok == "“"
        low = tok.lower().replace("’", "'")
        if quoted or low not in ("i", "me", "my", "myself", "mine", "i'm", "i've"):
            out.append(tok)
            continue
        start = not "".join(out).strip() or "".join(out).rstrip()[-1:] in ".!?"
        if low in ("i", "me", "myself"):
            word = narrator
        elif low in ("my", "mine"):
            word = narrator + "'s"
        else:
            word = narrator + _NARRATOR_VERB[low[1:]]
        out.append(word if not start else word[:1].upper() + word[1:])
        if low == "i":
            nxt = next((j for j in range(i + 1, len(tokens)) if not tokens[j].isspace()), None)
            if nxt is not None and tokens[nxt].lower() in _NARRATOR_VERB:
                tokens[nxt] = _NARRATOR_VERB[tokens[nxt].lower()]
    return "".join(out)


_NARRATORS: dict[int, tuple[Any, str | None]] = {}


def narrator_of(universe: Any) -> str | None:
    """The character who narrates a universe built from a book told in the first person: the one every event
    has among its participants (the builder puts the narrator in every scene), when only one is; else None."""
    got = _NARRATORS.get(id(universe))
    if got is not None and got[0] is universe:
        return got[1]
    common: set[str] | None = None
    for ev in universe.events:
        who = set(ev.get("participants") or ())
        common = who if common is None else common & who
    name = None
    if common and len(common) == 1 and len(universe.events) > 1:
        character = universe.characters.get(next(iter(common)))
        name = universe.vocabulary.short_name(character.name) if character else None
    _NARRATORS[id(universe)] = (universe, name)
    return name


def in_own_words(fact: str, persona: Any, context: str = "") -> str:
    """:func:`first_person` with the persona's names, pronouns, its universe's names and non-name capitals.

    Works on a whole memory or on one sentence of it (the answer plan says its sentences one by one, each with
    the ``context`` its passage has before it)."""
    vocab = persona.universe.vocabulary
    return first_person(
        fact,
        persona_names(persona),
        persona_gender(persona.profile),
        vocab.common_capitals,
        known_names(persona.universe),
        vocab.generic_words,
        narrator if (narrator := narrator_of(persona.universe)) and narrator != persona.short_name else None,
        context,
        genders_of(persona.universe),
    )
