"""The twelfth round of the answers issue: whom the rewrite's pronouns stand for (the one who admits, the group's
own "them", a place that is no one), a model answer that only wonders whether it may speak, and a question about
who will do something next. Invented sentences, the shipped profiles."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def harry(hp):
    from persona_rag.persona import Persona

    return Persona(hp, hp.characters["harry"])


@pytest.mark.parametrize(
    ("memory", "said"),
    [
        # the one who admits or confesses is the one the "he" after it stands for, not the persona he visited
        (
            "Kreacher found Harry in the kitchen and admitted he had hidden the locket for years.",
            "Kreacher found me in the kitchen and admitted he had hidden the locket for years.",
        ),
        (
            "Ollivander weighed Harry's wand and confessed he had sold its twin to a dark wizard.",
            "Ollivander weighed my wand and confessed he had sold its twin to a dark wizard.",
        ),
        # a "she" after "and said" is the doer of that clause (Luna), not the sentence's first name
        (
            "Neville gave Harry a toad, but Luna found the note in the hall and said she could read it later.",
            "Neville gave me a toad, but Luna found the note in the hall and said she could read it later.",
        ),
        # the group left to do something does it to someone else: "to scrub them", not "to scrub us"
        (
            "Snape made Harry, Ron and Hermione stay late, and left Harry, Ron and Hermione to scrub them.",
            "Snape made me, Ron and Hermione stay late, and left Ron, Hermione and me to scrub them.",
        ),
        # "other boys' ... their brooms": the plural said last, not the persona's group
        (
            "Harry and Ron caught Crabbe boasting that he had tricked other boys' parents and stolen their brooms.",
            "Ron and I caught Crabbe boasting that he had tricked other boys' parents and stolen their brooms.",
        ),
        # "Harry's Quidditch permission slip": Quidditch is no one, so "him" is the persona
        (
            "Uncle Vernon tore up Harry's Quidditch permission slip, so Professor Sprout would not let him play.",
            "Uncle Vernon tore up my Quidditch permission slip, so Professor Sprout would not let me play.",
        ),
        # a platform reached "onto", and the name listed after it, are places, not what "he" stands for
        (
            "Mrs Weasley walked Harry onto Platform Four and Five-Eighths, and on the train he found a seat.",
            "Mrs Weasley walked me onto Platform Four and Five-Eighths, and on the train I found a seat.",
        ),
        # what must not change: the one told is the "he" after "told Harry that"
        (
            "McGonagall told Harry that he belonged on the team because he had earned it himself.",
            "McGonagall told me that I belonged on the team because I had earned it myself.",
        ),
    ],
)
def test_the_rewrite_says_i_only_for_the_persona(harry, memory: str, said: str) -> None:
    from persona_rag.graphs.rewrite import in_own_words

    assert in_own_words(memory, harry) == said


def test_because_goes_on_with_the_doer_of_its_clause(harry) -> None:
    from persona_rag.graphs.rewrite import in_own_words

    said = in_own_words(
        "Lupin poured Harry some tea and explained that he had hidden the map from Harry because he feared Snape.",
        harry,
    )
    assert said == "Lupin poured me some tea and explained that he had hidden the map from me because he feared Snape."


def test_a_model_answer_that_only_wonders_whether_it_may_speak_is_rejected() -> None:
    from persona_rag.graphs.review import hedges

    for answer in (
        "I'm not sure if I can say that.",
        "I'm not sure if I can tell you about it, but I've heard of it.",
        "Well, I'm not sure whether I should say it.",
        "I am not sure if I've been in the right mind.",
    ):
        assert hedges(answer), answer
    for answer in (
        "I'm not sure what that is. Nobody's told me.",  # not knowing, said plainly: an answer
        "I'm not sure if he'll come back.",  # a doubt about the world, not about speaking
        "Dobby said he wasn't sure if I could stay.",
    ):
        assert not hedges(answer), answer


def test_a_hedge_sends_the_answer_to_the_fallback(settings, hp_memory) -> None:
    """Through the graph: the model's hedge is not what the user gets; the plan's memory is, said by the rewrite."""
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator

    gen = ScriptedGenerator(["I'm not sure if I can say that."])
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": "Who is Hagrid, the gamekeeper who rescued you from the Dursleys?", "stage": "year 1"})
    assert out["plan"]["kind"] == "memory" and "<wonders whether it can say>" in out["leaks"]
    assert out["answered_by"] == "memory" and "not sure" not in out["answer"] and "gamekeeper" in out["answer"]


def test_who_will_take_over_asks_about_what_has_not_happened() -> None:
    from persona_rag.graphs.plan import asks_what_will_happen

    assert asks_what_will_happen("Any idea who'll take over from him?")
    assert asks_what_will_happen("What'll happen to the school now?")
    assert not asks_what_will_happen("Who took over from him?")
    assert not asks_what_will_happen("Who'd you sit with on the train?")


def test_the_packaged_gguf_is_read_once_for_tokenizer_config_and_weights(monkeypatch) -> None:
    import gguf

    from persona_rag.models import _gguf_read_once

    made: list[str] = []

    class Reader:
        def __init__(self, path, mode="r"):
            made.append(str(path))

    monkeypatch.setattr(gguf, "GGUFReader", Reader)
    with _gguf_read_once():
        first = gguf.GGUFReader("model.gguf")
        assert gguf.GGUFReader("model.gguf") is first and gguf.GGUFReader("other.gguf") is not first
    assert made == ["model.gguf", "other.gguf"]
    assert gguf.GGUFReader is Reader  # the patch lasts as long as the block
