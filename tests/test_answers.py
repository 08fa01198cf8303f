"""Who wrote each answer (answered_by), fallbacks worth reading, the claim check, and training data
that teaches the model what the templates do (issue 10). Scripted generator and fake embedder: fast."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from persona_rag.graphs.persona_graph import PersonaGraph
from persona_rag.graphs.review import first_person, in_own_words, unsupported_claims
from persona_rag.graphs.state import ANSWERED_BY
from persona_rag.memory.store import TemporalMemory

from persona_rag import prompts
from persona_rag.backends import ScriptedGenerator
from persona_rag.corpus import Universe, load_universe
from persona_rag.persona import Persona
from persona_rag.settings import Settings

# Scripted replies written for the top passages: the answer plan has its own tests (tests/test_answer_plan.py).
pytestmark = pytest.mark.usefixtures("without_answer_plan")

DATA = Path(__file__).parent / "data"

GOOD = "Ron Weasley is my best friend; we met on the Hogwarts Express and shared sweets on the train."
ASSISTANT = "As an AI language model, I cannot have friends."


def graph(settings: Settings, memory: TemporalMemory, replies: Any, persona: str = "harry") -> PersonaGraph:
    gen = ScriptedGenerator(replies)
    return PersonaGraph.from_persona(persona, settings=settings, generator=gen, memory=memory)


# --- answered_by ------------------------------------------------------------------------------


def test_each_answer_says_who_wrote_it(settings: Settings, hp_memory: TemporalMemory) -> None:
    ask = {"question": "Who is Ron Weasley, your best friend?", "stage": "year 1"}
    first = graph(settings, hp_memory, [GOOD]).invoke(ask)
    assert first["answered_by"] == "model" and first["answer"] == GOOD
    # By default a rejected draft gives way to the rewrite at once: no second generation.
    once = graph(settings, hp_memory, [ASSISTANT, GOOD])
    rewritten = once.invoke(ask)
    assert rewritten["answered_by"] == "memory" and rewritten["answer"] != GOOD and "AI" not in rewritten["answer"]
    assert len(once.context.generator.calls) == 1
    # With a retry allowed (PERSONA_RAG_RETRIES=1), the second draft is the model's if it passes.
    retry = graph(settings.with_overrides(retries=1), hp_memory, [ASSISTANT, GOOD]).invoke(ask)
    assert retry["answered_by"] == "model-retry" and retry["answer"] == GOOD
    # Both attempts fail: the persona's best memory in its own words, never the model's words.
    mem = graph(settings, hp_memory, ["Ron is a dragon keeper in Romania, Zorblax said."]).invoke(ask)
    assert mem["answered_by"] == "memory"
    assert "Zorblax" not in mem["answer"]
    assert mem["notices"] and "replaced after review" in mem["notices"][-1]
    # About its future: an in-character refusal.
    fut = graph(settings, hp_memory, ["Dolores Umbridge is the toad-faced Ministry woman."]).invoke(
        {"question": "Who is Dolores Umbridge?", "stage": "year 2"}
    )
    assert fut["verdict"] == "future" and fut["answered_by"] == "refusal"
    assert "Ministry" not in fut["answer"]
    for out in (first, retry, mem, fut):
        assert out["answered_by"] in ANSWERED_BY
        assert PersonaGraph.public_result(out)["answered_by"] == out["answered_by"]


def test_streams_carry_answered_by_and_reviewed_only_streams_never_withdraw(
    settings: Settings, hp_memory: TemporalMemory
) -> None:
    ask = {"question": "Who is Ron Weasley, your best friend?", "stage": "year 1"}
    settings = settings.with_overrides(retries=1)
    events = list(graph(settings, hp_memory, [ASSISTANT, GOOD]).stream_events(ask))
    kinds = [k for k, _ in events]
    assert "reset" in kinds  # the native stream shows the rejected draft, then withdraws it
    assert ("answered_by", "model-retry") in events and kinds[-1] == "result"
    assert events[-1][1]["answered_by"] == "model-retry"
    # A stream that cannot withdraw text sends only what passed review.
    events = list(graph(settings, hp_memory, [ASSISTANT, GOOD]).stream_events(ask, reviewed_only=True))
    assert "reset" not in [k for k, _ in events]
    text = "".join(v for k, v in events if k == "token")
    assert text == GOOD and "AI" not in text
    assert [v for k, v in events if k == "answered_by"] == ["model-retry"]
    events = list(graph(settings, hp_memory, [ASSISTANT]).stream_events(ask, reviewed_only=True))
    text = "".join(v for k, v in events if k == "token")
    assert text == events[-1][1]["answer"] and events[-1][1]["answered_by"] in ("memory", "refusal")


def test_conversation_turns_say_who_wrote_them(settings: Settings, hp_memory: TemporalMemory) -> None:
    from persona_rag.graphs.conversation import Conversation

    conv = Conversation.from_personas(
        [("harry", "year 1"), ("hermione", "year 1")],
        settings=settings,
        generator=ScriptedGenerator(["I like Quidditch and the Gryffindor common room."]),
        memory=hp_memory,
    )
    turns = conv.run("Hogwarts", turns=2)
    # The scripted line names nothing either persona remembers: the review replaces it, with Harry's memory
    # of Hogwarts, then with Hermione's refusal (she has no memory close enough to the topic).
    assert [t["answered_by"] for t in turns] == ["memory", "refusal"]
    assert all(t["text"] != "I like Quidditch and the Gryffindor common room." for t in turns)


def test_ask_json_and_footer_show_answered_by(
    chat_server,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from persona_rag.cli import main

    monkeypatch.setenv("PERSONA_RAG_EMBED_MODEL", "hash")
    args = ["ask", "harry", "Who is Gilderoy Lockhart?", "--stage", "year 2"]
    flags = ["--openai-url", chat_server.url, "--openai-model", "m"]
    assert main([*args, "--json", *flags]) == 0
    result = json.loads(capsys.readouterr().out)
    # The endpoint's reply names no one and claims nothing: it passes review and is the model's own words.
    assert result["answered_by"] == "model" and result["answer"] == "Hello, I'm Harry Potter."
    assert main([*args, *flags]) == 0
    assert f"answered by: {result['answered_by']}" in capsys.readouterr().err


# --- fallbacks worth reading ------------------------------------------------------------------


def test_memory_fallback_speaks_in_the_first_person() -> None:
    harry = Persona.load("harry")
    said = in_own_words("For almost ten years Harry lived with the Dursleys, and Harry hated it.", harry)
    assert said == "For almost ten years I lived with the Dursleys, and I hated it."
    assert in_own_words("Harry's wand is holly with a phoenix feather core.", harry).startswith("My wand is holly")
    told = in_own_words("Hagrid told Harry that he is a wizard and that his parents were murdered.", harry)
    assert told == "Hagrid told me that I am a wizard and that my parents were murdered."
    assert first_person("I keep my revolver in the drawer.", ["John Watson", "Watson"], "he") == (
        "I keep my revolver in the drawer."
    )
    # "the Hogwarts Express" is a thing, not the person "his" points back to; the object of the persona's own
    # verb is someone else ("I distrust him", never "I distrust me").
    friend = in_own_words("Ron Weasley, whom Harry met on the Hogwarts Express, is his best friend.", harry)
    assert friend == "Ron, whom I met on the Hogwarts Express, is my best friend."  # as Harry calls him
    said = in_own_words("Snape loathes Harry from the first lesson, and Harry distrusts him.", harry)
    assert said == "Snape loathes me from the first lesson, and I distrust him."
    # Over every passage of three personas: no narration of the persona by name at the start of a sentence,
    # no doubled pronoun, no "What I remember is this".
    hp = harry.universe
    for pid in ("harry", "hermione", "ron"):
        persona = Persona(hp, hp.persona(pid))
        for p in hp.passages():
            if p.persona != pid:
                continue
            said = in_own_words(p.text, persona)
            assert not re.search(rf"(^|[.!?]\s+){persona.short_name} (is|has|was|knows|thinks)\b", said), said
            assert not re.search(r"\b(I|me|my) \1\b", said, re.IGNORECASE), said
            assert "What I remember" not in said


def test_refusals_vary_by_persona_and_verdict_with_a_default(hp: Universe) -> None:
    harry, hermione = hp.profiles["harry"], hp.profiles["hermione"]
    q = "Who is Dolores Umbridge?"
    assert prompts.refusal(harry, "future", q) in harry["refusals"]["future"]
    assert prompts.refusal(hermione, "future", q) in hermione["refusals"]["future"]
    assert prompts.refusal(harry, "future", q) != prompts.refusal(hermione, "future", q)
    assert prompts.refusal(harry, "past-absence", q) in harry["refusals"]["past-absence"]
    # Different questions get different lines; the same question the same line.
    lines = {prompts.refusal(harry, "future", f"What is thing {i}?") for i in range(12)}
    assert len(lines) > 1 and prompts.refusal(harry, "future", q) == prompts.refusal(harry, "future", q)
    # A universe without the field gets the documented default.
    assert prompts.refusal({}, "future", q) in prompts.DEFAULT_REFUSALS["future"]
    assert "Sam" in prompts.refusal({}, "role-break", q, name="Sam")


def test_the_review_refuses_in_the_persona_own_voice(settings: Settings, hp_memory: TemporalMemory) -> None:
    out = graph(settings, hp_memory, ["Umbridge is a Ministry witch."], persona="hermione").invoke(
        {"question": "Who is Dolores Umbridge?", "stage": "year 2"}
    )
    assert out["answered_by"] == "refusal"
    assert out["answer"] in hp_memory.universe.profiles["hermione"]["refusals"]["future"]


# --- the claim check --------------------------------------------------------------------------


def claim_check_confusion(rows: list[dict[str, Any]], memory: TemporalMemory) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of the claim check on labelled rows; "positive" = flagged, "bad" = hallucinated."""
    tp = fp = fn = tn = 0
    for r in rows:
        stage = memory.universe.stage(r["stage"])
        index = memory.entity_index(r["persona"])
        flagged = bool(unsupported_claims(r["answer"], r["question"], r["verdict"], stage.ordinal, index, r["facts"]))
        bad = r["label"] == "hallucinated"
        tp += flagged and bad
        fp += flagged and not bad
        fn += bad and not flagged
        tn += not flagged and not bad
    return tp, fp, fn, tn


def test_claim_check_on_the_hand_labelled_answers(hp_memory: TemporalMemory) -> None:
    rows = [json.loads(line) for line in (DATA / "labelled_answers.jsonl").read_text().splitlines() if line.strip()]
    assert len(rows) >= 40
    tp, fp, fn, tn = claim_check_confusion(rows, hp_memory)
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    # The figures benchmarks/claims_bench.py prints (today precision 0.82, recall 0.97); a change to the check
    # that loses them fails here. Most misses are true answers whose fact is not among the passages given.
    assert precision >= 0.75 and recall >= 0.9, (precision, recall, tp, fp, fn, tn)


def test_claim_check_on_real_accepted_model_answers(hp_memory: TemporalMemory) -> None:
    """54 answers the base and the quick-tuned model wrote and the review accepted, labelled by reading them
    against the corpus; held out (the thresholds were chosen on the set above). These floors record where the
    per-claim check stands (today precision 0.94, recall 0.85) so that a change that makes it worse fails."""
    rows = [json.loads(x) for x in (DATA / "labelled_model_answers.jsonl").read_text().splitlines() if x.strip()]
    assert len(rows) >= 40 and all(r["label"] in ("grounded", "hallucinated") for r in rows)
    assert all(r.get("why") for r in rows if r["label"] == "hallucinated")  # every bad label says why
    tp, fp, fn, _ = claim_check_confusion(rows, hp_memory)
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    assert precision >= 0.85 and recall >= 0.75, (precision, recall, tp, fp, fn)


def test_accepted_answers_are_hand_labelled() -> None:
    """Answers the tuned Harry persona wrote and the per-claim review accepted (issue #10), one set per
    model, each labelled by reading it against the corpus; benchmarks/claims_bench.py prints the share."""
    rows = [json.loads(x) for x in (DATA / "labelled_accepted_answers.jsonl").read_text().splitlines() if x.strip()]
    per_model: dict[str, int] = {}
    for r in rows:
        per_model[r["model"]] = per_model.get(r["model"], 0) + 1
    # 28 answers for quick and 24 for quick-x4 (all that run's review accepted): the floor is the smaller set.
    assert {"quick", "quick-x4"} <= set(per_model) and all(n >= 24 for n in per_model.values()), per_model
    assert all(r["label"] in ("grounded", "hallucinated") for r in rows)
    assert all(str(r.get("why", "")).strip() for r in rows if r["label"] == "hallucinated")
    keys = [(r["model"], r["question"], r["stage"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate (model, question, stage)"


def test_claim_check_judges_each_claim_not_the_whole_answer(hp_memory: TemporalMemory) -> None:
    index = hp_memory.entity_index("harry")
    stage = hp_memory.universe.stage("y1.end").ordinal
    fact = (
        "On Dudley's birthday the Dursleys took Harry to the zoo, where a boa constrictor in the reptile house "
        "seemed to understand him and reply. When Dudley shoved Harry aside, the glass of the tank vanished, "
        "the snake slid free, and Harry was shut in his cupboard for a long punishment."
    )
    q = "What happened at the zoo?"
    grounded = "A boa constrictor in the reptile house seemed to understand me. The glass of the tank vanished."
    assert unsupported_claims(grounded, q, "past-presence", stage, index, [fact]) == []
    # One grounded sentence does not carry an invented one: the whole answer once passed on its overlap.
    padded = grounded + " Then a tiger escaped and Uncle Vernon chased it with an umbrella until the keepers came."
    assert unsupported_claims(padded, q, "past-presence", stage, index, [fact]) == ["<unsupported by its memory>"]
    # Admitting ignorance, or a clause too short to judge, is no claim to back.
    assert unsupported_claims(grounded + " I'm not sure why, honestly.", q, "past-presence", stage, index, [fact]) == []
    # Each claim must be backed by ONE passage: words scattered over unrelated memories do not back it.
    other = "Harry's wand is eleven inches of holly with a phoenix feather core, bought at Ollivanders."
    mixed = "The snake in the tank had a holly wand and a golden crown."  # 4 of 6 words in the two passages
    assert unsupported_claims(mixed, q, "past-presence", stage, index, [fact, other])


def test_universe_loads_with_refusal_fields() -> None:
    hp = load_universe("harry_potter")
    assert all("refusals" in hp.profiles[p] for p in hp.characters)
    sh = load_universe("sherlock_holmes")
    assert all("refusals" in sh.profiles[p] for p in sh.characters)


@pytest.mark.parametrize("kind", prompts.REFUSAL_KINDS)
def test_every_shipped_refusal_admits_not_knowing_or_stays_in_role(hp: Universe, kind: str) -> None:
    from persona_rag.evaluation.metrics import admits_not_knowing

    for pid in hp.characters:
        for line in hp.profiles[pid]["refusals"].get(kind) or prompts.DEFAULT_REFUSALS[kind]:
            assert kind == "role-break" or admits_not_knowing(line), (pid, line)


# --- evaluation that sees the model -----------------------------------------------------------


def test_evaluation_reports_who_wrote_answers_and_judges_answer_text(hp: Universe, tmp_path: Path) -> None:
    from persona_rag.evaluation import AnswerCache, EvalConfig, evaluate

    calls: list[tuple[str, ...]] = []

    def answer(variant: str, persona: str, question: str, stage: str) -> dict[str, Any]:
        calls.append((variant, persona, question, stage))
        if variant == "prompt":  # a baseline that plays along with everything
            return {"answer": "Oh yes, I remember it well.", "verdict": "unknown", "answered_by": "model"}
        return {"answer": "I don't know anything about that.", "verdict": "future", "answered_by": "refusal"}

    config = EvalConfig(persona="harry", variants=["prompt", "rag-stage"], limit=4, probes=8)
    cache = AnswerCache(tmp_path / "cache.jsonl")
    report = evaluate(hp, config, answer, {}, cache=cache, memory_revision="r1")
    p, r = report["variants"]["prompt"], report["variants"]["rag-stage"]
    assert p["model_written"] == 1.0 and r["model_written"] == 0.0
    assert r["answered_by"]["refusal"] == len([c for c in calls if c[0] == "rag-stage"])
    # Time scores from the answer text for the baseline too; the rule's verdict only where a rule ran.
    assert p["time"]["future"]["answer_accuracy"] == 0.0 and r["time"]["future"]["answer_accuracy"] == 1.0
    assert p["time"]["future"]["verdict_accuracy"] is None
    # Distinctiveness: at least 30 questions, asked of every other persona in turn.
    assert report["n_distinct_questions"] >= 30
    assert set(report["distinct_listeners"]) == set(hp.characters) - {"harry"}
    # Probes are questions a user would ask, never an event's own text.
    event_texts = {e["text"] for e in hp.events}
    assert not {c[2] for c in calls} & event_texts
    # The cache key carries the memory's revision: after a knowledge update, answers are fresh.
    small = EvalConfig(persona="harry", variants=["rag-stage"], limit=2, probes=4, distinct_questions=1)
    evaluate(hp, small, answer, {}, cache=cache, memory_revision="r1")
    n = len(calls)
    evaluate(hp, small, answer, {}, cache=AnswerCache(tmp_path / "cache.jsonl"), memory_revision="r1")
    assert len(calls) == n
    evaluate(hp, small, answer, {}, cache=AnswerCache(tmp_path / "cache.jsonl"), memory_revision="r2")
    assert len(calls) > n


# --- training data that teaches the model what the templates do -------------------------------


def test_training_data_has_inference_shape_refusals_and_no_heldout_response(
    hp: Universe, hp_memory: TemporalMemory, tmp_path: Path
) -> None:
    from persona_rag.finetune.data import DataConfig, build_datasets

    from persona_rag.settings import load_settings

    # answer_items on (off by default): the same shape holds for them, and they are checked below too.
    cfg = DataConfig(persona="harry", base_model_limit=0, synthetic_per_kind=12, answer_items=True)
    manifest = build_datasets(cfg, hp, hp_memory, tmp_path)
    rows = {
        n: [json.loads(x) for x in (tmp_path / f"{n}.jsonl").read_text().splitlines()]
        for n in ("sft_train", "dpo_train")
    }
    # No held-out response of any persona, anywhere in training data, chosen or rejected.
    held = {d.response.strip() for ds in hp.dialogues.values() for d in ds if d.heldout}
    used = [r["completion"][0]["content"] for r in rows["sft_train"]]
    used += [r[k][0]["content"] for r in rows["dpo_train"] for k in ("chosen", "rejected")]
    assert held and not held & {u.strip() for u in used}
    # The inference shape: same facts k, budget, and a verdict hint in every prompt.
    s = load_settings()
    assert manifest["prompt_shape"] == {"facts_k": s.top_k, "context_tokens": s.context_tokens, "verdict_hint": True}
    assert all("(" in r["prompt"][-1]["content"] for r in rows["sft_train"])
    assert max(r["prompt"][-1]["content"].count("\n- ") for r in rows["sft_train"]) > 1
    # In-character refusals for its future and for what it did not witness, and first-person memories.
    refusals = hp.profiles["harry"]["refusals"]
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for r in rows["sft_train"]:
        by_mode.setdefault(r["mode"], []).append(r)
    for kind in ("future", "past-absence"):
        assert by_mode.get(kind), kind
        assert all(r["completion"][0]["content"] in refusals[kind] for r in by_mode[kind])
    assert by_mode.get("memory") and not any(
        re.match(r"Harry (is|has|was)\b", r["completion"][0]["content"]) for r in by_mode["memory"]
    )
    # DPO negatives that leak a later fact and that ignore the memory.
    assert manifest["rejected_kinds"].get("leaks_later") and manifest["rejected_kinds"].get("ignores_memory")
    # Answer-first items: "Who ...?" -> "It was X. ...", their DPO pair puts someone else in the role.
    whos = [r for r in rows["sft_train"] if r.get("source") == "answer-who"]
    assert whos and manifest["plan_items"]["kept_answer-who"] == len(whos)
    assert all(r["question"].startswith("Who ") and r["completion"][0]["content"].startswith("It was ") for r in whos)
    pairs = {r["id"]: r for r in rows["dpo_train"] if r.get("source") == "answer-who"}
    for r in whos:
        if r["id"] in pairs:
            chosen, rejected = r["completion"][0]["content"], pairs[r["id"]]["rejected"][0]["content"]
            assert rejected.startswith("It was ") and rejected.split(".")[0] != chosen.split(".")[0]


# --- the retry and the hearsay fallback ---------------------------------------------------------


def test_the_retry_is_told_why_the_first_attempt_was_rejected(settings: Settings, hp_memory: TemporalMemory) -> None:
    gen = ScriptedGenerator(["Gilderoy Lockhart is our Defence teacher.", "I've never heard of him."])
    settings = settings.with_overrides(retries=1)
    out = PersonaGraph.from_persona("harry", settings=settings, generator=gen, memory=hp_memory).invoke(
        {"question": "Who is Gilderoy Lockhart?", "stage": "year 1"}
    )
    assert out["answered_by"] == "model-retry" and out["answer"] == "I've never heard of him."
    first_system, retry_system = gen.calls[0][0]["content"], gen.calls[1][0]["content"]
    assert "Your last answer was wrong" not in first_system
    assert "Your last answer was wrong" in retry_system and "do not know it yet" in retry_system


def test_retry_note_names_each_reason_once() -> None:
    note = prompts.retry_note(["<claims presence>", "<invented Zorblax>", "<claims presence>"])
    assert note.count("you said you were there") == 1 and "you named Zorblax" in note
    assert prompts.retry_note([]) == ""


def test_hearsay_fallback_says_not_there_and_who_told(settings: Settings, hp_memory: TemporalMemory) -> None:
    out = graph(settings, hp_memory, ["I saw it all with my own eyes, I was right there."], "hermione").invoke(
        {"question": "Did you see Hagrid tell Harry the truth about his parents?", "stage": "year 1"}
    )
    assert out["verdict"] == "past-hearsay"
    assert out["answered_by"] in ("memory", "refusal")
    text = out["answer"].lower()
    # the teller by the name a friend uses ("From what Harry told me, ..."), not "Harry Potter told me about it"
    assert ("wasn't there" in text or "didn't see it" in text) and "harry told me" in text
    from persona_rag.graphs.review import claims_presence

    assert not claims_presence(out["answer"])


def test_a_role_break_of_the_model_does_not_answer_an_innocent_question_with_a_role_refusal(
    settings: Settings, hp_memory: TemporalMemory
) -> None:
    out = graph(settings, hp_memory, [ASSISTANT]).invoke({"question": "Who is Gilderoy Lockhart?", "stage": "year 1"})
    assert out["answered_by"] == "refusal" and out["verdict"] == "future"
    assert "I'm Harry" not in out["answer"]  # a refusal of the future, not of the role
    pushed = graph(settings, hp_memory, [ASSISTANT]).invoke({"question": "Are you an AI?", "stage": "year 1"})
    assert pushed["answered_by"] == "refusal" and "Harry" in pushed["answer"]


def test_the_retry_count_is_a_setting_and_a_negative_one_is_refused() -> None:
    from persona_rag.errors import UsageError
    from persona_rag.settings import load_settings

    assert load_settings(environ={}).retries == 0  # measured: a second draft rarely passes where the first failed
    assert load_settings(environ={"PERSONA_RAG_RETRIES": "1"}).retries == 1
    for bad in ("-1", "once"):
        with pytest.raises(UsageError, match="PERSONA_RAG_RETRIES"):
            load_settings(environ={"PERSONA_RAG_RETRIES": bad})
