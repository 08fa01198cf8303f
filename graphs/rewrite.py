"""A memory said as the persona: the rule-based first-person rewrite the fallback and the training data use.

"Hagrid told Harry that he is a wizard" -> "Hagrid told me that I am a wizard". Only words are swapped or
reordered: what comes out never says more than the memory did.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from persona_rag.graphs.claims import (
    PERSONA,
    Cast,
    genders_of,
    infinitive_object,
    persona_gender,
    persona_names,
    read_mentions,
)

from persona_rag.vocabulary import GENERIC_WORDS

__all__ = [
    "call_people",
    "first_person",
    "in_own_words",
    "known_names",
    "narrated_by",
    "narrator_of",
    "persona_calls",
    "persona_gender",
    "persona_names",
    "plain_names",
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
    "slept crept wept forgave forgot understood cast put set hit cut shut burst spread let"
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
        group_before = with_others
        if n_sentence < skip:  # the context: read, not said
            with_others = _we(tokens, list(tokens), words, mentions, group_before)
            # only the doer of the sentence just before can be named for an opening "He": "Harry woke, where
            # Dumbledore told him ... leaving Quirrell to die. He explained" is not sure enough to name anyone
            surface.clear()
            doer = next((m for m in mentions if m.form in ("name", "subject") and not m.thing and not m.quoted), None)
            if doer is not None and doer.entity not in (None, PERSONA) and doer.form == "name":
                name = " ".join(tokens[words[k]] for k in range(doer.start, doer.end))
                surface[doer.entity] = re.sub(r"['’]s$", "", name)  # type: ignore[index]
            continue
        new = list(tokens)
        for m in mentions:
            if m.entity is None or m.entity == PERSONA or m.quoted:
                continue
            if m.form in ("name", "owner") and not m.gender:
                surface.pop(m.entity, None)  # named here: its pronouns read as they are
            elif m.gender and m.entity in surface and m.form == "subject" and m.start == 0 and not m.reflexive:
                # "He also introduced Lupin", cut from "Dumbledore welcomed them. He also ...": say who. Only
                # a sentence's opening "He": deeper in, a misread pronoun would put a wrong name in the answer
                # ("Both stood firmly by him" is not "by Voldemort")
                name = surface.pop(m.entity)
                new[words[m.start]] = name + "'s" if m.form == "owner" else name
        # the persona among others: "the three went" -> "the three of us went", and the group's "they" is "we"
        with_others = _we(tokens, new, words, mentions, group_before)
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
            elif prev in _SAID and _after_quote(tokens, words, m.start - 1):
                word = "I"  # '"...," said Elizabeth'
            elif infinitive_object([tokens[k] for k in words], m.start):
                word = "me"  # "Lily's death to save Harry had left a protection" -> "to save me"
            else:
                # a verb right before the name, with its own doer before it: the name is its object
                doer = {x.end for x in mentions if x.form in ("subject", "name")}
                after_verb = (
                    m.start >= 2
                    and _looks_like_verb(prev)
                    and prev not in _CLAUSE_WORDS | {"and", "or", "then"}
                    and (m.start - 1 in doer or m.start - 2 in doer)
                )
                if after_verb and nxt and nxt[0].lower() in _CLAUSE_AUX and prev not in _CAUSATIVE:
                    after_verb = False  # "Ron believed Harry had entered": the name opens a clause of its own
                listed = prev in ("and", "or") and m.start >= 2 and tokens[words[m.start - 2]][:1].isupper()
                word = "I" if _subject_name(nxt, prev, m.start == 0, after_verb, listed) else "me"
            if low in _THIRD and m.form == "owner" and low == "hers":
                word = "mine"
            if word == "I" and prev in _SAID and m.start > 0 and _after_quote(tokens, words, m.start - 1):
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
    # a name's words; a full stop only as an initial's ("John H. Watson"), never the one that ends the sentence
    word = r"[A-Z](?:[\w'-]+|\.)"
    names = rf"((?:,\s{word}(?:\s{word})*)*),?\s(and|or)\s((?:{word}\s?)+?)"
    text = re.sub(rf"\bI{names}(?=\s+[a-z])", lambda mm: _reorder(mm, "I"), text)
    text = re.sub(
        rf"(?<![.!?]\s)\bme{names}(?=[,.;:!?]|\s+(?:{_AFTER_OBJECT})\b|$)", lambda mm: _reorder(mm, "me"), text
    )
    text = re.sub(r"\b(I|me|my)\s+\1\b", r"\1", text)  # never a doubled pronoun
    text = re.sub(
        r"\b[Tt]he (?:[a-z]+(?:en|ed)|young|little|poor) (me|I)\b", r"\1", text
    )  # "led the shaken Harry away" -> "led me away"
    text = re.sub(r"\bme myself\b", "me", text)  # "gossip about Hermione herself" -> "about me", not "me myself"
    return text[:1].upper() + text[1:]


_CLAUSE_AUX = _words("had has was is were would could did does should might will can")
_GROUP_PRONOUNS = {"they": "we", "them": "us", "their": "our", "theirs": "ours", "themselves": "ourselves"}
# "the three went", "The trio took it", "the two stopped speaking": a group the persona is one of
_GROUP_NOUNS = {"two": "two", "three": "three", "four": "four", "trio": "three", "pair": "two"}
_GROUP_NEXT = _words("and of had were was could would did then both all together never also")


def _after_quote(tokens: list[str], words: list[int], verb: int) -> bool:
    """A speech verb that tags a quotation ('"...," said Elizabeth'), not one with an object ("asked Harry to")."""
    quotes = ('"', "”", "'", "’")
    before = tokens[words[verb - 1]] if verb >= 1 else ""
    if before == "," and verb >= 2:  # '"Wait", said Harry'; not "Krum, the Durmstrang champion, asked Hermione"
        before = tokens[words[verb - 2]]
    return any(q in before for q in quotes) or before in ("—", "-")


def _we(tokens: list[str], new: list[str], words: list[int], mentions: Sequence[Any], group_before: bool) -> bool:
    """The persona as one of a group, said as "we": "Harry hid with Ron and Hermione, where they overheard
    Fudge" -> "... where we overheard"; "the three went" -> "the three of us went"; a "They" opening the
    sentence after one where the persona acted with others ("Harry and Hermione carried the dragon. They forgot
    the cloak") -> "We forgot". A plural said in between ("Dumbledore drove them back ... before they escaped",
    "the dementors ... they") stops it: the pronoun may be theirs. Rewrites ``new`` in place; returns whether
    the group is still what "they" means at the end of the sentence."""
    persona_at = [m for m in mentions if m.entity == PERSONA and not m.quoted]
    people = {m.start for m in mentions if m.entity not in (None, PERSONA) and not m.thing and m.form == "name"}
    group = group_before
    anchored = converted = False
    anchor_end = -10  # where the last mention that made the group ends
    quoted = False
    for w_i, k in enumerate(words):
        tok = tokens[k]
        if tok in ('"', "“", "”"):
            quoted = not quoted if tok == '"' else tok == "“"
            continue
        if quoted:
            continue
        low = tok.lower()
        prev = tokens[words[w_i - 1]].lower() if w_i else ""
        nxt = tokens[words[w_i + 1]] if w_i + 1 < len(words) else ""
        if (
            low in _GROUP_NOUNS
            and prev == "the"
            and (nxt.lower() in _GROUP_NEXT or nxt.lower() in _ADVERBS or nxt == "," or _past_verb(nxt))
            and not _pair_before(tokens, words, people, w_i)
            and not _others_make_it(mentions, w_i, _GROUP_SIZE[_GROUP_NOUNS[low]])
        ):
            new[k] = f"{_GROUP_NOUNS[low]} of us"  # "the three went" -> "the three of us went"
            group = anchored = True
            anchor_end = w_i + 1
            continue
        if low in _GROUP_PRONOUNS:
            if (
                group
                and low == "them"
                and 0 <= w_i - anchor_end <= 3
                and not any(j in people for j in range(anchor_end, w_i))
            ):
                continue  # the group acting on them ("left Harry and Ron to catch them"): someone else
            if group:
                word = _GROUP_PRONOUNS[low]
                new[k] = word[:1].upper() + word[1:] if tok[:1].isupper() else word
                converted = True
            elif group_before and not converted:
                group_before = False  # a "they" that is not the group: the next sentence's is not either
            continue
        if any(m.start == w_i for m in persona_at):
            # listed with another person ("Harry and Hermione", "Harry and his cousin Dudley", "Ron and Harry"),
            # or acting with them ("Harry hid with Ron")
            ahead = [tokens[words[j]].lower() for j in range(w_i + 1, min(len(words), w_i + 5))]
            listed = prev in ("and", ",") and any(j in people for j in range(max(0, w_i - 4), w_i - 1))
            listed = listed or (
                bool(ahead) and ahead[0] in ("and", ",") and any(j in people for j in range(w_i + 2, w_i + 5))
            )
            along = any(
                tokens[words[j]].lower() == "with" and (j + 1) in people for j in range(w_i + 1, len(words) - 1)
            )
            anchored = anchored or listed or along
            if listed:
                anchor_end = w_i + 1
                # "left Harry, Ron and Hermione to catch them": the group ends where its list does
                j = w_i + 1
                while j < len(words) and (j in people or tokens[words[j]].lower() in (",", "and")):
                    if j in people:
                        anchor_end = j + 1
                    j += 1
            # the persona alone ("... and Harry drove them away"): a "they" after it is someone else; but one that
            # only had something done to it ("In the escape Yaxley grabbed Hermione, so that they could never
            # return") is still one of the group the sentence before made
            acted_on = group_before and not converted and w_i >= 2 and _past_verb(prev) and prev not in _CLAUSE_AUX
            group = listed or along or (group and acted_on)
            continue
        if group and _plural_other(tok, tokens[words[w_i - 1]] if w_i else ""):
            group = False  # "the dementors", "the Dursleys", "all the champions": "they" may be them from here
    # the next sentence's "They" is the group when this one made it its subject or went on saying "we"
    return anchored or (group_before and converted)


_GROUP_SIZE = {"two": 2, "three": 3, "four": 4}


def _others_make_it(mentions: Sequence[Any], at: int, size: int) -> bool:
    """As many other people as the group counts are named before ``at`` in this sentence, and the persona is not:
    "Ron believed Harry had lied, and the two stopped speaking" is Ron and Harry, not "the two of us"."""
    before = [m for m in mentions if m.start < at and not m.quoted and not m.thing]
    if any(m.entity == PERSONA for m in before):
        return False
    return len({m.entity for m in before if m.entity is not None and m.form in ("name", "owner")}) >= size


def _pair_before(tokens: list[str], words: list[int], people: set[int], at: int) -> bool:
    """Two other people joined before ``at`` ("Snape and Lupin glared; the two ..."): the group may be theirs."""
    return any(
        tokens[words[j]].lower() == "and" and any(i in people for i in range(j - 3, j)) and (j + 1) in people
        for j in range(1, at)
    )


def _past_verb(word: str) -> bool:
    low = word.lower()
    return low in _IRREGULAR_PAST or (low.endswith("ed") and len(low) > 4)


_PLURAL_DETERMINERS = _words("the two three four five several many some all other these those both his her its their")


def _plural_other(tok: str, prev: str) -> bool:
    """A plural that is not the persona's group: "the dementors", "the Dursleys", "all the champions"."""
    low = tok.lower().rstrip("'’")  # "other wizards' deeds"
    if prev[:1].isupper() and prev.lower() != "the":
        return False  # part of a name: "the Three Broomsticks"
    prev = prev.lower()
    if prev in _PLURAL_DETERMINERS and low.endswith("s") and not low.endswith(("ss", "'s", "’s")) and len(low) > 3:
        return not _past_verb(low) and low not in _CLAUSE_AUX
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


def _subject_name(nxt: list[str], prev: str, start: bool, after_verb: bool = False, listed: bool = False) -> bool:
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
    if listed:
        return False  # the last of a list that no verb follows: "left Harry, Ron and Hermione to catch them"
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


def persona_calls(persona: Any) -> dict[str, str]:
    """How the persona names people in its own speech: its profile's ``calls`` (the way a memory names someone ->
    the persona's word for them: "Vernon Dursley" -> "Uncle Vernon", "Arthur Weasley" -> "Dad"); empty when the
    profile has none (a universe built from a book)."""
    raw = persona.profile.get("calls") or {}
    if not isinstance(raw, dict):
        return {}
    return {str(k).strip(): str(v).strip() for k, v in raw.items() if str(k).strip() and str(v).strip()}


# "my father James", "her sister Lily": the kin word already says who, so the name the persona calls by a kin word
# goes ("my father"), not "my father my dad"
_KIN_BEFORE = re.compile(
    r"\b(?:my|his|her|their|our|your)\s+(?:own\s+)?(?:mother|father|mum|dad|parents|sister|brother|aunt|uncle|"
    r"cousin|wife|husband|son|daughter|grandmother|grandfather|godfather)\s*$",
    re.IGNORECASE,
)
_CALLS_PATTERNS: dict[tuple[tuple[str, str], ...], re.Pattern[str]] = {}


def call_people(text: str, calls: dict[str, str]) -> str:
    """``text`` with each name of ``calls`` said as the persona says it: the longest name first ("James and Lily
    Potter" before "Lily"), never inside the persona's own word for someone ("Uncle Vernon" stays), a name the
    kin word before it already says dropped ("my father James" -> "my father"), a sentence's first word capitalised."""
    if not calls:
        return text
    key = tuple(sorted(calls.items()))
    pattern = _CALLS_PATTERNS.get(key)
    if pattern is None:
        names = sorted(calls, key=len, reverse=True)
        pattern = _CALLS_PATTERNS[key] = re.compile(r"(?<![\w'])(" + "|".join(map(re.escape, names)) + r")(?![\w])")
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        name, word = m.group(1), calls[m.group(1)]
        prior = "".join(out) + text[last : m.start()]
        kin = prior.split()[-1].lower() if prior.split() else ""
        if (word.endswith(name) and prior.endswith(word[: len(word) - len(name)])) or kin == word.split()[0].lower():
            out.append(text[last : m.end()])  # "Uncle Vernon", "his aunt Petunia": already how the persona says it
        elif word.split()[0].lower() in ("my", "our") and _KIN_BEFORE.search(prior):
            out.append(text[last : m.start()].rstrip())  # "my father James's wand" -> "my father's wand"
        else:
            start = not prior.strip() or prior.rstrip()[-1] in '.!?"“'
            out.append(text[last : m.start()] + (word[:1].upper() + word[1:] if start else word))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


# The narrator's gloss before a name ("the caretaker Filch", "a house-elf named Dobby", "the giant Rubeus Hagrid"):
# book narration, never how anyone talks of a person it knows. The role words are the universe's vocabulary's
# (generic English and its own: :data:`persona_rag.vocabulary.ROLES`).
_DETERMINERS = r"(?i:the|a|an|their|his|her|our|its)"
# words a gloss never holds: a clause, a preposition, a verb ("the dog that bit Dudley", "a letter for Hagrid")
_NOT_GLOSS = _words(
    "of to for from with by at in on into and or but that who which whom whose was were is are had has have did "
    "does do been being not no then when while as than so the a an his her their its our my your"
)


@functools.lru_cache(maxsize=16)
def _role_patterns(roles: frozenset[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The gloss before a name, and a kin or role word before the persona's own name once it is "me" ("her youngest
    son me" -> "me"; never "I": "the boy I met"), for these role words."""
    alternatives = "|".join(sorted(map(re.escape, roles), key=len, reverse=True))
    before = re.compile(
        rf"\b(?P<det>{_DETERMINERS})\s+(?P<gloss>(?:(?!{_DETERMINERS}\s)[\w'-]+\s+){{0,3}}?)"
        rf"(?P<role>(?i:{alternatives}))(?<![\w-](?=[\w-]))"
        r"(?:,?\s+(?:named|called))?\s+(?P<name>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2})\b"
    )
    me = re.compile(
        r"\b(?:the|his|her|their|its)\s+(?:[\w-]+\s+){0,2}?(?:son|daughter|brother|sister|cousin|nephew|niece|"
        rf"godson|goddaughter|friend|{alternatives})\s+(me)\b",
        re.IGNORECASE,
    )
    return before, me


_LONE_COUNTS: dict[int, tuple[Any, dict[str, int], dict[str, set[str]]]] = {}


def _lone_counts(universe: Any) -> tuple[dict[str, int], dict[str, set[str]]]:
    """How often each capitalised word stands alone in the universe's texts (not inside a run of capitalised
    words), and, for each last word of a two- or three-word name, the first words it follows ("Dumbledore" ->
    {"Albus", "Aberforth", "Ariana"})."""
    got = _LONE_COUNTS.get(id(universe))
    if got is not None and got[0] is universe:
        return got[1], got[2]
    names, vocab = known_names(universe), universe.vocabulary
    texts = [str(ev.get("text") or "") for ev in universe.events]
    texts += [str(row.get("text") or "") for rows in universe.personal.values() for row in rows]
    lone: dict[str, int] = {}
    firsts: dict[str, set[str]] = {}
    for text in texts:
        for run in re.finditer(r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*", text):
            # a run of the universe's names, without a title or a sentence's first word before it ("When Hagrid")
            words = [w.removesuffix("'s") for w in run.group(0).split()]
            while words and (words[0].lower() not in names or words[0].lower() in vocab.titles | vocab.roles):
                words = words[1:]
            if not words:
                continue
            if len(words) == 1:
                lone[words[0]] = lone.get(words[0], 0) + 1
            else:
                firsts.setdefault(words[-1], set()).add(words[0])
    _LONE_COUNTS[id(universe)] = (universe, lone, firsts)
    return lone, firsts


def _short(name: str, universe: Any) -> str:
    """A name as someone who knows the person says it: a title kept ("Sir Cadogan"); else the word of the name
    the universe's texts use alone more often ("Hagrid", "Slughorn", "Luna"), never a family name other people of
    the universe share ("Aberforth", not "Dumbledore")."""
    words = name.split()
    if len(words) == 1 or words[0].lower() in universe.vocabulary.titles:
        return name
    lone, firsts = _lone_counts(universe)
    first, last = words[0], words[-1]
    if firsts.get(last, set()) - {first}:
        return first
    return first if lone.get(first, 0) > lone.get(last, 0) else last


# The narrator's gloss after a name, between commas, before the sentence goes on with its verb ("Umbridge, a senior
# Ministry official, took over"; "Viktor, the Bulgarian Seeker and Durmstrang champion, asked me"). Not one that ends
# the sentence: there it is often what the memory tells ("He was Peter Pettigrew, an Animagus who had hidden as a
# rat"); not one word of description ("Crookshanks, a huge, squash-faced cat").
_AFTER_GLOSS = re.compile(
    r"(?P<name>\b[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2}),\s+"
    r"(?P<gloss>(?:a|an|the|one of the)\s+[^,;:.!?\"“”()\s]+\s[^,;:.!?\"“”()]{1,80}?),"
    r"(?=\s+[a-z]+\b(?![-'])(?<!\band)(?<!\bor)(?<!\bbut)(?<!\bwho)(?<!\bwhich)(?<!\ba)(?<!\ban)(?<!\bthe))"
)


def plain_names(text: str, universe: Any, question: str = "") -> str:
    """``text`` without the narrator's glosses around a name: "the caretaker Filch" -> "Filch", "the giant
    Rubeus Hagrid" -> "Hagrid", "a house-elf named Dobby" -> "Dobby", "Umbridge, a senior Ministry official, took
    over" -> "Umbridge took over". Only a name of the universe (its known names), before it only after a role word;
    never for a name the question asks about ("Who is Slughorn?": "the retired Potions master" is the answer)."""
    names = known_names(universe)
    asked = {w.lower().removesuffix("'s") for w in re.findall(r"[A-Za-z][\w'-]*", question)}

    def after(m: re.Match[str]) -> str:
        words = [w.lower().removesuffix("'s") for w in m.group("name").split()]
        if not all(w in names for w in words) or asked & set(words):
            return m.group(0)
        if re.search(r"\b(?:who|whom|whose|that|which)\b", m.group("gloss")):
            return m.group(0)  # "Hagrid, the gamekeeper who rescued me from the Dursleys, was": the memory's own story
        if asked & {w.lower() for w in re.findall(r"[A-Za-z][\w'-]{3,}", m.group("gloss"))}:
            return m.group(0)  # "Who's the dreamy Ravenclaw girl?": "Luna, an odd, dreamy Ravenclaw" is the answer
        return m.group("name")

    def plain(m: re.Match[str]) -> str:
        name = m.group("name")
        words = [w.lower().removesuffix("'s") for w in name.split()]
        gloss = m.group("gloss").split()
        role = m.group("role")
        if (
            (role[:1].isupper() and role.lower() in universe.vocabulary.titles)  # "lesson Professor Snape": a title
            or (role[:1].isupper() and not gloss)  # "the Knight Bus": the name's own first word
            or not all(w in names for w in words)
            or any(w.lower() in _NOT_GLOSS or w.lower().endswith("ing") for w in gloss)  # "the lake carrying"
            or asked & {*words, role.lower()}  # "Which dark wizard did he beat?": the gloss is the answer
        ):
            return m.group(0)
        said = _short(name, universe)
        start = m.start() == 0 or text[: m.start()].rstrip()[-1:] in (".", "!", "?", '"')
        return said[:1].upper() + said[1:] if start else said

    return _AFTER_GLOSS.sub(after, _role_patterns(universe.vocabulary.roles)[0].sub(plain, text))


def in_own_words(fact: str, persona: Any, context: str = "", question: str = "") -> str:
    """:func:`first_person` with the persona's names, pronouns, its universe's names and non-name capitals, and
    the others named as the persona names them (:func:`call_people`), without the narrator's glosses
    (:func:`plain_names`; ``question``: what was asked, whose names keep theirs).

    Works on a whole memory or on one sentence of it (the answer plan says its sentences one by one, each with
    the ``context`` its passage has before it)."""
    plain = plain_names(fact, persona.universe, question)
    said = _first_person_of(plain, persona, context)
    said = _role_patterns(persona.universe.vocabulary.roles)[1].sub(r"\1", said)  # "with her youngest son me"
    return call_people(said, persona_calls(persona))


def _first_person_of(fact: str, persona: Any, context: str) -> str:
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
