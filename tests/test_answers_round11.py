"""The eleventh round of the answers issue: how the persona names people, a memory said without a hole in it, and a
tag question about the persona's own life answered from what it lived. Invented sentences, the shipped profiles."""

from __future__ import annotations

import pytest


def _passage(pid: str, text: str, score: float) -> dict:
    return {"id": pid, "text": text, "score": score, "stage": 4}


@pytest.fixture(scope="module")
def people(hp):
    from persona_rag.persona import Persona

    return {pid: Persona(hp, hp.characters[pid]) for pid in ("harry", "ron", "hermione")}


def test_call_people_says_each_name_the_persona_s_way_and_never_twice() -> None:
    from persona_rag.graphs.rewrite import call_people

    calls = {"Bob Stone": "Uncle Bob", "Bob": "Uncle Bob", "Ann": "my mum", "Ann and Carl": "my mum and dad"}
    assert call_people("Bob Stone shouted at the dog.", calls) == "Uncle Bob shouted at the dog."
    assert call_people("Uncle Bob shouted, and Bob left.", calls) == "Uncle Bob shouted, and Uncle Bob left."
    assert call_people("Ann's letter came.", calls) == "My mum's letter came."  # a sentence's first word
    assert call_people("I saw Ann and Carl wave.", calls) == "I saw my mum and dad wave."  # the longest name first
    # a kin word before the name already says who: no "my mother my mum", no "his uncle Uncle Bob"
    assert call_people("I met my mother Ann and Bob.", calls) == "I met my mother and Uncle Bob."
    assert call_people("his uncle Bob waved.", calls) == "his uncle Bob waved."
    assert call_people("Bobby and Annex stay.", calls) == "Bobby and Annex stay."  # whole names only
    assert call_people("Bob left.", {}) == "Bob left."


def test_the_fallback_names_family_as_family_and_school_friends_as_they_are_called(people) -> None:
    from persona_rag.graphs.rewrite import in_own_words

    harry, ron, hermione = people["harry"], people["ron"], people["hermione"]
    said = in_own_words("Vernon Dursley locked Harry in, and Lily Potter's old photo fell.", harry)
    assert said == "Uncle Vernon locked me in, and my mum's old photo fell."
    assert in_own_words("Harry saw James and Lily in the glass.", harry) == "I saw my mum and dad in the glass."
    assert "Malfoy sneered" in in_own_words("Draco Malfoy sneered at Harry.", harry)
    said = in_own_words("Mr Weasley drove Ron and Ginny Weasley to the station.", ron)
    assert said == "Dad drove Ginny and me to the station."
    assert in_own_words("Ron Weasley lent Hermione a quill.", hermione) == "Ron lent me a quill."
    # the words it calls people by are words its decoding may use
    from persona_rag.graphs.rewrite import persona_calls

    assert persona_calls(harry)["Vernon Dursley"] == "Uncle Vernon" and persona_calls(ron)["Arthur Weasley"] == "Dad"


def test_corpus_check_refuses_calls_that_are_not_names_to_words(tmp_path) -> None:
    import shutil

    from persona_rag.corpus import check_corpus
    from persona_rag.corpus.load import corpora_root

    root = tmp_path / "hp"
    shutil.copytree(corpora_root() / "harry_potter", root)
    profile = root / "profiles" / "ron.yaml"
    profile.write_text(profile.read_text().replace("  Arthur Weasley: Dad\n", "  Arthur Weasley: [Dad, Father]\n"))
    problems = [str(p) for p in check_corpus(root)]
    assert any(p.startswith("hp/profiles/ron.yaml:") and "'calls' must map names" in p for p in problems)


def test_a_profile_without_calls_says_names_as_the_memory_writes_them(people) -> None:
    from persona_rag.graphs.rewrite import persona_calls

    dumbledore = people["harry"].universe.characters["dumbledore"]
    from persona_rag.persona import Persona

    assert persona_calls(Persona(people["harry"].universe, dumbledore)) == {}


def test_the_plan_says_a_memory_without_a_hole_in_the_middle(people) -> None:
    from persona_rag.graphs.plan import make_plan

    harry = people["harry"]
    text = (
        "Harry watched the old man fill the copper cauldron. "
        "He dropped in a feather, a silver coin and a hair of a cat. "
        "The copper cauldron then turned the whole room green."
    )
    plan = make_plan(
        "What went into the copper cauldron?",
        "past-only",
        "",
        [_passage("harry:c", text, 0.6)],
        harry,
        harry.universe.stage("year 2"),
        [],
    )
    # the first and last sentences name the cauldron; the middle one says what went in, and is said between them
    assert plan.grounds == ["harry:c"] and any("feather" in s for s in plan.sentences)
    assert len(plan.sentences) == 3


def test_a_tag_question_about_its_own_life_is_answered_from_a_weaker_memory_not_refused(people) -> None:
    from persona_rag.graphs.plan import CONFIRM_FLOOR, RELEVANCE_FLOOR, make_plan

    harry = people["harry"]
    stage = harry.universe.stage("before")
    # (an embedding score that puts both questions' best sentence between the two floors)
    memory = [_passage("harry:g", "Harry's glasses were held together with tape after Dudley broke them.", 0.45)]
    tag = "Your aunt bought you some lovely new glasses, didn't she?"
    plain = "Did your aunt buy you some lovely new glasses?"
    plan = make_plan(tag, "past-presence", "", memory, harry, stage, [])
    assert CONFIRM_FLOOR <= plan.score < RELEVANCE_FLOOR  # the case the lower floor is for
    assert plan.kind == "memory" and plan.grounds == ["harry:g"]
    assert make_plan(plain, "past-presence", "", memory, harry, stage, []).kind == "dont-know"
    # not for what it never lived: its future, or something it missed
    assert make_plan(tag, "future", "", memory, harry, stage, []).kind == "dont-know"
    assert make_plan(tag, "past-absence", "", memory, harry, stage, []).kind == "dont-know"


def test_corpus_check_reports_a_feeling_for_an_unknown_event_or_one_the_persona_missed(tmp_path) -> None:
    import json
    import shutil

    from persona_rag.corpus import check_corpus, load_universe
    from persona_rag.corpus.load import corpora_root

    root = tmp_path / "hp"
    shutil.copytree(corpora_root() / "harry_potter", root)
    events = [json.loads(line) for f in sorted((root / "events").glob("*.jsonl")) for line in f.open()]
    there = next(e["id"] for e in events if "harry" in e["participants"])
    missed = next(e["id"] for e in events if "harry" not in e["participants"])
    (root / "feelings").mkdir(exist_ok=True)
    rows = [
        {"event": there, "text": "I was thrilled."},
        {"event": "ev-9-no-such-thing", "text": "I was sad."},
        {"event": missed, "text": "I was cross."},
        {"event": there, "text": "I was thrilled again."},
        {"event": there},
        {"event": there, "text": "Harry was thrilled."},
    ]
    (root / "feelings" / "harry.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    problems = [str(p) for p in check_corpus(root)]
    assert any(":2:" in p and "unknown event 'ev-9-no-such-thing'" in p for p in problems)
    assert any(":3:" in p and f"'harry' is not a participant of {missed!r}" in p for p in problems)
    assert any(":4:" in p and "a second feeling" in p for p in problems)
    assert any(":5:" in p and "needs 'event'" in p for p in problems)
    assert any(":6:" in p and "in the first person" in p for p in problems)  # it is said as it is written
    (root / "feelings" / "harry.jsonl").write_text(json.dumps(rows[0]) + "\n")
    assert check_corpus(root) == []
    assert load_universe(root).feelings["harry"] == {there: "I was thrilled."}


def test_asked_how_it_felt_the_plan_says_what_happened_and_what_its_feelings_file_says_it_felt(people) -> None:
    from persona_rag.graphs.plan import make_plan
    from persona_rag.graphs.review import say_plan

    harry = people["harry"]
    hp = harry.universe
    event = hp.events_by_id["ev-4-first-task-horntail"]
    felt = hp.feelings["harry"]["ev-4-first-task-horntail"]  # corpora/harry_potter/feelings/harry.jsonl
    memory = [_passage("harry:ev-4-first-task-horntail", event["text"], 0.6)]
    stage = hp.stage("y4.christmas")
    question = "How did you feel when you drew the Horntail in the first task?"
    plan = make_plan(question, "past-presence", "ev-4-first-task-horntail", memory, harry, stage, [])
    assert plan.kind == "memory" and plan.sentences[-1] == felt and len(plan.sentences) == 2
    said = say_plan(plan.as_dict(), harry)
    assert said.split(". ")[-1].startswith("I was") and "Harry" not in said  # said as himself
    # asked what happened, or who, the memory alone
    plan = make_plan(
        "What happened in the first task?", "past-presence", "ev-4-first-task-horntail", memory, harry, stage, []
    )
    assert felt not in plan.sentences
