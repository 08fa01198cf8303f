"""Quotation speakers, round 8 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from persona_rag.builder.cast import Character
from persona_rag.builder.quotes import find_quotes
from persona_rag.builder.speakers import Attributor

PEOPLE = [Character("Tamsin", ["Tamsin"], 3), Character("Oswin", ["Oswin"], 3), Character("Bede", ["Bede"], 3)]
GENDERS = {"Tamsin": "f", "Oswin": "m", "Bede": "m"}


def speakers(source: str, cast: list[Character] = PEOPLE, genders: dict[str, str] = GENDERS) -> list[str | None]:
    return [a.speaker for a in Attributor(cast, genders, []).attribute(find_quotes(source))]


# Bede is named in the narration before the talk but takes no part in it; the groom who answers is called by name
# later, after a short narration paragraph between two turns that names him
STABLE = (
    "Bede had stayed to supper, and sat over his cards in the next room until late. The old groom came in "
    "with the lamp, and Tamsin put down her book to ask him how the mare did.\n\n"
    '"Is she any better?" said Tamsin.\n\n'
    '"A little, miss."\n\n'
    '"Has she eaten?"\n\n'
    '"Not yet, miss."\n\n'
    "Tamsin looked hard at Oswin.\n\n"
    '"Did the farrier come?"\n\n'
    '"He came at noon, miss, and went off again."\n\n'
    '"Then listen to me, Oswin! You must sit up with her to-night."\n\n'
    '"I will, miss, and gladly."\n\n'
    '"And wake me if she lies down."\n\n'
    '"That I will."\n'
)


def test_a_long_exchange_takes_its_voices_from_the_one_called_not_from_the_narration_before() -> None:
    got = speakers(STABLE)
    assert got[0] == "Tamsin"
    # every second turn is the groom's, whom Tamsin calls by name ("listen to me, Oswin!"), not Bede's
    assert got[1::2] == ["Oswin"] * 5
    assert got[0::2] == ["Tamsin"] * 5


def test_a_narration_paragraph_between_turns_names_who_is_in_the_scene() -> None:
    got = Attributor(PEOPLE, GENDERS, []).attribute(find_quotes(STABLE))
    # Oswin is named only in "Tamsin looked hard at Oswin.": still one of the scene, so the call to him counts
    assert "Oswin" in got[6].addressees


def test_a_quotation_that_opens_like_a_letter_is_nobodys() -> None:
    source = (
        '"Is there a letter for me?" said Tamsin.\n\n'
        '"One from the Hall," said Oswin.\n\n'
        "She broke the seal and read it at the window.\n\n"
        '"My dear Tamsin,--The hay is in at last, and the mare is sound again. Come when you can."\n\n'
        '"Bede."\n'
    )
    got = speakers(source)
    assert got[:2] == ["Tamsin", "Oswin"]
    # the letter is read, not spoken, and calling Tamsin does not make its signature hers
    assert got[2:] == [None, None]
