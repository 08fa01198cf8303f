"""The sixteenth round of the answers issue: a question nothing known answers is answered by the persona's own
refusal with no draft (on the twelve fresh sets' blind labels, model answers under an "I don't know" plan were good
11 times in 82, the refusals 16 in 46), and under a hearsay plan a model answer that says it does not know is not
the answer. Invented answers, the shipped universe (fake embedder)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def test_a_question_nothing_known_answers_gets_the_persona_s_refusal_and_no_draft(settings, hp_memory) -> None:
    import yaml
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator
    from persona_rag.corpus.load import corpora_root

    gen = ScriptedGenerator(["I'm not sure I've ever heard of Hogwarts."])
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": "Who is Gilderoy Lockhart?", "stage": "year 1"})  # his future
    assert out["plan"]["kind"] == "dont-know" and gen.calls == []  # the model was not asked
    refusals = yaml.safe_load((corpora_root() / "harry_potter/profiles/harry.yaml").read_text())["refusals"]
    assert out["verdict"] == "future"
    assert out["answered_by"] == "refusal" and out["answer"] in refusals["future"]
    assert any("not generated" in n for n in out["notices"])


def test_a_turn_that_asks_nothing_is_still_the_model_s_to_answer(settings, hp_memory) -> None:
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator

    gen = ScriptedGenerator(["I'm all right."])
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": "Hi Harry!", "stage": "year 1"})
    assert out["plan"]["kind"] == "dont-know" and len(gen.calls) == 1  # drafted, as before this round


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Who is Lockhart?", True),
        ("tell me about the troll", True),
        ("Your aunt bought you new glasses, didn't she?", True),
        ("Hi Harry!", False),
        ("Thanks, that was lovely.", False),
        ("Have a nice day, Harry.", False),
        ("did you see the dragon", True),
    ],
)
def test_which_turns_ask_something(question: str, asks: bool) -> None:
    from persona_rag.graphs.review import after_plan

    state = {"question": question, "plan": {"kind": "dont-know"}}
    assert after_plan(state) == ("fallback" if asks else "generate")  # type: ignore[arg-type]
    state["plan"] = {"kind": "memory", "sentences": ["Harry met Hagrid."]}
    assert after_plan(state) == "generate"  # type: ignore[arg-type]


def test_under_a_hearsay_plan_not_knowing_denies_what_it_was_told_but_not_being_there_does_not(hp) -> None:
    from persona_rag.graphs.review import DENIES, answer_problems

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    ctx = SimpleNamespace(persona_for=lambda _id: harry, memory=None)
    plan = {"kind": "hearsay", "sentences": ["Greyback savaged Bill Weasley in the fighting."], "context": [""]}
    state = {"persona": "harry", "question": "Who attacked Bill?", "plan": plan}
    assert DENIES in answer_problems("I wasn't there and I don't know.", state, ctx)  # type: ignore[arg-type]
    assert DENIES in answer_problems("No idea, mate.", state, ctx)  # type: ignore[arg-type]
    told = "I wasn't there myself, but Hermione told me Greyback savaged Bill."
    assert DENIES not in answer_problems(told, state, ctx)  # type: ignore[arg-type]
