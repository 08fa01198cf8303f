"""Who says each quotation: a sieve of the signals a reader uses, most certain first.

1. A tag with a speech verb and a name or alias next to the quotation
   (``"...," said Holmes``, ``Anne replied``, ``was Mrs Smith's answer``), or in a
   narration paragraph that introduces it (``Mr Shepherd presumed to say--``).
2. A tag with a pronoun or a description (``said he``, ``cried his wife``): ``I`` is the
   narrator of a first-person work; ``he``/``she`` the nearest character of that gender (a
   subject before an object: ``that Holmes was weaving it ... he sprang``)
   (learnt from honorifics and the pronouns and reflexives that follow a name), preferring the
   one whose turn it is; "The latter yawned." just before it is the last one the sentence before
   names. A tag in the narration that leads into the paragraph (``The squire only shrugged. But a moment later, he remarked--``) means the last one of its gender named there before the
   pronoun; one after a narration paragraph that goes on about "he" carries that chain on. A
   description by rank or office (``said the inspector``) looks first among those whose names
   bear that title (``Inspector Lestrade``; the titles are data in ``speech.txt``), then at the
   last bearer named in the narration before (``cried the baronet``: the story's baronet). A
   description no title of the cast bears (``said the waiter``, ``cried the old woman``) is the one
   its own paragraph names or the turn before calls by name, else a stranger: no speaker, and a
   turn that breaks the chain (whose turn comes after it is not guessed through it).
   A description the book itself sets beside one name, and one only, in a work ("Barrymore the butler",
   "the butler, Barrymore") is that character wherever the work's narration or tags use it.
   ``said my friend`` in a first-person work is, failing a name in its paragraph, the narrator's
   companion (the one the narrator's works tag by name most often) when the scene has him.
   Several tags of one he/she in one quotation (``he said; ... he went on``, ``remarked my friend ... he
   continued``) are one voice; a "they" or "we" tag (``they both asked``) is several voices, nobody; two tags
   by name of two people in one quotation are two voices joined, nobody. A he/she chain reaches back through
   a long narration that goes on about he/she, paragraph after paragraph, to the one it began with; after a
   narration sentence with several subjects of its gender it goes on from the last ("X sat down, when Y came
   in"). The one character whose voice a lead-in names ("X's voice was the first she made out. What she
   heard was--") speaks; a named sentence with a speech verb that runs on into the quotation with no stop
   ("X admitted ...; but still "..."") is that character's, and "of his having said, '...'" is his. Narration
   between two parts of a quotation in which another of the cast speaks ("...;" for X was replying, "...") joins
   two voices: nobody's; so is a lead-in whose subject is two names joined ("neither X nor Y thought"), a
   lead-in that says the words were not said ("had no power of saying to herself"), and a quotation that a group
   repeats in the narration after it ("Many had repeated the name"). "... were the first words which broke from X"
   is X's. A first name the cast lacks, said only in the vocative ("..., Sophy,"), is the one who answers that
   call in a tag by name when the book names her only by title and surname ("replied Mrs Tilney"), and so is its
   pet form's full name ("Sophia").
3. An action beat in the quotation's own paragraph (``He stood up and looked out at the rain.``, ``I shrugged my
   shoulders.`` before it: the narrator), or the one main-clause subject of the narration paragraph just
   before (not when a second clause has another subject: "X sat with his back to me, and I ..."; in a
   first-person work, a last sentence that is the narrator's own, "I"/"my" and no one else, is the narrator's
   beat; when that sentence says someone was asked something, "Tom asked Ruth what she meant to do.", the one
   asked answers); never a sentence with a listening verb (``What Anne first heard was--`` names who hears), nor one
   that a clause of what went before opens (``When the butler had left us``).
4. Turn-taking: in a run of quotation paragraphs (a known speaker's paragraph may open with one
   short sentence of narration: "I was amazed. 'Surely,' I cried"), untagged quotations alternate between the
   last two speakers; a quotation that names someone in the vocative (``Well, Watson, ...``)
   is not spoken by them, and the next one is likely their answer (in a scene of three, the one the last
   sentence of the turn before calls answers, before the voice two turns back; "Well, X--" calls X too; "I asked,
   turning upon X" speaks to X; the turn right after a stranger's answer is the one who spoke to the stranger;
   "replied her brother" tells that every second turn of its exchange, the side it answers, is a woman's; the
   other voice of the conversation's pair is not guessed for a turn before the conversation has shown it; the one
   the turn before calls answers across one short narration sentence that names no one acting: "Every face was
   turned towards her."; a name of the scene opening a sentence of the turn before that asks or says "you", "Tom,
   may we call on them?", calls Tom, who answers before the voice two turns back). In a work told in the third
   person, a question put by a known voice (or any turn of his that the answer calls "sir", of hers "madam") and
   answered with no tag nothing else settles is answered by the point-of-view character (the one the work's
   narration names far more often than anyone else), when the scene has her and the answer does not name her. Who
   is in a scene includes whom the narration names just before its first quotation.
   The turns are guessed again once the he/she tags are resolved (a "said he" may be a third voice of the
   scene). A paragraph with no letter in it ("* * *") ends a conversation.

A quotation no signal settles has no speaker: ``None`` is better than a guess. The words
the sieve reads (speech verbs, pronouns, gendered honorifics) are data in ``speech.txt``.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from persona_rag.builder.cast import Character
from persona_rag.builder.lexicon import lexicon
from persona_rag.builder.quotes import Quotations, Quote

# the speaker of a quotation tagged "said the waiter" while attributing: someone outside the cast, who takes a turn
# (the turns around it alternate with it) and is written out as no speaker
OUTSIDER = "\x00outsider"
CUES = ("explicit", "pronoun", "narrator", "beat", "turn", "vocative", "none")
# nouns too general to stand for one character even when the book once sets one beside a name ("Holmes, the stranger")
_VAGUE = frozenset(
    {"voice", "person", "speaker", "stranger", "visitor", "newcomer", "fellow", "writer", "child", "youth"}
)
# what stands between a name and its speech verb in narration between two parts of a quotation ("Tamsin was replying")
_GAP_VERB = re.compile(r"\s+(?:was\s+|were\s+)?(?:\w+ly\s+|then\s+|again\s+|now\s+)?")
# what joins two names into one subject ("Tom and Ruth", "neither Tom nor Ruth")
_JOINED_NAMES = re.compile(r",?\s+(?:and|nor|or)\s+")
# a sentence opened by a clause of what happened before ("When the butler had left us, ..."): its subject is no beat
_PAST_CLAUSE = re.compile(r"\s*(?:When|After|Before|Until|Till|Once)\b")
# what follows a name that is its sentence's subject: a verb of the past ("Captain Wentworth walked in")
_VERB_AFTER = re.compile(
    r"[ \t\n]+(?:\w+ly[ \t\n]+)?(?:[a-z]+ed|was|had|came|went|sat|stood|took|gave|made|saw|ran|began|rose|left)\b"
)
# what a main clause's subject follows: a sentence's or a clause's start, "and", "but", "then"
_MAIN_SUBJECT = re.compile(r"(?:[.;!?:]|\b(?:and|but|then))\s*$")
# what comes before a verb of saying (_SAY) that the sentence says was not used: "had no power of saying", "could not
# say", "never said", "without saying" (not "could not help saying": that was said; "never thought" is no saying)
_SAY = frozenset({"say", "says", "said", "saying", "speak", "speaks", "spoke", "uttered"})
_UNSAID = re.compile(r"\b(?:no\s+(?:power|means|way|need)\s+of|could\s+not|cannot|can't|never|without|did\s+not)\s+$")
# a paragraph without a letter ("* * *") between two quotations: a new scene
_SCENE_BREAK = re.compile(r"\n[ \t]*\n[^\w\n]*[^\w\s][^\w\n]*\n[ \t]*\n")
# a sentence's end, not the dot of a short capitalised abbreviation ("Mr.", "Dr.", "Mrs.")
_SENTENCE_END_NOT_TITLE = re.compile(r"(?<![A-Z][a-z])(?<![A-Z][a-z]{2})(?<!\b[A-Z])[.!?](?=\s+[A-Z\"\u201c])")
# the end of a sentence inside a quotation: a stop, not the dot of a short capitalised abbreviation ("Mr.")
_SENTENCE_STOP = re.compile(r"(?<!\b[A-Z][a-z])(?<!\b[A-Z])[.!?](?=\s|$)")
# a sentence telling that someone was asked something: "Tom asked Ruth what ...", "he inquired of me whether ..."
_ASKED = re.compile(
    r"\b(?:asked|questioned|(?:inquired|enquired)\s+of)\s+(?P<obj>me|[A-Z][\w.]*(?:[ \t]+[A-Z][\w.]*)*)(?![\w'\u2019])"
    r"(?=\s+(?:what|whether|if|why|how|where|when|who|which|about|for|to)\b)"
)
# such a stop closing the text before a word: the word opens a sentence
_AFTER_STOP = re.compile(r"(?<!\b[A-Z][a-z])(?<!\b[A-Z])[.!?]\s+$")
# what may stand between a subject and its verb ("Louisa spoke", "Anne quietly said")
_JUST_BEFORE = re.compile(r"\s*(?:\w+ly\s+|then\s+|again\s+|now\s+)?$")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z\"\u201c])|\n\s*\n")
# what a subject follows: a sentence's start, "and", "but", "then", or a word that opens a clause ("that Holmes was")
_BEFORE_SUBJECT = re.compile(r"(?:[.;!?]|\b(?:and|but|when|then|that|while|though|as|if|since|until|till))\s*$")
# where the narration between two parts of a quotation joins two speeches ("..., and", "...; but")
_JOINED = re.compile(r"(?:[;,]\s*)(?:and|but)\b|;")
# a narration sentence before a quotation in its paragraph shorter than this still leaves it a turn of the exchange
SHORT_LEAD = 150
# narration between paragraphs longer than this ends a conversation (turn-taking starts again)
CONVERSATION_GAP = 700
# how far back before a conversation's first quotation the narration setting its scene is read for who is there
SCENE_REACH = 1500
# how far back "said the baronet" looks for the last bearer of the title named
TITLE_REACH = 2000
# an exchange of at least this many alternate turns may have its two voices settled for it as a whole
PARITY_RUN = 6
# a narration paragraph between two turns shorter than this leaves them turns of one exchange (for the pair's sides)
PARITY_BEAT = 400
# how many narration paragraphs that go on about "he" (or "she") a he/she tag may reach back through
CHAIN_REACH = 8
# a work's point-of-view character is named in its narration at least this many times as often as anyone else
FOCAL_LEAD = 1.5
# a work whose narration says "I" more than once in this many characters is told in the first person
FOCAL_I_CHARS = 20000
# how many turns away a tag that tells the gender of one side of an exchange ("replied her brother") still tells it
SIDE_REACH = 8


@dataclass
class Attribution:
    speaker: str | None
    addressees: list[str] = field(default_factory=list)
    cue: str = "none"


@dataclass
class _Who:
    """What a tag or beat points at: a character, a pronoun to resolve, or a gendered description."""

    name: str | None = None
    pronoun: str | None = None  # he | she | i
    strong: bool = True  # a speech verb (tag) rather than an action beat
    title: str | None = None  # "the inspector": only a character whose name bears that title
    outsider: bool = False  # "cried both detectives": no one of the cast
    described: bool = False  # "said the waiter": one the scene names, else someone the cast does not hold
    unnamed: bool = False  # '"Indeed!" was the reply': someone of the scene the text chooses not to name
    of: str | None = None  # "replied her brother": the gender ("m"/"f") of the one he is the brother of


# a capitalised word, hyphens inside it only ("Barrymore--" is the name and a dash)
_TOKEN = r"[A-Z]\w*(?:-\w+)*(?:'(?!s\b)\w+(?:-\w+)*)*\.?"
_RUN = re.compile(rf"(?<![\w'])(?:the\s+)?{_TOKEN}(?:[ \t]*\n?[ \t]*(?:of\s+|de\s+)?{_TOKEN})*")
_WORD = re.compile(r"\S+")
# a capitalised word in the vocative: after a comma or "dear", before , ! or ?
# a quotation that opens like a letter: a salutation, then a comma and a dash ("Dear Sir,--", "My dear Anne,--")
_LETTER = re.compile(r"\s*(?:[Mm]y\s+)?[Dd]ear\s+[A-Z][\w.]*(?:\s+[A-Z][\w.]*){0,3},\s*(?:--|\u2014)")
_CALLED = re.compile(r"(?:,|\bdear)\s+([A-Z][a-z]+)(?=[,!?])")
# a speech verb used of a thing ("resumed his seat", "returned her glance") is no speech
_SECOND_CLAUSE = re.compile(r"[,;]\s*(?:and|but|while|whereas)\s+")
_VOICE = re.compile(r"(?:'s|\u2019s)\s+(?:[a-z]+\s+)?voice\b")
_OWN_OBJECT = re.compile(r"\s+(?:his|her|their|my|our)\b")
# a capitalised word that calls someone in a quotation's first sentence: "All merged in my friendship, Sophia."
_CALLED_FIRST = re.compile(r"(?:,\s+|\bdear\s+)([A-Z][a-z]+)(?=[,!?.])")
# any capitalised word that may call someone: opening the quotation or after a comma, before , ! or ?
_CALLS_ANY = re.compile(r"(?:^|[,!?]\s+|\bdear\s+)([A-Z][a-z]+)(?=[,!?])")


class Names:
    """Finds the cast's names and aliases in text: capitalised runs cut into the longest aliases they hold
    (one pass with a small pattern, however large the cast)."""

    def __init__(self, cast: Sequence[Character]) -> None:
        self.owner = {" ".join(a.split()): c.name for c in reversed(list(cast)) for a in c.aliases if a.strip()}
        self.max_words = max((len(a.split()) for a in self.owner), default=1)

    def find(self, text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
        """(start, end, cast name) of each name in ``text[start:end]``."""
        out: list[tuple[int, int, str]] = []
        for m in _RUN.finditer(text, start, len(text) if end is None else end):
            out += self.split(m.group(0), m.start())
        return out

    def split(self, run: str, base: int = 0) -> list[tuple[int, int, str]]:
        words = [(w.start(), w.end(), w.group(0)) for w in _WORD.finditer(run)]
        out = []
        i = 0
        while i < len(words):
            for n in range(min(self.max_words, len(words) - i), 0, -1):
                group = words[i : i + n]
                key = " ".join(w for _, _, w in group)
                end = group[-1][1]
                name = self.owner.get(key)
                if name is None and key.startswith("The "):  # "the Admiral" opening a sentence
                    name = self.owner.get("the" + key[3:])
                if name is None and key.endswith("."):
                    name, end = self.owner.get(key[:-1]), end - 1
                if name is not None:
                    out.append((base + group[0][0], base + end, name))
                    i += n
                    break
            else:
                i += 1
        return out

    def whole(self, run: str) -> str | None:
        """The cast name a tag's name stands for: the longest alias at the run's end (``Dr. James Mortimer``)."""
        found = self.split(run)
        return found[-1][2] if found else None


def learn_genders(text: str, cast: Sequence[Character]) -> dict[str, str]:
    """Each character's gender ("m"/"f"), from the honorifics of its names and the pronouns after them."""
    lex = lexicon()
    votes: dict[str, Counter[str]] = {c.name: Counter() for c in cast}
    # a reflexive binds to its clause's subject ("Henrietta found herself mistaken")
    pron = re.compile(r"\b(he|she|himself|herself)\b", re.IGNORECASE)
    # "Mrs Charles (Musgrove)": a wife styled by her husband's first name, which opens other full names;
    # a cast that joined her to him still has his pronouns to go by, so that honorific tells nothing
    given = {a.split()[0] for c in cast for a in c.aliases if len(a.split()) > 1}
    given -= {w for w in given if w.lower().rstrip(".") in lex.male | lex.female or w.lower() == "the"}
    found = Names(cast).find(text)
    for k, (a, b, name) in enumerate(found):
        words = text[a:b].split()
        first = words[0].lower()
        # "Mrs Charles": tells nothing of Charles's gender
        styled_by_husband = len(words) > 1 and words[1] in given and first in lex.female and first not in lex.maiden
        if first in lex.male:
            votes[name]["m"] += 3
        elif first in lex.female and not styled_by_husband:
            votes[name]["f"] += 3
        if text.startswith(("'s", "\u2019s"), b):  # "Louisa's brother ... he" tells of someone else
            continue
        # up to the sentence's end or the next name, which is nearer the pronoun
        window = text[b : min(b + 80, found[k + 1][0] if k + 1 < len(found) else len(text))]
        cut = re.search(r"[.;!?\"\u201c\u201d]", window)
        p = pron.search(window[: cut.start()] if cut else window)
        if p:
            votes[name]["m" if p.group(1).lower() in lex.he else "f"] += 1
    out = {}
    for name, v in votes.items():
        total = v["m"] + v["f"]
        if total >= 3:
            g, n = v.most_common(1)[0]
            if n >= 0.7 * total:
                out[name] = g
    return out


class Attributor:
    """Attributes the quotations of one text to a cast (see the module doc)."""

    def __init__(
        self,
        cast: Sequence[Character],
        genders: dict[str, str] | None = None,
        narrators: Sequence[tuple[int, str | None]] = (),
    ) -> None:
        self.lex = lexicon()
        self.cast = list(cast)
        self.names = Names(self.cast)
        self._base_owner = dict(self.names.owner)
        # the cast members named only by title and surname ("Mrs Tilney", "Tilney"): their first name the book may
        # give only in the vocative, inside quotations
        heads = self.lex.male | self.lex.female
        self._no_first_name: set[str] = set()
        for c in self.cast:
            titled = [a.split() for a in c.aliases if len(a.split()) > 1]
            surnames = {w[-1] for w in titled}
            if (
                titled
                and all(w[0].lower().rstrip(".") in heads for w in titled)
                and all(len(a.split()) > 1 or a in surnames for a in c.aliases)
            ):
                self._no_first_name.add(c.name)
        # every word of the cast's names: a surname called ("..., Tilney,") is no first name to learn
        self._cast_words = {w for c in self.cast for a in c.aliases for w in a.split()}
        self.genders = genders or {}
        # description word -> the cast members whose names bear that title ("inspector" -> Lestrade, Gregson)
        self.holders: dict[str, set[str]] = {}
        for word, *held in self.lex.titles:
            self.holders[word] = {
                c.name for c in self.cast for a in c.aliases if a.split() and a.split()[0].lower() in held
            }
        self._here_descs: dict[str, str] = {}  # the descriptions learnt for the work being read ("butler")
        self._descs: list[dict[str, str]] = []
        self._work_at: list[int] = [0]
        self.narr_at = [n[0] for n in narrators]
        self.narr = [n[1] for n in narrators]
        verbs = "|".join(sorted(self.lex.verbs, key=len, reverse=True))
        pron = "he|she|i"  # only a subject pronoun tags a speaker; "his wife" is a description
        nouns = "|".join(sorted(self.lex.male | self.lex.female | self.lex.companions | self.lex.persons))
        who = (
            rf"(?P<pron>\b(?:{pron})\b)|(?P<name>(?-i:(?<![\w']){_RUN.pattern[10:]}))"
            r"|(?P<one>\bone\s+of\s+(?:them|us|the\s+\w+)|\b(?:they|we)\b(?:\s+(?:both|all))?)"
            rf"|(?P<desc>\b(?:the|an?|both|his|her|my|our|their)\s+(?:\w+\s+)?(?P<noun>{nouns})(?P<plural>s)?\b)"
        )
        self.who_re = re.compile(who, re.IGNORECASE)
        adv = r"(?:\w+ly\s+|then\s+|again\s+|at\s+last\s+|now\s+)?"
        # right after a closing mark: ', said he', ' Holmes whispered', ' was her answer'
        self.after_verb_first = re.compile(rf"^[\s,;:!?\u2014-]*{adv}(?P<verb>{verbs})\b,?\s+(?:{who})", re.IGNORECASE)
        self.after_who_first = re.compile(rf"^[\s,;:!?\u2014-]*(?:{who}),?\s+{adv}(?P<verb>{verbs})\b", re.IGNORECASE)
        said = "|".join(sorted(self.lex.said_words))
        self.after_was = re.compile(
            rf"^[\s,;:!?\u2014-]*(?:{adv})?(?:was|were|is|had\s+been)\s+(?:{who})(?:'s)?\s+(?:\w+,?\s+){{0,3}}(?:{said})\b",
            re.IGNORECASE,
        )
        # '"...," was therefore his answer': a possessive pronoun before a noun of speech is a he/she tag
        self.after_possessive = re.compile(
            rf"^[\s,;:!?\u2014-]*(?:was|were|is|had\s+been)\s+(?:\w+\s+)?(?P<poss>his|her|my)\s+(?:\w+,?\s+){{0,2}}"
            rf"(?:{said})\b",
            re.IGNORECASE,
        )
        # '"...," said Mrs Musgrove to Mrs Croft': whom a tag says the quotation is spoken to
        self.told_re = re.compile(
            rf"\b(?:{verbs})\b[^.;:!?\"\u201c\u201d]{{0,40}}?\b(?:to|turning\s+(?:up)?on)\s+(?=[A-Z])"
        )
        # '"Indeed!" was the reply': a tag that names no one
        self.after_unnamed = re.compile(
            rf"^[\s,;:!?\u2014-]*(?:was|were|is|came|had\s+been)\s+(?:\w+\s+)?the\s+(?:\w+\s+)?(?:{said})\b",
            re.IGNORECASE,
        )
        self.verb_re = re.compile(rf"\b(?:{verbs})\b|'s\s+(?:{said})\b", re.IGNORECASE)
        self.after_by = re.compile(
            rf"^[\s,;:!?\u2014-]*(?:was|were)\s+(?:\w+\s+)?(?:{verbs}|uttered|spoken)\s+by\s+(?:{who})", re.IGNORECASE
        )
        # '"Help!" were the first words which broke from Pell': words or a cry that came from someone
        self.after_from = re.compile(
            rf"^[\s,;:!?\u2014-]*(?:was|were)\s+(?:the\s+|his\s+|her\s+)?(?:\w+\s+)?(?:words?|cry|exclamation)\s+"
            rf"(?:which|that)\s+(?:\w+\s+){{1,2}}?from\s+(?:{who})",
            re.IGNORECASE,
        )
        # the first sentence of the narration after a quotation, in which a group speaks: "Many had repeated the name"
        self.group_said_re = re.compile(
            rf"[^.!?;]*?\b(?:many|all|everybody|everyone|several)\s+(?:had\s+|have\s+|of\s+them\s+)?(?:{verbs})\b",
            re.IGNORECASE,
        )
        self.not_speech_re = re.compile(rf"\b(?:{'|'.join(sorted(self.lex.not_speech))})\b", re.IGNORECASE)
        self.listening_re = re.compile(rf"\b(?:{'|'.join(sorted(self.lex.listening))})\b", re.IGNORECASE)
        called = "|".join(sorted(self.lex.called))
        # "May I ask, my lad, ...": a stranger called by what he is
        self.called_re = re.compile(rf"(?:^|[,!?]\s*)(?:my\s+(?:good\s+)?)?(?:{called})(?=\s*[,!?])", re.IGNORECASE)
        # '"...," turning to the waiter': a stranger spoken to
        strangers = "|".join(sorted(self.lex.persons))
        # a narration sentence whose subject is a stranger one calls by what he is ("The waiter came into the room.")
        self.stranger_subject = re.compile(rf"\s*(?:the|a|an)\s+(?:\w+\s+)?(?P<noun>{called})\b(?!'s)", re.I)
        self.to_stranger_re = re.compile(rf"\bto\s+(?:the|a|an)\s+(?:\w+\s+)?(?:{strangers})\b", re.IGNORECASE)
        # a narration sentence whose subject is someone described by kin or station ("Her husband, however, ...")
        kin = "|".join(sorted(self.lex.male | self.lex.female))
        self.kin_subject = re.compile(
            rf"\s*(?:(?:but|and|yet|so|then)\s+)?(?:his|her)\s+(?:\w+\s+)?(?P<noun>{kin})\b", re.IGNORECASE
        )
        self.first_word = re.compile(rf"^\s*(?-i:[A-Z]\w*,?\s+)?(?:{who})", re.IGNORECASE)

    # ------------------------------------------------------------------ helpers

    def narrator_at(self, offset: int) -> str | None:
        i = bisect.bisect_right(self.narr_at, offset) - 1
        return self.narr[i] if i >= 0 else None

    def _fits_gender(self, name: str, pronoun: str) -> bool:
        """Whether ``name``'s learnt gender is the one ``he``/``she`` says."""
        return self.genders.get(name) == {"he": "m", "she": "f"}[pronoun]

    def _gender_of_word(self, word: str) -> str | None:
        w = word.lower()
        if w in self.lex.he or w in self.lex.male:
            return "m"
        if w in self.lex.she or w in self.lex.female:
            return "f"
        return None

    def _who(self, m: re.Match[str], strong: bool) -> _Who | None:
        if m.group("name"):
            run = m.group("name")
            name = self.names.whole(run)
            if name:
                return _Who(name=name, strong=strong)
            words = run.lower().split()
            if words == ["the"]:  # "The butler was standing ...": a description the book gave one character
                got = self._learnt_description(m.string, m.end())
                if got is not None:
                    return _Who(name=got, strong=strong)
            g = self._gender_of_word(words[1]) if len(words) == 2 and words[0] == "the" else None
            if g and not self.holders.get(words[1]):  # "said the Colonel" with no colonel in the cast
                return _Who(pronoun="he" if g == "m" else "she", strong=strong, described=True)
            return _Who(pronoun="he" if g == "m" else "she", strong=strong, title=words[1]) if g else None
        if m.group("pron"):
            p = m.group("pron").lower()
            if p in self.lex.i:
                return _Who(pronoun="i", strong=strong)
            return _Who(pronoun="he" if p in self.lex.he else "she", strong=strong)
        if m.group("one"):  # "one of them said", "they both asked": someone of a group, or several voices
            return _Who(outsider=True, strong=strong)
        if m.group("desc"):
            det = m.group("desc").split()[0].lower()
            if det == "the":  # "said the butler": the one the book calls "Barrymore the butler"
                got = self._learnt_description(m.string, m.start("desc") + 3)
                if got is not None:
                    return _Who(name=got, strong=strong)
            noun = m.group("noun").lower()
            if m.group("plural"):  # "cried both detectives": several voices at once
                return _Who(outsider=True, strong=strong)
            if noun in self.lex.companions:  # "my friend": the narrator's, of either gender
                return _Who(pronoun="any", strong=strong) if det in ("my", "our") else None
            g = self._gender_of_word(noun)
            pronoun = "he" if g == "m" else "she" if g == "f" else "any"
            if det in ("the", "a", "an", "both") and not self.holders.get(noun):
                # "said the waiter", "cried the old woman": a description no title of the cast bears
                return _Who(pronoun=pronoun, strong=strong, described=True) if g or noun in self.lex.persons else None
            if noun in self.lex.persons:  # "her maid"
                return _Who(pronoun=pronoun, strong=strong, described=True)
            if g:  # "cried his wife"; "said the inspector": one whose name bears that title
                of = {"his": "m", "her": "f"}.get(det)
                return _Who(
                    pronoun="he" if g == "m" else "she", strong=strong, title=noun if det == "the" else None, of=of
                )
        return None

    def _tag_after(self, text: str) -> _Who | None:
        """A tag right after a closing mark (or between two parts)."""
        head = text[:120]
        for rx in (self.after_verb_first, self.after_who_first, self.after_was, self.after_by, self.after_from):
            m = rx.match(head)
            if m:
                return self._who(m, True)
        if self.after_unnamed.match(head):
            return _Who(unnamed=True)
        m = self.after_possessive.match(head)
        if m:
            poss = m.group("poss").lower()
            return _Who(pronoun="i" if poss == "my" else "he" if poss == "his" else "she", strong=True)
        return None

    def _tag_before(self, text: str) -> _Who | None:
        """The narration sentence that leads into a quotation: ``he said--``, ``Anne, smiling, added:``."""
        tail = text.rstrip()
        if not tail:
            return None
        intro = tail[-1] in ",:-\u2014" or bool(self.verb_re.search(tail[-25:]))
        sentence = _last_sentence(tail)
        if not intro:
            return self._beat(sentence)
        read = list(self.not_speech_re.finditer(sentence))
        said = list(self.verb_re.finditer(sentence))
        if read and tail[-1] in ":-\u2014" and (not said or said[-1].start() < read[-1].start()):
            # "The vicar held the letter up to the lamp and read--": a text read out, no one's speech
            return _Who(outsider=True)
        if not said or read:
            return self._beat(sentence) if not self.not_speech_re.search(sentence) else None
        verbs = list(self.verb_re.finditer(sentence))
        if verbs[-1].group(0).lower() in _SAY and _UNSAID.search(sentence[: verbs[-1].start()]):
            # "Tamsin had no power of saying to herself, '...'": words the lead-in says were not said, nobody's
            return _Who(outsider=True)
        gerund = re.search(r"\b(his|her|my)\s+(?:having\s+)?$", sentence[: verbs[-1].start()], re.IGNORECASE)
        if gerund is not None:
            # "She had an impression of his having said, ...": the one whose saying it is, not the sentence's subject
            poss = gerund.group(1).lower()
            return _Who(pronoun="i" if poss == "my" else "he" if poss == "his" else "she", strong=True)
        subjects = self.names.find(sentence, 0, verbs[-1].start())
        if (
            len(subjects) >= 2
            and subjects[-1][2] != subjects[-2][2]
            and _JOINED_NAMES.fullmatch(sentence, subjects[-2][1], subjects[-1][0])
            and _JUST_BEFORE.fullmatch(sentence, subjects[-1][1], verbs[-1].start())
        ):
            # "Neither Tom nor Ruth thought it unimportant: '...'": two people as one subject, several voices
            return _Who(outsider=True)
        found = [w for w in (self._who(m, True) for m in self.who_re.finditer(sentence, 0, verbs[-1].start() + 2)) if w]
        who = found[-1] if found else None  # the subject nearest before the verb
        if who is not None and who.pronoun in ("he", "she") and not who.described:
            # "Mr Hale laughed, as he knew he must, and then added--": a he/she after the sentence's name is that name
            want = {"he": "m", "she": "f"}[who.pronoun]
            named = [w for w in found if w.name and self.genders.get(w.name, want) == want]
            if named:
                return named[0]
        return who

    def _shows_text(self, narration: str) -> bool:
        """Whether the last sentence of a narration that ends with a colon leads into something shown rather
        than said: no speech verb or noun, no one named, no person for its subject ("This was the page ...:")."""
        sentence = _last_sentence(narration)
        if self.verb_re.search(sentence) or self.names.find(sentence):
            return False
        if any(w in self.lex.said_words or w in self.lex.persons for w in re.findall(r"[a-z]+", sentence.lower())):
            return False  # "the answer came:", "a voice called out:"
        return not re.search(r"\b(?:he|she|i|we|they|you)\b|\b(?:turning|looking)\b", sentence, re.IGNORECASE)

    def _two_voices(self, gaps: list[str], post: str) -> bool:
        """Whether the narration between a quotation's parts joins two speeches of two people into one
        quotation: ``"...," was Mr Hale's reply, and "...," was his daughter's`` (a name before "and" or "but",
        and after it another speaker's possessive or a "was" that tags one)."""
        for k, gap in enumerate(gaps):
            cuts = list(_JOINED.finditer(gap))
            if not cuts:
                continue
            cut = cuts[-1]
            first = [m for m in self.who_re.finditer(gap, 0, cut.start()) if m.group("name") or m.group("desc")]
            rest = gap[cut.end() :] + " " + (gaps[k + 1] if k + 1 < len(gaps) else post)
            second = [
                m
                for m in self.who_re.finditer(rest)
                if (m.group("name") or m.group("desc"))
                and (rest.startswith(("'s", "\u2019s"), m.end()) or rest[: m.start()].rstrip().endswith("was"))
            ]
            if first and second and first[0].group(0) != second[0].group(0):
                return True
        return False

    def _gap_voice(self, gaps: list[str], tagged: set[str | None]) -> bool:
        """Whether the narration between two parts of a quotation, a sentence and not a tag, has another character
        of the cast than the one its tags name speaking ("...;" for Tamsin was replying, "...": two voices joined):
        a name, then its speech verb ("Tamsin answered", "Tamsin was replying")."""
        for gap in gaps:
            if self._tag_after(gap) is not None:
                continue
            for _, b, name in self.names.find(gap):
                if name in tagged or gap.startswith(("'s", "\u2019s"), b):
                    continue
                m = _GAP_VERB.match(gap, b)
                if m is not None and self.verb_re.match(gap, m.end()):
                    return True
        return False

    def _beat(self, sentence: str) -> _Who | None:
        """The subject of an action sentence beside the quotation (weak)."""
        if self.listening_re.search(sentence) or _PAST_CLAUSE.match(sentence):
            return None
        m = self.first_word.match(sentence)
        if not m or (m.group("pron") and m.group("pron").lower() not in ("he", "she", "i")):
            return None
        if m.group("name") and sentence[m.end() : m.end() + 2] in ("'s", "\u2019s"):
            return None
        who = self._who(m, False)
        return who

    # ------------------------------------------------------------------ attribution

    def attribute(self, q: Quotations) -> list[Attribution]:
        text = q.text
        quotes = q.quotes
        out = [Attribution(None) for _ in quotes]
        by_para: dict[int, list[int]] = {}
        for i, qt in enumerate(quotes):
            by_para.setdefault(qt.paragraph, []).append(i)
        masked = self._masked = _masked(text, q)
        self._learn_called_names(q, masked)
        self._found = self.names.find(masked)
        self._learn_descriptions(text, masked)
        self._starts = [f[0] for f in self._found]
        self._learn_focal()
        speakers: list[str | None] = [None] * len(quotes)
        self._outsider = [False] * len(quotes)  # the quotation calls by name someone outside the cast
        self._spoken_of: list[set[str]] = [set() for _ in quotes]  # the cast names a quotation holds
        self._span_names: list[list[list[tuple[int, int, str]]]] = [[] for _ in quotes]  # found in each part
        self._unnamed: set[int] = set()
        self._calls_stranger = [False] * len(quotes)  # the quotation calls someone by a name the cast lacks
        self._of: dict[int, str] = {}  # quotation -> the gender its tag's possessive tells ("replied her brother")
        self._tag_gender: dict[int, str] = {}  # quotation -> the gender of its he/she tag
        # quotation -> (he/she, cue, title, a description) to resolve
        pending: dict[int, tuple[str, str, str | None, bool]] = {}
        convo = _conversations(text, q)
        for i, qt in enumerate(quotes):
            self._here_descs = self._descs[bisect.bisect_right(self._work_at, qt.start) - 1]
            para_start = q.paragraphs[qt.paragraph][0]
            siblings = by_para[qt.paragraph]
            k = siblings.index(i)
            pre_start = quotes[siblings[k - 1]].end + 1 if k > 0 else para_start
            pre = masked[pre_start : max(pre_start, qt.start - 1)]
            last_para_end = q.paragraphs[qt.last_paragraph][1]
            nxt = [j for j in by_para.get(qt.last_paragraph, []) if quotes[j].start > qt.end]
            post = masked[qt.end + 1 : (quotes[nxt[0]].start - 1) if nxt else last_para_end]
            gaps = [masked[a[1] + 1 : b[0] - 1] for a, b in zip(qt.spans, qt.spans[1:], strict=False)]
            opens_paragraph = k == 0 and not pre.strip()
            narrator = self.narrator_at(qt.start)
            tags = [t for t in (self._tag_after(g) for g in gaps) if t is not None]
            after = self._tag_after(post)
            if after is not None:
                tags.append(after)
            if not tags and pre.strip():
                before = self._tag_before(pre)
                if before is not None and (before.strong or opens_paragraph or not pre.strip()):
                    tags.append(before)
                elif (
                    before is not None
                    and (before.name or before.pronoun == "i")
                    and k == 0
                    and not post.strip()
                    and _last_sentence(pre.strip()) == pre.strip()
                    and not any(not _OWN_OBJECT.match(pre, v.end()) for v in self.verb_re.finditer(pre))
                ):
                    # "Rance resumed his seat, without losing his puzzled look. '...'": one sentence of action whose
                    # subject is a name opens the paragraph, and the quotation closes it (a sentence with a speech
                    # verb, "Anne said what was proper", reports a speech that the quotation answers)
                    tags.append(before)
                elif before is not None and before.name and self._runs_into(pre, qt, q):
                    # "Tamsin admitted the inn was poor; but still "it would do for one night"": the sentence whose
                    # subject is a name runs on into the quotation (no stop before it), so its words are hers
                    tags.append(before)
            if not tags and opens_paragraph and qt.paragraph > 0:
                pa, pb = q.paragraphs[qt.paragraph - 1]
                if qt.paragraph - 1 in by_para:  # the narration after the last quotation of that paragraph
                    pa = max(pa, max(quotes[j].end + 1 for j in by_para[qt.paragraph - 1]))
                prev_text = masked[pa:pb].rstrip()
                if prev_text[-1:] in (":", "-", "\u2014", ","):
                    before = self._tag_before(prev_text)
                    if before is not None and before.strong:
                        tags.append(before)
                    elif before is None and prev_text[-1:] == ":" and self._shows_text(prev_text):
                        # "These were the lines printed at the top of the notice:": a text shown, no speech
                        tags.append(_Who(outsider=True))
                    else:
                        # "Tamsin's voice was the first she could make out. What she heard was--": whose voice
                        voice = self._voice_of(pa, pa + len(prev_text))
                        if voice is not None:
                            tags.append(_Who(name=voice))
            if not tags and opens_paragraph and qt.paragraph > 0 and qt.paragraph - 1 not in by_para:
                # a narration paragraph just before, whose last sentence has a character for subject
                prev_text = masked[slice(*q.paragraphs[qt.paragraph - 1])].strip()
                asked = self._asked(_last_sentence(prev_text), narrator) if prev_text else None
                beat = asked or (self._beat(_last_sentence(prev_text)) if prev_text else None)
                if prev_text and asked is None and (beat is None or beat.outsider):
                    # "The girls were hunting for it; and Tom could not help reading it out, observing ...": the
                    # one character the sentence has for a subject, when it does not open the sentence
                    beat = self._subject_beat(*q.paragraphs[qt.paragraph - 1]) or beat
                if (
                    beat is not None
                    and (beat.name or beat.pronoun in ("he", "she"))
                    and self._second_subject(_last_sentence(prev_text), beat.name)
                ):
                    # "Oswin sat with his back to me, and I had said nothing": two people act in the sentence
                    beat = None
                if beat is not None:
                    tags.append(beat)
                elif narrator and prev_text and self._own_thought(_last_sentence(prev_text)):
                    # "If I could learn more, it might save me a long hunt. But patience was my best card.": the
                    # narrator weighing what to say, then saying it
                    tags.append(_Who(pronoun="i", strong=False))
            if not tags and self.group_said_re.match(post.strip()):
                # '"Pell!" Many had looked at each other, and many had repeated the name ...': a group said it
                tags.append(_Who(outsider=True))
            if not tags and opens_paragraph:
                for piece in [*gaps, post]:
                    sent = piece.strip(" ,;:-\u2014()")
                    beat = self._beat(sent) if sent else None
                    if beat is not None:
                        tags.append(beat)
                        break
            self._span_names[i] = [self.names.find(text, a, b) for a, b in qt.spans]
            out[i].addressees = self._vocatives(text, qt, self._span_names[i])
            if _LETTER.match(text, qt.start):
                # "My dear Kate,--I write in great haste ...": a letter read, nobody's turn, nobody called
                tags, out[i].addressees = [_Who(outsider=True)], []
            told = self._told(" ".join([*gaps, post]), text, qt) if tags and tags[0].strong else None
            if told and told not in out[i].addressees and not (tags[0].name and tags[0].name == told):
                out[i].addressees.append(told)  # '"...," said Mrs Musgrove to Mrs Croft': Mrs Croft is spoken to
            self._spoken_of[i] = {n for found in self._span_names[i] for _, _, n in found}
            narration = " ".join([pre, *gaps, post])
            calls_stranger = not out[i].addressees and self._calls_outsider(text, qt)
            self._calls_stranger[i] = not out[i].addressees and self._calls_unknown(text, qt)
            self._outsider[i] = calls_stranger or self._to_stranger(narration)
            names: list[tuple[str | None, str]] = []
            if len(tags) == 1 and tags[0].of and tags[0].strong and not self._calls_anyone(text, qt):
                # "replied her brother": the turn before is hers, unless he calls someone ("Maud!" cried her father)
                self._of[i] = tags[0].of
            if len(tags) == 1 and tags[0].unnamed:
                self._unnamed.add(i)  # a turn, but whose the text does not say: no guess from the turns around
            # '"...," he said; "...," he continued' (or 'remarked my friend ... he continued'): several tags of one
            # he/she, with nothing between them to name another, are one voice
            one_pronoun = (
                len(tags) > 1
                and all(t.pronoun in ("he", "she", "any") and t.strong and not (t.title or t.described) for t in tags)
                and len({t.pronoun for t in tags} - {"any"}) <= 1
            )
            if one_pronoun:  # "my friend" last, the one kept: the narrator's companion, of the gender "he" says
                tags.sort(key=lambda t: t.pronoun == "any")
            for who in tags:
                if who.outsider:
                    names.append((OUTSIDER, "explicit" if who.strong else "beat"))
                elif who.name:
                    names.append((who.name, "explicit" if who.strong else "beat"))
                elif who.pronoun == "i":
                    names.append((narrator, "narrator"))
                elif who.pronoun and (len(tags) == 1 or one_pronoun):
                    # resolved once turns are known
                    pending[i] = (who.pronoun, "pronoun" if who.strong else "beat", who.title, who.described)
                    if who.strong and who.pronoun in ("he", "she"):
                        self._tag_gender[i] = "m" if who.pronoun == "he" else "f"
            if self._two_voices(gaps, post) or self._gap_voice(gaps, {n for n, _ in names}):
                names = [(OUTSIDER, "explicit")]
                tags = tags[:1]
            distinct = {n for n, _ in names if n is not None}
            # '"...," remarked Holmes, "...," he continued': a he/she that fits the one name named is that name
            agree = len(distinct) == 1 and all(
                w.name or (w.pronoun in ("he", "she") and self._fits_gender(next(iter(distinct)), w.pronoun))
                for w in tags
            )
            if len(distinct) == 1 and (len(names) == len(tags) or agree):  # two different tags: two speakers
                speakers[i] = distinct.pop()
                out[i].cue = next(c for n, c in names if n == speakers[i])
                if speakers[i] != OUTSIDER and self._stranger_came(q, qt, i, by_para):
                    self._outsider[i] = True  # one of the cast asks the stranger who just came in
            elif len({n for n, c in names if n not in (None, OUTSIDER) and c == "explicit"}) >= 2:
                # '"Oh! he talks of you," cried Oswin, "in such--" Tamsin interrupted him': two tags by name of two
                # people, two voices joined in one quotation: nobody's, and no turn of either to guess
                speakers[i] = OUTSIDER
                out[i].cue = "explicit"
        self._quoted = set(by_para)
        self._by_para = by_para
        for i in range(len(quotes) - 1):
            following = quotes[i + 1]
            if (
                out[i].cue == "beat"
                and speakers[i] not in (None, OUTSIDER)
                and speakers[i + 1] == speakers[i]
                and out[i + 1].cue == "explicit"
                and following.paragraph == quotes[i].last_paragraph + 1
                and by_para[following.paragraph][0] == i + 1
            ):
                # "Charles laughed." / "..." / "Charles laughed again and said, '...'": the next turn is his, so the
                # one between, which only a beat gave him, is someone else's
                speakers[i] = None
                out[i].cue = "none"
        self._qstarts = [qt.start for qt in quotes]
        # each narrator's companion: the one tagged by name most often in the narrator's works
        tagged: dict[str, Counter[str]] = {}
        for i, qt in enumerate(quotes):
            narrator = self.narrator_at(qt.start)
            if narrator and speakers[i] not in (None, OUTSIDER, narrator) and out[i].cue == "explicit":
                tagged.setdefault(narrator, Counter())[speakers[i] or ""] += 1
        self._companions = {n: c.most_common(1)[0][0] for n, c in tagged.items()}
        # paragraph -> the last quotation that ends in it
        self._ends_para = {qt.last_paragraph: j for j, qt in enumerate(quotes)}
        self._keep_present_addressees(quotes, q, speakers, out, convo)
        for i in list(pending):
            qt = quotes[i]
            if i > 0 and self._outsider[i - 1] and qt.paragraph == quotes[i - 1].last_paragraph + 1:
                # '"May I ask, my lad, ...?" / "Commissionaire, sir," he said': the stranger called answers
                speakers[i] = OUTSIDER
                del pending[i]
        # he/she are resolved with the turns around them known, then turn-taking fills what is left
        self._turns(quotes, q, speakers, out, convo, skip=set(pending) | self._unnamed)
        for i, (pronoun, cue, _, described) in list(pending.items()):
            if described:
                # "the detective said": one the quotation's paragraph names or the turn before calls by name
                # ("..., Gregson?"), else a stranger, whose turn breaks the chain of turns around it
                qt = quotes[i]
                narrator = self.narrator_at(qt.start)
                speakers[i] = self._resolve(pronoun, i, qt, masked, q, speakers, narrator, out, local=True) or OUTSIDER
                out[i].cue = cue
                del pending[i]
        for i, (pronoun, cue, title, _) in pending.items():
            qt = quotes[i]
            got = None
            if title is not None:  # "said the inspector": the nearest inspector first
                got = self._resolve(pronoun, i, qt, masked, q, speakers, self.narrator_at(qt.start), out, title)
                got = got or self._last_holder(title, qt, self.narrator_at(qt.start), out[i].addressees)
            if got is None:
                got = self._resolve(pronoun, i, qt, masked, q, speakers, self.narrator_at(qt.start), out)
            if got is not None:
                speakers[i], out[i].cue = got, cue
        # the turns guessed before the he/she tags were known are guessed again with them known (a "said he" that
        # turned out to be a third voice of the scene changes whose turn comes next); a turn the second guess
        # leaves open keeps the first guess
        first = {i: speakers[i] for i in range(len(quotes)) if out[i].cue == "turn"}
        for i in first:
            speakers[i], out[i].cue = None, "none"
        self._turns(quotes, q, speakers, out, convo, skip=self._unnamed)
        for i, guess in first.items():
            if speakers[i] is None:
                speakers[i], out[i].cue = guess, "turn"
        self._parity(quotes, q, speakers, out)
        self._answers_reported(quotes, q, speakers, out)
        for i, a in enumerate(out):
            a.speaker = speakers[i] if speakers[i] != OUTSIDER else None
            a.addressees = self._called[i]
            if a.speaker is None:
                a.cue = "none"
            a.addressees = [n for n in a.addressees if n != a.speaker]
        return out

    def _learn_called_names(self, q: Quotations, masked: str) -> None:
        """First names the cast lacks, learnt from the answers to the turns that call them: '"..., Sophy," said Mr
        Tilney. / "We had better not," replied Mrs Tilney.' -- "Sophy" is Mrs Tilney, when the book names her only by
        title and surname (a name of hers with a first name would have been in the cast). A called name shared with
        another answerer is nobody's; a pet form of a learnt name (its stem: "Sophia" beside "Sophy") is hers too."""
        self.names.owner = dict(self._base_owner)
        quotes, paras = q.quotes, q.paragraphs
        votes: dict[str, set[str]] = {}
        unknown: set[str] = set()
        for i, qt in enumerate(quotes):
            words = [w for w in self._unknown_calls(q.text, qt) if w not in votes or len(votes[w]) == 1]
            unknown.update(words)
            if not words or i + 1 == len(quotes):
                continue
            nxt = quotes[i + 1]
            if nxt.paragraph != qt.last_paragraph + 1 or nxt.start != paras[nxt.paragraph][0] + 1:
                continue
            end = nxt.spans[1][0] - 1 if len(nxt.spans) > 1 else paras[nxt.last_paragraph][1]
            if i + 2 < len(quotes) and quotes[i + 2].start < end:
                end = quotes[i + 2].start - 1
            tag = self._tag_after(masked[nxt.spans[0][1] + 1 : end])
            if tag is not None and tag.name and tag.strong and tag.name in self._no_first_name:
                for w in words:
                    votes.setdefault(w, set()).add(tag.name)
        if not votes:
            return
        # a name the narration itself uses is one the cast had the chance to count: only a name said alone is learnt
        narrated = set(re.findall(r"\b[A-Z][a-z]+\b", masked))
        unknown -= narrated
        learnt = {w: next(iter(n)) for w, n in votes.items() if len(n) == 1 and w in unknown}
        for w in unknown - set(learnt):
            stems = {n for k, n in learnt.items() if _pet_form(w, k)}
            if len(stems) == 1:
                learnt[w] = stems.pop()
        self.names.owner.update(learnt)

    def _unknown_calls(self, text: str, qt: Quote) -> list[str]:
        """The capitalised words a quotation calls someone by (``..., Sophy,``) that the cast lacks."""
        out = []
        for a, b in qt.spans:
            for w in self._called_words(_CALLED_FIRST, text, a, b):
                if w not in self._cast_words and w not in out:
                    out.append(w)
        return out

    def _called_words(self, pattern: re.Pattern[str], text: str, a: int, b: int) -> Iterator[str]:
        """The words ``pattern`` (group 1) finds someone called by in ``text[a:b]``, less interjections and
        words of address ("Oh", "Sir", "Madam")."""
        for m in pattern.finditer(text, a, b):
            low = m.group(1).lower()
            if low not in self.lex.interjections and low not in self.lex.male and low not in self.lex.female:
                yield m.group(1)

    def _called_across(
        self, i: int, quotes: list[Quote], q: Quotations, speakers: list[str | None], adjacent: list[bool]
    ) -> str | None:
        """The one the turn before calls by name answers it across one short sentence of narration that names no
        one as its subject ('"Tamsin, Tamsin, what now?" cried Pell. / Oswin's eyes turned to her too. / "Now we
        wait."': Tamsin), however the turns after go."""
        if i == 0 or adjacent[i - 1] or speakers[i - 1] in (None, OUTSIDER):
            return None
        last, qt = quotes[i - 1], quotes[i]
        if qt.paragraph != last.last_paragraph + 2 or qt.start != q.paragraphs[qt.paragraph][0] + 1:
            return None
        a, b = q.paragraphs[last.last_paragraph + 1]
        between = self._masked[a:b].strip()
        if not between or len(between) >= SHORT_LEAD or _last_sentence(between) != between:
            return None
        if any(subj for _, subj in self._mentions(self._masked, a, b)) or self._beat(between) is not None:
            return None
        called = [n for n in self._called[i - 1] if n != speakers[i - 1]]
        return called[0] if len(called) == 1 else None

    def _asked(self, sentence: str, narrator: str | None) -> _Who | None:
        """The one a narration sentence says was asked something ("Tom asked Ruth what she meant to do.", "He asked
        me whether I had seen it."): the one who answers, in the quotation that opens the next paragraph. Not a
        lead-in ("Tom asked Ruth:"), whose quotation is the asker's."""
        if not sentence.endswith((".", "?")):
            return None
        m = _ASKED.search(sentence)
        if m is None:
            return None
        if m.group("obj") == "me":
            return _Who(name=narrator, strong=False) if narrator else None
        name = self.names.whole(m.group("obj"))
        return _Who(name=name, strong=False) if name else None

    def _second_subject(self, sentence: str, name: str | None) -> bool:
        """Whether a clause after ", and" (or "; but", ...) of the sentence has a subject other than ``name``: "I",
        "we" or another character of the cast."""
        for m in _SECOND_CLAUSE.finditer(sentence):
            rest = sentence[m.end() :]
            if re.match(r"(?:I|we|We)\b", rest):
                return True
            got = self.names.find(rest[:40])
            if got and got[0][0] == 0 and got[0][2] != name:
                return True
        return False

    def _called_last(self, qt: Quote, text: str, name: str) -> bool:
        """Whether the last sentence of a quotation names ``name`` (the one it calls)."""
        a, b = qt.spans[-1]
        words = text[a:b].rstrip()
        start = a + len(words) - len(_last_sentence(words))
        return any(n == name for _, _, n in self.names.find(text, start, b))

    def _voice_of(self, start: int, end: int) -> str | None:
        """The one character whose voice the narration in ``[start, end)`` speaks of ("Tamsin's voice", "Oswin's
        low voice"), if only one."""
        lo, hi = bisect.bisect_left(self._starts, start), bisect.bisect_left(self._starts, end)
        voices = {n for _, b, n in self._found[lo:hi] if _VOICE.match(self._masked, b)}
        return voices.pop() if len(voices) == 1 else None

    def _own_thought(self, sentence: str) -> bool:
        """Whether a narration sentence is the first-person narrator's own (an "I", "my" or "me" in it) and
        speaks of no one else (no he, she or they, no one of the cast)."""
        if not re.search(r"\b(?:I|my|me)\b", sentence) or re.search(r"\b(?i:he|she|they|his|her|him)\b", sentence):
            return False
        return not self.names.find(sentence)

    def _runs_into(self, pre: str, qt: Quote, q: Quotations) -> bool:
        """Whether the narration before a quotation in its paragraph is a sentence that goes on into it (no stop,
        no closing mark, no listening verb before it) with a speech verb, naming no one else of the cast."""
        tail = pre.rstrip()
        if not tail or tail[-1] in '.!?"\u201d)' or self.listening_re.search(_last_sentence(tail)):
            return False
        sentence = _last_sentence(tail)
        if not self.verb_re.search(sentence):  # "X had acquired the name of "...": a phrase cited, not said
            return False
        start = qt.start - 1 - len(pre) + len(tail) - len(sentence)
        return len({n for _, _, n in self._found_in(start, start + len(sentence))}) == 1

    def _learn_descriptions(self, text: str, masked: str) -> None:
        """Descriptions the book itself sets beside one name ("Barrymore the butler", "Barrymore, the butler",
        "the butler, Barrymore"), work by work: each one that a single character of the cast gets in a work (and
        that no title of the cast bears) stands for that character in the work's narration ("The butler was
        standing ...") and tags ('said the butler'), as if the name were written there."""
        self._descs = []
        bounds = sorted(set([0, *self.narr_at]))
        self._work_at = bounds
        nouns = (self.lex.persons | {"man", "woman", "gentleman"}) - _VAGUE
        alt = "|".join(sorted(nouns))
        phrase_re = re.compile(rf"\b[Tt]he\s+(?:(?P<adj>[a-z]+)\s+)?(?P<noun>{alt})\b(?!['\u2019]s)")
        learnt: list[dict[str, set[str]]] = [{} for _ in bounds]
        for m in phrase_re.finditer(text):
            noun = m.group("noun")
            if self.holders.get(noun):
                continue
            adj = m.group("adj")
            phrase = f"{adj} {noun}" if adj else noun
            work = bisect.bisect_right(bounds, m.start()) - 1
            # "<Name> the butler", "<Name>, the butler": a name right before; "the butler, <Name>": right after
            head = text[max(0, m.start() - 60) : m.start()]
            before = re.search(r"([A-Z][\w.\-]*(?:[ \t]+[A-Z][\w.\-]*)*),?[ \t]+$", head)
            name = self.names.whole(before.group(1)) if before else None
            if name is None:
                after = re.match(
                    r",[ \t]+([A-Z][\w.\-]*(?:[ \t]+[A-Z][\w.\-]*)*)\b(?!['\u2019]s)", text[m.end() : m.end() + 60]
                )
                found = self.names.split(after.group(1)) if after else []
                name = found[0][2] if found and found[0][0] == 0 else None
            if name is not None:
                learnt[work].setdefault(phrase, set()).add(name)
        extra: list[tuple[int, int, str]] = []
        for work, got in enumerate(learnt):
            descs = {phrase: next(iter(names)) for phrase, names in got.items() if len(names) == 1}
            self._descs.append(descs)
            if not descs:
                continue
            lo, hi = bounds[work], bounds[work + 1] if work + 1 < len(bounds) else len(masked)
            for m in phrase_re.finditer(masked, lo, hi):
                adj, noun = m.group("adj"), m.group("noun")
                name = descs.get(f"{adj} {noun}" if adj else noun) or (descs.get(noun) if adj is None else None)
                if name is not None:
                    extra.append((m.start(), m.end(), name))
        if extra:
            self._found = sorted(self._found + extra)

    def _learn_focal(self) -> None:
        """Each work's point-of-view character: in a work told in the third person (no narrator found, and its
        narration says "I" at most once in ``FOCAL_I_CHARS`` characters, so a first-person work whose narrator went
        unfound is left out), the one its narration names far more often than anyone else (at least ``FOCAL_LEAD``
        times the next one); else none."""
        bounds = self._work_at
        counts: list[Counter[str]] = [Counter() for _ in bounds]
        for a, _, name in self._found:
            counts[bisect.bisect_right(bounds, a) - 1][name] += 1
        self._focal: list[str | None] = []
        for k, (start, got) in enumerate(zip(bounds, counts, strict=True)):
            end = bounds[k + 1] if k + 1 < len(bounds) else len(self._masked)
            first_person = len(re.findall(r"\bI\b", self._masked[start:end])) * FOCAL_I_CHARS > end - start
            top = got.most_common(2)
            lead = bool(top) and (len(top) == 1 or top[0][1] >= FOCAL_LEAD * top[1][1])
            third = self.narrator_at(start) is None and not first_person
            self._focal.append(top[0][0] if lead and third else None)

    def focal_at(self, offset: int) -> str | None:
        return self._focal[bisect.bisect_right(self._work_at, offset) - 1]

    def _answers_reported(
        self, quotes: list[Quote], q: Quotations, speakers: list[str | None], out: list[Attribution]
    ) -> None:
        """A quotation after one sentence that reports what a character said ("Tom said what was kind, and hoped she
        would soon be well. '...'") answers that speech: it is the voice of the turn before, when that is someone
        else (a quotation that closes a paragraph alone, untagged)."""
        masked = self._masked
        for i in range(1, len(quotes)):
            qt, last = quotes[i], quotes[i - 1]
            if (
                speakers[i] is not None
                or last.last_paragraph != qt.paragraph - 1
                or speakers[i - 1] in (None, OUTSIDER)
            ):
                continue
            a, b = q.paragraphs[qt.paragraph]
            pre = masked[a : qt.start - 1]
            if not pre.strip() or masked[qt.end + 1 : b].strip() or len(self._quoted_in(qt.paragraph)) != 1:
                continue
            sentence = pre.strip()
            if _last_sentence(sentence) != sentence or sentence[-1:] in ",:-\u2014":
                continue
            subject = self.first_word.match(sentence)
            if subject is None or not subject.group("name") or not self.verb_re.search(sentence):
                continue
            name = self.names.whole(subject.group("name"))
            if name is not None and name != speakers[i - 1]:
                speakers[i], out[i].cue = speakers[i - 1], "turn"

    def _quoted_in(self, paragraph: int) -> list[int]:
        return self._by_para.get(paragraph, [])

    def _subject_beat(self, start: int, end: int) -> _Who | None:
        """The one character the last sentence of the narration ``masked[start:end]`` has for a subject (a beat)."""
        masked = self._masked
        end = start + len(masked[start:end].rstrip())
        first = end - len(_last_sentence(masked[start:end]))
        if self.listening_re.search(masked, first, end):
            return None
        # the subject of a main clause, not of one that "that", "when" or "as" opens ("the ships that Tom had had")
        subjects = {
            n
            for a, _, n in self._found_in(first, end)
            if _MAIN_SUBJECT.search(masked, max(first, a - 8), a) or a == first
        }
        return _Who(name=subjects.pop(), strong=False) if len(subjects) == 1 else None

    def _learnt_description(self, text: str, at: int) -> str | None:
        """The character a description right after "the" at ``at`` stands for in the current work."""
        descs = self._here_descs
        if not descs:
            return None
        m = re.match(r"\s+(?:([a-z]+)\s+)?([a-z]+)\b", text[at : at + 40])
        if m is None:
            return None
        adj, noun = m.group(1), m.group(2)
        return descs.get(f"{adj} {noun}") if adj else descs.get(noun)

    def _found_in(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """The cast names found in the narration between ``start`` and ``end``, possessives left out."""
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        masked = self._masked
        return [f for f in self._found[lo:hi] if f[1] <= end and not masked.startswith(("'s", "\u2019s"), f[1])]

    def _mentions(self, masked: str, start: int, end: int) -> list[tuple[str, bool]]:
        """(cast name, in subject position) for each name in narration, possessives left out."""
        out = []
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        for a, b, name in self._found[lo:hi]:
            if b > end or masked.startswith("'s", b) or masked.startswith("\u2019s", b):
                continue
            before = masked[max(start, a - 6) : a]
            subject = not before.strip() or bool(_BEFORE_SUBJECT.search(before))
            out.append((name, subject))
        return out

    def _resolve(
        self,
        pronoun: str,
        i: int,
        qt: Quote,
        masked: str,
        q: Quotations,
        speakers: list[str | None],
        narrator: str | None,
        out: Sequence[Attribution],
        title: str | None = None,
        local: bool = False,
    ) -> str | None:
        """He/she (or "my friend", of either gender): the one character of that gender named in this
        paragraph's narration, else the one the next turn calls by name, else the one the turn before
        called by name (an introduction is answered by the one introduced), else the (last) subject of the last
        sentence of a narration paragraph just before (or whom its "The latter" means), else whose turn
        it is, else the nearest one named (as a subject first) in the paragraphs before; never someone
        the quotation addresses."""
        want = {"he": "m", "she": "f"}.get(pronoun)
        addressed = out[i].addressees

        def fits(name: str | None, unknown: bool = False) -> bool:
            if name is None or name in (OUTSIDER, narrator) or name in addressed:
                return False
            if title is not None and name not in self.holders[title]:
                return False
            return want is None or self.genders.get(name) == want or ((unknown or local) and name not in self.genders)

        a, b = q.paragraphs[qt.paragraph]
        here = [n for n, _ in self._mentions(masked, a, b) if fits(n)]
        if here:
            # "he"/"she" goes on from a subject before it rather than from an object ("Major Hale came in,
            # where there was only Ruth and her small nephew ...: he stopped, and could only say")
            before = [(n, subj) for n, subj in self._mentions(masked, a, qt.start) if fits(n)]
            subjects = [n for n, subj in before if subj]
            return (subjects or [n for n, _ in before])[-1] if before else here[0]
        if want is not None:
            # one of no known gender, the one subject the narration of the paragraph names before the quotation
            # ("Young Stamford looked at me. '...,' he said"): a minor character the book too seldom calls he/she
            unknown = {n for n, subj in self._mentions(masked, a, qt.start) if subj and fits(n, unknown=True)}
            if len(unknown) == 1:
                return unknown.pop()
        companion = self._companions.get(narrator or "")
        if pronoun == "any" and not local and fits(companion) and companion in self._present[i]:
            # "my friend remarked": the one the narrator speaks with most, when the scene has him
            return companion
        lead = self._lead_in(i, qt, q)
        if lead is not None:
            # the tag stands in the narration that leads into this paragraph ("The squire only shrugged. But a
            # moment later, ... he remarked--"): the last one of that gender named in it before the pronoun
            # (a name after it in its sentence is someone else: "She kept quiet ... only Ruth was there to hear--")
            la, lb = lead
            tail = la + len(masked[la:lb].rstrip()) - len(_last_sentence(masked[la:lb].rstrip()))
            word = re.search(rf"\b(?i:{pronoun})\b", masked[tail:lb]) if pronoun in ("he", "she") else None
            named = [n for n, _ in self._mentions(masked, la, tail + word.start() if word else lb) if fits(n)]
            if named:
                return named[-1]
        nxt = q.quotes[i + 1] if i + 1 < len(q.quotes) else None
        if (
            nxt is not None
            and nxt.paragraph == qt.last_paragraph + 1
            and nxt.start == q.paragraphs[nxt.paragraph][0] + 1
            # a narration after the quotation that leads into the next one ('"...," was hurrying off, when Ruth
            # quickly put in--') tells who speaks next: the next one is not an answer to this
            and masked[qt.end + 1 : q.paragraphs[qt.last_paragraph][1]].rstrip()[-1:] not in (":", "-", "\u2014")
        ):
            called = [n for n in self._called[i + 1] if fits(n)]
            if len(called) == 1 and len(out[i + 1].addressees) == 1:  # the answer calls the speaker by name
                return called[0]
        last = q.quotes[i - 1] if i > 0 else None
        if (
            last is not None
            and last.last_paragraph == qt.paragraph - 1
            # the paragraph opens with the quotation, or with one short sentence of narration naming no one
            # ("Her companion smiled. '...,' she said")
            and (
                qt.start == q.paragraphs[qt.paragraph][0] + 1
                or (
                    len(opening := masked[q.paragraphs[qt.paragraph][0] : qt.start].strip()) < SHORT_LEAD
                    and _last_sentence(opening) == opening
                    and not self.names.find(opening)
                )
            )
        ):
            # the one the turn before called by name answers it ("Dr. Watson, Mr. Holmes," said Stamford, introducing us.)
            called = [n for n in self._called[i - 1] if fits(n, unknown=True) and n != speakers[i - 1]]
            if len(called) == 1:
                return called[0]
        if local:
            return None
        p = qt.paragraph - 1
        if p >= 0 and p not in self._quoted:  # the subject of the last sentence of the narration just before
            s, e = q.paragraphs[p]
            s = e - len(_last_sentence(masked[s:e].rstrip()))
            kin = self.kin_subject.match(masked, s, e)
            obj = {"m": r"\b(?i:him)\b", "f": r"\b(?i:her)\b"}.get(want or "")
            if (
                kin
                and obj
                and self._gender_of_word(kin.group("noun")) == want
                and not re.search(obj, masked[kin.end() : e])
            ):
                # "Her brother, though, would not hear of it ...": the he/she goes on from one the narration
                # names only by what he is to someone, not the name after it in the sentence (unless that
                # sentence has a "him" for the he to go on from: "His father wished him to go")
                return None
            subjects = [n for n, subj in self._mentions(masked, s, e) if subj and fits(n)]
            if subjects:
                # the last subject of that gender: "X sat down, when Y came in" -- the one who came in speaks
                return subjects[-1]
            # "One morning, ..., Captain Wentworth walked into the room": no name after a sentence's start or a
            # conjunction, but one right before a verb of the past is the subject the he/she goes on from
            acting = {n for _, b, n in self._found_in(s, e) if _VERB_AFTER.match(masked, b) and fits(n)}
            if len(acting) == 1:
                return acting.pop()
            back = self._back_reference(masked, q.paragraphs[p][0], s)
            if back is not None and fits(back):
                return back
            # "..., however, Louisa spoke again.": a name right before a speech verb
            for verb in self.verb_re.finditer(masked, s, e):
                named = [
                    n for _, b, n in self._found_in(s, verb.start()) if _JUST_BEFORE.match(masked, b, verb.start())
                ]
                if named and fits(named[-1]):
                    return named[-1]
        chained = self._chain(pronoun, qt, q, masked, speakers, fits)
        if chained is not None or local:
            return chained
        qs = q.quotes
        if (
            i >= 2
            and speakers[i - 1] is None
            and fits(speakers[i - 2])
            and qs[i - 1].paragraph == qs[i - 2].last_paragraph + 1
            and qt.paragraph == qs[i - 1].last_paragraph + 1
        ):
            # three turns in a row, the middle one unknown: the voice two turns back ('"Read the ledger." /
            # "No, sir." / "Then take it away," he said': who asked for the ledger), not the last one named
            return speakers[i - 2]
        # a stranger's turn ("said the waiter") breaks the chain: only the turns after it tell whose turn it is
        strangers = [j for j in range(max(0, i - 4), i) if speakers[j] == OUTSIDER]
        prev = [speakers[j] for j in range(max(0, i - 4, *(j + 1 for j in strangers)), i) if speakers[j]]
        if len(prev) >= 2 and prev[-1] != prev[-2] and fits(prev[-2]):
            return prev[-2]
        recent = [n for n in reversed(prev) if fits(n) and n != prev[-1]]
        if recent:
            return recent[0]
        p = qt.paragraph - 1
        while p >= max(0, qt.paragraph - 3) and speakers[self._ends_para.get(p, i)] != OUTSIDER:
            s, e = q.paragraphs[p]
            found = [(n, subj) for n, subj in self._mentions(masked, s, e) if fits(n, unknown=subj)]
            subjects = [n for n, subj in found if subj]
            if subjects or found:
                return (subjects or [n for n, _ in found])[-1]
            p -= 1
        if prev and fits(prev[-1]):
            return prev[-1]
        if fits(companion) and companion in self._present[i]:
            # "he said" in a conversation whose only speakers known are the narrator and his companion
            c = self._convo[i]
            lo, hi = bisect.bisect_left(self._convo, c), bisect.bisect_right(self._convo, c)
            voices = set(speakers[lo:hi])
            if voices - {None, narrator} == {companion}:
                return companion
        return None

    def _last_holder(self, title: str, qt: Quote, narrator: str | None, addressed: list[str]) -> str | None:
        """The bearer of a title named last in the narration before (within ``TITLE_REACH`` characters):
        "cried the baronet" is the baronet of the story, however long ago the narration named him."""
        k = bisect.bisect_left(self._starts, qt.start) - 1
        while k >= 0 and self._found[k][0] >= qt.start - TITLE_REACH:
            name = self._found[k][2]
            if name in self.holders[title] and name != narrator and name not in addressed:
                return name
            k -= 1
        return None

    def _lead_in(self, i: int, qt: Quote, q: Quotations) -> tuple[int, int] | None:
        """The narration that closes the paragraph before with a colon or a dash and leads into this
        one, when this paragraph opens with the quotation: (start, end) after that paragraph's last quotation."""
        if qt.paragraph == 0 or qt.start != q.paragraphs[qt.paragraph][0] + 1:
            return None
        pa, pb = q.paragraphs[qt.paragraph - 1]
        if i > 0 and q.quotes[i - 1].last_paragraph == qt.paragraph - 1:
            pa = max(pa, q.quotes[i - 1].end + 1)
        tail = self._masked[pa:pb].rstrip()
        if tail[-1:] not in (":", "-", "\u2014"):
            return None
        return pa, pb

    def _chain(
        self,
        pronoun: str,
        qt: Quote,
        q: Quotations,
        masked: str,
        speakers: list[str | None],
        fits: Callable[..., bool],
    ) -> str | None:
        """A narration that goes on about "he" (or "she") just before the tag, in a narration paragraph
        before or in the quotation's own paragraph ("At last he shut the book. / 'Nobody came?' he asked."):
        the pronoun tag carries that chain on, so it means the last one of that gender named as a subject, in
        those paragraphs or the two before them (their narration only). A chain that reaches back to a
        quotation without naming anyone began with its speaker ("'Read the ledger.' / As he spoke, his
        hands turned the pages ... / 'Nobody came?' he asked": the one who said "Read the ledger")."""
        if pronoun not in ("he", "she"):
            return None
        word = re.compile(rf"\b(?i:{pronoun})\b")  # he/she: always some sentence's subject
        a = q.paragraphs[qt.paragraph][0]
        own = bool(word.search(masked, a, qt.start))
        p = qt.paragraph - 1
        narrated = p >= 0 and p not in self._quoted and bool(word.search(masked, *q.paragraphs[p]))
        if not (own or narrated):
            return None
        said = None
        while p >= max(0, qt.paragraph - 3) or (
            # a longer narration that goes on about "he", paragraph after paragraph with no quotation, reaches back
            # to the one it began with ("Oswin was a restless lodger. / He slept little. / ... he said")
            said is None
            and p >= max(0, qt.paragraph - CHAIN_REACH)
            and p not in self._quoted
            and word.search(masked, *q.paragraphs[p + 1])
        ):
            s, e = q.paragraphs[p]
            subjects = [n for n, subj in self._mentions(masked, s, e) if subj and fits(n)]
            if subjects:
                if self._object_goes_on(pronoun, subjects[-1], masked, s, e):
                    # "The Admiral abused him ... . He defended himself": the "he" is the one abused, the
                    # other voice of the exchange, if the turns before tell who
                    i = bisect.bisect_left(self._qstarts, qt.start)
                    others = [n for n in speakers[max(0, i - 4) : i] if n != subjects[-1] and fits(n)]
                    return others[-1] if others else None
                return subjects[-1]
            if said is None:
                said = self._ends_para.get(p)
            p -= 1
        if said is not None and fits(speakers[said]):
            return speakers[said]
        return None

    def _object_goes_on(self, pronoun: str, name: str, masked: str, start: int, end: int) -> bool:
        """Whether, after ``name``'s last mention as a subject in ``masked[start:end]``, its sentence has an
        object "him" (or "her") and the next sentence opens with "He" (or "She"): the chain goes on from the object."""
        obj = "him" if pronoun == "he" else "her"
        at = [b for a, b, n in self._found_in(start, end) if n == name]
        if not at:
            return False
        rx = rf"[^.;!?]*\b{obj}\b[^.!?]*[.!?]\s+{pronoun.capitalize()}\b"
        return re.match(rx, masked[at[-1] : end]) is not None

    def _back_reference(self, masked: str, start: int, sentence: int) -> str | None:
        """Who "The latter ..." (or "The former ...") opening the sentence at ``sentence`` means: the
        last (first) character named in the sentence before it, within the paragraph from ``start``."""
        words = masked[sentence : sentence + 30].split()[:2]
        if len(words) < 2 or words[0].lower() != "the":
            return None
        word = words[1].lower().strip(",;")
        if word not in self.lex.latter and word not in self.lex.former:
            return None
        before = masked[start:sentence].rstrip()
        cuts = [m.end() for m in _SENTENCE_END_NOT_TITLE.finditer(before, 0, max(0, len(before) - 1))]
        prev_start = start + (cuts[-1] if cuts else 0)
        named = [n for n, _ in self._mentions(masked, prev_start, start + len(before))]
        if not named:
            return None
        return named[-1] if word in self.lex.latter else named[0]

    def _keep_present_addressees(
        self, quotes: list[Quote], q: Quotations, speakers: list[str | None], out: list[Attribution], convo: list[int]
    ) -> None:
        """Who each quotation calls by name, kept to those in the scene (named in the conversation's
        narration, tagged as one of its speakers, or its narrator): only they may be guessed to answer or
        to have spoken. ``Yes, Miss Jane Pell, that was her name`` speaks of someone absent; any name
        called still rules its bearer out as the speaker."""
        present: dict[int, set[str]] = {}
        for i, qt in enumerate(quotes):
            if convo[i] not in present:
                # the narration that sets the scene before the conversation's first quotation ("Sir Tom sat at the
                # head of the table ...", a page before anyone speaks): whom it names are there too
                lo = max(0, qt.start - SCENE_REACH)
                present[convo[i]] = {n for n, _ in self._mentions(self._masked, lo, qt.start)}
            here = present[convo[i]]
            first = qt.paragraph - (1 if i == 0 or convo[i - 1] != convo[i] else 0)
            if i > 0 and convo[i - 1] == convo[i]:
                # the narration paragraphs between two quotations of the conversation ("I stared at X.") are its own
                first = min(first, quotes[i - 1].last_paragraph + 1)
            a, b = q.paragraphs[max(0, first)][0], q.paragraphs[qt.last_paragraph][1]
            here.update(name for name, _ in self._mentions(self._masked, a, b))
            here.update(n for n in (speakers[i], self.narrator_at(qt.start)) if n)
        self._called = [[n for n in a.addressees if n in present[convo[i]]] for i, a in enumerate(out)]
        self._present = [present[c] for c in convo]
        self._convo = convo

    def _vocatives(self, text: str, qt: Quote, names: list[list[tuple[int, int, str]]]) -> list[str]:
        """Characters named in the vocative inside the quotation (``Well, Watson, ...``), from the names found in
        each of its parts."""
        found: list[str] = []
        for (a, b), here in zip(qt.spans, names, strict=True):
            for ms, me, name in here:
                before = text[max(a, ms - 12) : ms]
                after = text[me : me + 2]
                start_ok = ms == a or re.search(r"(?:[,!?]\s*|\bdear\s+|\bOh,?\s+|\bmy\s+)$", before)
                # "Well, Oswin--": an address broken off by a dash still calls him
                end_ok = me == b or after[:1] in ",!?.-\u2014" or after.startswith(" -")
                if start_ok and end_ok and name not in found:
                    found.append(name)
        return found

    def _to_stranger(self, narration: str) -> bool:
        """Whether a quotation's narration says it is spoken to a stranger (``turning to the waiter``)."""
        return any(
            not self.holders.get(m.group(0).split()[-1].lower()) for m in self.to_stranger_re.finditer(narration)
        )

    def _told(self, narration: str, text: str, qt: Quote) -> str | None:
        """The one a tag says the quotation is spoken to (``said Mrs Musgrove to Mrs Croft``): a cast name
        right after "to" in the tag's clause, behind its speech verb."""
        m = self.told_re.search(narration[:120])
        if m is None:
            return None
        found = self.names.find(narration, m.end(), min(len(narration), m.end() + 60))
        return found[0][2] if found and found[0][0] == m.end() else None

    def _asks(self, qt: Quote, text: str) -> bool:
        """Whether a quotation asks something ("How is Tom?" said she. "He looked pale."): a question mark in it."""
        return any("?" in text[a:b] for a, b in qt.spans)

    def _sirs(self, qt: Quote, text: str, name: str) -> bool:
        """Whether a quotation calls someone of ``name``'s gender by a polite address ("..., sir,", "madam")."""
        said = text[qt.spans[0][0] : qt.spans[-1][1]]
        words = {m.group(1).lower() for m in re.finditer(r"\b(sir|madam|ma'am)\b[,.!?;]", said, re.IGNORECASE)}
        gender = self.genders.get(name)
        return gender is not None and gender in {"m" if w == "sir" else "f" for w in words}

    def _opening_names(self, qt: Quote, text: str, speaker: str | None, i: int) -> list[str]:
        """The names of the scene (not the quotation's own speaker) that open a sentence of the quotation before a
        comma ("Tom, may we ...?"): calls the vocatives leave out, so the quotation may be put to them."""
        got: list[str] = []
        for (a, _), here in zip(qt.spans, self._span_names[i], strict=True):
            for start, end, name in here:
                if not text.startswith(",", end) or name in got or name not in self._present[i]:
                    continue
                if name in (speaker, self.narrator_at(a)) or (start != a and not _AFTER_STOP.search(text, a, start)):
                    continue
                stop = _SENTENCE_STOP.search(text, end, qt.end)
                if self._speaks_to(text[end : stop.end() if stop else qt.end]):
                    got.append(name)
        return got

    @staticmethod
    def _speaks_to(sentence: str) -> bool:
        """Whether a sentence after a name and a comma speaks to that one: a question, or "you" ("Tom, do ask her
        where your brother went"), not the narration of what he did ("Tom, looking out, saw the man")."""
        return sentence.rstrip().endswith("?") or bool(re.search(r"\b(?:you|your|yourself)\b", sentence, re.I))

    def _calls_anyone(self, text: str, qt: Quote) -> bool:
        """Whether the quotation calls anyone by a capitalised name (``Susan!``, ``I tell you, Maud, ...``)."""
        for a, b in qt.spans:
            for m in _CALLS_ANY.finditer(text[a:b]):
                if m.group(1).lower() not in self.lex.interjections and m.group(1) != "I":
                    return True
        return False

    def _stranger_came(self, q: Quotations, qt: Quote, i: int, by_para: dict[int, list[int]]) -> bool:
        """Whether a turn follows a narration paragraph whose last sentence brings in a stranger (``A porter came in
        with the bags.``): what one of the cast asks in that turn, the stranger answers."""
        p = qt.paragraph - 1
        if p < 0 or p in by_para or by_para[qt.paragraph][0] != i:
            return False
        s, e = q.paragraphs[p]
        m = self.stranger_subject.match(_last_sentence(self._masked[s:e].rstrip()))
        return m is not None and not self.holders.get(m.group("noun").lower())

    def _calls_unknown(self, text: str, qt: Quote) -> bool:
        """Whether the quotation's first sentence calls someone by a name the cast lacks (``All merged in my
        friendship, Sophia.``): the first sentence answers the turn before."""
        a, b = qt.spans[0]
        first = re.search(r"[.!?]", text[a:b])
        sentence = text[a : a + first.end() if first else b]
        return any(not self.names.split(w) for w in self._called_words(_CALLED_FIRST, sentence, 0, len(sentence)))

    def _calls_outsider(self, text: str, qt: Quote) -> bool:
        """Whether the quotation calls someone by a name the cast does not know (``Now, Tobin, ...``), or by
        what a stranger is (``May I ask, my lad, ...``)."""
        if any(self.called_re.search(text, a, b) for a, b in qt.spans):
            return True
        return any(not self.names.split(w) for a, b in qt.spans for w in self._called_words(_CALLED, text, a, b))

    def _turn_links(
        self, quotes: list[Quote], q: Quotations, speakers: list[str | None]
    ) -> tuple[list[bool], list[bool]]:
        """Which quotations are turns, and which turn ``i`` is answered by turn ``i + 1``."""
        n = len(quotes)
        # a turn: a paragraph opened by its quotation, or a known speaker's after one short sentence of narration
        opens = [
            quotes[i].start == q.paragraphs[quotes[i].paragraph][0] + 1
            or (
                speakers[i] is not None
                and (i == 0 or quotes[i - 1].last_paragraph < quotes[i].paragraph)
                and len(self._masked[q.paragraphs[quotes[i].paragraph][0] : quotes[i].start].strip()) < SHORT_LEAD
            )
            for i in range(n)
        ]
        # i and i + 1 are turns of one exchange: consecutive paragraphs, each opened by its quotation
        adjacent = [
            i + 1 < n and opens[i] and opens[i + 1] and quotes[i + 1].paragraph == quotes[i].last_paragraph + 1
            for i in range(n)
        ]
        return opens, adjacent

    def _parity(self, quotes: list[Quote], q: Quotations, speakers: list[str | None], out: list[Attribution]) -> None:
        """A long unbroken exchange of alternate turns whose two voices the text settles (a tag by name or by
        "I" on one side, a name called by the turn before on the other, and nothing on either side against
        it) gives every turn that only turn-taking guessed to the voice of its side: the pair guessed from the
        narration before ("Mortimer had stayed to dinner") yields to the one called ("Now, listen to me, X!")."""
        n = len(quotes)
        opens, adjacent = self._turn_links(quotes, q, speakers)
        for k in range(n - 1):
            # one short narration paragraph between two turns ("I stared at him.") still leaves them one exchange
            a, b = quotes[k], quotes[k + 1]
            if (
                not adjacent[k]
                and opens[k]
                and b.paragraph == a.last_paragraph + 2
                and (opens[k + 1] or speakers[k + 1])
            ):
                between = self._masked[slice(*q.paragraphs[a.last_paragraph + 1])].strip()
                adjacent[k] = bool(between) and len(between) < PARITY_BEAT and '"' not in between
        # a stranger's turn, or one whose speaker the text leaves unsaid, breaks the exchange
        broken = [speakers[k] == OUTSIDER or k in self._unnamed for k in range(n)]
        i = 0
        while i < n:
            if broken[i]:
                i += 1
                continue
            j = i
            while j < n - 1 and adjacent[j] and not broken[j + 1]:
                j += 1
            run = range(i, j + 1)
            i = j + 1
            if len(run) < PARITY_RUN:
                continue
            seen: list[Counter[str]] = [Counter(), Counter()]
            against: list[set[str]] = [set(), set()]
            weak: list[set[str]] = [set(), set()]
            for k in run:
                side = (k - run[0]) % 2
                who = speakers[k]
                if who is not None and out[k].cue in ("explicit", "narrator"):
                    seen[side][who] += 1
                elif who is not None and out[k].cue != "turn":
                    weak[side].add(who)  # "said he", a beat: not enough to settle a side, enough to unsettle one
                against[side].update(self._called[k])
                if k + 1 in run and len(self._called[k]) == 1:
                    seen[1 - side][self._called[k][0]] += 1
            if any(len(c) != 1 for c in seen):
                continue
            voice = [next(iter(c)) for c in seen]
            if voice[0] == voice[1] or any(voice[s] in against[s] or weak[s] - {voice[s]} for s in (0, 1)):
                # one voice on both sides, one side calling its own voice, or a "said he" or a beat on one side
                # giving it another voice (a third one of the scene): not two alternating voices
                continue
            for k in run:
                side = (k - run[0]) % 2
                gender = self.genders.get(voice[side])
                if self._tag_gender.get(k, gender) != gender or self._of.get(k + 1, gender) != gender:
                    continue  # "said she" left unresolved, or the next turn "replied her brother": not this voice
                if speakers[k] != voice[side] and out[k].cue in ("turn", "none"):
                    speakers[k] = voice[side]
                    out[k].cue = "turn"

    def _turns(
        self,
        quotes: list[Quote],
        q: Quotations,
        speakers: list[str | None],
        out: list[Attribution],
        convo: list[int],
        skip: set[int] | None = None,
    ) -> None:
        """Fill untagged quotations of a conversation by alternation, checked against vocatives."""
        n = len(quotes)
        opens, adjacent = self._turn_links(quotes, q, speakers)
        speakers_in: dict[int, set[str]] = {}
        named_in: dict[int, set[str]] = {}
        # (conversation, name) -> the first quotation by which the conversation has shown that one: speaking,
        # named in its narration, or called
        seen_at: dict[tuple[int, str], int] = {}
        for i in range(n):
            if speakers[i] and speakers[i] != OUTSIDER:
                speakers_in.setdefault(convo[i], set()).add(speakers[i] or "")
            first = quotes[i].paragraph - (1 if i == 0 or convo[i - 1] != convo[i] else 0)
            a = q.paragraphs[max(0, first)][0]
            b = q.paragraphs[quotes[i].last_paragraph][1]
            named = named_in.setdefault(convo[i], set())
            shown = {name for name, _ in self._mentions(self._masked, a, b)}
            named.update(shown)
            narrator = self.narrator_at(quotes[i].start)
            if narrator:
                named.add(narrator)
            for who in (*shown, *self._called[i], speakers[i], narrator):
                if who and who != OUTSIDER:
                    seen_at.setdefault((convo[i], who), i)

        def other(i: int, name: str | None, *beside: int) -> str | None:
            """The other one of the conversation's pair than ``name``; not one whom a turn ``beside`` ``i``
            (one before or after it in the exchange) speaks of by name without calling him: those turns speak
            to the one of turn ``i`` ("Tom is no better than the rest" is not said to Tom, nor answered
            by him)."""
            pair = speakers_in.get(convo[i], set())
            if len(pair) < 2:
                pair = pair | named_in.get(convo[i], set())
            if name is None or len(pair) != 2 or name not in pair:
                return None
            guess = next(iter(pair - {name}))
            if any(guess in self._spoken_of[j] and guess not in out[j].addressees for j in beside):
                return None
            if seen_at.get((convo[i], guess), n) > i:
                # the other voice of the pair comes into the conversation only later: no one has shown it yet
                return None
            return guess

        def known(i: int, step: int) -> str | None:
            """The speaker ``step`` turns before (negative) or after ``i`` in an unbroken exchange."""
            j = i
            while j != i + step:
                k = j + (1 if step > 0 else -1)
                if not (0 <= k < n) or not adjacent[min(j, k)] or speakers[k] == OUTSIDER:
                    return None  # a stranger's turn breaks the exchange
                j = k
            return speakers[j]

        # who answers a call to someone outside the cast is that someone, and so is every second turn after
        outsider_turn = [False] * n
        for j in range(n - 1):
            if self._outsider[j] and adjacent[j] and speakers[j + 1] is None:
                k = j + 1
                while k < n and speakers[k] is None and not outsider_turn[k]:
                    outsider_turn[k] = True
                    if not (k + 2 < n and adjacent[k] and adjacent[k + 1]):
                        break
                    k += 2
        for _ in range(4):
            changed = False
            for i in range(n):
                if speakers[i] is not None or not opens[i] or (skip and i in skip) or outsider_turn[i]:
                    continue
                if adjacent[i] and self._calls_stranger[i + 1] and not out[i + 1].addressees:
                    continue  # the answer calls this turn's speaker by a name the cast lacks ("..., Sophia")
                p1, n1 = known(i, -1), known(i, 1)
                # the nearest earlier (later) speaker of the exchange who is not p1 (n1)
                p2 = next((x for x in (known(i, -k) for k in range(2, 5)) if x is not None and x != p1), None)
                n2 = next((x for x in (known(i, k) for k in range(2, 5)) if x is not None and x != n1), None)
                guess = self._called_across(i, quotes, q, speakers, adjacent)
                if guess is None and p1 is not None:
                    voc = [a for a in self._called[i - 1] if a != p1]
                    if len(voc) == 1 and self._called_last(quotes[i - 1], q.text, voc[0]):
                        # "Well, Wren, what do you make of it?": the one the last sentence of the turn before
                        # calls answers, even in a scene of three ("This is a clever man, Wren. But the
                        # marks?" is answered by the one asked about the marks)
                        guess = voc[0]
                    elif len(opening := self._opening_names(quotes[i - 1], q.text, p1, i - 1)) == 1:
                        # "... Tom, may we venture to call?": the one a sentence of the turn before opens by calling
                        guess = opening[0]
                    elif p2 is not None:
                        guess = p2
                    elif len(voc) == 1:
                        guess = voc[0]
                    elif not self._outsider[i - 1]:  # the turn before spoke to someone the cast lacks
                        guess = other(i, p1, i - 1)
                if guess is None and n1 is not None:
                    guess = n2 if n2 is not None else other(i, n1, i + 1) if not self._outsider[i + 1] else None
                if guess is None and len(out[i].addressees) == 1 and self._called[i]:
                    around = [j for j in (i - 1, i + 1) if 0 <= j < n and adjacent[min(i, j)]]
                    guess = other(i, out[i].addressees[0], *around)
                if guess is None:
                    # the one the turn before calls by name answers it; the one the turn after calls by name spoke
                    before = self._called[i - 1] if i > 0 and adjacent[i - 1] else []
                    after = self._called[i + 1] if adjacent[i] else []
                    if len(before) == 1 and before[0] != p1:
                        guess = before[0]
                    elif len(after) == 1 and after[0] != n1:
                        guess = after[0]
                if guess is None:
                    # two turns away, with one unknown turn between: the same voice (the other may be nobody in the cast)
                    p2, n2 = known(i, -2), known(i, 2)
                    guess = p2 if p2 is not None and p1 is None else n2 if n2 is not None and n1 is None else None
                if (
                    guess is None
                    and i >= 2
                    and speakers[i - 1] == OUTSIDER
                    and adjacent[i - 1]
                    and adjacent[i - 2]
                    and speakers[i - 2] not in (None, OUTSIDER)
                    and (i < 3 or not adjacent[i - 3] or speakers[i - 3] in (None, OUTSIDER))
                ):
                    # "'Tell us all of it,' said X. / 'Gladly,' the porter answered. / 'From the start, then.'": the
                    # one who spoke to the stranger goes on, when no third voice came just before
                    guess = speakers[i - 2]
                if (
                    (guess is None or guess in out[i].addressees or guess in (p1, n1))
                    and p1 is not None
                    and p1 != OUTSIDER
                    and (self._asks(quotes[i - 1], q.text) or self._sirs(quotes[i], q.text, p1))
                    and not self._opening_names(quotes[i - 1], q.text, p1, i - 1)
                ):
                    # a question put by another to the scene of a point-of-view character, answered with no tag:
                    # the one whose eyes the narration follows answers it
                    focal = self.focal_at(quotes[i].start)
                    if focal is not None and focal in self._present[i] and focal not in self._spoken_of[i]:
                        guess = focal
                if guess is None or guess in out[i].addressees or guess in (p1, n1):
                    continue
                if self.genders.get(guess, self._tag_gender.get(i)) != self._tag_gender.get(i, self.genders.get(guess)):
                    continue  # "said he" left unresolved is not a woman's turn
                if adjacent[i] and self._of.get(i + 1, self.genders.get(guess)) != self.genders.get(guess):
                    continue  # the next turn is "replied her brother": this one is a woman's
                if _side_gender_of(self._of, i, adjacent, n) not in (None, self.genders.get(guess)):
                    continue  # a turn of her side two or four turns away was answered by "her brother"
                speakers[i] = guess
                out[i].cue = "turn"
                speakers_in.setdefault(convo[i], set()).add(guess)
                seen_at[convo[i], guess] = min(i, seen_at.get((convo[i], guess), n))
                changed = True
            if not changed:
                break


def _pet_form(word: str, known: str) -> bool:
    """Whether two first names are one name and its pet form: the shorter (five letters at
    least), less its last letter, opens the longer ("Sophy" and "Sophia"; not "Charles" and "Charlotte")."""
    short, long = sorted((word, known), key=len)
    return word != known and len(short) >= 5 and long.startswith(short[:-1])


def _side_gender_of(of: dict[int, str], i: int, adjacent: list[bool], n: int) -> str | None:
    """The gender ("m"/"f") that a tag such as "replied her brother" tells of turn ``i``'s side of an unbroken
    exchange of alternate turns: the tag of turn ``j + 1`` tells of turn ``j``, and every second turn is one voice."""
    lo = i
    while lo > 0 and adjacent[lo - 1] and i - lo < SIDE_REACH:
        lo -= 1
    hi = i
    while hi < n - 1 and adjacent[hi] and hi - i < SIDE_REACH:
        hi += 1
    told = {of[j + 1] for j in range(lo + (i - lo) % 2, hi, 2) if j + 1 in of and j + 1 <= hi}
    return told.pop() if len(told) == 1 else None


def _last_sentence(text: str) -> str:
    cuts = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[cuts[-1] :] if cuts else text


def masked_text(q: Quotations) -> str:
    """The text with every quotation (marks included) blanked out, offsets kept: the narration."""
    return _masked(q.text, q)


def _masked(text: str, q: Quotations) -> str:
    """The text with every quotation (marks included) blanked out, offsets kept."""
    parts = []
    pos = 0
    for qt in q.quotes:
        for a, b in qt.spans:
            a0, b0 = max(pos, a - 1), min(len(text), b + 1)
            if a0 < pos:
                continue
            parts.append(text[pos:a0])
            parts.append(" " * (b0 - a0))
            pos = b0
    parts.append(text[pos:])
    return "".join(parts)


def _conversations(text: str, q: Quotations) -> list[int]:
    """A conversation number per quotation: a long stretch of narration between two quotations ends one."""
    out = []
    conv = 0
    prev_end: int | None = None
    for qt in q.quotes:
        if prev_end is not None:
            between = text[prev_end : qt.start]
            narration = len(re.sub(r"[\"\u201c\u201d]", "", between).strip())
            if narration > CONVERSATION_GAP or _SCENE_BREAK.search(between):
                conv += 1
        out.append(conv)
        prev_end = qt.end
    return out
