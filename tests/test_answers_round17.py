"""The seventeenth round of the answers issue: a question that asks the persona to guess at a fact its memory does
not hold ("Who do you think sent it?") is answered "I don't know", not with the memory of the thing asked about
(on every blind label so far, such memory answers were bad 8 times in 10); and the narrator's glosses before a
name ("the caretaker Filch", "a house-elf named Dobby") are not said by the persona. Invented sentences, the
shipped universe (fake embedder)."""

from __future__ import annotations

import pytest

CLOAK = "At Christmas Harry received an Invisibility Cloak that had belonged to his father, sent with an unsigned note."
FIREBOLT = (
    "On Christmas morning Harry unwrapped a Firebolt, and there was no note saying who had sent it. Hermione "
    "suspected Sirius Black had sent it with a jinx on it."
)


@pytest.fixture(scope="module")
def harry(hp):
    from persona_rag.persona import Persona

    return Persona(hp, hp.characters["harry"])


@pytest.mark.parametrize(
    ("question", "guess"),
    [
        ("That cloak came with a note but no name. Who do you think sent it?", True),
        ("Pettigrew slipped off as a rat. Where do you reckon he's scurried off to?", True),
        ("Any idea yet who's really behind all these attacks?", True),
        ("A Firebolt turned up without a card. So who's it really from, do you reckon?", True),
        ("Who d'you reckon that is?", True),
        ("What do you think of Lockhart?", False),  # a view, not a guess
        ("What did you reckon to that Luna girl?", False),
        ("Dumbledore left you something in his will. What was it, and have you any idea why he picked it?", False),
        ("Who sent you the cloak?", False),  # asked, not asked to guess
        ("Do you reckon Hagrid is a good teacher?", False),
    ],
)
def test_which_questions_ask_for_a_guess(question: str, guess: bool) -> None:
    from persona_rag.graphs.plan import asks_a_guess

    assert asks_a_guess(question) is guess


def _passage(pid: str, text: str) -> dict:
    return {"id": pid, "text": text, "score": 0.6, "stage": 1}


def test_asked_to_guess_at_what_its_memory_does_not_say_the_plan_is_i_dont_know(harry) -> None:
    from persona_rag.graphs.plan import GUESS, make_plan

    stage = harry.universe.stage("y1.christmas")
    asked = "That cloak you unwrapped on Christmas morning came with a note but no name. Who do you think sent it?"
    plan = make_plan(asked, "past-presence", "", [_passage("harry:cloak", CLOAK)], harry, stage, [])
    assert plan.kind == "dont-know" and plan.reason.startswith(GUESS)
    # asked outright, the memory of the cloak is what the persona has to say
    plain = make_plan(
        "Who sent you the cloak at Christmas?", "past-presence", "", [_passage("harry:cloak", CLOAK)], harry, stage, []
    )
    assert plain.kind == "memory" and plain.grounds == ["harry:cloak"]


def test_a_memory_with_the_persona_s_own_guess_in_it_still_answers(harry) -> None:
    from persona_rag.graphs.plan import make_plan

    stage = harry.universe.stage("y3.christmas")
    asked = (
        "A Firebolt turned up for you on Christmas morning without even a card. So who's it really from, do you reckon?"
    )
    plan = make_plan(asked, "past-presence", "", [_passage("harry:firebolt", FIREBOLT)], harry, stage, [])
    assert plan.kind == "memory" and any("suspected Sirius" in s for s in plan.sentences)


def test_a_guess_plan_is_answered_by_the_persona_s_refusal_for_what_it_does_not_know(settings, hp_memory) -> None:
    import yaml
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator
    from persona_rag.corpus.load import corpora_root

    gen = ScriptedGenerator(["It was my father's cloak."])
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    asked = "That cloak you unwrapped on Christmas morning came with a note but no name. Who do you think sent it?"
    out = g.invoke({"question": asked, "stage": "y1.christmas"})
    refusals = yaml.safe_load((corpora_root() / "harry_potter/profiles/harry.yaml").read_text())["refusals"]
    if out["plan"]["kind"] == "dont-know":  # the fake embedder may find no memory at all: either way, no guess
        assert gen.calls == [] and out["answered_by"] == "refusal"
        assert out["answer"] in refusals["unknown"] + refusals["future"] + refusals["past-absence"]
    else:
        pytest.fail(f"a guess was planned from {out['plan']}")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Ron and I ran from the caretaker Filch.", "Ron and I ran from Filch."),
        ("The giant Rubeus Hagrid broke down the door.", "Hagrid broke down the door."),
        ("A girl named Myrtle died.", "Myrtle died."),
        ("Dobby, a house-elf called Dobby", "Dobby, Dobby"),
        ("In the Hog's Head the barman Aberforth Dumbledore hid us.", "In the Hog's Head Aberforth hid us."),
        ("We went with the dog Fang.", "We went with Fang."),
        # not glosses: a title, a clause, a word that is not a role
        ("In their first Potions lesson Professor Snape picked on me.", None),
        ("The ship rose out of the lake carrying Headmaster Igor Karkaroff.", None),
        ("I had a letter for Hagrid.", None),
        ("I met the historian Bathilda Bagshot.", None),
    ],
)
def test_the_narrator_s_gloss_before_a_name_is_not_said(hp, text: str, plain: str | None) -> None:
    from persona_rag.graphs.rewrite import plain_names

    assert plain_names(text, hp) == (plain if plain is not None else text)


def test_a_gloss_the_question_asks_about_is_kept(hp) -> None:
    from persona_rag.graphs.rewrite import plain_names

    text = "Dumbledore defeated the dark wizard Gellert Grindelwald in 1945."
    assert plain_names(text, hp, "Which dark wizard is he famous for beating?") == text
    assert plain_names(text, hp, "Who is Grindelwald?") == text
    assert plain_names(text, hp, "What happened in 1945?") == "Dumbledore defeated Grindelwald in 1945."


def test_the_fallback_says_the_memory_without_the_gloss(harry) -> None:
    from persona_rag.graphs.review import say_plan

    plan = {"kind": "memory", "sentences": ["Harry, Ron and Hermione ran from the caretaker Filch."], "context": [""]}
    assert say_plan(plan, harry, "Why were you out of bed?") == "Ron, Hermione and I ran from Filch."
