"""The nineteenth round of the answers issue: each persona says "it hasn't happened yet" in its own words (the
shipped profiles' `not-yet` refusals: a labeller failed the shared default lines on voice), and a name before a
comma is not listed with the next one ("refereed by Snape, Harry followed him": him is Snape, not the persona)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("pid", ["harry", "hermione", "ron", "dumbledore", "voldemort", "petunia"])
def test_every_shipped_persona_has_its_own_not_yet_refusals(hp, pid: str) -> None:
    from persona_rag import prompts
    from persona_rag.evaluation.metrics import admits_not_knowing

    own = hp.profiles[pid]["refusals"]["not-yet"]
    assert len(own) >= 2
    for line in own:
        assert admits_not_knowing(line) and line not in prompts.DEFAULT_REFUSALS["not-yet"]
    assert prompts.refusal(hp.profiles[pid], "not-yet", "Will Buckbeak be put down?") in own


def test_the_personas_do_not_share_their_not_yet_lines(hp) -> None:
    lines = [line for pid in ("harry", "hermione", "ron") for line in hp.profiles[pid]["refusals"]["not-yet"]]
    assert len(set(lines)) == len(lines)


def test_a_name_before_a_comma_is_not_listed_with_the_doer(hp) -> None:
    from persona_rag.graphs.rewrite import in_own_words

    from persona_rag.persona import Persona

    ron = Persona(hp, hp.characters["ron"])
    memory = "After a quick match refereed by Snape, Harry followed him on his broom into the trees."
    assert in_own_words(memory, ron) == memory  # Ron is not in it: nothing is his
    # a real list still is one: him is none of the three
    harry = Persona(hp, hp.characters["harry"])
    assert (
        in_own_words("Ron, Hermione and Neville saw the wounds and urged Harry to go, but he refused.", harry)
        == "Ron, Hermione and Neville saw the wounds and urged me to go, but I refused."
    )
