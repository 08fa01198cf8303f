"""Does the persona's memory back what an answer claims? Without a model call: each claim's words must be found
in one given passage, the roles must agree ("X killed Snape" is not backed by "Snape killed Dumbledore"), and
the persona must not speak of itself in the third person.

Who did what comes from a light reading of names and pronouns (:class:`Cast`, :func:`read_roles`): for each
content word, the name or pronoun right before it (its doer, or its owner after a possessive: "his hut"), the
one right after a verb (whom it was done to), and the doer after "by" in the passive. It is word-level and
fast; where it cannot tell who, it says nothing and the word-overlap check decides alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_rag.memory.entities import EntityIndex

from persona_rag.vocabulary import GENERIC_WORDS, STOP_WORDS

# The claim check's thresholds, calibrated on the hand-labelled answers in tests/data/labelled_answers.jsonl
# and tests/data/labelled_model_answers.jsonl, and reported on tests/data/labelled_accepted_answers.jsonl,
# which neither the thresholds nor the role reading were tuned on (benchmarks/claims_bench.py prints all three).
SUPPORT_MIN = 0.5  # share of one claim's content words that must be found in a single given passage
CLAIM_WORDS_MIN = 2  # a claim with fewer new content words than this says too little to check
EXTRA_DETAIL_MAX = 2  # new content words a "don't know" answer may add beyond the question and the refusal

_IGNORANCE = re.compile(
    r"(don't know|do not know|never heard|no idea|not sure|haven't heard|have not heard|can't say|cannot say|"
    r"couldn't say|wasn't there|was not there|no clue|don't recognise|don't recognize|doesn't ring|nobody's told|"
    r"not heard|unfamiliar|can't tell|haven't a clue|not something i know)",
    re.IGNORECASE,
)


def admits_ignorance(answer: str) -> bool:
    return bool(_IGNORANCE.search(answer))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _stem(word: str) -> str:
    for suffix in ("'s", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


_FILLER = _words(
    "that this what with have they them their there then than were been from about would could should "
    "know knew think thought sure really just like well said says tell told honestly actually never "
    "anything something nothing everything someone anyone nobody everyone heard hear word words afraid "
    "make made things thing rather right yeah course maybe mean much very only even still also into "
    "when where which while your yours mine myself because does doesn't don't didn't can't couldn't "
    "isn't wasn't haven't hasn't i'm i've i'd i'll it's that's there's he's she's"
)


def _claim_word(word: str, stop: frozenset[str]) -> str | None:
    word = word.lower().replace("’", "'").strip("'").removesuffix("'s")
    if len(word) < 4 or "'" in word or word in stop or word in _FILLER:
        return None
    return _stem(word)


def claim_words(text: str, stop: frozenset[str] = STOP_WORDS) -> set[str]:
    """Stems of the content words (four letters or more) an answer makes a claim with.

    Possessives count as their word ("Snape's" is "snape"); contractions ("they're", "he'll") carry no claim.
    """
    out = set()
    for word in re.findall(r"[a-z'’]{4,}", text.lower()):
        stem = _claim_word(word, stop)
        if stem:
            out.add(stem)
    return out


# Where one claim ends and the next begins: a sentence end, a line break, a semicolon or colon, a dash between
# words, and a comma or space before a conjunction that starts a new clause.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"'”)\]]*\s+|\n+")
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[;:]|\s[-–—]\s|,\s*(?=(?:and|but|so|because|though|although|while|whereas)\s)"
    r"|\s(?=(?:but|because|although|whereas)\s))\s*"
)


def claims_in(answer: str, stop: frozenset[str] = STOP_WORDS, asked: frozenset[str] = frozenset()) -> list[str]:
    """The answer cut into the claims it makes: its sentences, each cut at clause boundaries.

    A clause with fewer than :data:`CLAIM_WORDS_MIN` content words beyond the question's (``asked``) stays
    joined to its neighbour ("He loathes me, and I don't trust him either" is one claim), so each claim
    carries enough words to be compared with a passage.
    """
    out: list[str] = []
    for sentence in _SENTENCE_SPLIT.split(answer):
        merged: list[str] = []
        for part in _CLAUSE_SPLIT.split(sentence or ""):
            if not part.strip():
                continue
            if merged and min(len(claim_words(t, stop) - asked) for t in (merged[-1], part)) < CLAIM_WORDS_MIN:
                merged[-1] += " " + part.strip()
            else:
                merged.append(part.strip())
        out += merged
    return out


def _in_passage(word: str, passage: Iterable[str]) -> bool:
    """The claim word is in the passage, or one contains the other ("trust" in "distrusts")."""
    if word in passage:
        return True
    return len(word) >= 5 and any(_same_word(word, w) for w in passage)


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(a) >= 5 and len(b) >= 5 and (a in b or b in a))


def backing(claim: str, question: str, facts: Sequence[str], stop: frozenset[str] = STOP_WORDS) -> float | None:
    """The best share of the claim's content words (beyond the question's) found in ONE passage; None when
    the claim has too few such words to judge."""
    said = claim_words(claim, stop) - claim_words(question, stop)
    if len(said) < CLAIM_WORDS_MIN:
        return None
    passages = [claim_words(f, stop) for f in facts]
    return max((sum(_in_passage(w, p) for w in said) / len(said) for p in passages), default=0.0)


# ----------------------------------------------------------------------------- who did what

PERSONA: frozenset[str] = frozenset({"@persona"})  # the entity the persona's own names and "I" stand for

_FUNCTION = _words(
    "a an the and but or so if when while as at in on of to for from by with after before since until during "
    "then there this that these those it its his her their our your my he she they we you i what who whom "
    "which where why how all some no not every each one two three four five once yes oh well still even "
    "back later soon now here just only also both neither either nor up down over under out into onto"
)
_GAP = _words(
    "has had have having was were is are am be been being did does do not never also often always still just "
    "once already finally then soon later even only really nearly almost own secretly suddenly quickly "
    "would could will can might must should shall now again ever first instead"
)
_BE = _words("was were is are am be been being")
_IRREGULAR = _words(
    "went saw took made gave got came became knew found felt told taught left kept heard met fought won lost "
    "said ran began bought brought caught held led stood sat wrote spoke broke chose drew flew grew hid fell "
    "sent spent swore bit struck stole threw shot slew hung built tore beat woke burnt"
)
_PARTICIPLES = _words(
    "given taken seen known shown thrown stolen broken chosen drawn grown hidden written spoken beaten bitten "
    "forgotten forbidden sworn torn worn born slain"
)
_SUBJECT_PRONOUNS = {"he": "he", "she": "she", "they": None, "it": None}
_OBJECT_PRONOUNS = {"him": "he", "her": "she", "them": None, "himself": "he", "herself": "she"}
_POSSESSIVES = {"his": "he", "her": "she", "their": None, "its": None}
_SELF = {
    "i": "subject",
    "i've": "subject",
    "i'd": "subject",
    "i'm": "subject",
    "i'll": "subject",
    "me": "object",
    "my": "owner",
    "myself": "object",
    "mine": "owner",
}
_SELF_INTRO = re.compile(
    r"(?:\bi'm|\bi am|\bname is|\bname's|\bcall me|\bcalled|\bnamed|\bknown as|\bme,|\bthat's me|\bit's me)\W*$",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’\-]*|[\"“”]|[^\sA-Za-z\"“”]+")


@dataclass(frozen=True)
class Cast:
    """The names a reading needs: the persona's names and gender, the universe's known names and titles."""

    persona: tuple[frozenset[str], ...] = ()  # each of the persona's names as a set of lower-case words
    gender: str | None = None  # 'he' / 'she' for the persona
    known: frozenset[str] = frozenset()  # lower-case words of the universe's names
    titles: frozenset[str] = frozenset()  # "professor", "mr": dropped from a name
    common: frozenset[str] = frozenset()  # capitalised words that are not names ("Christmas")
    genders: dict[str, str] = field(default_factory=dict)  # a name word -> 'he'/'she' where the corpus tells
    places: frozenset[str] = GENERIC_WORDS  # last words that make a name a place or a thing ("Diagon Alley")
    raw_persona: tuple[frozenset[str], ...] = ()  # the persona's names with their titles ("captain marsh")
    given: str = ""  # the persona's short name ("harry"): never part of another's name ("Harry Occlumency")

    @classmethod
    def of(
        cls,
        index: EntityIndex,
        names: Sequence[str] = (),
        gender: str | None = None,
        genders: dict[str, str] | None = None,
    ) -> Cast:
        vocab = index.vocab
        known = {w for name in index.world_first for w in name.split()} | set(index.tokens)
        titles = frozenset(t.lower().rstrip(".") for t in vocab.titles)
        persona = []
        for name in names:
            words = frozenset(w.lower().rstrip(".") for w in name.split() if w.lower().rstrip(".") not in titles)
            if words:
                persona.append(words)
                known |= words
        common = frozenset(vocab.common_capitals) - known
        places = frozenset(vocab.generic_words)
        raw = tuple(frozenset(w.lower().rstrip(".") for w in name.split()) for name in names if name.strip())
        given = names[1].lower() if len(names) > 1 and len(names[1].split()) == 1 else ""
        return cls(tuple(persona), gender, frozenset(known), titles, common, dict(genders or {}), places, raw, given)

    def is_persona(self, words: frozenset[str]) -> bool:
        return any(words <= name for name in self.persona)

    def gender_of(self, entity: frozenset[str]) -> str | None:
        if entity == PERSONA:
            return self.gender
        if len(entity) == 1 and next(iter(entity)).endswith("s") and next(iter(entity))[:-1] in self.known:
            return "they"  # "the Dursleys", "the Weasleys": a family
        found = {self.genders[w] for w in entity if w in self.genders}
        return found.pop() if len(found) == 1 else None


@dataclass
class _Mention:
    entity: frozenset[str] | None  # None: a pronoun the reading could not resolve
    form: str  # 'subject', 'object' or 'owner' (a possessive); names are 'name' (subject or object)
    start: int
    end: int  # token span [start, end)
    said_by_name: bool = False  # a name of the persona in the text (not a pronoun)
    quoted: bool = False
    gender: str | None = None  # a pronoun's 'he'/'she', or a name's from its title ("Mrs Weasley")
    reflexive: bool = False  # himself, herself
    thing: bool = False  # a name that is a place or a thing ("the Hogwarts Express"), never a pronoun's person


@dataclass(frozen=True)
class Role:
    word: str  # the content word's stem
    role: str  # 'agent' (who did it), 'patient' (to whom), 'owner' (whose)
    entity: frozenset[str]


def same_entity(a: frozenset[str], b: frozenset[str]) -> bool:
    """One name is part of the other ("Snape" and "Severus Snape"); the persona matches only itself."""
    if (a == PERSONA) != (b == PERSONA):
        return False
    return a <= b or b <= a


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


_NOT_OWNED = _words(
    "first again out back away off too later alone instead anyway once home go come be know stay quiet safe free down "
    "up there here now"
)  # "let her go", "keeps her quiet": her is whom, not whose
_DETERMINERS = _words("the a an this these those its every any some each no")  # not "that": "that Snape hated"
_TITLE_GENDER = {
    **dict.fromkeys(("mr", "mister", "sir", "lord", "uncle", "master", "king", "prince", "father", "brother"), "he"),
    **dict.fromkeys(("mrs", "miss", "ms", "madam", "madame", "lady", "aunt", "dame", "queen", "mother"), "she"),
}


# Words that open a clause of its own inside a sentence: "because he feared" goes on with the clause's doer.
_SUBORDINATORS = frozenset(
    ["because", "so", "as", "while", "although", "though", "since", "when", "until", "before", "after", "if", "unless"]
)
# A name right after one of these is a place, never what "he" or "she" stands for.
_PLACE_BEFORE = frozenset(
    ["in", "at", "into", "inside", "onto", "through", "across", "towards", "toward", "outside", "beneath"]
)


def _mentions(
    tokens: list[str],
    cast: Cast,
    speaker: bool,
    topic: Sequence[frozenset[str]],
    persona_near: bool = False,
    quoted: bool = False,
    prev_subject: frozenset[str] | None = None,
) -> list[_Mention]:
    """Names, pronouns and (for the persona's own answer, ``speaker``) I/me/my, in order, resolved.

    A name after "the" or "a" ("the Hogwarts Express", "a fourth Triwizard champion") is a thing, never what
    "he" or "she" stands for. In a memory (not ``speaker``), a pronoun of the persona's gender stands for the
    persona when the persona is named in this sentence or was in the last one (``persona_near``): memories
    are about the persona. Otherwise it stands for the last person named before it whose gender fits (the
    question's names, ``topic``, come first). An object pronoun is never the doer of its own clause ("Harry
    distrusts him": him is someone else).
    """
    out: list[_Mention] = []
    things: set[int] = set()  # indices in ``out`` of names that are things
    sentence_start = True
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ('"', "“", "”"):
            quoted = not quoted if tok == '"' else tok == "“"
            i += 1
            continue
        if not tok[0].isalpha():
            if any(c in tok for c in ".!?"):
                sentence_start = True
            i += 1
            continue
        low = tok.lower().replace("’", "'")
        titles_next = (
            low.rstrip(".") in _TITLE_GENDER and i + 1 < len(tokens) and tokens[i + 1][:1].isupper()
        )  # "Mr Weasley": the title is part of the name (Ron's father, not Ron)
        if (
            low.removesuffix("'s") in cast.common
            and tok[0].isupper()
            and low not in _SELF
            and "'" not in low
            and not titles_next
        ):
            sentence_start = False  # "Christmas", "Professor": not a name, and no part of the next one
            i += 1
            continue
        if tok[0].isupper() and not (sentence_start and low in _FUNCTION) and low not in _SELF:
            j = i
            while j < len(tokens) and (
                (
                    tokens[j][:1].isupper()
                    and tokens[j][0].isalpha()
                    and (j == i or tokens[j].lower().removesuffix("'s") not in cast.common)
                )
                or (
                    tokens[j] in (".", "of")
                    and (len(tokens[j - 1]) == 1 or tokens[j] == "of")
                    and j + 1 < len(tokens)
                    and tokens[j + 1][:1].isupper()
                    and tokens[j + 1][0].isalpha()
                )
            ):
                j += 1  # "John H. Watson", "the Mirror of Erised": an initial or an "of" stays in the name
            if cast.given:
                # "taught Harry Occlumency", "At Gringotts Harry found": the persona's short name is its own name
                low_run = [t.lower().removesuffix("'s") for t in tokens[i:j]]
                if cast.given in low_run and len(low_run) > 1:
                    g = low_run.index(cast.given)
                    whole = frozenset(w for w in low_run if w not in cast.titles and w not in (".", "of"))
                    if not cast.is_persona(whole):
                        j = i + g + 1 if g == 0 else i + g
            run = [t.replace("’", "'") for t in tokens[i:j] if t not in (".", "of")]
            titled = _TITLE_GENDER.get(run[0].lower().rstrip(".")) if len(run) > 1 else None
            owner = run[-1].lower().endswith("'s")
            words = frozenset(
                w.lower().removesuffix("'s").strip("'")
                for w in run
                if w.lower().removesuffix("'s").rstrip(".") not in cast.titles
            )
            words = frozenset(w for w in words if w and w not in cast.common)
            if words and (not sentence_start or words & cast.known) and not words <= _FUNCTION:
                before = [t.lower() for t in tokens[max(0, i - 2) : i]]
                is_me = cast.is_persona(words) and not (before and before[-1] in _DETERMINERS)
                if is_me and titled and not any(run[0].lower().rstrip(".") in p for p in cast.raw_persona):
                    is_me = len(words) > 1  # "Mr Weasley" is Ron's father, not Ron
                thing = not is_me and bool(
                    (
                        before
                        and (
                            before[-1] in _DETERMINERS | _POSSESSIVES.keys() | {"my", "our", "your"}
                            or (len(before) == 2 and before[0] in ("a", "an"))
                            or before[-1] in _PLACE_BEFORE  # "in Gryffindor", "onto Platform Nine"
                            # "Harry's Hogsmeade permission form": a name between an owner and its noun
                            or (
                                before[-1].endswith(("'s", "’s"))
                                and j < len(tokens)
                                and tokens[j].isalpha()
                                and tokens[j].islower()
                                and not _looks_verb(tokens[j])
                                and tokens[j] not in _FUNCTION
                            )
                            # "onto Platform Nine and Three-Quarters": listed after a thing, and no doer
                            or (
                                before[-1] == "and"
                                and bool(out)
                                and len(out) - 1 in things
                                and out[-1].end == i - 1
                                and not _before_verb(tokens, j)
                            )
                        )
                    )
                    or run[-1].lower().removesuffix("'s") in cast.places  # "Diagon Alley", "the Great Hall"
                )
                if thing:
                    things.add(len(out))
                entity = PERSONA if is_me else words
                out.append(_Mention(entity, "owner" if owner else "name", i, j, is_me, quoted, titled, thing=thing))
            sentence_start = False
            i = j
            continue
        sentence_start = False
        form, gender = None, None
        if speaker and low in _SELF:
            out.append(_Mention(PERSONA, _SELF[low], i, i + 1, quoted=quoted))
            i += 1
            continue
        if low in _SUBJECT_PRONOUNS:
            form, gender = "subject", _SUBJECT_PRONOUNS[low]
        elif low == "her":
            nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
            form = "owner" if nxt[:1].isalpha() and nxt not in _FUNCTION | _NOT_OWNED else "object"
            gender = "she"
        elif low in _OBJECT_PRONOUNS:
            form, gender = "object", _OBJECT_PRONOUNS[low]
        elif low in _POSSESSIVES:
            form, gender = "owner", _POSSESSIVES[low]
        if form is not None:
            out.append(_Mention(None, form, i, i + 1, quoted=quoted, gender=gender, reflexive=low.endswith("self")))
        i += 1
    return _resolve(out, tokens, things, cast, speaker, topic, persona_near, prev_subject)


def _resolve(
    out: list[_Mention],
    tokens: list[str],
    things: set[int],
    cast: Cast,
    speaker: bool,
    topic: Sequence[frozenset[str]],
    persona_near: bool,
    prev_subject: frozenset[str] | None = None,
) -> list[_Mention]:
    """Who each pronoun stands for: the nearest fitting person before it in its own clause ("James Potter and
    his friends"); else, in a memory, the persona when it is the sentence's subject ("Harry owns an owl, who
    carries his letters"); else the last fitting person named ("Lupin ... drove it off with his wand"); else,
    in a memory, the persona when it is named in this sentence or was in the last. A person's gender is
    learnt from the pronouns that stood for it."""
    learnt: dict[frozenset[str], str] = {
        m.entity: m.gender for m in out if m.entity is not None and m.form != "subject" and m.gender
    }

    def fits(cand: frozenset[str], gender: str) -> bool:
        g = learnt.get(cand) or cast.gender_of(cand)
        return g is None or g == gender

    def clause_start(k: int) -> int:
        while k > 0 and not re.fullmatch(r"[,;:()\-–—]+", tokens[k - 1]):
            k -= 1
        return k

    people = [(n, m) for n, m in enumerate(out) if n not in things]
    subject_at = 0 if out and out[0].form == "name" and 0 not in things else None
    if subject_at is None:  # "From her reading Hermione knows ...": the first name that does something
        subject_at = next(
            (k for k, m in enumerate(out) if m.form == "name" and k not in things and _before_verb(tokens, m.end)),
            None,
        )
    subject = out[subject_at].entity if subject_at is not None else None
    first = subject_at if subject_at is not None else len(out)
    persona_named = any(m.said_by_name for m in out)
    recent: list[frozenset[str]] = list(topic)
    for n, m in enumerate(out):
        if m.entity is not None:
            if n not in things:
                recent.append(m.entity)
            continue
        gender = m.gender
        if gender is None:
            continue
        avoid = None
        avoid_group: frozenset[Any] = frozenset()
        if m.form == "subject":
            # "He took Harry to Diagon Alley": he is not whom he took
            obj = next((x for x in out[n + 1 :] if x.start <= m.start + 3 and x.form == "name"), None)
            avoid = obj.entity if obj is not None else None
        start = clause_start(m.start)
        doer = next(
            (
                x
                for k, x in reversed(people)
                if k < n
                and x.start >= start
                and x.form in ("subject", "name")
                and x.entity is not None
                and _before_verb(tokens, x.end)
                and not infinitive_object(tokens, x.start)
                and _verbs_between(tokens, x.end, m.start) <= 2  # its own verb, not one further back
            ),
            None,
        )
        if m.reflexive and doer is not None and fits(doer.entity, gender):  # type: ignore[arg-type]
            m.entity = doer.entity  # "Dumbledore had weakened himself"
            recent.append(doer.entity)  # type: ignore[arg-type]
            continue
        if (
            m.reflexive
            and doer is None
            and subject is not None
            and first < n
            and fits(subject, gender)
            and not any(x.start >= start and x.form == "name" for k, x in people if k < n)
        ):
            # "Hermione altered their memories so that they believed ..., and erased herself from their lives":
            # a clause with no doer of its own is the sentence's subject's
            m.entity = subject
            recent.append(subject)
            continue
        if m.form == "object" and not m.reflexive:
            avoid = doer.entity if doer is not None else None  # "Snape told him": him is not Snape
            if doer is not None:
                # "Ron and Hermione saw the wounds and urged him": him is neither of them
                at = {k: x for x in out if x.entity is not None for k in range(x.start, x.end)}
                group = {e for e in _group(doer, tokens, at, -1, joined=True) if e is not None}
                group |= {e for e in _group(doer, tokens, at, 1, joined=True) if e is not None}
                avoid_group = frozenset(group - {doer.entity})
            else:
                avoid_group = frozenset()
            relative = [t.lower() for t in tokens[max(0, m.start - 3) : m.start] if t.lower() in ("who", "which")]
            if relative == ["who"]:
                # "Hagrid, the gamekeeper who rescued him": him is not the one "who" stands for
                who = next((x.entity for k, x in reversed(people) if k < n and x.form == "name"), None)
                avoid = who or avoid
            elif relative == ["which"]:
                avoid = None  # "the Mirror, which showed him": the doer is a thing

        def ok(
            cand: frozenset[str] | None,
            avoid: frozenset[str] | None = avoid,
            gender: str = gender,
            others: frozenset[Any] = avoid_group,
        ) -> bool:
            return (
                cand is not None
                and cand != avoid
                and cand not in others
                and not (speaker and cand == PERSONA)
                and fits(cand, gender)
            )

        in_clause = [
            k
            for k, x in reversed(people)
            if k < n
            and x.start >= start
            and ok(x.entity)
            and not (m.form == "subject" and x.form == "object")
            and not (m.form == "subject" and _phrase_owner(x, tokens))
        ]
        # for an object, one whose gender is known to fit comes before a name of unknown gender ("the Gillyweed
        # Dobby gave him"); a subject pronoun stays with the nearest ("her sister Bess laughed when she heard")
        near_at = None
        if m.form == "object":
            near_at = next((k for k in in_clause if _gender_known(out[k].entity, learnt, cast)), None)
        if near_at is None and m.form == "subject" and m.start > 0 and tokens[m.start - 1].lower() in _SUBORDINATORS:
            # "explained that he had kept the boggart from Harry because he feared": the clause's doer, not the
            # name its verb acted on
            near_at = next(
                (k for k in in_clause if out[k].form == "subject" and out[k].entity is not None),
                None,
            )
            if near_at is not None and _verbs_between(tokens, out[near_at].end, m.start) > 2:
                near_at = None
            if near_at is not None and any(
                out[k].form == "name" and out[k].end < len(tokens) and _looks_verb(tokens[out[k].end].lower())
                for k in in_clause
                if k > near_at
            ):
                near_at = None  # a doer named after it is nearer
        if near_at is None:
            near_at = in_clause[0] if in_clause else None
        near = out[near_at].entity if near_at is not None else None
        if (
            m.form == "owner"
            and near == PERSONA
            and subject not in (None, PERSONA)
            and out[near_at].form == "name"  # type: ignore[index]
            and start > 0
            and tokens[start - 1] != ";"  # after a semicolon a new sentence in all but name begins
            and ok(subject)
        ):
            # "Hagrid ... was Harry's friend, and Harry often visits his hut": the hut is the topic's
            near = subject
        teller = _reporter(m, n, out, tokens, subject) if m.form == "subject" else None
        if teller is not None and ok(teller):
            near = teller  # "Dobby visited Harry and admitted he had sealed the barrier": he is Dobby
        if near is not None:
            m.entity = near
        elif (
            m.form == "subject" and n == 0 and prev_subject is not None and prev_subject != PERSONA and ok(prev_subject)
        ):
            m.entity = prev_subject  # "Hagrid told Harry ... . He took Harry to Diagon Alley"
        elif (
            m.form == "owner"
            and start > 0
            and tokens[start - 1] == ";"
            and (last := next((c for c in reversed(recent) if ok(c)), PERSONA)) != PERSONA
        ):
            # "Harry knows Lockhart is a fraud ...; his own memory charm backfired": after a semicolon a new
            # sentence in all but name begins, and "his" is the last fitting person's, not the first sentence's
            m.entity = last
        elif (
            not speaker
            and subject == PERSONA
            and first < n
            and (m.form != "object" or (doer is not None and out[first].start < start))
            and ok(PERSONA)
        ):
            # "Harry refused, although Ron saw the wounds and urged him": an object in a clause with a doer of its
            # own is the sentence's subject's (never its own clause's doer: "Harry distrusts him")
            m.entity = PERSONA
        else:
            m.entity = next((c for c in reversed(recent) if ok(c)), None)
            if (
                m.form == "subject"
                and subject is not None
                and first < n  # named before the pronoun: "His temper is short, he feels ... Voldemort" is not his
                and m.entity not in (None, subject)
                and ok(subject)
            ):
                # "Black had been Harry's godfather, that he had betrayed the Potters": a person said only as
                # whose ("Harry's") is not what a later "he" stands for; the sentence's subject is
                forms: list[str] = [x.form for k, x in people if k < n and x.entity == m.entity]
                if forms and forms[-1] == "owner":
                    m.entity = subject
            if m.entity is None and not speaker and (persona_named or persona_near) and ok(PERSONA):
                m.entity = PERSONA
        if m.entity is not None:
            learnt.setdefault(m.entity, gender)
            recent.append(m.entity)
    return out


# Prepositions that open a phrase before a clause's subject: "after Dumbledore's funeral he ended it".
_PHRASE_PREPOSITIONS = _words("after before at in during from since on until upon through throughout following")


def _phrase_owner(x: _Mention, tokens: list[str]) -> bool:
    """``x`` is the named owner of what a phrase names ("after Dumbledore's funeral"): not the doer a subject
    pronoun after the phrase stands for ("after Dumbledore's funeral he ended it" is the sentence's doer)."""
    return (
        x.form == "owner"
        and x.gender is None  # a name ("Dumbledore's"), not a pronoun: "in his hut into a dragon he called"
        and x.start > 0
        and tokens[x.start - 1].lower() in _PHRASE_PREPOSITIONS
    )


# Verbs that report what their doer says, thinks or knows: a "he" right after one ("admitted he", "said that
# she") is that doer.
_REPORTING = _words(
    "admitted said says explained confessed claimed insisted promised swore announced revealed replied answered "
    "whispered shouted agreed denied decided realised realized knew thought feared hoped guessed suspected"
)


def _reporter(
    m: _Mention, n: int, out: list[_Mention], tokens: list[str], subject: frozenset[str] | None
) -> frozenset[str] | None:
    """Who says or thinks what a subject pronoun opens: the doer of the reporting verb just before it, named
    right before the verb ("Ron admitted he ...") or, after "and", the last one named doing something before it
    ("Dobby visited Harry and admitted he ...", "Filch accused Harry, but Dumbledore found the cat ... and said
    she": Dumbledore's clause, not the sentence's first); the caller keeps it only where the gender fits."""
    k = m.start - 1
    if k >= 0 and tokens[k].lower() == "that":
        k -= 1
    if k < 1 or tokens[k].lower() not in _REPORTING:
        return None
    doer = next((x for x in out[:n] if x.end == k and x.form in ("name", "subject") and not x.thing), None)
    if doer is not None:
        return doer.entity
    if tokens[k - 1].lower() != "and":
        return None
    last = next(
        (
            x
            for x in reversed(out[:n])
            if x.form == "name" and not x.thing and x.entity is not None and _verb_after(tokens, x.end)
        ),
        None,
    )
    return last.entity if last is not None else subject


# Verbs whose "to" clause may open with its own doer ("wanted to prove Harry had lied"); after any other, a name
# is the verb's object ("died to save Harry", "tried to stop Harry").
_CLAUSE_TAKING = _words(
    "prove show believe think know say tell claim suggest suspect find realise realize learn hear see ensure mean "
    "pretend insist explain admit deny"
)


def infinitive_object(tokens: list[str], k: int) -> bool:
    """The name at ``k`` follows "to <verb>": that verb's object ("Lily's death to save Harry had left a
    protection"), never the doer of what comes next. Not after a verb that takes a clause ("to prove Harry had")."""
    if k < 2 or tokens[k - 2].lower() != "to":
        return False
    verb = tokens[k - 1]
    low = verb.lower()
    return verb.isalpha() and verb.islower() and low not in _FUNCTION and low not in _CLAUSE_TAKING


def _gender_known(entity: frozenset[str] | None, learnt: dict[frozenset[str], str], cast: Cast) -> bool:
    return entity is not None and bool(learnt.get(entity) or cast.gender_of(entity))


def _verbs_between(tokens: list[str], a: int, b: int) -> int:
    """How many verbs stand between two tokens ("found a vault his parents had left" has three)."""
    return sum(t.lower() in _IRREGULAR or t.lower() in _AUX or (t.islower() and t.endswith("ed")) for t in tokens[a:b])


_AUX = _words("had has have was were is are did does do been")


def _verb_after(tokens: list[str], k: int) -> bool:
    """A verb's form follows the token at ``k`` (past a "then", an "also", an adverb): "Dumbledore also explained"."""
    while k < len(tokens) and (
        tokens[k].lower() in _GAP or (tokens[k].islower() and tokens[k].endswith("ly") and len(tokens[k]) > 4)
    ):
        k += 1
    return k < len(tokens) and tokens[k].islower() and _looks_verb(tokens[k])


def _before_verb(tokens: list[str], k: int) -> bool:
    """The token at ``k`` (after a name) reads as that name's verb: "Snape told", "Harry often visits"."""
    while k < len(tokens) and (
        tokens[k].lower() in _GAP or (tokens[k].islower() and tokens[k].endswith("ly") and len(tokens[k]) > 4)
    ):
        k += 1
    return k < len(tokens) and tokens[k][:1].islower() and tokens[k] not in _FUNCTION


def read_mentions(
    text: str, cast: Cast, token_re: re.Pattern[str], sentence_re: re.Pattern[str]
) -> list[tuple[list[str], list[_Mention]]]:
    """A memory's sentences (``sentence_re``) as tokens (``token_re``, which may keep whitespace), each with
    its names and pronouns resolved as :func:`read_roles` reads them (mention spans count the tokens that are
    not whitespace). Quotes and who was named carry over from one sentence to the next; the first sentence
    reads as if the persona had just been named, so that one sentence on its own ("He wrote to Sirius") is
    the persona's."""
    out: list[tuple[list[str], list[_Mention]]] = []
    context: list[frozenset[str]] = []
    persona_near = True
    quoted = False
    prev_subject: frozenset[str] | None = None
    for sentence in sentence_re.findall(text):
        tokens = token_re.findall(sentence)
        bare = [t for t in tokens if not t.isspace()]
        mentions = _mentions(bare, cast, False, context, persona_near, quoted, prev_subject)
        prev_subject = next((m.entity for m in mentions if m.form in ("name", "subject")), None)
        out.append((tokens, mentions))
        quoted = (quoted + sum(t in ('"', "“", "”") for t in bare)) % 2 == 1
        persona_near = any(m.entity == PERSONA for m in mentions)
        context += [m.entity for m in mentions if m.entity is not None and m.form == "name" and not m.thing]
    return out


def _looks_verb(low: str) -> bool:
    return low in _IRREGULAR or low in _PARTICIPLES or low.endswith(("ed", "en")) or low.endswith("s")


def read_roles(
    text: str,
    cast: Cast,
    *,
    speaker: bool = False,
    topic: Sequence[frozenset[str]] = (),
    stop: frozenset[str] = STOP_WORDS,
) -> list[list[Role]]:
    """Who did what in ``text``, sentence by sentence: for each content word, its doer, whom it was done to, its
    owner, where a name or a pronoun says so. ``speaker``: the text is the persona's own answer ("I" is the
    persona); ``topic``: who "he" or "she" stands for before any name (the question's names)."""
    out: list[list[Role]] = []
    context = list(topic)
    persona_near = False
    for sentence in _SENTENCE_SPLIT.split(text):
        tokens = _tokens(sentence or "")
        mentions = _mentions(tokens, cast, speaker, context, persona_near)
        persona_near = any(m.entity == PERSONA for m in mentions)
        at = {k: m for m in mentions for k in range(m.start, m.end)}
        roles: list[Role] = []
        for j, tok in enumerate(tokens):
            if j in at or not tok[0].isalpha():
                continue
            low = tok.lower().replace("’", "'")
            stem = _claim_word(low, stop)
            if stem is None:
                continue
            skipped: list[str] = []
            left = None
            k = j - 1
            while k >= 0:
                if k in at:
                    left = at[k]
                    break
                t = tokens[k].lower()
                if t in _GAP or (t.endswith("ly") and len(t) > 4):
                    skipped.append(t)
                    if len(skipped) > 2:
                        break
                    k -= 1
                    continue
                break
            passive = bool(set(skipped) & _BE) and (low.endswith("ed") or low in _PARTICIPLES)
            agent_word = False
            if left is not None and left.entity is not None:
                if left.form == "owner":
                    roles.append(Role(stem, "owner", left.entity))
                elif left.form in ("subject", "name"):
                    role = "patient" if passive else "agent"
                    roles += [Role(stem, role, e) for e in _group(left, tokens, at, -1)]  # "Ron and I watched"
                    agent_word = not passive
            if passive:
                window = [t.lower() for t in tokens[j + 1 : j + 4]]
                if "by" in window:
                    b = j + 1 + window.index("by")
                    after = next((at[k] for k in range(b + 1, min(b + 5, len(tokens))) if k in at), None)
                    if after is not None and after.entity is not None and after.form != "owner":
                        roles.append(Role(stem, "agent", after.entity))
            elif agent_word or _looks_verb(low):
                k = j + 1
                if k < len(tokens) and tokens[k].lower() in ("not", "never", "back", "up"):
                    k += 1
                right = at.get(k)
                if (
                    right is not None
                    and right.start == k
                    and right.entity is not None
                    and right.form in ("object", "name")
                ):
                    roles += [Role(stem, "patient", e) for e in _group(right, tokens, at, 1)]
        out.append(roles)
        context += [m.entity for m in mentions if m.entity is not None and not m.thing]
    return out


def _group(
    first: _Mention, tokens: list[str], at: dict[int, _Mention], step: int, joined: bool = False
) -> list[frozenset[str]]:
    """The people listed with ``first`` ("Harry, Ron and Hermione"), walking left (``step`` -1) or right.
    ``joined``: only a list with an "and" or "or" in it ("refereed by Snape, Harry followed him" lists no one)."""
    out = [first.entity] if first.entity is not None else []
    edge = first.start if step < 0 else first.end - 1
    conjunction = False
    while True:
        k = edge + step
        if not (0 <= k < len(tokens)) or tokens[k].lower() not in (",", "and", "or"):
            break
        nxt = at.get(k + step)
        if nxt is None or nxt.form not in ("name", "subject", "object") or nxt.entity is None:
            break
        conjunction = conjunction or tokens[k].lower() in ("and", "or")
        out.append(nxt.entity)
        edge = nxt.start if step < 0 else nxt.end - 1
    if joined and not conjunction:
        return out[:1]
    return out


def third_person_self(answer: str, cast: Cast) -> list[str]:
    """The persona's own names used in the narration of its answer ("when Harry woke up"): it speaks of itself
    as someone else. A name in quoted speech, in a self-introduction ("I'm Harry") or inside another's name
    ("James Potter") is fine."""
    out = []
    tokens = _tokens(answer)
    for m in _mentions(tokens, cast, True, []):
        if not m.said_by_name or m.quoted:
            continue
        before = " ".join(tokens[max(0, m.start - 4) : m.start])
        if _SELF_INTRO.search(before):
            continue
        out.append(" ".join(tokens[m.start : m.end]))
    return out


def role_conflicts(
    claim: str, question: str, facts: Sequence[str], cast: Cast, stop: frozenset[str] = STOP_WORDS
) -> list[str]:
    """The words of ``claim`` whose doer, object or owner differs from the one in every memory sentence that
    grounds it ("I killed Snape" against "Snape killed Dumbledore": 'kill' has another object). A memory
    sentence grounds the claim when it holds the word and at least one more of the claim's content words;
    a sentence that does not say who (a pronoun it cannot resolve) never conflicts."""
    said = claim_words(claim, stop)
    if not said:
        return []
    topic = _topic(question, cast)
    claim_roles = [r for roles in read_roles(claim, cast, speaker=True, topic=topic, stop=stop) for r in roles]
    if not claim_roles:
        return []
    sentences: list[tuple[set[str], list[Role], bool]] = []
    for fact in facts:
        for text, roles in zip(_SENTENCE_SPLIT.split(fact), read_roles(fact, cast, stop=stop), strict=False):
            sentences.append((claim_words(text or "", stop), roles, _may_be_persona(text or "", cast)))
    out = []
    for role in claim_roles:
        grounding = [
            (roles, persona_there)
            for words, roles, persona_there in sentences
            if _in_passage(role.word, words) and sum(_in_passage(w, words) for w in said) >= 2
        ]
        if not grounding:
            continue
        conflicts = 0
        for roles, persona_there in grounding:
            theirs = [r.entity for r in roles if r.role == role.role and _same_word(r.word, role.word)]
            if theirs and not any(same_entity(e, role.entity) for e in theirs):
                conflicts += 1
            elif role.entity == PERSONA and role.role == "agent" and not persona_there:
                # "I tracked the Elder Wand to Nurmengard" against "Voldemort, having tracked the Elder Wand ...":
                # the memory never has the persona in it, so it cannot be the persona's act
                conflicts += 1
        if conflicts == len(grounding):
            out.append(f"{role.role} of {role.word}")
    return out


# Words by which a memory sentence may include the persona without naming it.
_GROUP_WORDS = _words(
    "they them their we us our i me my everyone everybody all both together trio pair two three four friends "
    "students pupils class team"
)


def _may_be_persona(sentence: str, cast: Cast) -> bool:
    """The sentence names the persona, or has a word that may stand for it (a pronoun of its gender, a plural)."""
    words = set(re.findall(r"[a-z]+", sentence.lower()))
    if any(name & words for name in cast.persona) or words & _GROUP_WORDS:
        return True
    pronouns = {"he": {"he", "him", "his", "himself"}, "she": {"she", "her", "hers", "herself"}}
    return cast.gender is None or bool(words & pronouns.get(cast.gender, set()))


def _topic(question: str, cast: Cast) -> list[frozenset[str]]:
    """The question's names, so that "he" in an answer to "Who is Sirius Black?" is Sirius."""
    return [m.entity for m in _mentions(_tokens(question), cast, False, []) if m.entity not in (None, PERSONA)]


def unsupported_claims(
    answer: str,
    question: str,
    verdict: str | None,
    stage: int,
    index: EntityIndex,
    facts: Sequence[str],
    *,
    persona: Any = None,
    roles: bool = True,
) -> list[str]:
    """What the answer claims that the persona's memory at this stage does not back.

    ``facts`` are the passages the persona was given for this question (the prompt's memories); ``persona``
    (a :class:`~persona_rag.persona.Persona`, or a :class:`Cast`) lets the check see who did what.

    - about its future or an event it missed: beyond admitting it does not know, the answer adds
      more than :data:`EXTRA_DETAIL_MAX` content words found neither in the question nor in its memory;
    - about what it knows: each claim (:func:`claims_in`) that does not just admit ignorance must be backed
      by one passage: at least :data:`SUPPORT_MIN` of its content words beyond the question's found in that
      passage (:func:`backing`), with the same people in the same roles (:func:`role_conflicts`). One
      invented sentence among grounded ones is enough to reject the answer. Claims with too few content words
      to judge (a feeling, "No, I don't.") pass.
    - the persona never names itself in the third person (:func:`third_person_self`).

    Names the answer uses must be known to the persona at this stage (names from its future are
    ``find_leaks``' job). ``roles=False`` is the check before it read roles (benchmarks/claims_bench.py
    compares the two).
    """
    stop = index.vocab.stop_words
    asked = frozenset(claim_words(question, stop))
    cast = (
        (persona if isinstance(persona, Cast) else cast_of(persona, index)) if roles and persona is not None else None
    )
    out: list[str] = []
    for name, (wf, pf) in index.mentioned(answer).items():
        if wf <= stage < pf and name not in index.mentioned(question):
            out.append(f"<not known yet: {name}>")
    if cast is not None and third_person_self(answer, cast):
        out.append("<speaks of itself in the third person>")
    if verdict in ("future", "past-absence"):
        given: set[str] = set()
        for fact in facts:
            given |= claim_words(fact, stop)
        extra = {w for w in claim_words(answer, stop) - asked if not _in_passage(w, given)}
        if len(extra) > EXTRA_DETAIL_MAX:
            out.append("<adds detail it cannot know>")
        return out
    if not facts:
        return out
    for claim in claims_in(answer, stop, asked):
        if admits_ignorance(claim):
            continue
        best = backing(claim, question, facts, stop)
        if best is not None and best < SUPPORT_MIN:
            out.append("<unsupported by its memory>")
            break
        if cast is not None and role_conflicts(claim, question, facts, cast, stop):
            out.append("<unsupported by its memory>")
            break
    return out


def cast_of(persona: Any, index: EntityIndex) -> Cast:
    """The :class:`Cast` for a persona: its names and gender, its universe's names and the genders its
    profiles tell."""
    return Cast.of(index, persona_names(persona), persona_gender(persona.profile), genders_of(persona.universe))


_GENDERS: dict[int, tuple[Any, dict[str, str]]] = {}


def genders_of(universe: Any) -> dict[str, str]:
    """Each character's given name (lower case) -> 'he'/'she', from the pronouns of its profile's summary."""
    got = _GENDERS.get(id(universe))
    if got is not None and got[0] is universe:
        return got[1]
    genders: dict[str, str] = {}
    for cid, character in universe.characters.items():
        g = persona_gender(universe.profiles.get(cid) or {})
        given = universe.vocabulary.strip_title(character.name).split()
        if g and given:
            genders.setdefault(given[0].lower(), g)  # the given name: a surname is shared by a family
    _GENDERS[id(universe)] = (universe, genders)
    return genders


def persona_gender(profile: dict[str, Any]) -> str | None:
    """'he' or 'she' from the pronouns of the profile's summary; None when it does not tell."""
    words = re.findall(r"[a-z]+", str(profile.get("summary") or "").lower())
    he = sum(w in ("he", "him", "his", "himself") for w in words)
    she = sum(w in ("she", "her", "hers", "herself") for w in words)
    if he == she:
        return None
    return "he" if he > she else "she"


def persona_names(persona: Any) -> list[str]:
    """How the persona's memories name it: full name, short name, capitalised aliases ("Dr Watson")."""
    names = [persona.name, persona.short_name, persona.name.split()[0], persona.name.split()[-1]]
    for alias in persona.character.aliases:
        if not alias.lower().startswith("the "):
            names.append(" ".join(w[:1].upper() + w[1:] for w in alias.split()))
    return names
