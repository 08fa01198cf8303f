"""The words that tell names from ordinary words, per universe.

Generic English lives here; whatever is specific to one universe (its titles such
as "Professor", capitalised words that are not names such as "Christmas", words
too common in its text to mean anything) is data in that universe's
``universe.yaml`` under ``vocabulary`` (see corpora/SCHEMA.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Function words and very common verbs: never distinctive content.
STOP_WORDS = frozenset(
    [
        "about",
        "after",
        "again",
        "their",
        "there",
        "these",
        "those",
        "which",
        "where",
        "would",
        "could",
        "should",
        "while",
        "being",
        "other",
        "every",
        "still",
        "never",
        "because",
        "before",
        "first",
        "years",
        "think",
        "really",
        "what",
        "when",
        "with",
        "from",
        "that",
        "this",
        "have",
        "they",
        "them",
        "were",
        "your",
        "into",
        "just",
        "know",
    ]
)
# Last words of multi-word names that are too generic to stand for the entity alone ("the Great Hall").
GENERIC_WORDS = frozenset(
    [
        "hall",
        "forest",
        "lake",
        "office",
        "ministry",
        "school",
        "house",
        "room",
        "street",
        "alley",
        "cup",
        "stone",
        "tower",
        "castle",
        "village",
        "road",
        "lane",
        "common",
        "table",
        "book",
        "cloak",
        "map",
        "day",
        "night",
        "team",
        "club",
        "army",
        "order",
        "family",
        "prize",
        "match",
        "cottage",
        "manor",
        "place",
        "inn",
        "pub",
        "shop",
        "bank",
        "train",
        "station",
        "platform",
        "world",
    ]
)
# Capitalised words that are not names in any English text.
COMMON_CAPITALS = frozenset(
    [
        "i",
        "i'm",
        "i've",
        "i'd",
        "i'll",
        "mr",
        "mrs",
        "ms",
        "sir",
        "madam",
        "dear",
        "oh",
        "ah",
        "well",
        "yes",
        "no",
        "hey",
        "okay",
        "ok",
        "god",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "english",
    ]
)
# Words for what a person is, which a narrator puts before a name ("the caretaker Filch", "a girl named Myrtle"):
# said by someone who knows the person, the name stands alone (graphs/rewrite.plain_names).
ROLES = frozenset(
    [
        "caretaker",
        "gamekeeper",
        "groundskeeper",
        "keeper",
        "master",
        "mistress",
        "teacher",
        "professor",
        "headmaster",
        "headmistress",
        "giant",
        "dog",
        "hound",
        "centaur",
        "elf",
        "goblin",
        "ghost",
        "girl",
        "boy",
        "man",
        "woman",
        "lady",
        "gentleman",
        "witch",
        "wizard",
        "knight",
        "neighbour",
        "neighbor",
        "journalist",
        "reporter",
        "writer",
        "minister",
        "official",
        "clerk",
        "barman",
        "barmaid",
        "landlord",
        "landlady",
        "innkeeper",
        "owner",
        "shopkeeper",
        "student",
        "pupil",
        "champion",
        "prefect",
        "captain",
        "werewolf",
        "phoenix",
        "snake",
        "serpent",
        "owl",
        "rat",
        "cat",
        "toad",
        "dragon",
        "spider",
        "creature",
        "servant",
        "butler",
        "maid",
        "footman",
        "nurse",
        "matron",
        "healer",
        "inspector",
        "detective",
        "sergeant",
        "constable",
        "colonel",
        "admiral",
        "officer",
        "soldier",
        "sailor",
        "lawyer",
        "clergyman",
        "vicar",
        "curate",
        "baronet",
        "squire",
        "farmer",
        "widow",
        "stranger",
        "visitor",
    ]
)
# Honorifics that precede a name in English text.
TITLES = frozenset(["mr", "mrs", "ms", "miss", "mister", "madam", "sir", "dr", "doctor", "dame", "lady"])


@dataclass(frozen=True)
class Vocabulary:
    titles: frozenset[str] = TITLES
    stop_words: frozenset[str] = STOP_WORDS
    generic_words: frozenset[str] = GENERIC_WORDS
    common_capitals: frozenset[str] = COMMON_CAPITALS
    roles: frozenset[str] = ROLES

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        """Generic English plus the universe's ``vocabulary`` section."""
        conf = config.get("vocabulary") or {}

        def words(key: str) -> set[str]:
            return {str(w).strip().lower() for w in conf.get(key) or [] if str(w).strip()}

        titles = TITLES | words("titles")
        return cls(
            titles=frozenset(titles),
            stop_words=frozenset(STOP_WORDS | words("common_words")),
            generic_words=frozenset(GENERIC_WORDS | words("generic_words")),
            common_capitals=frozenset(COMMON_CAPITALS | titles | words("common_capitals")),
            roles=frozenset(ROLES | words("roles")),
        )

    def strip_title(self, name: str) -> str:
        """ "Professor Albus Dumbledore" -> "Albus Dumbledore"; a name that is only a title is kept."""
        words = name.split()
        while len(words) > 1 and words[0].lower().rstrip(".") in self.titles:
            words = words[1:]
        return " ".join(words)

    def short_name(self, name: str) -> str:
        """How a character is called in a sentence: the first word of the name without its title."""
        return self.strip_title(name).split()[0] if name.strip() else name


# Irregular forms and the word families an event is told with: "died" and "killed" are one event's words.
# Generic English, not any universe's.
WORD_FAMILIES = {
    "die": "died dies dying dead death deaths kill kills killed killing killer murder murdered slain slew",
    "kiss": "kissed kisses kissing",
    "marry": "married marries marrying marriage wedding wed engaged engagement",
    "propose": "proposal proposed proposes proposing",
    "break": "broke broken",
    "steal": "stole stolen theft",
    "escape": "escaped escapes fled flee",
    "betray": "betrayal betrayed betrays traitor",
    "leave": "left leaving leaves",
    "fight": "fought duel duelled dueled duelling battle",
    "find": "found",
    "see": "saw seen",
    "catch": "caught",
    "win": "won",
    "give": "gave given",
    "take": "took taken",
    "meet": "met meeting",
    "speak": "spoke spoken",
    "fall": "fell fallen",
    "run": "ran",
    "fly": "flew flown flying",
    "buy": "bought",
    "choose": "chose chosen",
    "come": "came",
    "go": "went gone",
    "hide": "hid hidden",
    "lose": "lost",
    "send": "sent",
    "bring": "brought",
    "teach": "taught",
    "hold": "held",
    "keep": "kept",
    "swear": "swore sworn",
    "strike": "struck",
    "bite": "bit bitten",
    "throw": "threw thrown",
    "drink": "drank drunk",
    "wake": "woke woken",
    "write": "wrote written",
    "make": "made",
    "tell": "told",
    "hear": "heard",
    "get": "got gotten",
    "begin": "began begun",
    "sell": "sold",
    "build": "built",
    "lead": "led",
    "pay": "paid",
    "freeze": "froze frozen",
}
LEMMAS = {form: base for base, forms in WORD_FAMILIES.items() for form in forms.split()}
