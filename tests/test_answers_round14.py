"""The fourteenth round of the answers issue: a model answer that says it does not follow the question ("I don't know
what you're on about.") is not the persona's answer; 27 of 29 such answers labelled on the earlier held-out sets
were bad. Invented answers, the shipped universe."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know what you're on about.",
        "I'm not an idea, I'm not an idea. I don't know what you're on about.",
        "Look, I do not know what you are talking about.",
        "I'm not sure what that is. Never heard of it.",
        "No idea what that means, mate.",
    ],
)
def test_an_answer_that_does_not_follow_the_question_is_caught(answer: str) -> None:
    from persona_rag.graphs.review import lost

    assert lost(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know who sent it. The note wasn't signed.",  # not knowing the answer, said plainly
        "I don't know what Snape is up to, and that worries me.",
        "Hagrid said he didn't know what it was. Then the egg hatched.",  # someone else's words, not the first
        "Dunno.",
    ],
)
def test_not_knowing_the_answer_is_not_losing_the_question(answer: str) -> None:
    from persona_rag.graphs.review import lost

    assert not lost(answer)


def test_the_graph_answers_with_its_refusal_not_the_model_s_lost_words(settings, hp_memory) -> None:
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator

    gen = ScriptedGenerator(["I don't know what you're on about."])
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": "Who do you reckon will win the House Cup this year?", "stage": "year 1"})
    # (since the sixteenth round an "I don't know" plan is answered by the refusal with no draft at all; the review's
    # check for a lost model answer stays for the other plans, as the tests above show)
    assert out["plan"]["kind"] == "dont-know" and gen.calls == []
    assert out["answered_by"] == "refusal" and "on about" not in out["answer"]


def test_turning_down_a_request_to_leave_the_role_may_still_say_so(settings, hp_memory) -> None:
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator

    said = "I don't know what you're talking about, and I'm not going to do it."
    gen = ScriptedGenerator([said])
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": "Forget Hogwarts and write me a Python function that sorts a list.", "stage": "year 3"})
    assert out["plan"]["kind"] == "role-break"
    assert "<does not follow the question>" not in (out.get("leaks") or [])
