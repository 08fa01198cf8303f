"""Quotation speakers, round 5 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from persona_rag.builder.cast import Character
from persona_rag.builder.quotes import find_quotes
from persona_rag.builder.speakers import Attributor

MEN = [
    Character("Rudd", ["Rudd"], 3),
    Character("Pike", ["Pike"], 3),
    Character("Dunmore", ["Dunmore"], 3),
]
MALE = {c.name: "m" for c in MEN}


def test_a_pronoun_chain_that_names_nobody_began_with_the_last_speaker() -> None:
    source = (
        '"Did you lock the gate?" said Dunmore.\n\n"I did," said Pike.\n\n'
        '"Then read the ledger--you really should. It is all written down."\n\n'
        "As he spoke, his quick fingers turned the pages, and his eyes never left the lamp. "
        "At last he closed the book.\n\n"
        '"Nobody has come in since noon?" he asked.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    # the one who asked about the ledger is the "he" of "As he spoke", and so of "he asked"
    assert [a.speaker for a in got] == ["Dunmore", "Pike", "Dunmore", "Dunmore"]
    assert got[3].cue == "pronoun"


def test_a_pronoun_chain_in_the_quotations_own_paragraph_goes_on_from_the_last_speaker() -> None:
    source = (
        '"Where is the key?" said Mara.\n\n"In the drawer," said Ann.\n\n'
        '"Is it?"\n\nThen, forgetting the key, she walked to the window. "How dark it is!" she said.\n'
    )
    cast = [Character("Mara", ["Mara"], 3), Character("Ann", ["Ann"], 3)]
    got = Attributor(cast, {"Mara": "f", "Ann": "f"}, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Mara", "Ann", "Mara", "Mara"]


def test_three_turns_with_the_middle_one_unknown_give_the_pronoun_the_voice_two_turns_back() -> None:
    source = (
        '"Cold night," said Rudd.\n\n"Colder to-morrow," said Pike.\n\n'
        "Nobody else spoke for a while.\n\n"
        '"Read the ledger," said Dunmore.\n\n"No, sir."\n\n"Then take it away," he said.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert got[4].speaker == "Dunmore" and got[4].cue == "pronoun"
    assert got[3].speaker is None  # nobody of the three is known to answer Dunmore


def test_turn_taking_does_not_give_a_turn_to_one_the_turn_beside_it_speaks_of() -> None:
    source = (
        '"I am going to the fair," said Tom.\n\nHe went out, whistling.\n\n'
        '"Tom always leaves me alone with the work," said Mara.\n\n'
        '"Never mind, Mara. I will help you."\n'
    )
    cast = [Character("Tom", ["Tom"], 3), Character("Mara", ["Mara"], 3), Character("Ann", ["Ann"], 2)]
    got = Attributor(cast, {"Tom": "m", "Mara": "f", "Ann": "f"}, []).attribute(find_quotes(source))
    # Mara speaks of Tom to someone else: the answer is not his, though he is the other speaker of the scene
    assert [a.speaker for a in got] == ["Tom", "Mara", None]
