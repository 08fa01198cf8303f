"""Presence, hearsay and the question's own premise (issue 12), with the hash-embedding memory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from persona_rag.graphs.persona_graph import PersonaGraph
from persona_rag.graphs.review import claims_presence
from persona_rag.graphs.verdict import VERDICTS, asks_presence, event_query, time_verdict
from persona_rag.memory.store import TemporalMemory

from persona_rag.backends import ScriptedGenerator
from persona_rag.corpus import Universe, check_corpus, corpora_root, load_universe
from persona_rag.evaluation.presence import (
    PRESENCE_TYPES,
    answer_ok,
    presence_for_eval,
    presence_probes,
    presence_report,
)
from persona_rag.settings import Settings

HAGRID = "Did you see Hagrid tell Harry the truth about his parents?"
PROPHECY = "Were you at the Hog's Head when Trelawney made her prophecy?"


def ask(settings: Settings, memory: TemporalMemory, persona: str, question: str, stage: str, reply: str) -> Any:
    gen = ScriptedGenerator([reply])
    g = PersonaGraph.from_persona(persona, settings=settings, generator=gen, memory=memory)
    return g.invoke({"question": question, "stage": stage}), gen


# --- the done-when questions -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["hermione", "ron"])
def test_friends_did_not_see_hagrid_tell_harry_but_heard_of_it(
    persona: str, settings: Settings, hp_memory: TemporalMemory
) -> None:
    out, gen = ask(settings, hp_memory, persona, HAGRID, "year 1", "No, I wasn't there. Harry told me about it.")
    assert out["verdict"] == "past-hearsay"
    assert "Harry Potter" in out["verdict_reason"]  # who told them, from learned_by
    hint = gen.calls[0][-1]["content"]
    assert "you were not there" in hint and "It was Harry Potter who told you" in hint
    assert not claims_presence(out["answer"])
    # Before Hogwarts they had not even heard of it.
    out, _ = ask(settings, hp_memory, persona, HAGRID, "before Hogwarts", "I wasn't there.")
    assert out["verdict"] == "past-absence"


def test_harry_was_not_at_the_hogs_head_and_heard_of_the_prophecy_in_year_5(
    settings: Settings, hp_memory: TemporalMemory
) -> None:
    out, _ = ask(settings, hp_memory, "harry", PROPHECY, "year 2", "I wasn't there.")
    assert out["verdict"] == "past-absence"  # not future: the prophecy was made before he was born
    out, _ = ask(settings, hp_memory, "harry", PROPHECY, "year 6", "I wasn't there; Dumbledore told me.")
    assert out["verdict"] == "past-hearsay"
    assert "Albus Dumbledore" in out["verdict_reason"]


@pytest.mark.usefixtures("without_answer_plan")  # scripted replies written for the top passages
def test_review_rejects_an_answer_that_claims_presence(settings: Settings, hp_memory: TemporalMemory) -> None:
    gen = ScriptedGenerator(["Yes, I saw it all with my own eyes.", "No, I wasn't there; Harry told me on the train."])
    g = PersonaGraph.from_persona("ron", settings=settings.with_overrides(retries=1), generator=gen, memory=hp_memory)
    out = g.invoke({"question": HAGRID, "stage": "year 1"})
    assert len(gen.calls) == 2  # the first answer was sent back
    assert not claims_presence(out["answer"])
    assert "wasn't there" in out["answer"]


def test_a_lived_event_is_presence_and_a_later_one_future(hp: Universe, hp_memory: TemporalMemory) -> None:
    q = "Were you in the Great Hall when the Sorting Hat sorted you?"
    assert time_verdict(hp_memory, "hermione", q, hp.stage("year 1")).verdict == "past-presence"
    q = "Were you there when Dumbledore died on the Astronomy Tower?"
    assert time_verdict(hp_memory, "harry", q, hp.stage("year 5")).verdict == "future"
    ev = time_verdict(hp_memory, "harry", q, hp.stage("year 6"))
    assert (ev.verdict, ev.event) == ("past-presence", "ev-6-dumbledore-dies")


# --- premise and presence claims --------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Were you there when Hagrid came to the hut on the rock?",
        "When you saw the basilisk, what did you think?",
        "How did you feel watching Cedric die?",
        "Did you really see Dumbledore fall?",
        "Did you hear Trelawney make the prophecy?",
        "What was it like seeing the Mirror of Erised?",
    ],
)
def test_presence_premises_are_recognised(question: str) -> None:
    assert asks_presence(question)


@pytest.mark.parametrize(
    "question", ["Who is Gilderoy Lockhart?", "Did you hear about the Ministry?", "What do you collect?"]
)
def test_other_questions_carry_no_premise(question: str) -> None:
    assert not asks_presence(question)


def test_event_query_keeps_what_happened_in_the_third_person() -> None:
    assert event_query("Were you there when Hagrid told you that you were a wizard?", "Harry Potter") == (
        "Hagrid told Harry Potter that Harry Potter were a wizard?"
    )
    assert event_query(HAGRID, "Ron Weasley") == "Hagrid tell Harry the truth about his parents?"


@pytest.mark.parametrize(
    ("answer", "claims"),
    [
        ("Yes, I saw it happen.", True),
        ("I was there when he said it.", True),
        ("We watched from the stands.", True),
        ("No, I wasn't there; Harry told me about it later.", False),
        ("I never saw it, but I heard.", False),
        ("I didn't see a thing.", False),
    ],
)
def test_claims_presence(answer: str, claims: bool) -> None:
    assert claims_presence(answer) is claims


# --- learned_by with who told whom --------------------------------------------------------------------


def test_learned_by_new_form_is_loaded_with_who_told(hp: Universe) -> None:
    prophecy = hp.events_by_id["ev-0-prophecy"]
    assert prophecy["learned_by"]["harry"] == "y5.end"  # normalised: every reader sees persona -> stage key
    assert hp.learned_from(prophecy, "harry") == "Albus Dumbledore"
    assert hp.learned_from(prophecy, "voldemort") == "Severus Snape"  # a name, not a persona
    assert {"Sybill Trelawney", "Hog's Head"} <= set(prophecy["entities"])
    old_form = next(e for e in hp.events if e["id"] == "ev-0-riddle-orphan")
    assert old_form["learned_by"]["dumbledore"] == "before" and hp.learned_from(old_form, "dumbledore") == ""
    # The persona's memory starts where learned_by says, in either form.
    by_id = {p.id: p for p in hp.passages()}
    assert by_id["harry:ev-0-prophecy"].known_from == hp.stage("y5.end").ordinal
    assert not by_id["harry:ev-0-prophecy"].witnessed


def _broken(tmp_path: Path, learned_by: Any) -> tuple[Path, int]:
    dst = tmp_path / "broken"
    shutil.copytree(corpora_root() / "harry_potter", dst)
    path = dst / "events" / "y0-y2.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    row = {"id": "ev-test", "stage": "before", "text": "A test.", "participants": [], "learned_by": learned_by}
    lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst, len(lines)


@pytest.mark.parametrize(
    ("learned_by", "message"),
    [
        ({"harry": {"stage": "y9.end", "from": "ron"}}, "unknown stage 'y9.end' in learned_by"),
        ({"harry": {"stage": "y1.end", "from": "hagird"}}, "unknown character 'hagird' in from"),
        ({"harry": {"stage": "y1.end", "by": "ron"}}, "unknown field 'by'"),
        ({"harry": {"stage": "y1.end", "from": "harry"}}, "cannot be told by itself"),
        ({"harry": 3}, "give a stage key or {stage, from}"),
        (["harry"], "learned_by must map persona ids"),
    ],
)
def test_corpus_check_reports_bad_learned_by_with_file_and_line(tmp_path: Path, learned_by: Any, message: str) -> None:
    root, line = _broken(tmp_path, learned_by)
    problems = [str(p) for p in check_corpus(root)]
    assert any(p.startswith(f"broken/events/y0-y2.jsonl:{line}:") and message in p for p in problems), problems


def test_a_name_as_teller_is_valid(tmp_path: Path) -> None:
    root, _ = _broken(tmp_path, {"harry": {"stage": "y1.end", "from": "Rubeus Hagrid"}, "ron": "y1.end"})
    assert check_corpus(root) == []
    uni = load_universe(root)
    assert uni.learned_from(uni.events_by_id["ev-test"], "harry") == "Rubeus Hagrid"


# --- the hand-written probes ---------------------------------------------------------------------------


def test_probes_are_many_varied_and_valid(hp: Universe) -> None:
    probes = presence_probes(hp, files=("presence",))
    assert len(probes) >= 60
    assert {p.persona for p in probes} == {"harry", "hermione", "ron"}
    assert {p.expected for p in probes} == set(PRESENCE_TYPES) and set(PRESENCE_TYPES) < set(VERDICTS)
    assert len({hp.stage(p.stage).key for p in probes}) >= 12
    assert len({(p.persona, p.stage, p.question) for p in probes}) == len(probes)


def test_hash_embeddings_get_most_probe_verdicts_right(hp: Universe, hp_memory: TemporalMemory) -> None:
    # The real MiniLM is measured by benchmarks/presence_bench.py; the bag-of-words fake is weaker,
    # and this floor only catches a broken rule.
    probes = presence_probes(hp, files=("presence",))
    outs = [{"verdict": time_verdict(hp_memory, p.persona, p.question, hp.stage(p.stage), 0.6).verdict} for p in probes]
    report = presence_report(probes, outs)
    right = sum(o["verdict"] == p.expected for p, o in zip(probes, outs, strict=True))
    assert right / len(probes) >= 0.75, report
    assert report["types"]["future"]["verdict_accuracy"] >= 0.9


def test_presence_report_scores_verdicts_and_answer_text_by_writer(hp: Universe) -> None:
    probes = [p for p in presence_probes(hp, ["ron"]) if p.expected == "past-hearsay"][:3]
    outs = [
        {"verdict": "past-hearsay", "answer": "I wasn't there, Harry told me.", "answered_by": "model"},
        {"verdict": "past-presence", "answer": "I saw it myself.", "answered_by": "model"},
        {"verdict": "past-hearsay", "answer": "I wasn't there for that.", "answered_by": "refusal"},
    ]
    row = presence_report(probes, outs)["types"]["past-hearsay"]
    assert row["verdict_accuracy"] == pytest.approx(2 / 3)
    assert row["answer_accuracy"] == {"model": 0.5, "refusal": 1.0}
    assert presence_report(probes, outs)["claimed_presence_when_absent"] == [probes[1].question]
    assert presence_report(probes, outs, verdicts=False)["types"]["past-hearsay"]["verdict_accuracy"] is None
    assert answer_ok("past-presence", "I was there, right next to him.")
    assert not answer_ok("future", "I saw it.")


def test_eval_picks_presence_probes_only_for_their_universe(hp: Universe) -> None:
    picked = presence_for_eval(hp, "hermione", 6)
    assert len(picked) == 6 and all(p.persona == "hermione" for p, _ in picked)
    assert all(key in hp.timeline.by_key for _, key in picked)
    assert presence_for_eval(load_universe("sherlock_holmes"), "holmes", 6) == []


def test_dpo_rejects_claiming_to_have_been_there(hp: Universe, hp_memory: TemporalMemory, tmp_path: Path) -> None:
    from persona_rag.finetune.data import DataConfig, build_datasets

    base = ScriptedGenerator(["Sure."])
    manifest = build_datasets(DataConfig(persona="ron"), hp, hp_memory, tmp_path, base_generator=base)
    assert manifest["rejected_kinds"].get("claims_presence")
    rows = [json.loads(line) for line in (tmp_path / "dpo_train.jsonl").read_text(encoding="utf-8").splitlines()]
    pairs = [r for r in rows if r["rejected_kind"] == "claims_presence"]
    assert all(asks_presence(r["question"]) for r in pairs)
    assert all(claims_presence(r["rejected"][0]["content"]) for r in pairs)
    assert not any(claims_presence(r["chosen"][0]["content"]) for r in pairs)
