"""The time verdict, computed from the memory without an extra model call.

Is a question about the persona's future (``future``), about a past event it
was not at and has not heard of (``past-absence``), a past event it was not at
but has heard of (``past-hearsay``), an event it was at (``past-presence``),
known background (``past-only``), or ``unknown``?

The decision is made about the event the question is about, from the event's
``participants`` and ``learned_by``: not from whichever personal memory ranks
first. The event is looked for across the whole world log, past and future for
the persona, on what sets it apart (the question's action words, its names, the
persona under "you", and the embedding similarity), against the persona's own
memories (:func:`match_event`). A matched past event is never ``future`` because
its names reach the persona later.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from persona_rag.memory.entities import EntityIndex

from persona_rag.vocabulary import LEMMAS

VERDICTS = ("future", "past-absence", "past-hearsay", "past-presence", "past-only", "unknown")
NAME_BONUS = 0.08  # added to a candidate's similarity for each name of the question it contains
ACTION_WEIGHT = 0.2  # weight of the question's (rare) action words a candidate shares
FUTURE_MARGIN = 0.05  # a question is about a later event only when it matches clearly better than the past
FUTURE_SIM_GAP = 0.08  # ... and is not much less like the question, in meaning, than the best the persona knows
FUTURE_FLOOR = 0.3  # an event decides only when this similar, or when it has most of the question's action
VERDICT_K = 5  # hits of the persona's memory the verdict looks at
WORLD_K = 40  # hits of the world log the verdict looks at (names and action words re-rank them)

# Questions that take the persona's presence for granted ("when you saw ...", "were you there
# when ...", "how did you feel watching ..."). English grammar, not a universe's words.
_PRESENCE = re.compile(
    r"\b(were|was) you (ever |actually |really |truly |even )?(there|present|around|at|in the|inside|with|watching)\b"
    r"|\bwhen you (saw|watched|witnessed|were there|were at|were in|stood)\b"
    r"|\b(did|do|didn't) you (ever |actually |really |truly |yourself |personally )?"
    r"(see|watch|witness|remember seeing|get to see|hear(?! about| of| that| the news| anything| from))\b"
    r"|\bhow did (it|you) feel (watching|seeing|to see|to watch|to be there|being there|when you saw)\b"
    r"|\bwhat was it like (to see|to watch|seeing|watching|being there|to be there)\b"
    r"|\bwhat did you (see|feel|think|do) when you (saw|watched|were there)\b"
    r"|\b(you saw|you watched|you witnessed|you were there|with your own eyes|in person|first-?hand)\b",
    re.IGNORECASE,
)


def asks_presence(question: str) -> bool:
    """The question asserts (or asks about) the persona having been there."""
    return bool(_PRESENCE.search(question))


# The wrapper of a presence question, dropped before the event is searched for: what is left
# describes the event ("Were you there when Hagrid told you ..." -> "Hagrid told Harry ...").
_WRAPPER = re.compile(
    r"^\W*(tell me,?\s*)?(so,?\s*)?("
    r"(were|was) you (ever |actually |really |truly |even )?(there|present|around)?\s*(when|while|as|at the time)?"
    r"|(did|do|didn't) you (ever |actually |really |truly |yourself |personally )?"
    r"(see|watch|witness|remember seeing|get to see|hear)"
    r"|how did (it|you) feel (watching|seeing|to see|to watch|to be there|being there|when you saw)"
    r"|what was it like (to see|to watch|seeing|watching|being there|to be there)( when)?"
    r"|what did you (see|feel|think|do) when you (saw|watched|were there)"
    r"|when you (saw|watched|witnessed)"
    r")\s*",
    re.IGNORECASE,
)


def persona_name(universe: Any, persona_id: str) -> str:
    character = universe.characters.get(persona_id) if universe is not None else None
    return str(character.name) if character is not None else ""


def event_query(question: str, persona_name: str = "") -> str:
    """What a presence question says happened, in the third person, for searching the world log."""
    rest = _WRAPPER.sub("", question.strip(), count=1).strip() or question
    if persona_name:
        rest = re.sub(r"(?<!-)\byour\b(?!-)", f"{persona_name}'s", rest, flags=re.IGNORECASE)
        rest = re.sub(r"(?<!-)\byou(rself)?\b(?!-)", persona_name, rest, flags=re.IGNORECASE)
    return rest


@dataclass
class Evidence:
    verdict: str
    reason: str
    future_texts: list[str] = field(default_factory=list)
    entities: dict[str, tuple[int, int]] = field(default_factory=dict)
    event: str = ""  # the world event the verdict is about ("" when none was matched)
    hearsay_from: str = ""  # past-hearsay: who told the persona, where the corpus says
    premise: bool = False  # the question takes the persona's presence for granted


@dataclass(frozen=True)
class EventRecord:
    """What the world log says about one event, for one persona."""

    id: str
    stage: int
    text: str
    participants: tuple[str, ...]
    known_from: int | None  # when the persona learned of it second-hand (learned_by or public), None: never
    told_by: str = ""  # who told it, where the corpus says


def event_record(universe: Any, hit_passage: Any, persona_id: str) -> EventRecord:
    """The event behind a world-log passage, with what ``persona_id`` learned of it and when."""
    event_id = hit_passage.id.split(":", 1)[-1]
    ev = universe.events_by_id.get(event_id) if universe is not None else None
    if ev is None:  # not in the corpus (a run-time record): only its participants are known
        return EventRecord(event_id, hit_passage.stage, hit_passage.text, tuple(hit_passage.participants), None)
    keys = universe.timeline.by_key
    stage = keys[ev["stage"]].ordinal
    starts: list[tuple[int, str]] = []
    learned = (ev.get("learned_by") or {}).get(persona_id)
    if learned:
        starts.append((max(stage, keys[learned].ordinal), universe.learned_from(ev, persona_id)))
    if ev.get("public"):
        starts.append((max(stage, keys[ev["public"]].ordinal), ""))
    known_from, told = min(starts, key=lambda s: s[0]) if starts else (None, "")
    return EventRecord(event_id, stage, ev["text"], tuple(ev.get("participants") or ()), known_from, told)


# ----------------------------------------------------------------------------- matching


def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9' -]+", " ", text.lower()) + " "


_HAYS: dict[tuple[str, int, int], str] = {}


def names_in(passage: Any, names: list[str], forms: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Which of the question's ``names`` (lower-case) an event passage mentions, in its text or entities, under
    any of its ``forms`` (a character's other names: "Voldemort" is there where "Tom Riddle" is)."""
    if not names:
        return []
    key = (passage.id, passage.version, hash(passage.text))
    hay = _HAYS.get(key)
    if hay is None:
        if len(_HAYS) >= STEMS_CACHE:
            _HAYS.pop(next(iter(_HAYS)))
        hay = _HAYS[key] = _norm(passage.text + " " + " ".join(passage.entities))
    forms = forms or {}
    return [n for n in names if any(f" {f} " in hay or f" {f}'s " in hay for f in _said_as(n, forms))]


def _said_as(name: str, forms: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The forms a name is found under; a family named in the plural ("the Weasleys") is there where one of
    them is ("Ron Weasley")."""
    got = forms.get(name, (name,))
    if " " not in name and len(name) >= 5 and name.endswith("s") and not name.endswith("ss"):
        got = (*got, name[:-1])
    return got


_FORMS: dict[tuple[str, int, int], dict[str, tuple[str, ...]]] = {}


def character_forms(universe: Any, known: Any = ()) -> dict[str, tuple[str, ...]]:
    """Each name of each character of ``universe`` (lower-case) -> all that character's names, less a single word
    that is part of another name (``known``: every name of the universe; "Potter" is James too, "Riddle" is no
    one else). Computed once per universe."""
    if universe is None:
        return {}
    key = (str(getattr(universe, "id", "")), id(universe), len(known))
    got = _FORMS.get(key)
    if got is not None:
        return got
    chars = [
        {str(c.name).lower(), *(str(a).lower() for a in c.aliases), str(c.id).lower()}
        for c in universe.characters.values()
    ]
    words: dict[str, int] = {}  # a word -> how many characters or other names have it
    for names in [*chars, *({n} for n in known)]:
        for w in {w for n in names for w in n.split()}:
            words[w] = words.get(w, 0) + 1
    got = {}
    for mine in chars:
        own = {w for n in mine for w in n.split()}
        shared = {w for w in own if words.get(w, 0) > 1 + sum(w in n.split() for n in known if n in mine)}
        forms = tuple(sorted(f for f in mine if " " in f or (len(f) >= 4 and f not in shared)))
        for n in mine:
            got[n] = forms if n in forms else (n, *forms)
    _FORMS[key] = got
    return got


_SUFFIX = re.compile(r"(?:'s|ing|ed|es|s)$")
# Words of a question that say how it asks, not what happened.
_ASKING_WORDS = (
    "how why who whom whose which did does doesn didn you your yours yourself feel felt feeling happen happened "
    "happens like tell remember was were are the and for had has any all can could ever during while after "
    "his her him hers she they them their its our one this that what when where with from into about some "
    "there then than also very much many more most such only just been being have will would should "
    "himself herself itself themselves myself ourselves get got gotten getting "
    # how much or how sure, not what happened ("Who are the Weasleys, exactly?", "the whole family")
    "always exactly whole lately really actually honestly still even"
)
_ASKING = frozenset(_ASKING_WORDS.split())


def _stem(word: str) -> str:
    word = word.strip("'")  # "the Potters' house" says "potters"
    if word in LEMMAS:
        return LEMMAS[word]
    stem = _SUFFIX.sub("", word)
    return stem if len(stem) >= 3 else word


def _stems(text: str, stop: frozenset[str]) -> set[str]:
    """Crude word stems ("killed" -> "die", "letters" -> "letter"), for counting the words a question shares
    with an event."""
    return {_stem(w) for w in re.findall(r"[a-z']{3,}", text.lower()) if w not in stop}


_PASSAGE_STEMS: dict[tuple[str, int, int, frozenset[str]], frozenset[str]] = {}
STEMS_CACHE = 20000  # passages whose stems are kept (each question compares ~45)


def passage_stems(passage: Any, stop: frozenset[str]) -> frozenset[str]:
    """The stems of a passage's text and entities, computed once per passage version."""
    key = (passage.id, passage.version, hash(passage.text), stop)
    got = _PASSAGE_STEMS.get(key)
    if got is None:
        if len(_PASSAGE_STEMS) >= STEMS_CACHE:
            _PASSAGE_STEMS.pop(next(iter(_PASSAGE_STEMS)))
        got = _PASSAGE_STEMS[key] = frozenset(_stems(passage.text + " " + " ".join(passage.entities), stop))
    return got


def action_words(question: str, names: list[str], stop: frozenset[str]) -> set[str]:
    """What a question says happened, without its names or how it asks: "How did you feel when Dumbledore
    died?" -> {"die"}."""
    name_words = {w.removesuffix("'s") for n in names for w in re.findall(r"[a-z']+", n)}
    return {
        s
        for w in re.findall(r"[a-z']{3,}", question.lower().replace("\u2019", "'"))
        if w not in stop and not _asking(w) and w.removesuffix("'s") not in name_words
        for s in [_stem(w)]
    }


def _asking(word: str) -> bool:
    """The word says how the question asks, not what happened: an asking word, also shortened with "is" ("who's")
    or a negated helping verb ("wasn't", "couldn't", "won't"; a curly apostrophe is read as a straight one)."""
    return word in _ASKING or word.removesuffix("'s") in _ASKING or word.endswith("n't")


@dataclass(frozen=True)
class Scored:
    """One candidate (a world event or a memory of the persona) and how well it matches the question."""

    score: float
    passage: Any
    similarity: float
    action: float  # share of the question's action words it has (rarity-weighted)
    names: tuple[str, ...]  # the question's names it has
    self_in: bool = False  # the question says "you" and the persona takes part
    words: frozenset[str] = frozenset()  # the question's action words it has


def score_candidates(
    hits: list[Any],
    names: list[str],
    actions: set[str],
    stop: frozenset[str],
    persona_id: str = "",
    you: bool = False,
    pool: list[Any] | None = None,
    dead: str = "",
    forms: dict[str, tuple[str, ...]] | None = None,
) -> list[Scored]:
    """Candidates ranked on what distinguishes an event: the embedding similarity, plus the share of the
    question's action words ("died", "kissed") each has, weighted by their rarity in ``pool`` (all the
    candidates compared, world events and memories alike), plus a bonus per name of the question it has (the
    persona counts as named when the question says "you" and it takes part). ``dead``: the one whose death the
    question asks about; a candidate where someone else dies (or ``dead`` kills) does not have that action.
    ``forms``: a name's other forms (:func:`character_forms`): a character is named under any of its names."""
    pool = pool if pool is not None else hits
    docs = {id(h): passage_stems(h.passage, stop) & actions for h in [*pool, *hits]}
    if dead and "die" in actions:
        for h in [*pool, *hits]:
            if "die" in docs[id(h)] and not dies_in(h.passage.text, dead):
                docs[id(h)] = docs[id(h)] - {"die"}
    df = {w: sum(w in docs[id(h)] for h in pool) for w in actions}
    idf = {w: math.log((len(pool) + 1) / (df[w] + 0.5)) for w in actions}
    total = sum(idf[w] for w in actions if df[w]) or 1.0  # a word no candidate has tells them apart in nothing
    out = []
    for h in hits:
        lex = sum(idf[w] for w in docs[id(h)]) / total
        found = names_in(h.passage, names, forms)
        self_in = you and persona_id in h.passage.participants
        bonus = NAME_BONUS * (len(found) + self_in)
        score = h.score + ACTION_WEIGHT * lex + bonus
        out.append(Scored(score, h.passage, h.score, lex, tuple(found), self_in, frozenset(docs[id(h)])))
    return sorted(out, key=lambda c: -c.score)


_DIED = r"(died|dies|was killed|was murdered|had been killed|had been murdered|is dead|was dead|lay dead|fell dead)"
_KILLED = r"(kill|killed|kills|murder|murdered|murders|death of|body of|killing)"


def who_dies(question: str, names: list[str]) -> str:
    """Whose death a question asks about: the name after "killed" / "death of", or before "died", or the only
    name ("" when the question is not about a death or does not say)."""
    low = _norm(question)
    for n in sorted(names, key=len, reverse=True):
        if re.search(rf"\b{_KILLED}\s+(\w+\s+){{0,2}}{re.escape(n)}\b", low) or re.search(
            rf"\b{re.escape(n)}\s+(\w+\s+){{0,3}}?(die|died|dies|was killed|was murdered)\b", low
        ):
            return n
    last = {n.split()[-1] for n in names}
    if len(last) == 1 and f" {names[0]}'s " not in low and re.search(r"\b(die|died|dies|death|killed)\b", low):
        return names[0]
    return ""


def dies_in(text: str, name: str) -> bool:
    """``name`` is the one who dies in ``text`` ("Snape was killed", "killed Severus Snape", "Snape's death"),
    not the killer ("Snape killed Dumbledore")."""
    low = _norm(text)
    # "Ariana Dumbledore" is found as herself or "Ariana" (her surname is her brother's too)
    forms = [name] if " " not in name else [name, name.split()[0]]
    return any(
        re.search(rf"\b{n}\b[^.;]{{0,40}}?\b{_DIED}\b", low)
        or re.search(rf"\b{_KILLED}\s+(\w+\s+){{0,3}}{n}\b", low)
        or re.search(rf"\b{n}'s (death|body|murder|dead)\b", low)
        for n in map(re.escape, forms)
    ) or _dies_as_pronoun(text, forms)


_PRONOUN_DIES = re.compile(rf"\b(he|she) {_DIED}\b", re.IGNORECASE)


def _dies_as_pronoun(text: str, forms: list[str]) -> bool:
    """The "he" (or "she") who dies is the one the sentence is about, the first person it names before the pronoun
    (the sentence's own opening capital, "As", is no name): "As Dobby fled, a knife struck him, and he died"."""
    for sentence in re.split(r"(?<=[.;!?])\s+", text):
        said = _PRONOUN_DIES.search(sentence)
        if said is None:
            continue
        caps = [(m.start(), m.group().lower()) for m in re.finditer(r"\b[A-Z][\w']*", sentence[: said.start()])]
        if caps and caps[0][0] == 0 and not any(f.split()[0] == caps[0][1] for f in forms):
            caps = caps[1:]  # the sentence's first word, capitalised as any first word is
        if caps and any(f.split()[0] == caps[0][1].removesuffix("'s") for f in forms):
            return True
    return False


# An event that tells of another ("Dumbledore told Harry how ...", "In the Pensieve Harry saw ..."): a question
# about what was told is about the told event, which the corpus dates and gives its own witnesses.
_TELLING = re.compile(
    r"\b(told|tells|explained|explains|revealed|reveals|confessed|admitted|described|recounted|"
    r"showed|shows|heard|overheard|memory|memories|story|Pensieve)\b",
    re.IGNORECASE,
)
TOLD_BAND = 0.08  # how close an earlier event must match to be the one a telling event tells of
TOLD_SIM_GAP = 0.05  # ... and how much less like the question in meaning it may be


def told_event(best: Scored, ranked: list[Scored]) -> Scored:
    """``best``, or the earlier event it tells of: one that matches nearly as well, with the same names and
    action words, about as like the question in meaning (``TOLD_SIM_GAP``: a word or two it shares, "wand" and
    "world" in a scene at the World Cup, do not make it the tale), and is not itself a telling."""
    if not _TELLING.search(best.passage.text):
        return best
    for c in ranked:
        if (
            c.passage.stage < best.passage.stage
            and c.score >= best.score - TOLD_BAND
            and c.action >= best.action - 0.01
            and set(best.names) <= set(c.names)
            and c.similarity >= best.similarity - TOLD_SIM_GAP
            and not _TELLING.search(c.passage.text)
        ):
            return c
    return best


def _event_view_id(passage: Any) -> str | None:
    """The world event behind a persona's event memory (``harry:ev-1-sorting`` -> ``ev-1-sorting``)."""
    return passage.id.split(":", 1)[-1] if passage.kind == "event" else None


@dataclass
class Match:
    """What the question is about: a world event (or None), the persona's best memory, and the margin."""

    event: Scored | None
    memory: Scored | None
    margin: float  # the chosen candidate's lead over the best candidate of the other kind (or stage)


ACTION_LEAD = 0.15  # a candidate without the question's names still counts when it has this much more action


def _naming(world: list[Scored], known: list[Scored], named: frozenset[str]) -> tuple[list[Scored], list[Scored]]:
    """When some world candidates mention a name of the question (``named``), only the candidates (world and
    memory) that mention one count, and those that say clearly more of what happened than any of them
    ("teaching friends in secret" without "Defence Against the Dark Arts")."""
    with_names = [c for c in world if named & set(c.names)]
    if not with_names:
        return world, known
    bar = max(c.action for c in with_names) + ACTION_LEAD

    def keep(c: Scored) -> bool:
        return bool(named & set(c.names)) or c.action >= bar

    return [c for c in world if keep(c)], [c for c in known if keep(c)]


def _unheard(world: list[Scored], known: list[Scored], unheard: frozenset[str]) -> tuple[list[Scored], list[Scored]]:
    """When some world candidates mention a name of the question the persona has not heard of yet (``unheard``),
    only those count: what the persona knows cannot be about it. "How did Voldemort make his Horcruxes?", asked of
    Ron before he has heard the word, is about the Horcruxes, not the servant Voldemort made in Albania."""
    with_them = [c for c in world if unheard & set(c.names)]
    if not with_them:
        return world, known
    return with_them, [c for c in known if unheard & set(c.names)]


def _said(c: Scored) -> bool:
    """The candidate means something for the question: similar enough, or it has most of the question's action
    and one of its names (or the persona, under "you")."""
    return c.similarity >= FUTURE_FLOOR or (c.action >= 0.5 and bool(c.names or c.self_in))


FAR_FLOOR = 0.25  # an event less like the question than this in meaning needs twice the margin (``FUTURE_MARGIN``)


def _far(c: Scored, lead: float) -> bool:
    """``c`` is far from the question in meaning (``FAR_FLOOR``) and leads by less than twice ``FUTURE_MARGIN``: the
    words it shares are likely other senses of them. "How have you been keeping yourself fed at Privet Drive this
    summer?" is neither the later summer when Harry was "fed up" at being "kept" in the dark nor Aunt Marge
    "kept insulting" his parents at Privet Drive."""
    return c.similarity < FAR_FLOOR and lead < 2 * FUTURE_MARGIN


def _later_said(c: Scored, lead: float) -> bool:
    """A later event is what the question asks about only when it has one of its names (or the persona, under
    "you") or most of what it says happened, and is not :func:`_far`: a few common words ("uncle", "off") shared
    by a scene years later do not make a question about the persona's own past its future."""
    return not _far(c, lead) and (bool(c.names or c.self_in) or c.action >= 0.5)


def _same_thing(event: Scored, own: Scored | None) -> bool:
    """The persona's own memory tells of ``event`` (all its names and action words are the event's, which has the
    question's action and a name of it): the event is what the question is about, the memory is how the persona
    knows it ("Harry has seen how the boy Tom Riddle grew up in an orphanage" and Dumbledore's visit to the
    orphanage)."""
    return (
        own is not None
        and bool(event.names)
        and event.action > 0
        and event.action >= own.action
        and set(own.names) <= set(event.names)
        and event.similarity >= FUTURE_FLOOR
    )


def first_of(best: Scored, later: list[Scored]) -> Scored:
    """The earliest of the later events that match about as well as ``best`` (same names, as much of the
    action): the one the persona would meet first ("Who is Lockhart?" in year 1 is about his arrival in year 2,
    not about the ward where he ends up)."""
    near = [
        c
        for c in later
        if c.score >= best.score - TOLD_BAND and c.action >= best.action - 0.01 and set(best.names) <= set(c.names)
    ]
    return min(near, key=lambda c: (c.passage.stage, -c.score), default=best)


def _key(c: Scored) -> str:
    """What a candidate is about: its event (a world event and the persona's memory of it are one), or itself."""
    return c.passage.id.split(":", 1)[-1]


NEAR = 0.03  # memories that match within this of the best are as good a match, but for what they say


def says_more(best: Scored, known: list[Scored]) -> Scored:
    """Of the persona's memories of events that match about as well as ``best`` (``NEAR``), the one that says most
    of what the question says happened, and clearly more of it than ``best`` (``ACTION_LEAD``): "Who's that potty knight in the painting
    guarding the tower?" is about the slashed portrait and who guards it now, not the night bus whose name has
    "knight" in it."""
    near = [
        c
        for c in known
        if c.score > best.score - NEAR
        and c.action >= max(0.5, best.action + ACTION_LEAD)
        and _event_view_id(c.passage) is not None
    ]
    return max(near, key=lambda c: (c.action, c.score), default=best)


def _lead(best: Scored, others: list[Scored]) -> float:
    """How much better ``best`` matches than the best candidate about something else."""
    return best.score - max((c.score for c in others if _key(c) != _key(best)), default=-1.0)


DEED_BAND = 0.08  # how far below the persona's best past match a later event with the question's own deed may score


def later_deed(world: list[Scored], known: list[Scored], stage: int, plain: frozenset[str]) -> Scored | None:
    """The later scene a question is about, told from an earlier one alike (the same people, the same kind of scene)
    by the question's own deed, of its action words written in lower case (``plain``: not a title or a place,
    "Captain", "Uppercross") that some candidate has: the rarest of them, or (two or more) all of them together. The
    deed decides when no candidate of the persona's past has it and the best later one that has it matches nearly
    as well as the best past one (``DEED_BAND``), about as like the question in meaning (``FUTURE_SIM_GAP``), with
    the names the best past one has (for all the words together: one of the question's names). "What did you think
    when Anne stayed home from the play?": the evening she stayed behind in an earlier chapter shares "stayed" and
    "home", the play is later; "Why did you write Anne a letter while she talked with Harville?": earlier scenes
    have the letter and the talk, only the later one has both with the writing."""
    past = [c for c in [*world, *known] if c.passage.stage <= stage]
    if not past or not plain:
        return None
    best = max(past, key=lambda c: c.score)
    df: dict[str, set[str]] = {}
    for c in [*world, *known]:
        for w in c.words & plain:
            df.setdefault(w, set()).add(_key(c))
    if not df:
        return None
    fewest = min(len(keys) for keys in df.values())
    rare = frozenset(w for w, keys in df.items() if len(keys) == fewest)
    deeds = [(rare, False)] + ([(frozenset(df), True)] if len(df) >= 2 else [])
    for deed, whole in deeds:
        if any(_has(c, deed, whole) for c in past):
            continue
        got = next((w for w in world if w.passage.stage > stage and _has(w, deed, whole)), None)
        if got is None:
            continue
        c = got
        lead = c.score - best.score
        if (
            lead >= -DEED_BAND
            and (bool(c.names) if whole else set(best.names) <= set(c.names))
            and (c.self_in or not best.self_in)
            and c.similarity >= best.similarity - FUTURE_SIM_GAP
            and _said(c)
            and not _far(c, lead)
        ):
            return c
    return None


def _has(c: Scored, deed: frozenset[str], whole: bool) -> bool:
    """The candidate has the deed: all its words (``whole``), or one of them."""
    return c.words >= deed if whole else bool(c.words & deed)


# "How did you first meet Sherlock Holmes?": the first meeting with someone the persona already knows is behind it.
_FIRST = re.compile(
    r"\bfirst (time )?(you )?(meet|met|see|saw|set eyes on|hear of|heard of|encounter|encountered|come across|came across)\b"
    r"|\bfirst time (you|that you) (met|saw|heard of|came across)\b",
    re.IGNORECASE,
)


def asks_first_meeting(question: str) -> bool:
    """The question asks how or when the persona first met (saw, heard of) someone or something."""
    return bool(_FIRST.search(question))


# "... fifty years ago", "long ago", "before you were born", "when you were a baby", "when she was a girl": the question
# dates what it asks about before now (a childhood is behind whoever is asked about it).
_AGO = re.compile(
    r"\b(years?|months?|weeks?|days?|long|while) ago\b|\bbefore (you|he|she|they) (was|were) born\b"
    r"|\bwhen (you|he|she|they) (was|were) (just |only |still )?(an? )?"
    r"(baby|babies|child|children|boy|boys|girl|girls|kid|kids|toddler|infant|little|young|youngster)\b",
    re.I,
)


def dated_past(question: str) -> bool:
    """The question itself says that what it asks about lies behind the persona's present ("ago"): no later event
    is what it asks about."""
    return bool(_AGO.search(question))


# "What did the Death Eaters do before You-Know-Who fell?": a time clause that dates what the question asks about by
# another event, the anchor. Its words tell the anchor, not what the question asks happened.
_BEFORE = re.compile(r"\bbefore\s+([^,;:?.!]+)", re.I)
_CLAUSE_END = re.compile(r"\b(and|but|so|because|while|when|or)\b", re.I)


def before_clause(question: str) -> str:
    """The clause after "before" that dates the question ("" when there is none): "You-Know-Who fell"."""
    said = _BEFORE.search(question)
    return _CLAUSE_END.split(said.group(1), maxsplit=1)[0].strip() if said else ""


def anchor_stage(
    hits: list[Any], actions: set[str], names: list[str], stop: frozenset[str], forms: dict[str, tuple[str, ...]]
) -> int | None:
    """The stage of the event a "before" clause names: the earliest world event that has all the clause's action words
    (``actions``) and one of its ``names``; None when none has, or the clause has no action or no name ("before it
    ended" says too little to find its event)."""
    if not actions or not names:
        return None
    return min(
        (
            h.passage.stage
            for h in hits
            if actions <= passage_stems(h.passage, stop) and names_in(h.passage, names, forms)
        ),
        default=None,
    )


# Family words: "your aunt" is the persona's aunt, named where its own memory says "his aunt Petunia".
FAMILY = (
    "aunt uncle cousin mother father mum dad mom sister brother wife husband son daughter godfather godmother "
    "grandmother grandfather grandson granddaughter nephew niece fiance fiancee"
)
_FAMILY = re.compile(rf"(?<!-)\byour\s+(?:own\s+)?({FAMILY.replace(' ', '|')})\b(?!-)", re.I)
_KIN: dict[tuple[str, int, str], dict[str, str]] = {}


def relatives(universe: Any, persona_id: str) -> dict[str, str]:
    """The persona's relatives by family word, as its own memories name them ("his aunt Petunia", "Aunt Petunia",
    "Harry's aunt Petunia": "aunt" -> "Petunia"), for each word said of one name only. Computed once per persona."""
    if universe is None:
        return {}
    key = (str(getattr(universe, "id", "")), id(universe), persona_id)
    got = _KIN.get(key)
    if got is not None:
        return got
    owners = "|".join(sorted({re.escape(w) for n in _persona_names(universe, persona_id) for w in n.split()}))
    words = FAMILY.replace(" ", "|")
    said = re.compile(
        rf"(?:\b(?:his|her|{owners})(?:'s)?\s+({words})),?\s+([A-Z][a-z']+)|\b({words.title()})\s+([A-Z][a-z']+)"
    )
    count: set[tuple[str, str]] = set()
    for row in (getattr(universe, "personal", None) or {}).get(persona_id) or []:
        for m in said.finditer(str(row.get("text", ""))):
            word, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            count.add((word.lower(), name.removesuffix("'s")))
    names: dict[str, set[str]] = {}
    for word, name in count:
        names.setdefault(word, set()).add(name)
    # a word said of several ("his brother Bill", "his brother Percy") names no one
    got = {word: next(iter(them)) for word, them in names.items() if len(them) == 1}
    _KIN[key] = got
    return got


def family_named(question: str, universe: Any, persona_id: str) -> tuple[str, list[str]]:
    """The question with each "your <family word>" followed by the relative's name where the persona's memory names
    them ("your aunt" -> "your aunt Petunia"), and the family words so named (they stand for a name: no action)."""
    if not _FAMILY.search(question):
        return question, []
    kin = relatives(universe, persona_id)
    said: list[str] = []

    def name(m: re.Match[str]) -> str:
        who = kin.get(m.group(1).lower())
        if who is None or who.lower() in question.lower():
            return m.group(0)
        said.append(m.group(1).lower())
        return f"{m.group(0)} {who}"

    return _FAMILY.sub(name, question), said


def match_event(
    world: list[Scored],
    known: list[Scored],
    stage: int,
    *,
    premise: bool,
    margin: float,
    known_floor: float,
    named: frozenset[str] = frozenset(),
    all_known: bool = False,
    unheard: frozenset[str] = frozenset(),
    plain: frozenset[str] = frozenset(),
    first_known: bool = False,
    ago: bool = False,
) -> Match:
    """The event the question is about, found across the whole timeline, or the persona's own memory.

    When the question names someone or something (``named``: its names, but not one only said as an owner,
    "Harry's parents") and some candidates mention it, only those count, and those that say clearly more of
    what happened (``ACTION_LEAD``). A later event decides (``future``) only when it matches clearly better (``FUTURE_MARGIN``) than
    everything the persona has lived or known by ``stage``, not on shared words alone (its similarity within
    ``FUTURE_SIM_GAP`` of the best rival's), and (``all_known``: the question names only what the
    persona already knows) for more than those names: "What's your view of Lucius Malfoy?" in Harry's second
    year is about the man he has met, not the later event that names him best; a past event decides when it matches better than
    the persona's best memory that is not an event (or, for a question that takes presence for granted,
    whenever one is found). The persona's memory of an event is that event. A name the persona has not heard of
    by ``stage`` (``unheard``) is what the question is about (:func:`_unheard`). A later scene alike an earlier
    one is told from it by the question's rarest action word (``plain``: :func:`later_deed`). The first meeting
    with someone the persona already knows (``first_known``) is not a later event, nor is what the question itself
    dates before now (``ago``: :func:`dated_past`).
    """
    best_known = known[0] if known else None
    if named:
        world, known = _naming(world, known, named)
    if unheard:
        world, known = _unheard(world, known, unheard)
    if not world:
        return Match(None, best_known, 0.0)
    past = [c for c in world if c.passage.stage <= stage]
    # The persona's memories of events are those events (in ``world`` too): its own memories are the rivals.
    own = next((c for c in known if _event_view_id(c.passage) is None), None)
    rivals = [c.score for c in (past[:1] + known[:1])]
    top = told_event(world[0], world)
    if top.passage.stage > stage and not first_known and not ago:
        top = first_of(top, [c for c in world if c.passage.stage > stage])
        lead = top.score - max(rivals, default=-1.0)
        close = max((c.similarity for c in (past[:1] + known[:1])), default=-1.0)
        if (
            lead >= FUTURE_MARGIN
            and _said(top)
            and _later_said(top, lead)
            and not (all_known and top.action <= 0)
            and top.similarity >= close - FUTURE_SIM_GAP
        ):
            return Match(top, best_known, lead)
    deed = None if first_known or ago else later_deed(world, known, stage, plain)
    if deed is not None:
        later = first_of(deed, [c for c in world if c.passage.stage > stage and c.words >= deed.words])
        return Match(later, best_known, deed.score - max(rivals, default=-1.0))
    best_past = past[0].score if past else -1.0
    if best_known is not None and best_known.similarity >= known_floor and best_known.score >= best_past - margin:
        mine = says_more(best_known, known)
        view = _event_view_id(mine.passage)
        if view is not None and not premise and mine.action <= 0 and any(c.action >= 0.5 for c in [*world, *known]):
            # it shares only names with the question, whose action another event has: the memory answers, no event
            return Match(None, best_known, 0.0)
        if view is not None and not premise:  # its memory of an event is that event
            event = next((c for c in world if _key(c) == view), None)
            if event is not None:
                event = told_event(event, world)
                return Match(event, best_known, best_known.score - (past[0].score if past else -1.0))
    if not past or (named and not named & set(past[0].names) and past[0].action <= 0):
        return Match(None, best_known, 0.0)
    past[0] = told_event(past[0], past)
    lead = past[0].score - (own.score if own is not None else -1.0)
    if (
        premise
        or (lead >= margin and _said(past[0]) and not _far(past[0], _lead(past[0], [*world, *known])))
        or (lead > -margin and _same_thing(past[0], own))
    ):
        return Match(past[0], best_known, lead)
    return Match(None, best_known, -lead)


# ----------------------------------------------------------------------------- deciding


# A question about a telling itself: what the persona was told or shown, not what happened in the tale.
_ABOUT_TELLING = re.compile(
    r"\b(tell|told|show|showed|shown|explain|explained|say|said|teach|taught)\b.*\byou\b"
    r"|\byou (see|saw|hear|heard|learn|learned|find out|found out)\b|\b(pensieve|memory|memories|lesson)\b",
    re.IGNORECASE,
)


def tells(text: str, persona_names: list[str], overheard: bool = True) -> bool:
    """The event is someone telling the persona of something, or showing it a memory: "Dumbledore told Harry
    how ...", "In the Pensieve Harry saw ...", or (``overheard``) the persona overhearing others tell it."""
    words = {w for n in persona_names for w in re.findall(r"\b[A-Z][a-z]{2,}", n)} - {"The", "Mr", "Mrs", "Miss"}
    if not words:
        return False
    who = "|".join(sorted(map(re.escape, words)))
    if re.search(rf"\b(told|explained to|revealed to|described to) ({who})\b|\bshowed ({who}) that\b", text, re.I):
        return True  # not "showed Harry how to get onto the platform": that is a lesson, not a tale
    if overheard and re.search(rf"\b({who})\b[^.]*\b(overheard|eavesdropped on)\b", text, re.IGNORECASE):
        return True  # "Harry hid with Ron and Hermione ..., where they overheard Fudge ... talking about Black"
    # a memory shown or looked into, said in either order: "In the Pensieve Harry saw ...", "Dumbledore showed
    # Harry Morfin's memory", "used the Pensieve to show Harry how ...", "Harry looked into the Pensieve and saw"
    for sentence in re.split(r"(?<=[.;])\s+", text):
        if re.search(r"\b(memory|memories|Pensieve)\b", sentence, re.I) and re.search(
            rf"\b(({who})\b(?!'s)[^.;]*\bsaw|show(ed)? ({who}))\b", sentence, re.I
        ):
            return True
    return False


# In ``verdict_reason``: the persona was at the telling (a story told, a memory shown in a Pensieve), so its memory
# of it is its own, though what it was told is hearsay.
TOLD_AT = "was told of it at"


def told_at_telling(reason: str, persona_id: str) -> bool:
    """The verdict is hearsay heard at an event the persona was at (see ``TOLD_AT``)."""
    return reason.startswith(f"{persona_id} {TOLD_AT} ")


def about_event(
    event: EventRecord,
    stage: int,
    persona_id: str,
    named: dict[str, tuple[int, int]],
    premise: bool,
    teller: str = "",
) -> Evidence:
    """The verdict on a matched event: was the persona there, has it heard of it by ``stage``?

    ``teller``: the event tells the persona of something else (a story, a memory shown), and the question is
    about what was told, so the persona was told of it by ``teller`` rather than there. A tale the persona is
    told only later happened before that telling, and the persona has not heard it yet (``past-absence``):
    "What did Riddle do to get the Hufflepuff cup?" in Harry's fifth year, shown to him in his sixth.
    """
    if event.stage > stage and teller:
        reason = f"{persona_id} is told of it only later, at {event.id}, by {teller}"
        return Evidence("past-absence", reason, [event.text], named, event.id, "", premise)
    if event.stage > stage:
        return Evidence("future", f"{event.id} happens after this stage", [event.text], named, event.id, "", premise)
    if persona_id in event.participants and teller:
        reason = f"{persona_id} {TOLD_AT} {event.id}, told by {teller}"
        return Evidence("past-hearsay", reason, [], named, event.id, teller, premise)
    if persona_id in event.participants:
        return Evidence("past-presence", f"{persona_id} was at {event.id}", [], named, event.id, "", premise)
    if event.known_from is not None and event.known_from <= stage:
        told = f", told by {event.told_by}" if event.told_by else ""
        return Evidence(
            "past-hearsay",
            f"{event.id} happened without {persona_id}, who has heard of it{told}",
            [],
            named,
            event.id,
            event.told_by,
            premise,
        )
    return Evidence(
        "past-absence",
        f"{event.id} happened without {persona_id}, who has not heard of it yet",
        [event.text],
        named,
        event.id,
        "",
        premise,
    )


def future_names(named: dict[str, tuple[int, int]], stage: int) -> dict[str, tuple[int, int]]:
    """Names that first appear in the world after ``stage``."""
    known_here = [n for n, v in named.items() if v[1] <= stage]
    # "Tom Riddle's diary" tagged late is still something of "Tom Riddle", whom the persona knows.
    return {n: v for n, v in named.items() if v[0] > stage and not any(f"{k}'s " in n for k in known_here)}


def own_deed_named(
    question: str, future: dict[str, tuple[int, int]], stage: int, top: Any | None, floor: float
) -> bool:
    """The question asks about the persona's own deed (:data:`_OWN_ACT`), and its best memory, one of what it did
    (``OWN_KINDS``, lived) and like the question enough to be grounds (``floor``), names every later name of it, which
    the persona knows by ``stage``: a name of its own past that the world log tells of only later ("Why did you
    found the Order of the Phoenix?", asked of Dumbledore, who founded it long before the story) is not its
    future. "What happened at the Burrow?" asks about no deed of the persona's: the later events there decide."""
    if top is None or not future or not _OWN_ACT.search(question):
        return False
    mine = top.passage
    return (
        mine.kind in OWN_KINDS
        and bool(mine.witnessed)
        and top.similarity >= floor
        and all(v[1] <= stage for v in future.values())
        and set(future) <= set(top.names)
    )


# A question about the persona's own deed: "Why did you ...", "How did you ...", "Have you ever ...".
_OWN_ACT = re.compile(
    r"^(?!.*\bdid you (feel|think|make of|hear|learn|see)\b)"
    r".*(\b(did|didn't|have|had) you\b|\byou (\w+ed|made|broke|told|took|gave|went|won|ran|flew|got)\b)",
    re.IGNORECASE,
)
# the persona as one who acts or undergoes ("your owl" is not, nor the "You" of a hyphenated name, "You-Know-Who")
_YOU = re.compile(r"(?<!-)\b(you|yourself)\b(?!-)", re.I)
# ... but not as the holder of an opinion: "What do you think of spiders?" is not about the persona's deeds.
_OPINION = re.compile(
    r"\b(think|thoughts?|opinion|feel|feelings) (of|about|on)\b|\bdo you (like|love|hate|trust)\b", re.I
)
OWN_KINDS = ("event", "fact", "skill")  # memory kinds that tell what the persona did
# A question about how the persona came to know something: it heard it ("Who told you about the prophecy?").
_TOLD_YOU = re.compile(
    r"\bwho (told|showed|warned|informed) you\b|\bhow did you (hear|learn) (about|of|that)\b|\bwho did you hear\b", re.I
)


def asks_who_told(question: str) -> bool:
    """The question asks how the persona came to know something: who told it, how it heard."""
    return bool(_TOLD_YOU.search(question))


def from_memory(
    named: dict[str, tuple[int, int]],
    stage: int,
    top: Any | None,
    persona_id: str,
    own_act: bool = False,
    told_you: bool = False,
) -> Evidence:
    """No event matched: what the persona's own memory says (background, traits, relations, its own deeds).
    ``told_you``: the question asks who told the persona (or how it heard): what it knows, it heard."""
    if top is None:
        return Evidence("unknown", "nothing relevant in memory", [], named)
    if told_you:  # what it heard is that memory: the answer plan rests on it (``event``)
        return Evidence("past-hearsay", f"{persona_id} was told it: {top.id}", [], named, top.id)
    if own_act and top.witnessed and top.kind in OWN_KINDS:
        return Evidence("past-presence", f"{persona_id}'s own memory {top.id}", [], named)
    if named and all(v[1] <= stage for v in named.values()):
        # Someone or something the persona has itself met.
        return Evidence(
            "past-presence" if top.witnessed else "past-only", f"known names: {', '.join(named)}", [], named
        )
    return Evidence("past-only", f"best known passage {top.id}", [], named)


def _why(match: Match) -> str:
    """The matched candidate and its margin, for ``verdict_reason``."""
    best = match.event
    if best is None:
        return ""
    lead = "no rival" if match.margin > 1.0 else f"margin {match.margin:+.2f}"  # nothing else was compared
    return (
        f" (matched {best.passage.id.split(':', 1)[-1]}: similarity {best.similarity:.2f}, action words "
        f"{best.action:.2f}, names {len(best.names)}, {lead})"
    )


def verdict(
    question: str,
    stage: int,
    entities: EntityIndex,
    world_hits: list[Any],
    known_hits: list[Any],
    persona_id: str,
    *,
    universe: Any = None,
    margin: float = 0.05,
    known_names_margin: float = 0.05,
    known_floor: float = 0.45,
) -> Evidence:
    """Decide the time verdict.

    ``world_hits``: the universe's event log searched across all stages; ``known_hits``: the
    persona's memory at ``stage``. Hits have ``.passage`` and ``.score``. ``universe`` gives each
    event's ``learned_by`` (without it, only presence is known).
    """
    said, kin = family_named(question, universe, persona_id)
    named = entities.mentioned(said)
    premise = asks_presence(question)
    all_known = bool(named) and all(v[1] <= stage for v in named.values())
    future = future_names(named, stage)
    stop = entities.vocab.stop_words
    self_names = [n.lower() for n in _persona_names(universe, persona_id)]
    actions = action_words(question, list(named) + self_names + kin, stop)
    every = character_forms(universe, entities.world_first)
    # A character the question names once is looked for under all its names ("Voldemort" is in "Tom Riddle
    # made ..."); one it names in full ("Hermione Granger": the full name and "Hermione") is looked for as said.
    forms = {n: every[n] for n in named if n in every and not any(o != n and o in every[n] for o in named)}
    ago = dated_past(question)
    clause = before_clause(said)
    if clause:  # the question is dated before an event the persona has lived or heard of: what came after is not it
        then = {n: v for n, v in named.items() if f" {n} " in _norm(clause)}
        dating = action_words(clause, list(then) + self_names + kin, stop)
        anchor = anchor_stage(world_hits, dating, list(then), stop, forms)
        if then and anchor is not None and anchor <= stage and dating <= actions:
            ago, actions = True, actions - dating
            world_hits = [h for h in world_hits if h.passage.stage <= anchor] or world_hits
    you = bool(_YOU.search(question)) and not _OPINION.search(question)
    pool = [*world_hits, *known_hits]
    dead = who_dies(question, list(named)) if "die" in actions else ""
    world = score_candidates(world_hits, list(named), actions, stop, persona_id, you, pool, dead, forms)
    known = score_candidates(known_hits, list(named), actions, stop, persona_id, you, pool, dead, forms)
    about = frozenset(n for n in named if not _only_as_owner(question, n))
    unheard = frozenset(n for n in about if named[n][1] > stage)
    later = named_stage(question, universe, stage)
    if later is not None:
        match = _at_stage(world, known, later)
        if match is None:
            reason = f"the question names {universe.timeline.stages[later].label}, after this stage"
            return Evidence("future", reason, [], named, "", "", premise)
    else:
        match = match_event(
            world,
            known,
            stage,
            premise=premise,
            margin=known_names_margin if all_known else margin,
            known_floor=known_floor,
            named=about,
            all_known=all_known,
            unheard=unheard,
            plain=frozenset(actions & _stems(_lower_words(question), stop)),
            first_known=all_known and asks_first_meeting(question),
            ago=ago,
        )
        if match.event is not None and not premise:
            event = event_record(universe, match.event.passage, persona_id)
            mine = _unheard(world, known, unheard)[1] if unheard else known
            match = known_instead(match, world, mine, event, persona_id, stage, known_floor)
        if not premise and not you and not _ABOUT_TELLING.search(question):
            ranked = _naming(world, known, about)[0] if about else world
            match = learnt_later(match, ranked, stage, _persona_names(universe, persona_id), universe, persona_id)
    if match.event is not None:
        passage = match.event.passage
        event = event_record(universe, passage, persona_id)
        # A past event decides, whatever its names: unless the question names a later thing it lacks.
        if event.stage > stage or not set(future) - set(names_in(passage, list(future))):
            teller = ""
            if (
                not premise
                # what the persona overheard is what others told, unless the question is about its own doings
                and tells(event.text, _persona_names(universe, persona_id), overheard=not you)
                and not _ABOUT_TELLING.search(question)
                # a later tale is about others: "How did you save Sirius?" is the persona's own deed to come
                and not (event.stage > stage and you)
            ):
                teller = _teller(universe, event, persona_id)
            ev = about_event(event, stage, persona_id, named, premise, teller)
            ev.reason += _why(match)
            if ev.verdict == "future":
                ev.future_texts = [c.passage.text for c in world if c.passage.stage > stage][:3]
            return ev
    if future and not own_deed_named(question, future, stage, known[0] if known else None, known_floor):
        texts = [c.passage.text for c in world if c.passage.stage > stage][:3]
        return Evidence("future", f"{', '.join(future)} first appear after this stage", texts, named, "", "", premise)
    unknown = {n: v for n, v in named.items() if v[1] > stage}
    if unknown and not any(v[1] <= stage for v in named.values()):
        return Evidence(
            "past-absence", f"{', '.join(unknown)} not known to {persona_id} yet", [], named, "", "", premise
        )
    top = known[0].passage if known else None
    ev = from_memory(
        named, stage, top, persona_id, own_act=bool(_OWN_ACT.search(question)), told_you=asks_who_told(question)
    )
    ev.premise = premise
    return ev


def knows(event: EventRecord, persona_id: str, stage: int) -> bool:
    """The persona was at ``event`` or has heard of it by ``stage``."""
    if event.stage > stage:
        return False
    return persona_id in event.participants or (event.known_from is not None and event.known_from <= stage)


def known_instead(
    match: Match,
    world: list[Scored],
    known: list[Scored],
    event: EventRecord,
    persona_id: str,
    stage: int,
    floor: float,
) -> Match:
    """A past event the persona has not heard of is not what the question is about when one of the persona's own
    memories, about as like the question (``FUTURE_SIM_GAP``) and like it enough to be grounds (``floor``), says
    more of what the question says happened: "Harry says there was a break-in at the wizard bank the day he went
    there with Hagrid" is about the break-in Hermione has heard of, not Hagrid breaking down the door of the shack.
    The memory's event is then the match (none, for a memory that is not of an event). A later event stays: it
    won on its own margin (``match_event``), and a later deed like a known one is still the later one."""
    best = match.event
    if best is None or event.stage > stage or knows(event, persona_id, stage):
        return match
    bar = max(floor, best.similarity - FUTURE_SIM_GAP)
    mine = next((k for k in known if k.action > best.action and k.similarity >= bar), None)
    if mine is None:
        return match
    view = _event_view_id(mine.passage)
    instead = next((c for c in world if view is not None and _key(c) == view), None)
    return Match(instead, mine, mine.score - best.score)


def learnt_later(
    match: Match, world: list[Scored], stage: int, persona_names: list[str], universe: Any, persona_id: str
) -> Match:
    """What the question asks is learnt only in a later telling: the world candidate that matches it best
    (``world``, ranked) is one the persona has not heard of by ``stage`` and matches better than what was chosen,
    and a later event that tells the persona (:func:`tells`) matches nearly as well (``TOLD_BAND``), with its names
    and as much of the question's action as either (some of it, and like the question: :func:`_said`). The telling is then the match (``past-absence``: the persona is
    told of it only later). "What was Tom Riddle like as a boy in the orphanage?", asked of Harry before Dumbledore
    shows him the visit, is not what Harry heard of Riddle's birth in his second year."""
    chosen = match.event or match.memory
    if chosen is None or not world:
        return match
    top = world[0]
    if _key(top) == _key(chosen) or top.score <= chosen.score or top.action <= 0 or not _said(top):
        return match
    if top.passage.stage <= stage and knows(event_record(universe, top.passage, persona_id), persona_id, stage):
        return match
    for t in world:
        if (
            t.passage.stage > stage
            and t.score >= top.score - TOLD_BAND
            and t.action >= max(top.action - 0.01, chosen.action)
            and set(top.names) <= set(t.names)
            and tells(t.passage.text, persona_names, overheard=True)
        ):
            return Match(t, match.memory, top.score - chosen.score)
    return match


_PHRASES: dict[tuple[str, int], list[tuple[str, int]]] = {}


def stage_phrases(universe: Any) -> list[tuple[str, int]]:
    """Each stage's own name as a phrase, with its ordinal: its label from the first word no other label has to
    the end ("devil's foot" of "The Adventure of the Devil's Foot", "sign of the four"), where that is two words
    or more (a stage named by a number, "Chapter 20", or by words other labels share has none). Computed once
    per universe."""
    timeline = getattr(universe, "timeline", None)
    if timeline is None:
        return []
    key = (str(getattr(universe, "id", "")), id(universe))
    got = _PHRASES.get(key)
    if got is not None:
        return got
    labels = [_words(s.label) for s in timeline.stages]
    count: dict[str, int] = {}
    for words in labels:
        for w in set(words):
            count[w] = count.get(w, 0) + 1
    got = []
    for stage, words in zip(timeline.stages, labels, strict=True):
        own = [
            i for i, w in enumerate(words) if count[w] == 1 and not _asking(w) and re.fullmatch(r"[a-z][a-z']{2,}", w)
        ]
        if own and len(words) - own[0] >= 2:
            got.append((" ".join(words[own[0] :]), stage.ordinal))
    _PHRASES[key] = got
    return got


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def named_stage(question: str, universe: Any, stage: int) -> int | None:
    """The later stage the question names by its own name ("the devil's foot powder", asked of Watson before that
    adventure), or None."""
    said = f" {' '.join(_words(question))} "
    later = [o for phrase, o in stage_phrases(universe) if o > stage and f" {phrase} " in said]
    return min(later, default=None)


def _at_stage(world: list[Scored], known: list[Scored], stage: int) -> Match | None:
    """The best world candidate of a ``stage`` the question names (None when there is none): the question is about
    that stage, whatever it shares with the persona's memories."""
    there = [c for c in world if c.passage.stage == stage]
    if not there:
        return None
    return Match(there[0], known[0] if known else None, there[0].score - max((c.score for c in known), default=-1.0))


def _lower_words(question: str) -> str:
    """The question's words written in lower case (a title, a place or a name is written with a capital)."""
    return " ".join(w for w in re.findall(r"[A-Za-z']+", question.replace("\u2019", "'")) if w[0].islower())


def _only_as_owner(question: str, name: str) -> bool:
    """The question says ``name`` only as an owner ("Harry's parents"): it is about someone else."""
    low = _norm(question)
    return f" {name}'s " in low and not re.search(rf" {re.escape(name)} (?!'s)", low.replace("'s ", " 's "))


def _teller(universe: Any, event: EventRecord, persona_id: str) -> str:
    """Who tells the persona at a telling event: the one overheard, or the first other participant, by name ("" when
    none)."""
    heard = re.search(r"\boverheard (?:an? |the )?(?:\w+ )?([A-Z][\w']+(?: [A-Z][\w']+)*)", event.text)
    if heard:
        return heard.group(1)
    other = next((p for p in event.participants if p != persona_id), "")
    character = universe.characters.get(other) if universe is not None and other else None
    return str(character.name) if character is not None else other


def _persona_names(universe: Any, persona_id: str) -> list[str]:
    character = universe.characters.get(persona_id) if universe is not None else None
    if character is None:
        return [persona_id]
    return [str(character.name), *map(str, character.aliases), persona_id]


def time_verdict(
    memory: Any,
    persona_id: str,
    question: str,
    stage: Any,
    known_floor: float = 0.45,
    *,
    known_hits: list[Any] | None = None,
) -> Evidence:
    """The time verdict from the memory alone (no model call).

    ``known_hits``: the persona's memory at ``stage`` already searched for this question
    (the graph's retrieve node passes its hits so the memory is searched once).
    """
    from persona_rag.corpus import WORLD

    universe = getattr(memory, "universe", None)
    said = family_named(question, universe, persona_id)[0]  # "your aunt" is searched for as "your aunt Petunia"
    query = event_query(said, persona_name(universe, persona_id)) if asks_presence(question) else said
    world = memory.search(WORLD, query, k=WORLD_K, all_stages=True)
    known = known_hits if known_hits is not None else memory.search(persona_id, said, stage, k=VERDICT_K)
    return verdict(
        question,
        stage.ordinal,
        memory.entity_index(persona_id),
        world,
        known[:VERDICT_K],
        persona_id,
        universe=universe,
        known_floor=known_floor,
    )
