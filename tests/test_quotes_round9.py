"""Quotation speakers, round 9 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from persona_rag.builder.cast import Character
from persona_rag.builder.quotes import find_quotes
from persona_rag.builder.speakers import Attributor

PEOPLE = [Character("Tamsin", ["Tamsin"], 3), Character("Oswin", ["Oswin"], 3), Character("Pell", ["Pell"], 3)]
GENDERS = {"Tamsin": "f", "Oswin": "m", "Pell": "m"}


def speakers(source: str, cast: list[Character] = PEOPLE, genders: dict[str, str] = GENDERS) -> list[str | None]:
    return [a.speaker for a in Attributor(cast, genders, []).attribute(find_quotes(source))]


# the book says once who the porter is; later it calls him only "the porter"
PORTER = (
    "Pell the porter had kept the lodge gate for thirty winters.\n\n"
    "Oswin and Tamsin walked up the lane at dusk and knocked.\n\n"
    '"The gate shuts at nine," said the porter.\n\n'
    '"We shall be back before then," said Oswin.\n'
)


def test_a_description_the_book_gives_one_character_tags_him_and_two_characters_nobody() -> None:
    assert speakers(PORTER) == ["Pell", "Oswin"]
    both = "Oswin, the porter, and Pell the porter were brothers.\n\n" + PORTER.split("\n\n", 1)[1]
    assert speakers(both)[0] is None


# the description is the subject of a narration paragraph just before a "said he"
BEAT = (
    "Pell, the porter, swept the yard while Oswin and Tamsin watched from the step.\n\n"
    '"Is the coach late?" said Tamsin.\n\n'
    '"An hour at least," said Oswin.\n\n'
    "The porter leant on his broom and laughed.\n\n"
    '"It will not come at all in this snow," said he.\n'
)


def test_a_learnt_description_as_a_subject_of_the_narration_before_is_who_he_is() -> None:
    assert speakers(BEAT)[2] == "Pell"


# a clause of what happened before opens the narration between two parts: its subject (the porter, who left) did not
# speak them
LEFT = (
    "Pell the porter brought the letters up to the study, where Oswin sat with Tamsin.\n\n"
    '"Two for you, sir," said the porter.\n\n'
    '"That will do, Pell; you may go." When the porter had gone Oswin turned to Tamsin. "Well, what do you '
    'make of it?"\n'
)


def test_a_when_clause_between_two_parts_is_no_beat() -> None:
    got = speakers(LEFT)
    assert got[0] == "Pell"  # "said the porter": the porter is Pell
    assert got[1] != "Pell"  # spoken to Pell, who then leaves


HALL_CAST = [Character("Oswin", ["Oswin", "Mr. Oswin"], 3), PEOPLE[2], Character("Wren", ["Wren"], 3)]
HALL_GENDERS = {**GENDERS, "Wren": "m"}
# a first-person narrator, two others in the scene: Oswin asks, the porter answers, and Oswin turns to the narrator
HALL = (
    "Oswin called me into the hall, where Pell stood by the door with his cap in his hands.\n\n"
    '"Pell tells me he saw a light on the hill last night," said Oswin.\n\n'
    "Pell was pale, but steady.\n\n"
    '"I did, sir," said he, "and I would swear to it before anyone."\n\n'
    '"And you did not think to wake the house?"\n\n'
    '"I did not like to, Mr. Oswin. It was gone by the time I had my boots on."\n\n'
    '"What do you make of it, Wren?"\n\n'
    'I shrugged my shoulders. "A poacher, I dare say."\n'
)


def hall() -> list[str | None]:
    found = find_quotes(HALL)
    return [a.speaker for a in Attributor(HALL_CAST, HALL_GENDERS, [(0, "Wren")]).attribute(found)]


def test_a_first_person_beat_before_the_quotation_is_the_narrator_speaking() -> None:
    assert hall()[-1] == "Wren"


def test_the_turns_are_guessed_again_once_a_said_he_is_known_to_be_a_third_voice() -> None:
    assert hall() == ["Oswin", "Pell", "Oswin", "Pell", "Oswin", "Wren"]


# the one who walks in is named after a comma, not at a sentence's start: the "he" of the next paragraph is his
PARLOUR = (
    '"Good night to you all," said Pell, and went home to his supper.\n\n'
    "Late that evening, long after the others had gone, Oswin walked into the parlour, where only Tamsin sat "
    "by the fire with a child on her knee.\n\n"
    "To find her there alone took away all his ease: he stopped, and could only say, "
    '"I looked for your brother here," before he turned to the window.\n'
)


def test_a_name_before_a_verb_after_a_comma_is_the_subject_a_he_goes_on_from() -> None:
    assert speakers(PARLOUR) == ["Pell", "Oswin"]


# the last sentence of the narration before opens with a group ("The girls"); the one character after its "and" is
# the subject who goes on to speak
MAP = (
    '"Shall we find the mill on it?" said Tamsin.\n\n'
    "The girls were all bent over the map; and Oswin could not help taking it from them, and pointing out the "
    "roads as he went.\n\n"
    '"Here is the mill, and there the ford."\n'
)


def test_the_one_main_subject_of_the_narration_before_is_a_beat_when_a_group_opens_it() -> None:
    assert speakers(MAP) == ["Tamsin", "Oswin"]


# one sentence reports what Oswin said; the quotation after it is the answer, in the voice of the turn before
REPORTED = (
    '"My head has ached all morning, and nobody has come near me," said Tamsin.\n\n'
    'Oswin said what was kind, and hoped that she would soon be well again. "Oh! my brother is out riding, '
    'as usual. I have not seen him since breakfast."\n'
)


def test_a_quotation_after_a_reported_speech_is_the_answer_of_the_voice_before() -> None:
    assert speakers(REPORTED) == ["Tamsin", "Tamsin"]
