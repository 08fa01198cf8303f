"""Quotation speakers, round 13 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from persona_rag.builder.cast import Character
from tests.test_quotes_round9 import GENDERS, PEOPLE, speakers

# a woman the book names only by title and surname ("Mrs Tilney"), her first name said only in the vocative
TILNEYS = [
    *PEOPLE,
    Character("Mrs Tilney", ["Mrs Tilney"], 5),
    Character("Mr Tilney", ["Mr Tilney", "Tilney"], 5),
]
TILNEY_GENDERS = {**GENDERS, "Mrs Tilney": "f", "Mr Tilney": "m"}

# the answer to a turn that calls "Sophy" is tagged "replied Mrs Tilney": Sophy is Mrs Tilney, and so is "Sophia"
CALLED_NAME = (
    "Mr Tilney and his wife drove Tamsin home in the gig.\n\n"
    '"The road is worse than last year, Sophy," said Mr Tilney.\n\n'
    '"It is the rain, my dear," replied Mrs Tilney.\n\n'
    "At dinner Oswin talked of the sea.\n\n"
    '"I would never carry a wife on board," said Oswin.\n\n'
    '"But you carried Mrs Pell and all her children to Dover."\n\n'
    '"All for friendship, Sophia. Do not think I liked it."\n'
)


def test_a_first_name_called_and_answered_by_a_woman_named_only_by_title_is_hers() -> None:
    got = speakers(CALLED_NAME, TILNEYS, TILNEY_GENDERS)
    assert got[:2] == ["Mr Tilney", "Mrs Tilney"]
    # "Sophia" (the full name of the pet form "Sophy") calls Mrs Tilney: the turn it answers is hers
    assert got[2:] == ["Oswin", "Mrs Tilney", "Oswin"]


def test_a_called_name_the_narration_also_uses_is_not_learnt() -> None:
    # "Sophia" named in the narration: the cast had its chance to count it, so it is nobody the cast knows
    narrated = CALLED_NAME.replace("At dinner", "Sophia was out. At dinner")
    assert speakers(narrated, TILNEYS, TILNEY_GENDERS)[3] is None


# "were the first words which broke from X": words that came from someone
WORDS_FROM = (
    "Pell fell on the stones and lay still.\n\n"
    '"Will nobody fetch a surgeon?" were the first words which broke from Oswin, in a tone of despair.\n'
)


def test_words_that_broke_from_someone_are_his() -> None:
    assert speakers(WORDS_FROM) == ["Oswin"]


# the one the turn before calls by name answers it across one short sentence of narration that names no one acting
CALLED_ACROSS = (
    "Pell had fainted on the steps of the inn, and Tamsin knelt by him.\n\n"
    '"Tamsin, Tamsin," cried Oswin, "what is to be done now?"\n\n'
    "Every face was turned towards her.\n\n"
    '"Carry him in. Gently: carry him in."\n\n'
    '"Yes, inside," said Oswin. "I will take his feet."\n'
)


def test_the_one_called_answers_across_a_short_narration_naming_no_one() -> None:
    assert speakers(CALLED_ACROSS) == ["Oswin", "Tamsin", "Oswin"]


# a scene set in narration a page before anyone speaks: whom it names are there, and a call to them counts
SET_SCENE = (
    "Oswin sat at the head of his table, as a host should.\n\n"
    + "The room was long and cold, and the candles smoked in the draught from the door. " * 12
    + "\n\n"
    '"You mean the miller, I suppose?" said Tamsin.\n\n'
    "Pell was all gratitude.\n\n"
    '"The very man! He ground for the abbey, you know, Oswin, for two or three years."\n\n'
    '"The miller? Oh! the miller. You misled me by the word gentleman."\n'
)


def test_a_name_called_counts_when_the_narration_before_the_conversation_set_him_in_the_scene() -> None:
    assert speakers(SET_SCENE) == ["Tamsin", "Pell", "Oswin"]


# a group speaking in the narration after a quotation: several voices, nobody's
GROUP = (
    '"Who was the gentleman who rode off?" said Oswin.\n\n'
    '"A Mr Pell, sir, going on to the coast."\n\n'
    '"Pell!" Many had looked at each other, and many had repeated the name, before the waiter was done.\n'
)


def test_a_quotation_a_group_repeated_is_nobodys() -> None:
    assert speakers(GROUP)[2] is None


# a lead-in that says the words were not said: nobody's
UNSAID = (
    "Tamsin walked through the old rooms with Oswin. She had no power of saying to herself, "
    '"These rooms ought to be ours still." No, she thought only of her mother.\n'
)


def test_words_a_lead_in_says_were_not_said_are_nobodys() -> None:
    assert speakers(UNSAID) == [None]
