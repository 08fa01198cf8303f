"""The claim check reads who did what (graphs/claims.py, issue #20): a claim whose doer, object or owner differs
from its memory sentence's is unsupported, and the persona never names itself in the third person. The labelled
floors here are on the two files it was tuned on; benchmarks/claims_bench.py reports the untuned file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from persona_rag.graphs.claims import cast_of, third_person_self, unsupported_claims
from persona_rag.graphs.rewrite import in_own_words
from persona_rag.memory.store import TemporalMemory

from persona_rag.persona import Persona

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def harry() -> Persona:
    return Persona.load("harry")


def check(memory: TemporalMemory, persona: Persona, answer: str, question: str, facts: list[str]) -> list[str]:
    index = memory.entity_index(persona.id)
    stage = memory.universe.stage("y7.end").ordinal
    return unsupported_claims(answer, question, "past-presence", stage, index, facts, persona=persona)


def test_who_did_it_to_whom_must_match_the_memory(hp_memory: TemporalMemory, harry: Persona) -> None:
    fact = ["On the Astronomy Tower Severus Snape killed Albus Dumbledore with the Killing Curse."]
    q = "What happened on the tower?"
    assert check(hp_memory, harry, "Snape killed Dumbledore with the Killing Curse on the tower.", q, fact) == []
    # The same words, the roles swapped: word overlap alone passed this.
    swapped = "Dumbledore killed Snape with the Killing Curse on the tower."
    assert check(hp_memory, harry, swapped, q, fact) == ["<unsupported by its memory>"]
    index = hp_memory.entity_index("harry")
    stage = hp_memory.universe.stage("y7.end").ordinal
    assert unsupported_claims(swapped, q, "past-presence", stage, index, fact, persona=harry, roles=False) == []
    # The persona put in someone else's place: "I" did not kill anyone.
    assert check(hp_memory, harry, "I killed Dumbledore with the Killing Curse on the tower.", q, fact)
    # The passive says the same as the active.
    passive = ["On the Astronomy Tower Albus Dumbledore was killed by Severus Snape with the Killing Curse."]
    assert check(hp_memory, harry, "Snape killed Dumbledore with the Killing Curse on the tower.", q, passive) == []


def test_the_persona_cannot_have_done_what_a_memory_without_it_tells(hp_memory: TemporalMemory) -> None:
    """A tuned Hermione took Voldemort's deed as her own ("I've tracked the Elder Wand ..."): a memory sentence
    that has her in it neither by name nor by a pronoun or a group that may be her cannot back "I did it"."""
    hermione = Persona.load("hermione")
    fact = [
        "Voldemort, having followed the Elder Wand from the wandmaker to Grindelwald's prison, killed Grindelwald "
        "and broke open the white tomb to take the wand."
    ]
    q = "Harry kept the Elder Wand, didn't he?"
    taken = "I've followed the Elder Wand from the wandmaker to Grindelwald's prison and broke open the white tomb."
    assert check(hp_memory, hermione, taken, q, fact) == ["<unsupported by its memory>"]
    told = "Voldemort followed the Elder Wand from the wandmaker to Grindelwald's prison and broke open the tomb."
    assert check(hp_memory, hermione, told, q, fact) == []
    # her own deed, told with her name or with a group she is in, still backs "I"
    own = ["At Godric's Hollow Hermione saved Harry from the snake, but her curse broke his wand."]
    assert check(hp_memory, hermione, "At Godric's Hollow I saved Harry from the snake.", q, own) == []
    group = ["Harry, Ron and Hermione broke into the bank. They escaped on the back of a dragon."]
    assert check(hp_memory, hermione, "We escaped from the bank on the back of a dragon.", q, group) == []


def test_whose_thing_it_is_must_match(hp_memory: TemporalMemory, harry: Persona) -> None:
    fact = [
        "On his eleventh birthday Rubeus Hagrid told Harry that he is a wizard and that his parents did not die in "
        "a crash but were murdered by Voldemort."
    ]
    q = "What have you heard about Rubeus Hagrid?"
    assert check(hp_memory, harry, "Hagrid told me my parents did not die in a crash.", q, fact) == []
    # Hagrid's parents are not the ones in the memory (a garble the tuned model wrote).
    assert check(hp_memory, harry, "He's a wizard, and he says his parents died in a crash.", q, fact)


def test_the_persona_never_names_itself_in_the_third_person(hp_memory: TemporalMemory, harry: Persona) -> None:
    cast = cast_of(harry, hp_memory.entity_index("harry"))
    assert third_person_self("I woke up, and then Harry went down to breakfast.", cast) == ["Harry"]
    assert third_person_self("His curse failed on baby Harry Potter.", cast) == ["Harry Potter"]
    # Introducing itself, another's name that shares a word, or quoted speech is fine.
    assert third_person_self("I'm Harry. James Potter was my father.", cast) == []
    assert third_person_self('Ron shouted "Harry, duck!" and I ducked.', cast) == []
    fact = ["Harry woke up with his scar burning."]
    assert "<speaks of itself in the third person>" in check(
        hp_memory, harry, "When Harry woke up his scar was burning.", "Did your scar hurt?", fact
    )


def confusion(rows: list[dict[str, Any]], memory: TemporalMemory) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for r in rows:
        persona = Persona(memory.universe, memory.universe.persona(r["persona"]))
        index = memory.entity_index(r["persona"])
        stage = memory.universe.stage(r["stage"]).ordinal
        flagged = bool(
            unsupported_claims(r["answer"], r["question"], r["verdict"], stage, index, r["facts"], persona=persona)
        )
        bad = r["label"] == "hallucinated"
        tp, fp, fn, tn = (
            tp + (flagged and bad),
            fp + (flagged and not bad),
            fn + (bad and not flagged),
            tn + (not flagged and not bad),
        )
    return tp, fp, fn, tn


def test_role_check_on_the_labelled_answers_it_was_tuned_on(hp_memory: TemporalMemory) -> None:
    """Where the check with roles stands on its two tuning files (today calibration P 0.83 R 1.00, model
    answers P 0.92 R 0.90; words only: 0.82/0.97 and 0.94/0.85): a change that loses it fails here."""
    calibration = [json.loads(x) for x in (DATA / "labelled_answers.jsonl").read_text().splitlines() if x.strip()]
    tp, fp, fn, tn = confusion(calibration, hp_memory)
    assert tp / (tp + fp) >= 0.8 and tp / (tp + fn) >= 0.97, (tp, fp, fn, tn)
    model = [json.loads(x) for x in (DATA / "labelled_model_answers.jsonl").read_text().splitlines() if x.strip()]
    tp, fp, fn, tn = confusion(model, hp_memory)
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.88, (tp, fp, fn, tn)


def test_a_memory_in_the_persona_words_passes_the_check_against_it(hp_memory: TemporalMemory) -> None:
    """The rewrite of every memory of Hermione is backed by that memory, roles and all (today 7 of 329 are not:
    a pronoun the rewrite or the reading resolves wrongly). Where they disagree, one of them is wrong."""
    hp = hp_memory.universe
    hermione = Persona(hp, hp.persona("hermione"))
    index = hp_memory.entity_index("hermione")
    cast = cast_of(hermione, index)
    rejected = []
    passages = [p for p in hp.passages() if p.persona == "hermione"]
    for p in passages:
        said = in_own_words(p.text, hermione)
        found = unsupported_claims(said, "Tell me about it.", "past-presence", 99, index, [p.text], persona=cast)
        if [f for f in found if not f.startswith("<not known yet")]:
            rejected.append(said)
    assert len(passages) > 300 and len(rejected) <= 10, rejected
