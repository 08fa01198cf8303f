"""Quotation speakers, round 11 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from tests.test_quotes_round9 import speakers

# "replied her brother" tells that the turn before is a woman's, and so is every second turn of the exchange: the
# man who spoke before it (Oswin) is not guessed for her side
HER_BROTHER = (
    "Pell sat by the inn fire with his boots off, and Tamsin sat across from him with her sewing.\n\n"
    '"The boats will be late with this wind," said Oswin, and went out to look at the sky.\n\n'
    '"Oh! Pell! You cannot mean to sail in it. A sensible man would wait for the morning."\n\n'
    '"Wind or no wind, I have sailed in worse," replied her brother. "You forget how long I was at sea."\n\n'
    '"And you forget that you have a wife who wishes you home."\n\n'
    '"I forget nothing, my dear girl. But a promise is a promise."\n\n'
    '"Then keep it, and drown."\n\n'
    '"I shall keep it, and come back dry."\n\n'
    '"We shall see."\n'
)


def test_a_her_brother_tag_tells_the_gender_of_every_second_turn_of_the_exchange() -> None:
    got = speakers(HER_BROTHER)
    assert got[0] == "Oswin" and got[2::2] == ["Pell", "Pell", "Pell"]
    assert "Oswin" not in got[1::2]


# the other voice of a conversation's pair is not guessed for a turn before the conversation has shown it (speaking,
# named in its narration, or called): Tamsin comes in only after the reply
LATE_COMER = (
    "Oswin came in from the yard, stamping the snow from his boots.\n\n"
    '"The road to the mill is shut," said Oswin.\n\n'
    '"Since when?"\n\n'
    '"Since the bridge went down in the night."\n\n'
    "A chair scraped in the next room, and Tamsin came to the door with a lamp.\n\n"
    '"Then the flour will not come this week," said Tamsin.\n'
)


def test_a_turn_is_not_given_to_one_who_comes_into_the_conversation_only_later() -> None:
    assert speakers(LATE_COMER) == ["Oswin", None, "Oswin", "Tamsin"]


def test_a_turn_goes_to_the_other_voice_once_the_narration_has_shown_it() -> None:
    shown = LATE_COMER.replace("Oswin came in from the yard,", "Oswin came in to Tamsin from the yard,")
    assert speakers(shown)[:2] == ["Oswin", "Tamsin"]


# narration between two parts of a quotation, not a tag, in which another of the cast speaks: two voices joined
JOINED_REPLY = (
    "Pell had been talking of leaving before the frost. Tamsin could well believe Pell to have said that "
    '"he was only in the way, and would be off by Monday;" for Oswin was answering at once, "You are no trouble '
    'to anybody, and we will not hear of it."\n'
)


def test_another_character_speaking_between_two_parts_of_a_quotation_makes_it_nobodys() -> None:
    assert speakers(JOINED_REPLY) == [None]


def test_the_narration_between_two_parts_that_names_no_one_speaking_leaves_the_tag_its_speaker() -> None:
    one_voice = JOINED_REPLY.replace("for Oswin was answering at once", "for he was never one to stay")
    assert speakers(one_voice) == ["Pell"]


# two people joined as the one subject of the sentence that leads into a quotation: several voices, nobody's
TWO_SUBJECTS = (
    "How the mill was to be paid for was the question, and a question which neither Tamsin nor Pell thought "
    'small. "A loan was always to be had, at a price; the price was what mattered."\n'
)


def test_two_names_joined_as_the_subject_of_a_lead_in_are_several_voices() -> None:
    assert speakers(TWO_SUBJECTS) == [None]


def test_one_name_as_the_subject_of_a_lead_in_still_speaks() -> None:
    assert speakers(TWO_SUBJECTS.replace("neither Tamsin nor Pell", "Pell never")) == ["Pell"]
