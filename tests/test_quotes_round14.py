"""Quotation speakers, round 14 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from persona_rag.builder.cast import CastCounter
from tests.test_quotes_round9 import speakers

# three at the fire; the second turn opens its second sentence by calling Tamsin and asks her something
OPENING_CALL = (
    "Pell, Oswin and Tamsin sat by the fire of the inn.\n\n"
    '"The cart will come at noon," said Pell.\n\n'
    '"Then we have time. Tamsin, will you walk to the mill with me?" said Oswin.\n\n'
    '"Gladly, if the rain holds off."\n'
)


def test_a_name_opening_a_sentence_that_asks_calls_its_bearer_who_answers() -> None:
    # not Pell, the voice two turns back: the one the question opens by calling answers it
    assert speakers(OPENING_CALL)[-1] == "Tamsin"


def test_a_name_opening_a_sentence_of_narration_inside_a_quotation_calls_nobody() -> None:
    # "Tamsin, as the miller says, walked there at dawn." tells of her; it asks her nothing
    told = OPENING_CALL.replace("Tamsin, will you walk to the mill with me?", "Tamsin, as the miller says, walked.")
    assert speakers(told)[-1] != "Tamsin"


# a work in the third person that follows Tamsin: the narration names her far more often than anyone else
FOLLOWED = (
    "Tamsin woke before the bell. Tamsin dressed by the window, and Tamsin went down the lane to the mill, "
    "where Tamsin watched the wheel turn until the sun was high.\n\n"
    "When Tamsin came back to the inn, Pell and Oswin were sitting by the fire.\n\n"
    '"Where have you been all the morning?" asked Pell.\n\n'
    '"At the mill, watching the wheel."\n'
)


def test_a_question_answered_with_no_tag_in_a_third_person_work_is_the_point_of_view_characters() -> None:
    assert speakers(FOLLOWED) == ["Pell", "Tamsin"]


def test_the_point_of_view_character_does_not_answer_what_is_no_question() -> None:
    assert speakers(FOLLOWED.replace("all the morning?", "all the morning.")) == ["Pell", None]


def test_the_point_of_view_character_does_not_answer_an_answer_that_names_her() -> None:
    named = FOLLOWED.replace("At the mill, watching", "Tamsin was at the mill, watching")
    assert speakers(named) == ["Pell", None]


def test_a_first_person_narration_has_no_point_of_view_character_to_answer() -> None:
    # "I" in the narration: a first-person work whose narrator was not found, so no one answers for the narration
    told = FOLLOWED.replace(
        "Tamsin woke before the bell.", "I saw that Tamsin woke before the bell, and I said nothing."
    )
    assert speakers(told) == ["Pell", None]


def cast_of(text: str) -> dict[str, set[str]]:
    counter = CastCounter()
    counter.add(text)
    return {c.name: set(c.aliases) for c in counter.cast()}


# two sisters: the younger called "Miss Tamsin Pellow", the elder "Miss Pellow" and, once in full, "Jenna Pellow"
SISTERS = (
    "Sir Oswin Pellow had two daughters. Jenna Pellow was the elder. Tamsin Pellow was the younger. "
    "Miss Pellow ruled the house. Miss Pellow chose the dinners. Miss Pellow gave the orders. "
    "Miss Tamsin walked alone. Miss Tamsin read. Miss Tamsin Pellow sighed. Miss Tamsin Pellow smiled. "
    '"We dine at six," said Jenna. "Very well," said Tamsin. "Not a minute later," said Jenna. "Ring," said Jenna. '
    '"Now," cried Jenna. Jenna rang the bell. Jenna waited. Sir Oswin Pellow came in. Sir Oswin Pellow sat down.\n'
)


def test_miss_and_a_surname_alone_is_the_elder_sister_named_once_in_full() -> None:
    cast = cast_of(SISTERS)
    assert "Miss Pellow" in cast["Jenna"]
    assert "Miss Pellow" not in cast  # no person of its own
    assert "Miss Pellow" not in cast["Tamsin Pellow"]


def test_miss_and_a_surname_stays_apart_when_no_sister_is_named_in_full() -> None:
    cast = cast_of(SISTERS.replace("Jenna Pellow was the elder.", "The elder was Jenna."))
    assert "Miss Pellow" not in cast["Jenna"]


def test_a_name_that_mentioned_a_word_runs_on_into_it() -> None:
    # "mentioned" is a verb of saying: the sentence whose subject is Oswin runs on into the word he said
    text = 'The inn was full that night. Oswin had once mentioned the word "harbour," but never dared say it again.\n'
    assert speakers(text) == ["Oswin"]


def test_an_answer_that_calls_the_voice_before_sir_is_the_point_of_view_characters() -> None:
    # no question, but the answer calls the man who spoke "sir": it answers him, and the one followed answers
    invited = FOLLOWED.replace("Where have you been all the morning?", "Sit by the fire and warm yourself.")
    assert speakers(invited.replace("At the mill, watching the wheel.", "Not now, sir, I thank you.")) == [
        "Pell",
        "Tamsin",
    ]
    # "madam" does not answer Pell
    assert speakers(invited.replace("At the mill, watching the wheel.", "Not now, madam, I thank you.")) == [
        "Pell",
        None,
    ]


def test_a_turn_that_asks_then_goes_on_is_answered_by_the_point_of_view_character() -> None:
    asked = FOLLOWED.replace(
        '"Where have you been all the morning?" asked Pell.',
        '"Where have you been?" asked Pell. "The fire has been lit this hour."',
    )
    assert speakers(asked) == ["Pell", "Tamsin"]


ASKED = (
    "The three of them sat by the fire of the inn.\n\n"
    '"The cart will come at noon," said Pell.\n\n'
    "After supper Tamsin asked Oswin what he meant to do in the spring.\n\n"
    '"Sail for Dover, if the wind allows."\n'
)


def test_the_one_a_narration_sentence_says_was_asked_answers_in_the_next_paragraph() -> None:
    assert speakers(ASKED)[-1] == "Oswin"


def test_a_lead_in_that_asks_someone_is_the_askers() -> None:
    # "Tamsin asked Oswin:" leads into Tamsin's own question
    lead_in = ASKED.replace("asked Oswin what he meant to do in the spring.", "asked Oswin:").replace(
        "Sail for Dover, if the wind allows.", "What do you mean to do in the spring?"
    )
    assert speakers(lead_in)[-1] != "Oswin"
