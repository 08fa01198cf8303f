"""The answer plan (issue 20): what an answer rests on, decided before generation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVAL_FILE = ROOT / "benchmarks" / "data" / "answers_eval.jsonl"
# Frozen before the plan, the training items and the decoding constraint were written (issue 20): the answers
# benchmark measures on these 216 questions, and the training items are deduplicated against them.
EVAL_SHA256 = "2f0985960e9791bde9efb0f01149e6f5250f87c34feebd0d096ef62b3b806900"


FRESH_FILE = ROOT / "benchmarks" / "data" / "answers_fresh.jsonl"
# Written and frozen before the third round's changes (703480d), by a writer who checked them against every benchmark
# and training question: the third round is measured on these 60 (README, "Third round").
FRESH_SHA256 = "38ef1933137e9e13372f0713784169de28a0f6441f1ce866044a5be6d8691d34"
FRESH2_FILE = ROOT / "benchmarks" / "data" / "answers_fresh2.jsonl"
# Written and frozen at b6b0549, before the fourth round's changes, checked against every benchmark, fresh, dialogue
# and probe question: the fourth round is measured on these 60; the first fresh set became its development set.
FRESH2_SHA256 = "58563c138f99d3cabb5d7f5658c720fea6fab6a2c6f568e5ed81ad1dc083a1af"
FRESH3_FILE = ROOT / "benchmarks" / "data" / "answers_fresh3.jsonl"
# Written and frozen at 7e0e78e, before the fifth round's changes, checked against every benchmark, fresh, dialogue
# and probe question (58 of 60 rest only on events the first two fresh sets never name): the fifth round is measured
# on these 60; the second fresh set became development data.
FRESH3_SHA256 = "00bb36752c60a4360cffdecd05a6b3c02710a964e3db15ba613d9fa8ff432f81"
FRESH4_FILE = ROOT / "benchmarks" / "data" / "answers_fresh4.jsonl"
# Written blind and committed alone at 7222eee, before the sixth round's changes, checked against every benchmark,
# fresh, dialogue and probe question (no pair shares 0.6 of its words; 58 of 60 rest only on events no earlier
# fresh set names): the sixth round is measured on these 60; the first three fresh sets became development data.
FRESH4_SHA256 = "ae8c2c3b5e313e1f555706e68658c190b0a561fc1ad613ee7a8f29e6af6a5b6a"
FRESH5_FILE = ROOT / "benchmarks" / "data" / "answers_fresh5.jsonl"
# Written blind (the writer read only the corpus and the earlier question sets) and committed alone, before the
# seventh round's changes: 30 questions each for Harry, Hermione and Ron (Ron's first held-out set). Every event but
# four was named by an earlier set, so each question asks about an aspect no earlier question or dialogue asked
# about. The seventh round is measured on these 90; fresh4 became development data.
FRESH5_SHA256 = "b2d6bee3e9de7ecd50882f59ed487051460373e672cf1c4759c253ddfd714069"
FRESH6_FILE = ROOT / "benchmarks" / "data" / "answers_fresh6.jsonl"
# Written blind by a helper that read only the corpus and the earlier question sets (never the code, the tests or
# any answer), 30 questions for Harry on aspects no earlier set asked about, and committed alone: the ninth round
# (answer-shaped training items, finetune/plan_items.py:answer_items) is measured on these, base and tuned.
FRESH6_SHA256 = "5e19876a31fdaa64ee43bef489f1ee17065de691ea50df9b5f7a94033f1127a2"


def test_the_fresh_held_out_questions_are_frozen_and_say_what_a_right_answer_holds():
    text = FRESH_FILE.read_bytes()
    assert hashlib.sha256(text).hexdigest() == FRESH_SHA256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert [sum(r["persona"] == p for r in rows) for p in ("harry", "hermione")] == [30, 30]
    assert all(r["gold"].strip() and r["kind"] for r in rows)


def test_the_fourth_round_held_out_questions_are_frozen():
    text = FRESH2_FILE.read_bytes()
    assert hashlib.sha256(text).hexdigest() == FRESH2_SHA256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert [sum(r["persona"] == p for r in rows) for p in ("harry", "hermione")] == [30, 30]
    assert all(r["gold"].strip() and r["kind"] for r in rows)
    earlier = {json.loads(line)["question"] for line in FRESH_FILE.read_text().splitlines()}
    assert not earlier & {r["question"] for r in rows}


def test_the_fifth_round_held_out_questions_are_frozen():
    text = FRESH3_FILE.read_bytes()
    assert hashlib.sha256(text).hexdigest() == FRESH3_SHA256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert [sum(r["persona"] == p for r in rows) for p in ("harry", "hermione")] == [30, 30]
    assert all(r["gold"].strip() and r["kind"] for r in rows)
    earlier = {json.loads(line)["question"] for f in (FRESH_FILE, FRESH2_FILE) for line in f.read_text().splitlines()}
    assert not earlier & {r["question"] for r in rows}


def test_the_sixth_round_labels_cover_every_held_out_answer_before_after_and_after_the_fix() -> None:
    """tests/data/labelled_fresh4_answers.jsonl: every answer to the fourth fresh set by the code before the sixth
    round (7222eee), after it (f0e8765) and after the fix found on these answers (282be2a: the persona's own answer
    said as it is), the same adapters, every distinct answer labelled blind on the five points."""
    from collections import Counter

    rows = [json.loads(line) for line in (ROOT / "tests/data/labelled_fresh4_answers.jsonl").read_text().splitlines()]
    codes = ("7222eee", "f0e8765", "282be2a")
    assert Counter((r["persona"], r["code"]) for r in rows) == {
        (p, c): 30 for p in ("harry", "hermione") for c in codes
    }
    asked = {(r["persona"], r["stage"], r["question"]) for r in map(json.loads, FRESH4_FILE.read_text().splitlines())}
    for code in codes:
        assert {(r["persona"], r["stage"], r["question"]) for r in rows if r["code"] == code} == asked
    _one_label_per_answer(rows)


def _one_label_per_answer(rows: list[dict]) -> None:
    """Each labelled row is good exactly when its five points hold, says why when it is not, and the same words to
    the same question carry the same labels (a distinct answer is judged once)."""
    labels: dict[tuple[str, str, str], tuple[bool, ...]] = {}
    for r in rows:
        five = tuple(r[p] for p in ("time", "true", "answers", "first_person", "voice"))
        assert r["good"] == all(five)
        assert r["good"] or r["reason"].strip()
        assert labels.setdefault((r["stage"], r["question"], r["answer"]), five) == five


def _frozen_set(path: Path, sha256: str, personas: tuple[str, ...], earlier: tuple[Path, ...]) -> None:
    """A held-out set as it was pinned: its hash, 30 questions a persona, a gold note each, no earlier question."""
    text = path.read_bytes()
    assert hashlib.sha256(text).hexdigest() == sha256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert [sum(r["persona"] == p for r in rows) for p in personas] == [30] * len(personas)
    assert all(r["gold"].strip() and r["kind"] for r in rows)
    asked = {json.loads(line)["question"] for f in earlier for line in f.read_text().splitlines()}
    assert not asked & {r["question"] for r in rows}


def test_the_sixth_round_held_out_questions_are_frozen():
    _frozen_set(FRESH4_FILE, FRESH4_SHA256, ("harry", "hermione"), (FRESH_FILE, FRESH2_FILE, FRESH3_FILE))


def test_the_seventh_round_held_out_questions_are_frozen():
    earlier = (FRESH_FILE, FRESH2_FILE, FRESH3_FILE, FRESH4_FILE)
    _frozen_set(FRESH5_FILE, FRESH5_SHA256, ("harry", "hermione", "ron"), earlier)


def test_the_ninth_round_held_out_questions_are_frozen():
    earlier = (FRESH_FILE, FRESH2_FILE, FRESH3_FILE, FRESH4_FILE, FRESH5_FILE)
    _frozen_set(FRESH6_FILE, FRESH6_SHA256, ("harry",), earlier)


def test_the_seventh_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh5_answers.jsonl: every answer to the fifth fresh set by the code before the seventh
    round (2dd911f) and after it (3887264), tuned Harry, Hermione and Ron and Ron's base model, the same adapters
    before and after, every distinct answer labelled blind on the five points."""
    from collections import Counter

    rows = [json.loads(line) for line in (ROOT / "tests/data/labelled_fresh5_answers.jsonl").read_text().splitlines()]
    runs = [("harry", "sft-dpo"), ("hermione", "sft-dpo"), ("ron", "base"), ("ron", "sft-dpo")]
    codes = ("2dd911f", "3887264")
    assert Counter((r["persona"], r["variant"], r["code"]) for r in rows) == {
        (p, v, c): 30 for p, v in runs for c in codes
    }
    asked = {(r["persona"], r["stage"], r["question"]) for r in map(json.loads, FRESH5_FILE.read_text().splitlines())}
    for p, v in runs:
        for code in codes:
            got = {
                (r["persona"], r["stage"], r["question"])
                for r in rows
                if (r["persona"], r["variant"], r["code"]) == (p, v, code)
            }
            assert got == {a for a in asked if a[0] == p}
    _one_label_per_answer(rows)


def test_the_ninth_round_labels_cover_every_held_out_answer_of_each_variant() -> None:
    """tests/data/labelled_fresh6_answers.jsonl: every answer to the sixth fresh set by Harry's base model, by Harry
    tuned with the quick recipe on the default data, and tuned on the data with answer_items on (not the default),
    the same inference code for all three; every distinct answer labelled blind, the variants shuffled together."""
    from collections import Counter

    rows = [json.loads(line) for line in (ROOT / "tests/data/labelled_fresh6_answers.jsonl").read_text().splitlines()]
    variants = ("base", "sft-dpo", "sft-dpo-answer-items")
    assert Counter((r["persona"], r["variant"]) for r in rows) == {("harry", v): 30 for v in variants}
    asked = {(r["stage"], r["question"]) for r in map(json.loads, FRESH6_FILE.read_text().splitlines())}
    for v in variants:
        assert {(r["stage"], r["question"]) for r in rows if r["variant"] == v} == asked
    _one_label_per_answer(rows)


def test_the_eighth_round_labels_cover_every_answer_they_compare() -> None:
    """tests/data/labelled_answers_round8.jsonl: the fifth fresh set answered by tuned Harry and Hermione at b6a3021
    (one draft, PERSONA_RAG_RETRIES=0) and with answers cut at 48 tokens (not shipped), every answer; and the
    fourth fresh set's answers that the 48-token cut changed, both versions. Labelled blind, shuffled together."""
    from collections import Counter

    rows = [json.loads(line) for line in (ROOT / "tests/data/labelled_answers_round8.jsonl").read_text().splitlines()]
    codes = ("b6a3021", "b6a3021 max_new_tokens=48")
    fresh5 = [r for r in rows if r["set"] == "fresh5"]
    assert Counter((r["persona"], r["code"]) for r in fresh5) == {
        (p, c): 30 for p in ("harry", "hermione") for c in codes
    }
    asked = {(r["persona"], r["stage"], r["question"]) for r in map(json.loads, FRESH5_FILE.read_text().splitlines())}
    for code in codes:
        assert {(r["persona"], r["stage"], r["question"]) for r in fresh5 if r["code"] == code} == {
            a for a in asked if a[0] in ("harry", "hermione")
        }
    changed = [r for r in rows if r["set"] != "fresh5"]
    pairs = Counter((r["persona"], r["stage"], r["question"]) for r in changed)
    assert set(pairs.values()) == {2}  # each changed answer in both versions, and they differ
    assert all(
        len({r["answer"] for r in changed if (r["persona"], r["stage"], r["question"]) == q}) == 2 for q in pairs
    )
    _one_label_per_answer(rows)


def test_the_answers_benchmark_questions_are_frozen():
    text = EVAL_FILE.read_bytes()
    assert hashlib.sha256(text).hexdigest() == EVAL_SHA256
    rows = [json.loads(line) for line in text.decode().splitlines()]
    assert {r["persona"] for r in rows} == {"harry", "hermione", "ron"}
    assert all(sum(r["persona"] == p for r in rows) == 72 for p in ("harry", "hermione", "ron"))


# ----------------------------------------------------------------------------- the plan itself


def _passage(pid: str, text: str, score: float) -> dict:
    return {"id": pid, "text": text, "score": score, "stage": 4}


def test_the_plan_picks_the_sentences_that_name_what_is_asked(hp) -> None:
    from persona_rag.graphs.plan import make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    stage = hp.stage("year 1")
    passages = [
        _passage("harry:a", "Harry had a terrible first flying lesson. Neville fell and broke his wrist.", 0.55),
        _passage(
            "harry:b",
            "Harry found the mirror in an unused classroom. Ron saw himself as Head Boy in it. "
            "Dumbledore warned Harry that the Mirror of Erised shows only desire.",
            0.50,
        ),
    ]
    plan = make_plan(
        "What did the Mirror of Erised show?", "past-only", "", passages, harry, stage, ["mirror of erised"]
    )
    assert plan.kind == "memory" and plan.grounds == ["harry:b"]
    assert plan.sentences[-1].startswith("Dumbledore warned Harry")
    assert not any("flying" in s for s in plan.sentences)  # the better-ranked passage does not answer it


def test_the_plan_rests_on_one_memory_never_a_second_story_stitched_on(hp) -> None:
    from persona_rag.graphs.plan import make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    passages = [
        _passage("harry:a", "In the Forest of Dean a silver doe led Harry to the sword under the ice of a pool.", 0.5),
        _passage("harry:b", "The flying car threw them out and escaped into the Forbidden Forest.", 0.5),
        _passage("harry:c", "Ron pulled Harry out of the frozen pool in the Forest of Dean and took the sword.", 0.49),
    ]
    plan = make_plan(
        "What happened when you went into the forest?", "past-only", "", passages, harry, hp.stage("year 7"), []
    )
    # the best memory alone: neither the car (another forest, another year) nor the next part of the story
    assert plan.grounds == ["harry:a"]
    assert plan.sentences == [passages[0]["text"]] and len(plan.context) == 1
    # past-presence: the event the verdict matched, and not the better-scored other memory after it
    plan = make_plan(
        "What happened when you went into the forest?",
        "past-presence",
        "harry:c",
        passages,
        harry,
        hp.stage("year 7"),
        [],
    )
    assert plan.grounds == ["harry:c"]


def test_an_opinion_of_a_person_is_the_attitude_the_profile_gives_at_that_stage(hp) -> None:
    from persona_rag.graphs.plan import make_plan
    from persona_rag.graphs.review import say_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    stage = hp.stage("y1.start")
    memory = [_passage("harry:m", "Hermione Granger corrected Ron's spell in Charms and Ron mocked her.", 0.7)]
    asked = ["hermione granger"]
    plan = make_plan("What do you think of Hermione right now?", "past-presence", "", memory, harry, stage, asked)
    # harry.yaml, stage y1.start: "a bossy know-it-all he would rather avoid" ("he" is Harry)
    assert plan.kind == "profile" and plan.grounds == []
    assert say_plan(plan.as_dict(), harry) == "I think Hermione is a bossy know-it-all I would rather avoid."
    # an opinion of something she did rests on the memory, not on what he thinks of her
    plan = make_plan(
        "How do you feel about Hermione correcting Ron's spell?", "past-presence", "", memory, harry, stage, asked
    )
    assert plan.kind == "memory" and plan.grounds == ["harry:m"]


def test_nothing_known_answers_it_the_plan_says_dont_know_and_opinions_come_from_the_profile(hp) -> None:
    from persona_rag.graphs.plan import make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    before = hp.stage("before")
    unrelated = [_passage("harry:x", "Dudley has two bedrooms to himself.", 0.1)]
    plan = make_plan("What are your favourite sweets?", "past-only", "", unrelated, harry, before, [])
    assert plan.kind == "dont-know" and plan.grounds == [] and plan.sentences == []
    # An opinion about someone the profile has an attitude to at that stage (harry.yaml, stage "before").
    plan = make_plan(
        "What do you think of Vernon Dursley?", "past-only", "", unrelated, harry, before, ["vernon dursley"]
    )
    assert plan.kind == "profile" and plan.sentences == ["Harry fears his temper and quietly despises him."]
    assert make_plan("Who is Lockhart?", "future", "", unrelated, harry, before, []).kind == "dont-know"
    assert (
        make_plan("Are you an AI?", "past-only", "", unrelated, harry, before, [], role_break=True).kind == "role-break"
    )


def test_past_presence_rests_on_the_event_the_verdict_matched(hp) -> None:
    from persona_rag.graphs.plan import make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    passages = [
        _passage("harry:harry-p-1", "Harry thinks Quidditch is the best thing about Hogwarts.", 0.6),
        _passage("harry:ev-1-first-match", "In his first Quidditch match Harry caught the Snitch in his mouth.", 0.4),
    ]
    plan = make_plan(
        "Tell me about Quidditch.", "past-presence", "ev-1-first-match", passages, harry, hp.stage("year 1"), []
    )
    assert "harry:ev-1-first-match" in plan.grounds
    assert any("Snitch" in s for s in plan.sentences)
    # alone, though the other memory scores better: where the two differ, the matched event is the one that answers
    # more often (15 of 19 times on the dev sets of the seventh round), and the other one said after it read as a
    # second story (tenth round)
    assert plan.grounds == ["harry:ev-1-first-match"]
    assert not any("best thing" in s for s in plan.sentences)


# ----------------------------------------------------------------------------- the decoding constraint


def test_the_constraint_allows_the_plans_words_their_inflections_and_function_words_only() -> None:
    from persona_rag.backends.constraint import Constraint

    c = Constraint.build(
        ["Harry plays music on Hagrid's flute to send Fluffy to sleep.", "How did you get past Fluffy?"]
    )
    assert c.violations("I played Hagrid's flute and Fluffy slept.") == ["slept"]  # irregular forms are new words
    assert c.violations("I got past Fluffy by playing music on the flute.") == []
    assert c.violations("The time-turner was stuck on a planet") == ["turner", "stuck", "planet"]
    assert c.violations("I sent Fluffy a plan", finished=False) == ["sent"]  # "plan" may still become "planet"
    assert c.start_allowed("Flu") and c.start_allowed("music") and not c.start_allowed("planet")
    assert c.ban("planet").banned == ("planet",) and c.ban("planet").key != c.key


def test_an_acronym_is_a_word_of_its_own_not_a_function_word() -> None:
    """A tuned Harry said "I'm not an IT person": "it" is a function word, "IT" is not, and banning "IT" must
    not ban "it"; an acronym the plan says ("the DA") stays allowed."""
    from persona_rag.backends.constraint import Constraint, banned_forms

    c = Constraint.build(["The DA met in the Room of Requirement.", "Who taught the DA?"])
    assert c.violations("I'm not an IT person, and it was the DA.") == ["IT"]
    assert c.violations("It was the DA, and I taught it.") == []
    assert banned_forms("IT") == [" IT", "IT"]  # not " it", "It"


def test_a_word_outside_the_plan_is_banned_and_decoded_again(settings, hp_memory) -> None:
    from persona_rag.graphs.nodes import MAX_BANS, constrained_decode

    from persona_rag.backends.base import ScriptedGenerator
    from persona_rag.backends.constraint import Constraint

    c = Constraint.build(["Harry lulled Fluffy to sleep with a flute from Hagrid."])
    # A fake that obeys bans: its first draft names a planet; the second, with "planet" banned, does not.
    gen = ScriptedGenerator(
        lambda msgs: "Fluffy slept on a planet." if not gen.constraints[-1].banned else "I lulled Fluffy to sleep."
    )
    text, banned = constrained_decode(gen, [{"role": "user", "content": "q"}], c, 40)
    assert text == "I lulled Fluffy to sleep." and banned == ["slept"]  # stopped at the first word outside the plan
    assert len(gen.calls) == len(banned) + 1
    # One that never stops: after MAX_BANS bans the answer is cut before the sentence with the word.
    stubborn = ScriptedGenerator(["Hagrid lulled Fluffy to sleep. Fluffy ate a planet."])
    text, banned = constrained_decode(stubborn, [{"role": "user", "content": "q"}], c, 40)
    assert text == "Hagrid lulled Fluffy to sleep." and len(banned) == MAX_BANS + 1


def test_a_backend_that_continues_drafts_resumes_before_the_banned_word(settings, hp_memory) -> None:
    """Greedy decoding repeats the draft up to the banned word, so a backend that can continues from there: the
    retry is given the draft before the word, with the word banned, and the user's stream is reset to it."""
    from persona_rag.graphs.nodes import constrained_decode

    from persona_rag.backends.constraint import Constraint

    class Continuing:
        continues_drafts = True

        def __init__(self) -> None:
            self.calls: list[tuple[str, tuple[str, ...]]] = []

        def generate(self, msgs, *, max_new_tokens, on_token=None, constraint=None, prefix=""):
            from persona_rag.backends.base import StopGeneration

            self.calls.append((prefix, constraint.banned))
            pieces = [] if prefix else ["Fluffy"]
            pieces += [" slept", " on", " a", " planet."] if not constraint.banned else [" was", " lulled", " to"]
            pieces += [" sleep", " by", " Hagrid."] if constraint.banned else []
            text = prefix
            for piece in pieces:
                text += piece
                try:
                    on_token(piece)
                except StopGeneration:
                    break
            return text

    c = Constraint.build(["Harry lulled Fluffy to sleep with a flute from Hagrid."])
    gen = Continuing()
    shown: list[str] = []
    text, banned = constrained_decode(
        gen, [{"role": "user", "content": "q"}], c, 40, on_piece=shown.append, on_reset=lambda: shown.append("<reset>")
    )
    assert banned == ["slept"] and text == "Fluffy was lulled to sleep by Hagrid."
    assert gen.calls == [("", ()), ("Fluffy", ("slept",))]
    assert "".join(shown[shown.index("<reset>") + 1 :]) == "Fluffy was lulled to sleep by Hagrid."


@pytest.mark.slow
def test_the_real_model_says_only_words_its_plan_allows_over_15_plans(real_home, hp) -> None:
    """The packaged SmolLM2 through CTranslate2 (the token mask), with the graph's check of finished words: over 15
    plans made of the persona's own memories, spread over the whole timeline, every word that reaches the user is
    allowed by its plan. (50 plans took 4 of the suite's 15 minutes; 15 say the same.)"""
    from persona_rag.graphs.nodes import constrained_decode

    from persona_rag import prompts
    from persona_rag.backends.constraint import Constraint
    from persona_rag.backends.engine import load_generator
    from persona_rag.persona import Persona
    from persona_rag.settings import load_settings

    generator = load_generator(load_settings(home=real_home, embed_model="hash"), None, quiet=True)
    harry = Persona(hp, hp.characters["harry"])
    memories = [p for p in hp.passages() if p.persona == "harry" and p.entities][::24][:15]
    assert len(memories) == 15
    banned_total = 0
    for p in memories:
        stage = hp.timeline.stages[max(0, p.known_from)]
        question = f"What do you know about {p.entities[0]}?"
        sentences = [p.text.split(". ")[0]]
        c = Constraint.build([*sentences, question, *[str(x) for x in harry.profile.get("phrases") or []]])
        msgs = prompts.plan_messages(harry.system_prompt(stage), question, "memory", sentences, "past-only")
        text, banned = constrained_decode(generator, msgs, c, 20)
        banned_total += len(banned)
        assert c.violations(text) == [], (question, text)
    assert banned_total < 15 * 4  # the mask does most of the work: most plans need no ban at all


def test_an_adapter_trained_for_another_prompt_format_is_refused_with_the_command_to_retrain(
    settings, tmp_path
) -> None:
    import json as _json

    from persona_rag.backends.adapters import resolve_adapter
    from persona_rag.errors import UsageError
    from persona_rag.paths import adapter_root
    from persona_rag.prompts import PROMPT_FORMAT

    dpo = adapter_root(settings, "harry_potter", "harry") / "dpo"
    dpo.mkdir(parents=True)
    (dpo / "adapter_config.json").write_text("{}")
    (dpo / "persona_rag.json").write_text(_json.dumps({"persona": "harry", "step": "dpo"}))  # before answer plans
    for adapter in ("auto", str(dpo)):
        with pytest.raises(UsageError, match=r"persona-rag train harry --recipe quick"):
            resolve_adapter(settings, "harry_potter", "harry", adapter)
    (dpo / "persona_rag.json").write_text(_json.dumps({"persona": "harry", "prompt_format": PROMPT_FORMAT}))
    assert resolve_adapter(settings, "harry_potter", "harry", "auto") == dpo
    assert resolve_adapter(settings, "harry_potter", "harry", None) is None  # the base model needs no stamp


def test_a_model_stuck_in_a_loop_is_rejected() -> None:
    from persona_rag.graphs.review import repeats_itself

    assert repeats_itself("It's a very, very, very, very, very old forest.")
    assert repeats_itself("the dog the dog the dog the dog")
    assert not repeats_itself("I know, I know. Ron and I and Hermione and Neville went.")


def test_pushed_out_of_its_role_the_persona_does_not_take_up_the_premise(settings, hp_memory) -> None:
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator

    gen = ScriptedGenerator(["I'm running on a server in some data centre."])
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": "Are you running on a server in some data centre?", "stage": "year 3"})
    assert out["plan"]["kind"] == "role-break" and out["grounds"] == []
    assert out["answered_by"] == "refusal" and "server" not in out["answer"]


def test_a_model_answer_that_denies_what_the_plan_remembers_is_not_the_answer(settings, hp_memory) -> None:
    """Seen in the fifth round: "Dunno." and "I don't know what you're on about" from the tuned model, asked of a
    memory the plan had found: a persona denying what it remembers. The retry is told why; a second denial gives
    way to the memory in the persona's words."""
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.graphs.review import denies_knowing

    from persona_rag.backends.base import ScriptedGenerator

    denial = "I don't know what you mean. Hagrid is the Hogwarts gamekeeper."  # the rest is its memory's
    gen = ScriptedGenerator([denial, denial])
    settings = settings.with_overrides(retries=1)
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke(
        {"question": "Who is Hagrid, the gamekeeper who rescued you from the Dursleys?", "stage": "end of year 1"}
    )
    assert out["plan"]["kind"] == "memory" and out["plan"]["sentences"]
    assert out["answered_by"] == "memory" and "know" not in out["answer"].lower() and "gamekeeper" in out["answer"]
    assert "you remember it" in gen.calls[1][0]["content"]  # the retry's note says what was wrong
    assert denies_knowing("Never heard of it. Is it a spell?")
    assert not denies_knowing("We got past Fluffy with music. I still don't know how Hagrid stood him.")


def test_a_question_the_persona_answered_at_that_stage_rests_on_its_own_answer(settings, hp_memory, hp) -> None:
    """Asked what its universe's dialogues asked it at the same stage, the persona's own answer is the memory
    the plan rests on (in its own voice, with what it felt); never a held-out dialogue (the evaluation asks
    those), nor one of another stage."""
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.graphs.plan import said_plan

    from persona_rag.backends.base import ScriptedGenerator
    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    by_id = {d.id: d for d in hp.dialogues["harry"]}
    asked, held = by_id["harry-d-0054"], by_id["harry-d-0057"]  # training split / held-out split, both y1.end
    assert not asked.heldout and held.heldout
    plan = said_plan(hp_memory, harry, asked.question, hp.stage("y1.end"))
    assert plan is not None and plan.grounds == ["dialogue:harry-d-0054"]
    assert plan.sentences[0].startswith("We played music to send the three-headed dog to sleep")
    assert said_plan(hp_memory, harry, held.question, hp.stage("y1.end")) is None
    assert said_plan(hp_memory, harry, asked.question, hp.stage("y2.end")) is None
    # in the graph: the model's words are reviewed against that answer; said back when they fail
    gen = ScriptedGenerator(["Dumbledore's Army taught us the Patronus Charm."] * 2)
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": asked.question, "stage": "end of year 1"})
    assert out["grounds"] == ["dialogue:harry-d-0054"] and out["answered_by"] == "memory"
    assert "we played music to send the three-headed dog to sleep" in out["answer"].lower()


def test_the_persona_s_own_answer_is_said_as_it_is_not_rewritten(settings, hp_memory, hp) -> None:
    """Its own answer is in the first person already: the fallback says it as it is ("He hates me" of Snape),
    where the third-to-first-person rewrite of a memory made it "I hate me" (found on the fresh4 answers after
    they were measured)."""
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.graphs.voice import THIRD_PERSON, voice_problems

    from persona_rag.backends.base import ScriptedGenerator
    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    said = next(d for d in hp.dialogues["harry"] if d.id == "harry-d-0024")
    assert not said.heldout and said.response.startswith("He hates me, I'm sure of it.")
    gen = ScriptedGenerator(["Dumbledore's Army taught us the Patronus Charm."] * 2)
    g = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory, checkpointer=None)
    out = g.invoke({"question": said.question, "stage": "y1.start"})
    assert out["grounds"] == ["dialogue:harry-d-0024"] and out["answered_by"] == "memory"
    assert "he hates me, i'm sure of it. he asked me a string of questions" in out["answer"].lower()
    assert "i hate me" not in out["answer"].lower()
    # a model answer that says it as he said it is not taken for a third-person copy
    sentences = ["He hates me, I'm sure of it.", "He asked me a string of questions about bezoars."]
    assert THIRD_PERSON not in voice_problems("He hates me, I'm sure of it.", sentences, ["", ""], harry, spoken=True)


def test_the_hand_labels_of_plan_answers_cover_each_persona_and_variant_and_say_why_bad_ones_are_bad() -> None:
    """tests/data/labelled_plan_answers.jsonl: blind labels (shuffled, who wrote it hidden) of answers_bench's
    answers, 36 per persona and variant, on the five points of issue 20; `good` is all five."""
    from collections import Counter

    rows = [json.loads(line) for line in (ROOT / "tests/data/labelled_plan_answers.jsonl").read_text().splitlines()]
    groups = Counter((r["persona"], r["variant"]) for r in rows)
    assert len(groups) == 6 and all(n >= 36 for n in groups.values())  # harry, hermione, ron x base, sft-dpo
    points = ("time", "true", "answers", "first_person", "voice")
    # the second round (labelled_plan_answers_2.jsonl): the same questions after this wave's plan, rewrite and
    # review changes; each row says the commit it was measured at
    again = [json.loads(line) for line in (ROOT / "tests/data/labelled_plan_answers_2.jsonl").read_text().splitlines()]
    groups2 = Counter((r["persona"], r["variant"], r["code"]) for r in again)
    assert len(groups2) == 6 and all(n == 36 for n in groups2.values())
    assert {(r["persona"], r["variant"], r["stage"], r["question"]) for r in again} <= {
        (r["persona"], r["variant"], r["stage"], r["question"]) for r in rows
    }  # the same stratified sample of questions
    for r in [*rows, *again]:
        assert r["good"] == all(r[p] for p in points)
        assert r["good"] or r["reason"].strip()
        assert r["answer"] and r["question"] and r["stage"]


# ----------------------------------------------------------------------------- third round (dev failures)


def test_a_memory_that_names_the_person_by_title_and_surname_answers_for_the_full_name(hp) -> None:
    """'What happened with Garrick Ollivander?': the memory says 'Mr Ollivander'. It answers (it used to fall
    below the relevance floor: 'I couldn't tell you'); 'Draco Malfoy' does not stand for 'Lucius Malfoy'."""
    from persona_rag.graphs.plan import make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    stage = hp.stage("y4.end")
    passages = [
        _passage("harry:a", "Harry and Ron argued for weeks after the Goblet of Fire chose Harry.", 0.36),
        _passage("harry:b", "Before the first task, Mr Ollivander checked the champions' wands.", 0.30),
    ]
    plan = make_plan(
        "What happened with Garrick Ollivander?", "past-presence", "", passages, harry, stage, ["garrick ollivander"]
    )
    assert plan.kind == "memory" and plan.grounds == ["harry:b"]
    draco = [_passage("harry:c", "Draco Malfoy sneered at Ron's secondhand robes.", 0.30)]
    plan = make_plan("What happened with Lucius Malfoy?", "past-presence", "", draco, harry, stage, ["lucius malfoy"])
    assert plan.kind == "dont-know"


def test_a_name_the_plan_asks_about_is_found_beyond_the_top_hits(settings, hp_memory) -> None:
    """The memories that name what is asked join the plan's candidates even where the embedding ranks them low."""
    from persona_rag.graphs.plan import plan_from

    from persona_rag.persona import Persona

    harry = Persona(hp_memory.universe, hp_memory.universe.characters["harry"])
    stage = hp_memory.universe.stage("y4.end")
    plan = plan_from(hp_memory, harry, "What happened with Garrick Ollivander?", stage, "past-presence", "", [])
    assert plan.kind == "memory", plan.reason
    assert all("Ollivander" in s for s in plan.sentences[:1]), plan.sentences


def test_a_memory_worded_unlike_the_question_that_says_its_words_is_among_the_candidates(settings, hp_memory) -> None:
    """The embedding can rank the memory that answers below the plan's top hits when it names no person the question
    asks about ("your hospital visit over the holidays" for the visit to St Mungo's): the memories with a sentence
    that says the most of the question's words join the candidates (found on the sixth round's answers)."""
    from persona_rag.graphs.plan import PLAN_K, plan_from

    from persona_rag.persona import Persona

    hermione = Persona(hp_memory.universe, hp_memory.universe.characters["hermione"])
    stage = hp_memory.universe.stage("y5.christmas")
    question = "What happened on your hospital visit over the holidays?"
    hits = [h.as_dict() for h in hp_memory.search("hermione", question, stage, k=PLAN_K)]
    assert "hermione:ev-5-st-mungos" not in {h["id"] for h in hits}  # the embedding alone misses it
    # with no event matched by the verdict, the memory whose sentence says the question's words is the plan
    plan = plan_from(hp_memory, hermione, question, stage, "past-only", "", hits)
    assert plan.kind == "memory", plan.reason
    assert plan.grounds == ["hermione:ev-5-st-mungos"], plan.grounds


def test_a_name_first_said_before_it_is_tagged_is_known_from_where_it_is_said(hp_memory) -> None:
    """The hospital wing is tagged only on a sixth-year event but is where Harry woke in his first year: at
    Christmas of year 6 it is not 'the future'."""
    from persona_rag.graphs.verdict import time_verdict

    index = hp_memory.entity_index("harry")
    y1_end = hp_memory.universe.stage("y1.end").ordinal
    assert index.world_first["hospital wing"] <= y1_end and index.persona_first["hospital wing"] <= y1_end
    stage = hp_memory.universe.stage("y6.christmas")
    ev = time_verdict(hp_memory, "harry", "What do you know about the hospital wing?", stage, 0.0)
    assert ev.verdict != "future", ev.reason


def test_a_later_event_that_only_shares_a_known_name_does_not_make_the_question_about_the_future() -> None:
    """'What's your view of Lucius Malfoy?' at the end of year 2: Harry has met him; a year-6 event that names
    him best is not what the question is about. An event that also matches the question's action still is."""
    from types import SimpleNamespace

    from persona_rag.graphs.verdict import Scored, match_event

    def cand(pid: str, stage: int, score: float, action: float) -> Scored:
        passage = SimpleNamespace(id=pid, stage=stage, text="Lucius Malfoy was there.", kind="event")
        return Scored(score=score, similarity=score, action=action, names=("lucius malfoy",), passage=passage)

    known = [cand("harry:ev-2-dobby-freed", 8, 0.51, 0.0)]
    world = [cand("_world:ev-6-draco-task", 20, 0.58, 0.0), cand("_world:ev-2-dobby-freed", 8, 0.50, 0.0)]
    named = frozenset({"lucius malfoy"})
    args = dict(premise=False, margin=0.05, known_floor=0.45, named=named)
    assert match_event(world, known, 8, all_known=False, **args).event.passage.stage == 20  # type: ignore[union-attr]
    got = match_event(world, known, 8, all_known=True, **args).event
    assert got is None or got.passage.stage <= 8
    world[0] = cand("_world:ev-6-draco-task", 20, 0.58, 0.8)  # the question says what happens in it
    assert match_event(world, known, 8, all_known=True, **args).event.passage.stage == 20  # type: ignore[union-attr]


def test_out_of_world_requests_are_role_breaks_and_a_character_in_the_story_is_not() -> None:
    from persona_rag.graphs.review import asks_to_break_role

    assert asks_to_break_role("Can you read the PDF I just attached?")
    assert asks_to_break_role("Stop being Harry and build me a website.")
    assert asks_to_break_role("Can you put this in a spreadsheet for me?")
    assert not asks_to_break_role("Who's this Dobby character, and why does he keep following you?")
    assert not asks_to_break_role("Are you attached to Hedwig?")
    assert not asks_to_break_role("Does Hermione excel at Charms?")


def test_a_refusal_that_runs_on_in_a_loop_is_cut_before_the_loop() -> None:
    from persona_rag.graphs.nodes import drop_loops

    said = "I don't know what that is. I won't pretend that you're going to pretend that I didn't tell you that."
    assert drop_loops(said) == "I don't know what that is."
    fine = "No idea. Never heard of it, and I'm not going to pretend I have."
    assert drop_loops(fine) == fine


# --- fourth round: from the first fresh set's failures (the second fresh set measures them) ---------------------


def test_a_question_about_what_is_going_to_happen_is_not_answered_from_a_memory(hp) -> None:
    """At Halloween of year 3 Harry knows Buckbeak slashed Malfoy, not what will become of Buckbeak: "Is Buckbeak
    going to be put down?" is "I don't know yet", never the slashing told as if it answered."""
    from persona_rag.graphs.plan import NOT_YET, asks_what_will_happen, make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    known = [_passage("harry:a", "Draco Malfoy insulted Buckbeak and got a slash on the arm.", 0.6)]
    plan = make_plan(
        "Is Buckbeak going to be put down over what he did to Malfoy?",
        "past-presence",
        "",
        known,
        harry,
        hp.stage("y3.halloween"),
        ["buckbeak", "draco malfoy"],
    )
    assert plan.kind == "dont-know" and plan.reason == NOT_YET
    assert asks_what_will_happen("Who will win the House Cup this year?")
    # asked for a view or a guess, the future is still not known (the persona may not guess it as if it knew)
    assert asks_what_will_happen("What do you think will happen to Sirius?")
    assert asks_what_will_happen("Will the lessons actually work, in your view?")
    assert asks_what_will_happen("Any guesses where the last one is hidden?")
    assert asks_what_will_happen("With the captain injured, can Slytherin still win the Cup?")
    assert asks_what_will_happen("Which of the four is going to lift the trophy?")
    assert asks_what_will_happen("Do you reckon you'll pass every exam?")
    # the persona's own plans and the past are not the future
    assert not asks_what_will_happen("Will you tell Dumbledore about the mirror?")
    assert not asks_what_will_happen("What are you going to do about Malfoy?")
    assert not asks_what_will_happen("Can you still fly after that fall?")
    assert not asks_what_will_happen("What happened to Buckbeak after the trial?")
    assert not asks_what_will_happen("What was in Dumbledore's will for Ron?")  # the noun
    assert not asks_what_will_happen("Did Kreacher serve you against his will at first?")


def test_not_yet_has_its_own_refusal_that_admits_not_knowing(hp) -> None:
    from persona_rag import prompts
    from persona_rag.evaluation.metrics import admits_not_knowing

    line = prompts.refusal(hp.profiles["harry"], "not-yet", "Is Buckbeak going to be put down?")
    # Harry's own lines (his profile's since the nineteenth answers round), not the defaults every persona shares
    assert line in hp.profiles["harry"]["refusals"]["not-yet"] and admits_not_knowing(line)
    assert line not in prompts.DEFAULT_REFUSALS["not-yet"]


def test_what_is_going_to_happen_to_something_heard_of_is_still_not_yet_known(hp) -> None:
    """ "Any guesses where the remaining Horcruxes might be hidden?": Hermione heard of Horcruxes from Harry (a
    hearsay verdict), but where the rest are nobody can tell her yet: the fallback says the not-yet refusal, not
    "I wasn't there myself"."""
    from types import SimpleNamespace

    from persona_rag.graphs.plan import NOT_YET, Plan
    from persona_rag.graphs.review import fallback

    from persona_rag import prompts
    from persona_rag.persona import Persona

    hermione = Persona(hp, hp.characters["hermione"])
    question = "Any guesses where the remaining Horcruxes might be hidden?"
    state = {
        "persona": "hermione",
        "question": question,
        "verdict": "past-hearsay",
        "hearsay_from": "Harry Potter",
        "plan": Plan("dont-know", reason=NOT_YET).as_dict(),
        "leaks": ["<claims to know>"],
    }
    runtime = SimpleNamespace(context=SimpleNamespace(persona_for=lambda _: hermione), stream_writer=lambda _: None)
    out = fallback(state, runtime)
    assert out["answered_by"] == "refusal"
    assert out["answer"] == prompts.refusal(hermione.profile, "not-yet", question, hermione.short_name)


def test_how_did_it_feel_prefers_the_sentence_that_says_the_feeling(hp) -> None:
    from persona_rag.graphs.plan import make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    passages = [
        _passage("harry:a", "Ron would not believe Harry about the Tournament, and the two stopped speaking.", 0.6),
        _passage(
            "harry:b",
            "Ron's refusal to believe Harry about the Tournament hurt him more than the school's scorn.",
            0.48,
        ),
    ]
    asked = ["ron weasley"]
    question = "How did it feel when Ron wouldn't believe you about the Tournament?"
    plan = make_plan(question, "past-only", "", passages, harry, hp.stage("y4.halloween"), asked)
    assert plan.grounds[0] == "harry:b", plan
    # without a feeling asked for, the better-matched telling of the event comes first
    question = "What happened when Ron wouldn't believe you about the Tournament?"
    plan = make_plan(question, "past-only", "", passages, harry, hp.stage("y4.halloween"), asked)
    assert plan.grounds[0] == "harry:a", plan


def test_a_view_asked_for_prefers_the_sentence_that_says_what_the_persona_thinks(hp) -> None:
    """ "Be honest, is Lockhart any good at teaching?": the memory of what Harry thinks of Lockhart's lessons,
    not the lesson retold; asked what happened, the lesson comes first."""
    from persona_rag.graphs.plan import asks_view, make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    passages = [
        _passage(
            "harry:a", "Lockhart's first teaching lesson set a quiz on himself and let Cornish pixies loose.", 0.5
        ),
        _passage("harry:b", "Harry thinks Lockhart is a vain showman and finds his teaching useless.", 0.42),
    ]
    asked = ["gilderoy lockhart"]
    question = "Be honest, is Lockhart actually any good at teaching?"
    plan = make_plan(question, "past-presence", "", passages, harry, hp.stage("y2.start"), asked)
    assert plan.grounds[0] == "harry:b", plan
    question = "What happened in Lockhart's first teaching lesson?"
    plan = make_plan(question, "past-presence", "", passages, harry, hp.stage("y2.start"), asked)
    assert plan.grounds[0] == "harry:a", plan
    for view in ("Did Harry really deserve a new broom?", "Doesn't it bug you that he copies?", "Do you buy that?"):
        assert asks_view(view), view
    assert not asks_view("Who gave Harry the broom?")


def test_how_did_it_feel_told_only_what_happened_adds_what_the_profile_says_it_felt(hp) -> None:
    """Hermione at Ron's bedside: the memory says what happened, the profile's notes at the end of year 6 say how
    it was for her ("a painful year of jealousy and silence with Ron"); a note about nothing the question names
    is not added, nor anything to a question that asks no feeling."""
    from persona_rag.graphs.plan import feeling_in_notes, make_plan, stems

    from persona_rag.persona import Persona

    hermione = Persona(hp, hp.characters["hermione"])
    stage = hp.stage("y6.end")
    memory = [_passage("hermione:a", "Hermione made up with Ron after he was poisoned, sitting at his bedside.", 0.6)]
    question = "Sitting by Ron's bed after he'd been poisoned, how were you feeling?"
    plan = make_plan(question, "past-presence", "", memory, hermione, stage, ["ron weasley"])
    assert plan.sentences[0] == memory[0]["text"]
    assert "jealousy and silence with Ron" in plan.sentences[-1] and len(plan.sentences) == 2
    question = "What happened when Ron was poisoned and you sat at his bedside?"
    plan = make_plan(question, "past-presence", "", memory, hermione, stage, ["ron weasley"])
    assert len(plan.sentences) == 1
    assert feeling_in_notes(hermione, stage, "How did the Quidditch final feel?", frozenset()) == ""
    # three-letter function words say nothing of what a text is about
    assert stems("Was the hat and the house his?") == {"hat", "house"}


def test_the_same_event_is_said_once(hp) -> None:
    """A memory and the event the verdict matched that tell the same thing: said once, as the event."""
    from persona_rag.graphs.plan import make_plan

    from persona_rag.persona import Persona

    harry = Persona(hp, hp.characters["harry"])
    passages = [
        _passage("harry:p", "On a trip to the zoo for Dudley's birthday, Harry talked to a boa constrictor.", 0.7),
        _passage(
            "harry:ev-0-zoo",
            "On Dudley's birthday the Dursleys took Harry to the zoo, where a boa constrictor seemed to talk to him. "
            "The glass vanished and the snake escaped.",
            0.6,
        ),
    ]
    plan = make_plan(
        "What went wrong on the trip to the zoo for Dudley's birthday?",
        "past-presence",
        "harry:ev-0-zoo",
        passages,
        harry,
        hp.stage("before"),
        [],
    )
    assert plan.grounds == ["harry:ev-0-zoo"], plan
    assert sum("boa constrictor" in s for s in plan.sentences) == 1


def test_what_happened_after_an_event_is_the_next_event_the_persona_remembers(hp_memory) -> None:
    from persona_rag.graphs.plan import plan_from

    from persona_rag.persona import Persona

    harry = Persona(hp_memory.universe, hp_memory.universe.characters["harry"])
    stage = hp_memory.universe.stage("y2.halloween")
    question = "What did you come across in the corridor after leaving Nick's deathday party?"
    plan = plan_from(hp_memory, harry, question, stage, "past-presence", "ev-2-deathday-party", [])
    # said: the next event; grounds: it, and the event the question starts from (the verdict's match)
    assert plan.kind == "memory" and plan.grounds == ["harry:ev-2-chamber-opened", "harry:ev-2-deathday-party"], plan
    assert "Mrs Norris" in plan.sentences[0]


def test_what_was_heard_is_said_as_told_not_labelled(hp) -> None:
    from persona_rag.graphs.review import hearsay_answer

    from persona_rag.persona import Persona

    ron = Persona(hp, hp.characters["ron"])
    state = {
        "question": "Do you know what happened with the Triwizard Cup?",
        "hearsay_from": "Harry Potter",
        "plan": {"kind": "hearsay", "sentences": ["The Triwizard Cup was a Portkey to a graveyard."]},
    }
    answer, by = hearsay_answer(state, ron)
    assert by == "memory" and "What I heard" not in answer
    assert answer.endswith("From what Harry told me, the Triwizard Cup was a Portkey to a graveyard.")


def test_the_fourth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh2_answers.jsonl: every answer to the second fresh set, by the code before this
    round (b6b0549, adapters trained on it) and after (adapters retrained), labelled blind (before and after
    shuffled together, who wrote it hidden) on the five points; `good` is all five, a bad one says why."""
    from collections import Counter

    rows = [json.loads(line) for line in (ROOT / "tests/data/labelled_fresh2_answers.jsonl").read_text().splitlines()]
    assert Counter((r["persona"], r["code"]) for r in rows) == {
        (p, c): 30 for p in ("harry", "hermione") for c in ("b6b0549", "09a8315")
    }
    asked = {(r["persona"], r["stage"], r["question"]) for r in map(json.loads, FRESH2_FILE.read_text().splitlines())}
    assert {(r["persona"], r["stage"], r["question"]) for r in rows} == asked
    for r in rows:
        assert r["good"] == all(r[p] for p in ("time", "true", "answers", "first_person", "voice"))
        assert r["good"] or r["reason"].strip()
        assert r["answered_by"] in ("model", "model-retry", "memory", "refusal")


@pytest.mark.parametrize(
    ("question", "who"),
    [
        ("Who is Luna?", True),
        ("Who's the girl with the radish earrings?", True),
        ("So who was Riddle, then?", True),
        ("Who were the two men at the gate?", True),
        ("Who told you about the Chamber?", False),
        ("Whose wand is it?", False),
        ("What happened to Buckbeak?", False),
    ],
)
def test_a_question_of_who_someone_is(question: str, who: bool) -> None:
    # answered by the sentence that says who: the plan keeps no outcome sentence for it
    from persona_rag.graphs.plan import asks_who

    assert asks_who(question) is who


def test_the_fifth_round_labels_cover_every_held_out_answer_before_and_after() -> None:
    """tests/data/labelled_fresh3_answers.jsonl: every answer to the third fresh set, by the code before the fifth
    round (5d6c2c2) and after (b617e28), the same adapters, labelled blind on the five points."""
    from collections import Counter

    rows = [json.loads(line) for line in (ROOT / "tests/data/labelled_fresh3_answers.jsonl").read_text().splitlines()]
    assert Counter((r["persona"], r["code"]) for r in rows) == {
        (p, c): 30 for p in ("harry", "hermione") for c in ("5d6c2c2", "b617e28")
    }
    asked = {(r["persona"], r["stage"], r["question"]) for r in map(json.loads, FRESH3_FILE.read_text().splitlines())}
    assert {(r["persona"], r["stage"], r["question"]) for r in rows} == asked
    for r in rows:
        assert r["good"] == all(r[p] for p in ("time", "true", "answers", "first_person", "voice"))
        assert r["good"] or r["reason"].strip()


# --- ninth round: training items that ask one thing of a memory -----------------------------------


def test_a_question_is_asked_of_a_main_clause_subject_only() -> None:
    """The subject of "Subject past-verb ..." opens the sentence or follows a comma: a name inside a list ("Fred
    and Ron drank"), after a preposition or in a reported clause ("believed I had") is not what the sentence says
    happened. Invented sentences."""
    from persona_rag.finetune.plan_items import subject_clauses

    names = frozenset({"malfoy", "ron", "fred", "hermione", "sorting", "hat", "the"})
    assert subject_clauses("At the club Malfoy conjured a snake, and I spoke to it.", names) == []
    assert subject_clauses("Malfoy conjured a grass snake at the club, and I froze.", names) == [
        ("Malfoy", "conjured a grass snake at the club")
    ]
    assert subject_clauses("Fred and Ron drank the green potion in the bathroom.", names) == []
    assert subject_clauses("Ron believed I had slipped my name into the cup.", names) == [
        ("Ron", "believed I had slipped my name into the cup")
    ]
    assert subject_clauses("After the match, I thanked Hermione for the spell.", names) == [
        ("I", "thanked Hermione for the spell")
    ]
    # Too short to ask of, or a clause that stops on "that".
    assert subject_clauses("Hermione told me.", names) == []
    assert subject_clauses("Hermione showed me that Malfoy, of all people, had lied.", names) == []


def test_answer_items_answer_first_and_their_rejected_answer_puts_someone_else_in_the_role(hp) -> None:
    from persona_rag.finetune.plan_items import answer_items

    from persona_rag.persona import Persona

    persona = Persona(hp, hp.persona("harry"))
    passage = next(p for p in hp.passages() if p.persona == "harry" and "Hermione blackmailed" in p.text)
    items = {kind: (q, target, rejected) for kind, q, target, rejected in answer_items(passage, persona, ["Ron"], 0)}
    q, target, rejected = items["who"]
    assert q.startswith("Who blackmailed Rita Skeeter into interviewing you")
    assert target.startswith("It was Hermione. Hermione blackmailed Rita Skeeter into interviewing me")
    assert rejected and rejected.startswith("It was Ron. Ron blackmailed")
    q, target, rejected = items["false-premise"]
    assert q.startswith("It was Ron who blackmailed") and q.endswith(", wasn't it?")
    assert target.startswith("No, it was Hermione.") and rejected and rejected.startswith("Yes, it was Ron.")
