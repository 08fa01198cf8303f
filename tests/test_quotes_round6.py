"""Quotation speakers, round 6 (issue #21): each rule on a short invented scene (builder/speakers.py, cast.py)."""

from __future__ import annotations

from persona_rag.builder.cast import CastCounter, Character
from persona_rag.builder.quotes import find_quotes
from persona_rag.builder.speakers import Attributor

MEN = [Character("Rudd", ["Rudd"], 3), Character("Pike", ["Pike"], 3)]
MALE = {c.name: "m" for c in MEN}


def test_a_description_that_names_nobody_in_the_cast_is_nobody_and_breaks_the_turns() -> None:
    source = (
        '"Is the tide in?" said Rudd.\n\n"Not yet," said Pike.\n\n'
        '"More tea, gentlemen?" said the waiter.\n\n"No, thank you," he said.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    # the waiter is not Rudd, whose turn it would be; and whose turn comes after him is not guessed through him
    assert [a.speaker for a in got] == ["Rudd", "Pike", None, None]


def test_a_womans_description_is_not_the_one_woman_of_the_cast() -> None:
    source = 'Mara went down to the quay.\n\n"Who goes there?" cried the old woman at the gate.\n'
    cast = [Character("Mara", ["Mara"], 3)]
    got = Attributor(cast, {"Mara": "f"}, []).attribute(find_quotes(source))
    assert got[0].speaker is None


def test_several_voices_at_once_are_nobody() -> None:
    source = '"We sail at dawn," said Pike.\n\n"Are you sure?" asked Rudd.\n\n"Quite sure!" cried both sailors.\n'
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Pike", "Rudd", None]


def test_a_description_the_scene_names_is_that_one() -> None:
    source = (
        "Rudd found Pike at the gate.\n\n"
        '"You walked the beat last night, Pike?" said Rudd.\n\n"I did, sir," the constable answered.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    # the one the turn before called by name answers it, whatever the narration calls him
    assert [a.speaker for a in got] == ["Rudd", "Pike"]


def test_a_pronoun_tag_goes_to_the_one_subject_of_its_paragraph_whose_gender_the_book_never_told() -> None:
    source = '"Sit down," said Rudd.\n\nPike scratched his head. "I would rather stand," he said.\n'
    got = Attributor(MEN, {"Rudd": "m"}, []).attribute(find_quotes(source))  # Pike too seldom "he" to be learnt
    assert [a.speaker for a in got] == ["Rudd", "Pike"]


def test_a_text_read_out_is_nobodys_speech() -> None:
    source = (
        '"A letter for you," said Pike.\n\nRudd broke the seal, held the page to the lamp and read:\n\n'
        '"Sir, the boat is sold and the buyer comes on Monday."\n\n"Sold!" said Rudd.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Pike", None, "Rudd"]  # the letter is not its reader's words


def test_two_speeches_of_two_people_run_into_one_quotation_are_nobodys() -> None:
    source = (
        '"Is the boat sold?" asked Rudd.\n\n'
        '"Sold at last," was Pike\'s answer, and "Not before time," was his brother\'s.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert len(got) == 2 and [a.speaker for a in got] == ["Rudd", None]


def test_a_bare_surname_that_two_men_bear_is_nobodys() -> None:
    text = (
        "Miss Rosa Lind came too. Rosa Lind sat. Rosa spoke. Rosa wept. Rosa Lind left. "
        '"Go," said Rosa. "Stay," said Rosa. Mr Lind came. Mr Lind left. Mr Lind spoke. "No," said Lind. '
        "Tom Lind rode in. Tom Lind sat. Tom Lind woke. Tom laughed, and he sang. Tom ran, and he fell. "
        "Tom ate, and he slept. Tom rose, and he left. Tom came, and he stayed. Lind waved. Lind nodded.\n"
    )
    counter = CastCounter()
    counter.add(text)
    cast = {c.name: set(c.aliases) for c in counter.cast()}
    assert "Tom Lind" in cast and "Mr Lind" in cast
    # the father (Mr Lind) and the son (Tom Lind) both answer to "Lind": it names neither for certain
    assert all("Lind" not in aliases for aliases in cast.values())


def test_a_stranger_called_by_what_he_is_answers_the_call() -> None:
    source = (
        '"Is the boat ready?" said Rudd.\n\n"Nearly," said Pike.\n\n'
        '"May I ask, my lad," said Rudd, "where you are going?"\n\n"To the mill, sir," he said.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Rudd", "Pike", "Rudd", None]  # the lad, not Pike


def test_the_answer_to_a_quotation_spoken_to_a_stranger_is_the_strangers() -> None:
    source = (
        '"Is it far?" said Rudd.\n\n"Not far," said Pike.\n\n'
        '"Pray," said Rudd, turning to the waiter, "which road is it?"\n\n"The left one, sir."\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Rudd", "Pike", "Rudd", None]  # the waiter's, not Pike's turn


def test_my_friend_is_the_one_the_narrator_speaks_with_most_when_the_scene_has_him() -> None:
    source = (
        '"Cold," said Rudd.\n\n"Very," I said.\n\n"Colder to-morrow," said Rudd.\n\n'
        "Pike came in with the post and laid a letter by the lamp.\n\n"
        '"Nothing of interest," my friend remarked, tossing it aside.\n'
    )
    cast = [*MEN, Character("Ned", ["Ned"], 3)]
    got = Attributor(cast, {**MALE, "Ned": "m"}, [(0, "Ned")]).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Rudd", "Ned", "Rudd", "Rudd"]  # not Pike, who came in


def test_a_known_speakers_turn_after_a_short_sentence_of_narration_still_takes_its_turn() -> None:
    source = (
        '"Cold," said Rudd.\n\nI looked out at the rain. "Very cold," I said.\n\n'
        '"Colder to-morrow."\n\n"Then we stay in."\n'
    )
    cast = [Character("Rudd", ["Rudd"], 3), Character("Ned", ["Ned"], 3)]
    got = Attributor(cast, {"Rudd": "m", "Ned": "m"}, [(0, "Ned")]).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Rudd", "Ned", "Rudd", "Ned"]


def test_he_in_a_conversation_of_the_narrator_and_his_companion_alone_is_the_companion() -> None:
    source = (
        '"Cold," said Rudd.\n\n"Very," I said. "I will light the fire."\n\nThe wood was wet.\n\n'
        '"It will not burn," I said.\n\nI tried again.\n\n"Nor now," I said.\n\nThe match went out.\n\n'
        '"Nor now," I said.\n\nThe kettle was cold.\n\n"Leave it," he said.\n'
    )
    cast = [Character("Rudd", ["Rudd"], 3), Character("Ned", ["Ned"], 3)]
    got = Attributor(cast, {"Rudd": "m", "Ned": "m"}, [(0, "Ned")]).attribute(find_quotes(source))
    assert got[-1].speaker == "Rudd"


def test_a_he_after_the_name_that_opens_a_lead_in_sentence_is_that_name() -> None:
    source = (
        '"Will you sell the boat?" said Pike.\n\n"Perhaps," said Rudd.\n\n"For how much?"\n\n'
        "Rudd laughed, as he knew he must, and then added--\n\n"
        '"For as much as you have in your pocket."\n'
    )
    got = Attributor(MEN, {"Pike": "m"}, []).attribute(find_quotes(source))  # Rudd's gender never learnt
    assert got[3].speaker == "Rudd" and got[3].cue == "explicit"


def test_one_of_a_group_is_nobody_in_particular() -> None:
    source = (
        '"Where is the key?" said Rudd.\n\n"In the shed," said Pike.\n\n"Which shed?" said Rudd.\n\n'
        'As Rudd walked on with the men, one of them said, "The old one."\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Rudd", "Pike", "Rudd", None]  # not Rudd, who walks with them


def test_a_he_that_goes_on_from_the_object_of_the_sentence_before_is_the_other_voice() -> None:
    source = (
        '"You will sell the boat, Pike," said Rudd.\n\n"Never," said Pike.\n\n'
        "Rudd scolded him for his pride. He only shrugged.\n\n"
        '"It was my father\'s boat," said he.\n'
    )
    got = Attributor(MEN, MALE, []).attribute(find_quotes(source))
    assert got[2].speaker == "Pike"  # the one scolded, not the one who scolded
