"""Quotation speakers, round 7 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from persona_rag.builder.cast import Character
from persona_rag.builder.quotes import find_quotes
from persona_rag.builder.speakers import Attributor

PEOPLE = [Character("Tamsin", ["Tamsin"], 3), Character("Oswin", ["Oswin"], 3), Character("Bede", ["Bede"], 3)]
GENDERS = {"Tamsin": "f", "Oswin": "m", "Bede": "m"}


def speakers(source: str, cast: list[Character] = PEOPLE, genders: dict[str, str] = GENDERS) -> list[str | None]:
    return [a.speaker for a in Attributor(cast, genders, []).attribute(find_quotes(source))]


def test_was_his_answer_tags_the_quotation_with_a_pronoun() -> None:
    source = (
        "Oswin leaned on the gate and watched the sheep for a while.\n\n"
        '"The hay will keep," was therefore his answer, "if the rain holds off."\n'
    )
    got = Attributor(PEOPLE, GENDERS, []).attribute(find_quotes(source))
    assert [(a.speaker, a.cue) for a in got] == [("Oswin", "pronoun")]  # a tag, not a guess from the narration


def test_was_her_reply_is_a_she_tag() -> None:
    source = 'Oswin came in from the yard with Tamsin behind him.\n\n"Not today, thank you," was her reply.\n'
    assert speakers(source) == ["Tamsin"]


def test_a_he_after_a_man_described_by_kin_is_not_the_name_after_him() -> None:
    source = (
        '"We shall sell the mare," said Tamsin.\n\n'
        "Her brother, however, would not hear of it; for besides being fond of Bede, the old groom, he "
        "liked the mare himself.\n\n"
        '"She stays in the stable," said he.\n'
    )
    # "he" is her brother, whom the narration never names: not Bede, the one name after "Her brother"
    assert speakers(source)[1] is None


def test_a_he_after_a_kin_subject_with_him_in_the_sentence_still_goes_on() -> None:
    source = (
        '"Will you ride over?" said Tamsin.\n\n'
        "Oswin sat by the fire and said nothing. His father wished him to go, and so he went.\n\n"
        '"I shall be back by noon," said he.\n'
    )
    assert speakers(source)[1] == "Oswin"


def test_the_one_a_turn_calls_did_not_say_a_quotation_whose_narration_leads_into_that_turn() -> None:
    source = (
        "Oswin sat mending the fire, and Bede stood by the window.\n\n"
        '"Someone must fetch the doctor!" cried Tamsin.\n\n'
        'He looked round at the word, and saying only "I will go," was halfway to the door, when Tamsin '
        "called out--\n\n"
        '"Oswin, bring the lantern after him!"\n'
    )
    # the call to Oswin follows the narration, not the quotation: it does not make Oswin the one who said "I will go"
    assert speakers(source)[1] == "Bede"


def test_was_the_reply_names_no_one_and_is_not_guessed_from_the_turns() -> None:
    source = (
        '"The bridge is down," said Oswin.\n\n"Then we go by the ford," said Bede.\n\n'
        '"In this flood!" was the reply.\n\n"It is that or nothing," said Bede.\n'
    )
    # turn-taking alone would give the third turn to Oswin; the text leaves it unnamed
    assert speakers(source) == ["Oswin", "Bede", None, "Bede"]


def test_replied_her_brother_tells_the_turn_before_is_not_a_mans() -> None:
    source = (
        '"The boat is too small for passengers," said Oswin.\n\n"Nonsense," said Bede.\n\n"It is, though."\n\n'
        '"I have sailed in smaller," said Bede.\n\n"And I say it is too small."\n\n'
        '"Not for me. I have crossed the bay in it twice."\n\n"That was in summer," replied her brother.\n'
    )
    got = speakers(source)
    # turn-taking alone gives the sixth turn to Bede; "her brother" answers a woman
    assert got[:5] == ["Oswin", "Bede", "Oswin", "Bede", "Oswin"] and got[5] is None


def test_the_one_a_tag_says_is_spoken_to_answers() -> None:
    source = 'Oswin and Tamsin sat by the fire.\n\n"Will you dance?" said Bede to Tamsin.\n\n"Gladly."\n'
    got = Attributor(PEOPLE, GENDERS, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Bede", "Tamsin"]
    assert got[0].addressees == ["Tamsin"]


def test_a_she_tag_left_unresolved_is_not_given_to_a_man_by_the_turns() -> None:
    source = (
        '"Is this the road to the mill?" asked Oswin.\n\n"It is," said Bede.\n\n'
        '"And how far is it?" Oswin went on.\n\n"Two miles, no more," she answered from the doorway.\n'
    )
    assert speakers(source) == ["Oswin", "Bede", "Oswin", None]


def test_one_sentence_of_action_by_a_name_before_the_quotation_that_closes_the_paragraph() -> None:
    source = (
        '"Where were you at ten?" said Oswin.\n\n"At home," said Bede.\n\n'
        'Tamsin set down her cup with a clatter. "That is not true."\n'
    )
    assert speakers(source) == ["Oswin", "Bede", "Tamsin"]


def test_a_sentence_that_reports_a_speech_before_the_quotation_is_not_its_tag() -> None:
    source = (
        '"You are late," said Oswin.\n\n'
        'Tamsin said what was fitting about the weather and the roads. "The roads are the worst of it."\n'
    )
    assert speakers(source)[1] != "Tamsin"


def test_a_name_before_a_quotation_that_the_narration_goes_on_after_is_not_a_tag() -> None:
    source = (
        '"You are late," said Oswin.\n\n'
        'Tamsin was to leave in the morning. "What would they do without her?" And so it went on all evening.\n'
    )
    assert speakers(source)[1] is None


def test_a_speech_verb_used_of_a_thing_does_not_report_a_speech() -> None:
    source = (
        '"Sit down, both of you," said Oswin.\n\n"I will stand," said Tamsin.\n\n'
        'Bede resumed his seat by the hearth. "Then we wait for the carrier."\n'
    )
    assert speakers(source) == ["Oswin", "Tamsin", "Bede"]


def test_a_turn_answered_with_a_name_the_cast_lacks_is_not_guessed() -> None:
    source = (
        '"The mare is lame," said Oswin.\n\n"Then take the grey," said Bede.\n\n'
        '"The grey is lame too."\n\n"Nonsense, Wilfrid. I rode him this morning."\n'
    )
    # the third turn is Wilfrid's, whom the fourth answers by name: not Oswin's by turn-taking
    got = speakers(source)
    assert got[:2] == ["Oswin", "Bede"] and got[2] is None


def test_a_colon_after_a_sentence_that_names_no_one_and_says_nothing_shows_a_text() -> None:
    source = (
        "Oswin kept the old almanac on the shelf by the door. This was the line the spine always fell open at:\n\n"
        '"BEDE OF THE LOW FARM."\n\n"Tamsin, his wife, born at Michaelmas."\n'
    )
    assert speakers(source) == [None, None]


def test_a_colon_after_a_person_or_a_name_is_not_a_text_shown() -> None:
    attributor = Attributor(PEOPLE, GENDERS, [])
    assert attributor._shows_text("The rain had stopped. This was the notice nailed to the gate:")
    assert not attributor._shows_text("The rain had stopped. He looked up, and then, slowly:")
    assert not attributor._shows_text("The rain had stopped. Then Oswin, at last:")
    assert not attributor._shows_text("The rain had stopped. And then the answer came, in a whisper:")  # a speech noun


def test_what_one_of_the_cast_asks_when_a_stranger_comes_in_the_stranger_answers() -> None:
    source = (
        '"We should start," said Oswin.\n\n"After breakfast," said Tamsin.\n\n'
        "They sat down to the table. The porter came into the room soon afterwards.\n\n"
        '"Tell me," said Oswin, "has the coach from the north come in?"\n\n"Not yet, sir; it is late again."\n'
    )
    # the porter answers: not Tamsin, whose turn it would be
    assert speakers(source) == ["Oswin", "Tamsin", "Oswin", None]


def test_a_beat_does_not_give_a_turn_to_the_one_the_next_turn_names_as_its_speaker() -> None:
    source = (
        '"How is the new horse?" said Tamsin.\n\nBede frowned. Oswin laughed.\n\n'
        '"Lame since Tuesday, and eating his head off."\n\n'
        'Oswin laughed again and said, "You bought him, Bede, not I."\n'
    )
    got = speakers(source)
    assert got[0] == "Tamsin" and got[1] != "Oswin" and got[2] == "Oswin"
