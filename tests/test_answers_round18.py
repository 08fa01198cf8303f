"""The eighteenth round of the answers issue: the narrator's gloss after a name ("Umbridge, a senior Ministry
official, took over") and a kin word before the persona's own name ("her youngest son me") are not said, a lead is
not followed by a capitalised pronoun ("Actually, His wand"), and what a teller told of itself is said with its
pronoun ("From what Harry told me, he was tried", not "..., Harry was tried"). Invented sentences, the shipped
universe."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Umbridge, a senior Ministry official, took over Defence.", "Umbridge took over Defence."),
        ("Viktor, the Bulgarian Seeker and Durmstrang champion, asked me.", "Viktor asked me."),
        (
            "Then the Dark Mark, a huge green skull with a serpent for a tongue, rose over us.",
            "Then the Dark Mark rose over us.",
        ),
        # kept: a list, one word of description, a clause after it, the sentence's own end (often what it tells)
        ("Harry, Ron, the Weasleys and Hermione went.", None),
        ("Krum, the Durmstrang champion, and Fleur were there.", None),
        ("I bought Crookshanks, a huge, squash-faced cat.", None),
        ("I met Luna, a Ravenclaw girl, who believes odd things.", None),
        ("He was Peter Pettigrew, an Animagus who had hidden as a rat.", None),
        ("He fell backwards, and that brought the Knight Bus.", None),  # "Knight" is the name's, no role
    ],
)
def test_the_narrator_s_gloss_after_a_name_is_not_said(hp, text: str, plain: str | None) -> None:
    from persona_rag.graphs.rewrite import plain_names

    assert plain_names(text, hp) == (plain if plain is not None else text)


def test_a_gloss_after_a_name_the_question_asks_about_is_kept(hp) -> None:
    from persona_rag.graphs.rewrite import plain_names

    text = "I shared the ride with Luna, an odd, dreamy Ravenclaw girl, who read upside down."
    assert plain_names(text, hp, "Who's the dreamy Ravenclaw girl you shared a carriage with?") == text
    said = "Umbridge, a senior Ministry official, took over Defence."
    assert plain_names(said, hp, "Who is Umbridge?") == said
    assert plain_names(said, hp, "What happened to Defence this year?") == "Umbridge took over Defence."


def test_a_kin_word_before_the_persona_s_own_name_goes_with_it(hp) -> None:
    from persona_rag.graphs.rewrite import in_own_words

    from persona_rag.persona import Persona

    ron = Persona(hp, hp.characters["ron"])
    said = in_own_words("On the train Harry shared a compartment with her youngest son Ron.", ron)
    assert said == "On the train Harry shared a compartment with me."
    # a role word before a name that is not the persona's stays (the other glosses are a role word's only)
    assert in_own_words("Ron met the boy I mentioned.", ron) == "I met the boy I mentioned."


def test_a_lead_is_not_followed_by_a_capitalised_pronoun() -> None:
    from persona_rag import prompts

    assert prompts.recall({"recall": ["Actually, {memory}"]}, "His wand was broken.", "q") == (
        "Actually, his wand was broken."
    )
    assert prompts.recall({"recall": ["Look, {memory}"]}, "They fought on.", "q") == "Look, they fought on."


def test_what_a_teller_told_of_itself_is_said_with_its_pronoun(hp) -> None:
    from persona_rag.graphs.review import hearsay_answer

    from persona_rag.persona import Persona

    ron = Persona(hp, hp.characters["ron"])
    plan = {"kind": "hearsay", "sentences": ["Harry was tried before the full Wizengamot."], "context": [""]}
    state = {"question": "Who spoke for him?", "plan": plan, "hearsay_from": "Harry Potter"}
    answer, by = hearsay_answer(state, ron)  # type: ignore[arg-type]
    assert by == "memory" and "From what Harry told me, he was tried before the full Wizengamot." in answer
    # a story about someone else is said as it is
    plan["sentences"] = ["Dumbledore spoke for Harry."]
    assert "From what Harry told me, Dumbledore spoke for Harry." in hearsay_answer(state, ron)[0]  # type: ignore[arg-type]
