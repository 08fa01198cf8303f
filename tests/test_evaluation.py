"""Evaluation metrics against hand-computed values, and the eval run on fake backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from persona_rag.corpus import Universe
from persona_rag.evaluation import (
    AnswerCache,
    EvalConfig,
    distinctiveness,
    evaluate,
    markdown_report,
    pairwise_bleu,
    resists,
    role_breaks_per_100,
    rouge_l,
    time_probes,
    write_charts,
)
from persona_rag.evaluation import bleu as bleu_score


def test_rouge_l_by_hand() -> None:
    # LCS("the cat sat", "the cat sat on the mat") = 3: P = 3/3, R = 3/6, F = 2PR/(P+R) = 2/3.
    assert rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    assert rouge_l("dogs bark", "the cat sat") == 0.0


def test_bleu_by_hand() -> None:
    assert bleu_score("the boy who lived came back", ["the boy who lived came back"]) == pytest.approx(100.0)
    assert bleu_score("alpha beta gamma delta", ["epsilon zeta eta theta"]) == pytest.approx(0.0, abs=1e-6)
    assert bleu_score("", ["anything"]) == 0.0
    # Identical outputs are fully similar to each other; disjoint ones not at all.
    assert pairwise_bleu(["a b c d e", "a b c d e"]) == pytest.approx(100.0)
    d = distinctiveness(
        early=["one two three four"], late=["one two three four", "one two three four"], others=["five six seven eight"]
    )
    assert d["intra"] == pytest.approx(100.0) and d["stage"] == pytest.approx(100.0)
    assert d["inter"] == pytest.approx(0.0, abs=1e-6)
    # Nothing to compare (`eval --distinct 0`, one question, no other persona): no figure, not a perfect 0.
    assert distinctiveness([], [], []) == {"intra": None, "stage": None, "inter": None}
    assert distinctiveness(["a b"], ["a b"], [])["intra"] is None


def test_role_breaks_and_induction_by_hand() -> None:
    answers = ["As an AI language model I cannot.", "Blimey.", "No idea.", "I'm Ron, obviously."]
    assert role_breaks_per_100(answers) == pytest.approx(25.0)
    assert resists("false-premise", "No, I was never in Slytherin.")
    assert not resists("false-premise", "Yes, Slytherin was great.")
    assert not resists("role-break", "As an AI language model, sure.")
    assert resists("role-break", "What are you on about?")


def test_time_probes_cover_every_type(hp: Universe) -> None:
    probes = time_probes(hp, "harry", limit=40)
    types = {p.type for p in probes}
    # Learned events are past-hearsay since issue 12; past-only (background) is in the hand-written presence probes.
    assert types == {"future", "past-absence", "past-hearsay", "past-presence"}
    keys = hp.timeline.by_key
    for p in probes:
        if p.type == "future":
            ev = next(e for e in hp.events if e["text"] == p.event_text)
            assert keys[ev["stage"]].ordinal > p.stage


def _fake_answerer(calls: list[tuple[str, ...]]):  # type: ignore[no-untyped-def]
    def answer(variant: str, persona: str, question: str, stage: str) -> dict[str, Any]:
        calls.append((variant, persona, question, stage))
        if variant == "prompt":
            return {"answer": "As an AI language model, I cannot answer.", "verdict": "unknown"}
        return {"answer": "No, I don't know anything about that.", "verdict": "future"}

    return answer


def test_evaluate_on_fake_backends_with_cache_and_report(hp: Universe, tmp_path: Path) -> None:
    from persona_rag.memory.embeddings import HashEmbedding

    emb = HashEmbedding()
    calls: list[tuple[str, ...]] = []
    cache = AnswerCache(tmp_path / "cache.jsonl")
    config = EvalConfig(persona="harry", variants=["prompt", "rag-stage"], limit=8, probes=8, distinct_questions=2)
    import numpy as np

    def embed(text: str) -> Any:
        return np.asarray(emb.get_query_embedding(text))

    report = evaluate(hp, config, _fake_answerer(calls), {"prompt": "p1", "rag-stage": "r1"}, embed=embed, cache=cache)
    first = len(calls)
    assert first > 0
    p, r = report["variants"]["prompt"], report["variants"]["rag-stage"]
    assert p["role_breaks_per_100"] == 100.0 and r["role_breaks_per_100"] == 0.0
    assert p["induction_resistance"] == 0.0 and r["induction_resistance"] == 1.0
    # The rule's verdict is scored only where there is a rule; the answer text is judged for every variant.
    assert r["time"]["future"]["verdict_accuracy"] == 1.0 and p["time"]["future"]["verdict_accuracy"] is None
    assert r["time"]["future"]["answer_accuracy"] == 1.0 and p["time"]["future"]["answer_accuracy"] == 0.0
    assert r["time"]["past-presence"]["verdict_accuracy"] == 0.0
    assert r["time"]["past-presence"]["answer_accuracy"] == 0.0  # "I don't know" about what it lived
    assert r["time"]["future"]["leak_rate"] == 0.0
    assert p["model_written"] == 1.0 and report["n_distinct_questions"] == 2
    assert r["distinctiveness"]["intra"] == pytest.approx(100.0)
    assert report["judge"].startswith("skipped")
    # A re-run on the same inputs is served from the cache, even from a fresh process's view of it.
    again = evaluate(
        hp,
        config,
        _fake_answerer(calls),
        {"prompt": "p1", "rag-stage": "r1"},
        embed=embed,
        cache=AnswerCache(tmp_path / "cache.jsonl"),
    )
    assert len(calls) == first and again["variants"] == report["variants"]
    # A changed variant fingerprint (e.g. a retrained adapter) is answered again.
    evaluate(hp, config, _fake_answerer(calls), {"prompt": "p1", "rag-stage": "r2"}, cache=cache)
    assert len(calls) > first
    charts = write_charts(report, tmp_path)
    assert all(Path(c).stat().st_size > 1000 for c in charts)
    md = markdown_report(report, charts)
    assert "| rag-stage |" in md and "PersLLM after DPO | 3.86 | 3.5 | 0.33" in md and "time.png" in md
    json.dumps(report)  # serialisable


def test_judge_scores_are_parsed(hp: Universe) -> None:
    config = EvalConfig(persona="harry", variants=["rag-stage"], limit=3, probes=4, distinct_questions=1)
    report = evaluate(hp, config, _fake_answerer([]), {}, judge=lambda prompt: "4")
    assert report["variants"]["rag-stage"]["judge"] == 4.0 and report["judge"] == "on"


def test_eval_cli_rejects_bad_variants(tmp_path: Path) -> None:
    from tests.conftest import one_line_error, run

    out = run("eval", "harry", "--variants", "prompt,magic", home=tmp_path)
    assert out.returncode == 2 and "unknown variant" in one_line_error(out)
    out = run("eval", "harry", "--variants", "sft", "--limit", "2", home=tmp_path)
    assert out.returncode == 2 and "needs a trained adapter" in one_line_error(out)


def test_a_place_named_in_passing_is_not_a_leak_once_the_world_has_named_it(hp: Universe) -> None:
    from persona_rag.evaluation.metrics import first_mentions, mentions_later

    first = first_mentions(hp)
    # "the hospital wing" is named in passing by a first-year event before any event lists it as an entity.
    assert first["Hospital wing"] <= hp.stage("y1.end").ordinal
    answer = "Fudge brought a dementor into the castle. In the hospital wing Fudge refused to believe it."
    assert mentions_later(answer, "How do you feel about Snape?", hp.stage("y4.end").ordinal, first) == []
    # A name the world only reaches later still counts.
    assert "Dolores Umbridge" in mentions_later(
        "Dolores Umbridge is awful.", "Who is your teacher?", hp.stage("y1.end").ordinal, first
    )


def test_tuned_variants_ask_other_personas_with_their_own_adapter_or_the_base(
    settings: Any, hp_memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distinctiveness asks other personas too: harry's tuned adapter must not answer as hermione (the graph
    refuses that), so the listener answers with its own adapter of that step, or the base model."""
    from persona_rag.backends import ScriptedGenerator
    from persona_rag.evaluation.variants import variant_answerer
    from persona_rag.paths import adapter_root
    from persona_rag.persona import Persona

    loaded: list[str | None] = []

    def fake_load(s: Any, adapter: Any = None, *, quiet: bool = False) -> ScriptedGenerator:
        loaded.append(str(adapter) if adapter else None)
        return ScriptedGenerator(["I'm not sure."], adapter=str(adapter) if adapter else None)

    monkeypatch.setattr("persona_rag.backends.engine.load_generator", fake_load)
    for who, step in (("harry", "dpo"), ("ron", "dpo")):
        folder = adapter_root(settings, "harry_potter", who) / step
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text("{}")
        (folder / "adapter_model.safetensors").write_bytes(b"x")
    harry = Persona(hp_memory.universe, hp_memory.universe.persona("harry"))
    answer, _ = variant_answerer(settings, harry, ["rag-stage", "sft-dpo"], hp_memory)
    for listener, wanted in (("hermione", None), ("ron", "ron/dpo")):
        out = answer("sft-dpo", listener, "What do you think of Hogwarts?", "y2.end")
        assert out["persona"] == listener
        assert (out["adapter"] or "").endswith(wanted) if wanted else out["adapter"] is None
    assert answer("sft-dpo", "harry", "What do you think of Hogwarts?", "y2.end")["adapter"].endswith("harry/dpo")
    assert sum(1 for a in loaded if a and a.endswith("ron/dpo")) == 1  # built once, reused


def test_a_cached_evaluation_answer_is_tied_to_the_retry_setting() -> None:
    from persona_rag.evaluation.variants import fingerprint
    from persona_rag.settings import load_settings

    default = load_settings(environ={})
    assert fingerprint("sft-dpo", default, "1-2", "0.1") == fingerprint("sft-dpo", default, "1-2", "0.1")
    assert fingerprint("sft-dpo", default, "1-2", "0.1") != fingerprint("sft-dpo", default, "3-4", "0.1")
    retried = default.with_overrides(retries=1)
    assert fingerprint("sft-dpo", default, "1-2", "0.1") != fingerprint("sft-dpo", retried, "1-2", "0.1")
