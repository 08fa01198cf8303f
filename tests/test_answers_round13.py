"""The thirteenth round of the answers issue: questions that ask how the persona felt or what it thinks, in the
words users wrote on the earlier held-out sets ("What was that like for you?", "Was that as daft as it sounds?"),
and the persona's group after something was done to it. Invented sentences, the shipped profiles."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "question",
    [
        "What was that like for you?",
        "What's it like sitting next to him every day?",
        "What was the trip home like?",
        "What was going through your head when the lights went out?",
        "What went through you when you read it?",
        "How did that hit you?",
        "How are you taking it?",
        "How did you take hearing that?",
        "How did the letter from your aunt leave you?",
        "How did the party go for you?",
        "How did you get through that?",
        "When the door slammed, were you frightened?",
    ],
)
def test_a_question_about_the_persona_s_feelings_is_one(question: str) -> None:
    from persona_rag.graphs.plan import asks_feeling

    assert asks_feeling(question)


@pytest.mark.parametrize(
    "question",
    [
        "Was that as daft as it sounds?",
        "Honestly, was that a sensible plan?",
        "Wasn't it reckless to go alone?",
        "Was the punishment too harsh?",
        "He sacked her on the spot. Fair enough, or not?",
        "Were they worth saving?",
        "Did he have any right to keep it?",
        "Knowing that, how do you see her now?",
        "What possessed you to warn him?",
        "Are you glad she's gone?",
    ],
)
def test_a_question_asking_the_persona_s_view_is_one(question: str) -> None:
    from persona_rag.graphs.plan import asks_view

    assert asks_view(question)


@pytest.mark.parametrize(
    "question",
    [
        "So it was Mad-Eye Moody who put your name in the Goblet?",  # "Mad" of a name is no judgement
        "What was in the parcel?",
        "Who was at the door?",
        "How did you get past the dog?",
        "What happened at the lake?",
        "Was it Snape who jinxed your broom?",
    ],
)
def test_a_question_about_what_happened_asks_neither(question: str) -> None:
    from persona_rag.graphs.plan import asks_feeling, asks_view

    assert not asks_feeling(question) and not asks_view(question)


def test_the_persona_acted_on_is_still_one_of_the_group_the_sentence_before_made(hp) -> None:
    from persona_rag.graphs.rewrite import in_own_words

    from persona_rag.persona import Persona

    hermione = Persona(hp, hp.characters["hermione"])
    harry = Persona(hp, hp.characters["harry"])
    said = in_own_words(
        "Harry, Ron and Hermione hid in the wood. Greyback caught Hermione, and they were taken.", hermione
    )
    assert said == "Harry, Ron and I hid in the wood. Greyback caught me, and we were taken."
    # the persona that does something alone is not the group: "them" is someone else
    said = in_own_words("Harry, Ron and Hermione hid in the wood. Then Harry drove them off.", harry)
    assert said == "Ron, Hermione and I hid in the wood. Then I drove them off."


def test_a_list_that_ends_the_sentence_keeps_its_full_stop_when_the_persona_goes_last(hp) -> None:
    """Seen once the feeling line followed a one-sentence memory: "closed in on Sirius Black. and me I felt"."""
    from persona_rag.graphs.review import say_sentences
    from persona_rag.graphs.state import OWN_WORDS

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    said = say_sentences(
        ["By the pond, three dogs closed in on Harry and Neville Longbottom.", "I froze."], harry, ["", OWN_WORDS]
    )
    assert said == "By the pond, three dogs closed in on Neville and me. I froze."  # Harry calls him Neville


def test_a_thing_the_persona_found_is_not_a_view_it_holds(hp) -> None:
    from persona_rag.graphs.plan import states_view

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    assert not states_view("They ran into the trees, where Harry found his wand was gone.", harry)
    assert not states_view("Harry found a note under the door.", harry)
    assert states_view("Harry found Lockhart vain and silly.", harry)
    assert states_view("Harry thinks the new rules are unfair.", harry)
