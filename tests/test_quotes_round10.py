"""Quotation speakers, round 10 (issue #21): each rule on a short invented scene (builder/speakers.py)."""

from __future__ import annotations

from tests.test_quotes_round9 import speakers

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
