"""Quotation speakers, round 14 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

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
