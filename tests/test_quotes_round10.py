"""Quotation speakers, round 10 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from persona_rag.builder.cast import Character
from persona_rag.builder.quotes import find_quotes
from persona_rag.builder.speakers import Attributor
from tests.test_quotes_round9 import GENDERS, PEOPLE, speakers

# a narration sentence whose subject is a name and whose verb is a speech verb runs on into the quotation, with no
# stop before it: the quoted words are that character's
RUNS_ON = (
    "The inn at the crossroads was small and smoky, and its fire smoked worse.\n\n"
    "Tamsin admitted she had hoped for something better; but still "
    '"it would serve well enough for one night," and she took off her bonnet.\n'
)


def test_a_named_sentence_with_a_speech_verb_that_runs_into_the_quotation_is_its_subject_speaking() -> None:
    assert speakers(RUNS_ON) == ["Tamsin"]


def test_a_phrase_cited_in_a_sentence_without_a_speech_verb_is_nobody_speaking() -> None:
    cited = RUNS_ON.replace("admitted she had hoped for something better; but still", "had earned the name of")
    assert speakers(cited) == [None]


# a long narration goes on about "he", paragraph after paragraph, from the one it named at its start
LODGER = (
    "Oswin was a restless lodger, and the house soon learnt his ways.\n\n"
    "He rose before the milk cart and was gone before anyone came down.\n\n"
    "Some days he walked the river paths until dark; on others he never left his room at all.\n\n"
    "What he did there nobody knew, though the maid swore he kept a jar of beetles on the sill.\n\n"
    "He read everything and remembered all of it, yet of the simplest matters he knew nothing.\n\n"
    '"You look puzzled," he said one evening, catching my eye across the table.\n'
)


def test_a_he_tag_after_a_long_narration_about_he_goes_back_to_the_one_it_began_with() -> None:
    assert speakers(LODGER) == ["Oswin"]


def test_the_long_he_chain_stops_at_a_paragraph_that_does_not_go_on_about_he() -> None:
    broken = LODGER.replace(
        "He rose before the milk cart and was gone before anyone came down.",
        "The milk cart came at six, and the baker's boy soon after.",
    )
    assert speakers(broken) == [None]


# one quotation in three parts, each tagged "he ...": one voice, resolved as a single "said he"
TWO_TAGS = (
    '"The ford is too deep tonight," said Pell.\n\n'
    "Oswin folded the map and put it in his coat.\n\n"
    '"Then we take the bridge," he said; "it is longer, but dry," he went on, turning to Tamsin. "Can you walk '
    'another hour?"\n'
)


def test_several_tags_of_one_he_in_a_quotation_are_one_voice() -> None:
    assert speakers(TWO_TAGS) == ["Pell", "Oswin"]


# the narration before names two men as subjects of one sentence: the one who comes in last is the "he" who speaks
CAME_IN = (
    '"I have nothing more to add," said Pell.\n\n'
    "Oswin smiled to himself and seemed about to answer, when Wren, who had been out in the yard all this while, "
    "came back into the kitchen rubbing the frost from his hands.\n\n"
    '"Tamsin," he said, "the well is frozen solid."\n'
)


def test_a_said_he_after_a_narration_with_two_subjects_goes_on_from_the_last() -> None:
    cast = [*PEOPLE, Character("Wren", ["Wren"], 3)]
    assert speakers(CAME_IN, cast, {**GENDERS, "Wren": "m"}) == ["Pell", "Wren"]


# the sentence before has two people acting ("Oswin ..., and I ..."): no beat; the one the turn before called answers
BACK_TURNED = (
    '"Well, Wren, what do you make of the letter?" said Oswin.\n\n'
    "Oswin stood at the window with his back to me, and I had not said a word about the letter in my hand.\n\n"
    '"How did you know I was reading it?"\n\n'
    '"I have a polished kettle in front of me," said he.\n'
)


def test_a_narration_sentence_with_a_second_subject_is_no_beat() -> None:
    cast = [*PEOPLE, Character("Wren", ["Wren"], 3)]
    found = find_quotes(BACK_TURNED)
    got = [a.speaker for a in Attributor(cast, {**GENDERS, "Wren": "m"}, [(0, "Wren")]).attribute(found)]
    assert got == ["Oswin", "Wren", "Oswin"]


# "they both asked": two voices at once, nobody of the cast alone
THEY_BOTH = (
    '"The ford is closed," said Pell.\n\n'
    '"Then how are we to cross?" said Oswin.\n\n'
    "Tamsin and Oswin looked at the porter with some impatience.\n\n"
    '"And what would you have us do?" they both asked.\n'
)


def test_a_they_tag_is_several_voices_and_nobody() -> None:
    assert speakers(THEY_BOTH) == ["Pell", "Oswin", None]


# a first-person work: "remarked my friend" and "he continued" in one quotation are the narrator's companion
COMPANION = (
    '"Shall we walk?" said Oswin.\n\n'
    '"If you like," said I.\n\n'
    '"The lane, then," said Oswin.\n\n'
    "Pell the porter met us at the gate.\n\n"
    '"Will you look at the lock, sirs?" said the porter.\n\n'
    '"It would be a shame to spoil your work," remarked my friend. "You have done so well." He smiled at the '
    'man. "If you want me," he continued, "send a boy."\n'
)


def test_my_friend_and_a_he_tag_in_one_quotation_are_the_companion() -> None:
    cast = [*PEOPLE, Character("Wren", ["Wren"], 3)]
    found = find_quotes(COMPANION)
    got = [a.speaker for a in Attributor(cast, {**GENDERS, "Wren": "m"}, [(0, "Wren")]).attribute(found)]
    assert got == ["Oswin", "Wren", "Oswin", "Pell", "Oswin"]


# three in the scene: the one the last sentence of the turn before calls answers, not the voice two turns back
CALLED = (
    '"I found it pushed under the door this morning, sir," said Pell.\n\n'
    '"Well, Wren, what do you make of this?" said Oswin.\n\n'
    '"A threat, and a clumsy one."\n'
)


def test_the_one_called_in_the_last_sentence_of_the_turn_before_answers_in_a_scene_of_three() -> None:
    cast = [*PEOPLE, Character("Wren", ["Wren"], 3)]
    found = find_quotes(CALLED)
    got = [a.speaker for a in Attributor(cast, {**GENDERS, "Wren": "m"}, [(0, "Wren")]).attribute(found)]
    assert got == ["Pell", "Oswin", "Wren"]
    aside = CALLED.replace("Well, Wren, what do you make of this?", "A clever fellow, Wren. But the bolt?")
    found = find_quotes(aside)
    got = [a.speaker for a in Attributor(cast, {**GENDERS, "Wren": "m"}, [(0, "Wren")]).attribute(found)]
    assert got == ["Pell", "Oswin", "Pell"]


# an address broken off by a dash still calls its name ("Well, Oswin--"), and the one called answers
BROKEN_OFF = (
    "Oswin waited by the door with his hat in his hands.\n\n"
    '"Shall I send the letter, then?" said Pell.\n\n'
    '"Not yet," said Tamsin. "Well, Oswin--"\n\n'
    '"I will take it myself in the morning, madam."\n'
)


def test_a_name_before_a_dash_is_called() -> None:
    found = find_quotes(BROKEN_OFF)
    got = Attributor(PEOPLE, GENDERS, []).attribute(found)
    assert got[1].addressees == ["Oswin"]
    assert [a.speaker for a in got] == ["Pell", "Tamsin", "Oswin"]


# whose voice the lead-in speaks of is who speaks, though what follows is only what someone heard
VOICE = (
    "Pell sat down on the bench by the orchard wall, and soon heard Tamsin and Oswin coming back along the "
    "path behind it. Tamsin's voice was the first he could make out. What he heard was--\n\n"
    '"And so I told her she must go, whatever her aunt might say."\n\n'
    '"She would have stayed at home, but for you?"\n\n'
    '"She would. I am almost ashamed of her."\n'
)


def test_the_voice_a_lead_in_names_speaks() -> None:
    got = speakers(VOICE)
    assert got[0] == "Tamsin" and got[2] == "Tamsin"
    assert got[1] in (None, "Oswin")  # Pell, who listens, is in the scene too: the pair is not settled


# two tags by name of two people in one quotation: two voices joined, nobody's, and no turn to guess
JOINED = (
    '"I saw the boy at noon," said Oswin.\n\n'
    '"Where is he now?" said Pell.\n\n'
    '"Oh! he is out with the dogs," cried Oswin, "since--" Tamsin interrupted him. "He is in the loft, and you '
    'know it."\n\n'
    '"Then fetch him down," said Pell.\n'
)


def test_a_quotation_tagged_with_two_names_is_nobody_s() -> None:
    assert speakers(JOINED) == ["Oswin", "Pell", None, "Pell"]


# a first-person work: the narrator weighs what to say in a narration paragraph of his own, then says it
WEIGHING = (
    '"I see the boy cross the common every noon with a basket," said Oswin.\n\n'
    "Here was news indeed! Yet I kept my face still. If I could learn where the basket went, it might save me "
    "a long search. But seeming not to care was my best card.\n\n"
    '"A farmer\'s lad taking his father his dinner, I should think."\n'
)


def test_a_narration_paragraph_of_the_narrator_s_own_thoughts_before_a_turn_is_the_narrator_speaking() -> None:
    cast = [*PEOPLE, Character("Wren", ["Wren"], 3)]
    found = find_quotes(WEIGHING)
    got = [a.speaker for a in Attributor(cast, {**GENDERS, "Wren": "m"}, [(0, "Wren")]).attribute(found)]
    assert got == ["Oswin", "Wren"]
    # the same paragraph in a third-person work tells nothing
    assert speakers(WEIGHING) == ["Oswin", None]


# the narrator turns upon someone to ask; after one short sentence of narration, "he said" is the one asked
TURNING = (
    "Oswin had gone up to his room, and Pell walked with me to the corner of the street.\n\n"
    '"Tell me," I asked, stopping and turning upon Pell, "how did he know where I had been?"\n\n'
    'My companion gave a small smile. "That is his way," he said. "He will not tell you either."\n'
)


def test_a_said_he_after_a_short_beat_is_the_one_the_turn_before_turned_upon() -> None:
    cast = [*PEOPLE, Character("Wren", ["Wren"], 3)]
    found = find_quotes(TURNING)
    # Pell's gender is not known to the attributor: being called is enough
    got = Attributor(cast, {"Oswin": "m", "Wren": "m", "Tamsin": "f"}, [(0, "Wren")]).attribute(found)
    assert got[0].addressees == ["Pell"]
    assert [a.speaker for a in got] == ["Wren", "Pell"]


# a stranger answers the one who spoke to him; the untagged turn after the stranger's is that one going on
STRANGER = (
    "Tamsin and Oswin found the old waiter alone in the empty dining room.\n\n"
    'Oswin held out a shilling. "We should like to hear what you saw last night," he said.\n\n'
    '"I shall be glad to tell you all of it, sir," the waiter answered.\n\n'
    '"Then begin at the beginning, and leave nothing out."\n'
)


def test_the_turn_after_a_stranger_s_answer_is_the_one_who_spoke_to_him() -> None:
    assert speakers(STRANGER) == ["Oswin", None, "Oswin"]


# "of his having said": the speech is his, not that of the sentence's subject
GERUND = (
    "Oswin had been sulking by the window all afternoon.\n\n"
    "Tamsin kept a clear memory of his having said, in a cross voice, "
    '"You should have left the dog alone; I told you so twice;" and she never quite forgave it.\n'
)


def test_a_possessive_before_having_said_is_the_speaker() -> None:
    assert speakers(GERUND) == ["Oswin"]
