"""Personified data construction, SFT and DPO on a tiny random model (seconds on a CPU)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from persona_rag.finetune.annotate import ModelAnnotator, generate_questions, parse_annotation
from persona_rag.finetune.config import TrainConfig, load_recipe, recipe_names
from persona_rag.finetune.data import REJECTED_KINDS, DataConfig, build_datasets, data_stats, dedupe
from persona_rag.memory.store import TemporalMemory

from persona_rag.backends import ScriptedGenerator
from persona_rag.backends.openai_compat import OpenAICompatGenerator
from persona_rag.corpus import Universe, corpora_root
from persona_rag.errors import UsageError
from persona_rag.persona import Persona
from persona_rag.settings import Settings
from tests.tiny_model import build_tiny_model


def test_every_recipe_loads_and_unknown_keys_are_errors(tmp_path: Path) -> None:
    assert {"quick", "full", "tiny"} <= set(recipe_names())
    for name in recipe_names():
        assert isinstance(load_recipe(name), TrainConfig)
    assert load_recipe("quick", {"sft_max_steps": 3}).sft_max_steps == 3  # flags override the recipe
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora_r: 4\nlearning_rat: 0.1\n")
    with pytest.raises(UsageError, match="unknown training option 'learning_rat'"):
        load_recipe(str(bad))
    with pytest.raises(UsageError, match="shipped recipes"):
        load_recipe("nope")


def test_curated_data_meets_the_issue_minimums(hp: Universe) -> None:
    stats = data_stats(hp)
    for pid, minimum in {
        "harry": 300,
        "hermione": 300,
        "ron": 300,
        "dumbledore": 120,
        "voldemort": 120,
        "petunia": 120,
    }.items():
        s = stats[pid]
        assert s["total"] >= minimum, pid
        assert s["train"] + s["heldout"] == s["total"]
        assert set(s["modes"]) == {"knowledge", "opinion", "false-premise", "role-break"}, pid
        assert len(s["stages"]) >= 7 if pid != "dumbledore" else len(s["stages"]) >= 6


def test_dedupe_drops_near_identical_questions() -> None:
    import numpy as np

    vecs = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    assert dedupe([None, None, None], vecs, 0.95) == [0, 2]  # type: ignore[list-item]


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_datasets_have_every_rejected_kind_and_no_heldout_leak(
    hp: Universe, hp_memory: TemporalMemory, tmp_path: Path
) -> None:
    base = ScriptedGenerator(["Sure! Here is a general answer about that topic."])
    # Every curated answer as it is (plan_items off): the plan task's own items are tested in test_answer_plan.py.
    cfg = DataConfig(
        persona="harry", rejected_mix={k: 0.25 for k in REJECTED_KINDS}, base_model_limit=1000, plan_items=False
    )
    manifest = build_datasets(cfg, hp, hp_memory, tmp_path, base_generator=base)
    assert set(manifest["rejected_kinds"]) == set(REJECTED_KINDS)
    assert manifest["config"]["rejected_mix"] == cfg.rejected_mix
    train = _read(tmp_path / "sft_train.jsonl")
    held = _read(tmp_path / "sft_heldout.jsonl")
    dpo_train = _read(tmp_path / "dpo_train.jsonl")
    curated = [r for r in train if "-syn-" not in r["id"]]  # the rest: refusals and memory answers (test_answers)
    assert len(curated) + len(held) + manifest["near_duplicates_dropped"] == len(hp.dialogues["harry"])
    heldout_q = {d.question for d in hp.dialogues["harry"] if d.heldout}
    assert heldout_q and not heldout_q & {r["question"] for r in train + dpo_train}
    row = train[0]
    assert row["prompt"][0]["role"] == "system" and "Now it is" in row["prompt"][0]["content"]
    assert row["prompt"][-1]["content"].endswith("Question: " + row["question"])
    for r in dpo_train:
        assert r["chosen"] != r["rejected"]
        if r["rejected_kind"] == "other_persona":
            others = {d.response for pid, ds in hp.dialogues.items() if pid != "harry" for d in ds}
            assert r["rejected"][0]["content"] in others
    from datasets import load_dataset

    ds = load_dataset("json", data_files=str(tmp_path / "dpo_train.jsonl"), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(ds.column_names)


def test_questions_and_annotation_parsing(hp: Universe) -> None:
    qs = generate_questions(Persona(hp, hp.characters["ron"]), per_stage=4)
    assert {q.mode for q in qs} == {"knowledge", "opinion", "false-premise", "role-break"}
    assert len({q.stage.key for q in qs}) == len(hp.timeline.stages)
    y1 = hp.stage("year 1").ordinal
    early = [q for q in qs if q.mode == "knowledge" and q.stage.ordinal <= y1]
    assert early and all("Lockhart" not in q.text for q in early)
    assert parse_annotation("Analysis: He is wary.\nResponse: Bloody hell, no.") == ("He is wary.", "Bloody hell, no.")
    with pytest.raises(ValueError):
        parse_annotation("Just an answer")


class _Annotator(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        question = prompt.split("Question: ", 1)[1].split("\n", 1)[0]
        content = f"Analysis: Ron thinks about '{question}'.\nResponse: Blimey, ask me something easier."
        data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def annotation_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Annotator)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_openai_annotator_builds_a_dataset(
    hp: Universe, hp_memory: TemporalMemory, tmp_path: Path, annotation_server: str
) -> None:
    annotator = ModelAnnotator(OpenAICompatGenerator(annotation_server, "annotator"))
    cfg = DataConfig(
        persona="ron", annotator="openai", questions_per_stage=2, rejected_mix={"assistant": 1.0}, plan_items=False
    )
    manifest = build_datasets(cfg, hp, hp_memory, tmp_path, annotator=annotator)
    rows = _read(tmp_path / "sft_train.jsonl") + _read(tmp_path / "sft_heldout.jsonl")
    rows = [r for r in rows if "-syn-" not in r["id"]]  # the refusals and memory answers added to every build
    assert rows and all(r["completion"][0]["content"] == "Blimey, ask me something easier." for r in rows)
    assert all(r["analysis"].startswith("Ron thinks about") for r in rows)
    # Repeated generated questions are near-duplicates and dropped.
    assert manifest["near_duplicates_dropped"] > 0
    assert len(rows) + manifest["near_duplicates_dropped"] == 2 * len(hp.timeline.stages)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, hp: Universe) -> Path:
    texts = [d.question + " " + d.response for ds in hp.dialogues.values() for d in ds][:400]
    texts += [p.text for p in hp.passages()[:400]]
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", texts)


@pytest.mark.second_core  # the real trainers, ~45 s: `make test` runs it beside the suite
def test_sft_then_dpo_on_a_tiny_model(
    tiny_model: Path, settings: Settings, hp: Universe, hp_memory: TemporalMemory
) -> None:
    import torch
    from persona_rag.finetune.dpo import run_dpo
    from persona_rag.finetune.sft import run_sft
    from persona_rag.graphs.persona_graph import PersonaGraph
    from safetensors.torch import load_file

    from persona_rag.backends.hf import TransformersGenerator
    from persona_rag.paths import adapter_root, data_dir, find_adapter

    s = settings.with_overrides(model=str(tiny_model), max_new_tokens=8)
    config = load_recipe("tiny")
    build_datasets(DataConfig(persona="harry", base_model_limit=0), hp, hp_memory, data_dir(s, hp.id, "harry"))
    base_before = load_file(str(tiny_model / "model.safetensors"))

    sft = run_sft(s, hp.id, "harry", config, "tiny")
    root = adapter_root(s, hp.id, "harry")
    assert sft["steps"] == config.sft_max_steps
    assert sft["heldout_loss_tuned"] < sft["heldout_loss_base"]  # the learning rate is high enough to move it
    lora = load_file(str(root / "sft" / "adapter_model.safetensors"))
    lora_b = [v for k, v in lora.items() if "lora_B" in k]
    assert lora_b and any(float(v.abs().sum()) > 0 for v in lora_b)  # B starts at zero: training moved it
    card = json.loads((root / "sft" / "persona_rag.json").read_text())
    assert card["base_model"] == str(tiny_model) and card["recipe"] == "tiny" and card["data_sha256"]
    assert (root / "sft" / "README.md").is_file()

    dpo = run_dpo(s, hp.id, "harry", config, "tiny")
    assert dpo["steps"] == config.dpo_max_steps
    dpo_b = [v for k, v in load_file(str(root / "dpo" / "adapter_model.safetensors")).items() if "lora_B" in k]
    assert dpo_b and any(float(v.abs().sum()) > 0 for v in dpo_b)  # DPO moved its own adapter too
    assert json.loads((root / "dpo" / "persona_rag.json").read_text())["stack"] == ["../sft", "."]
    base_after = load_file(str(tiny_model / "model.safetensors"))
    assert all(torch.equal(base_before[k], base_after[k]) for k in base_before)  # base weights untouched

    assert find_adapter(s, hp.id, "harry") == root / "dpo"
    gen = TransformersGenerator.load(s, root / "dpo", quiet=True)
    plain_gen = TransformersGenerator.load(s, None, quiet=True)
    ids = plain_gen.tokenizer("Who is Ron?", return_tensors="pt")
    with torch.inference_mode():
        tuned_logits = gen.model(**ids).logits
        base_logits = plain_gen.model(**ids).logits
    assert not torch.allclose(tuned_logits, base_logits)  # the reloaded adapter stack changes the model
    assert isinstance(gen.generate([{"role": "user", "content": "Hello?"}], max_new_tokens=5), str)
    graph = PersonaGraph.from_persona("harry", settings=s, memory=hp_memory, review=False)
    out = graph.invoke({"question": "Who is Ron?", "stage": "year 1"})
    assert out["adapter"] == str(root / "dpo")
    # The CLI picks the trained adapter up by itself, and --adapter none turns it off.
    from tests.conftest import run

    env = {"PERSONA_RAG_MODEL": str(tiny_model), "PERSONA_RAG_MAX_NEW_TOKENS": "4"}
    ask = run("ask", "harry", "Who is Ron?", "--stage", "year 1", "--json", home=s.home, env=env)
    assert ask.returncode == 0, ask.stderr[-2000:]
    assert json.loads(ask.stdout)["adapter"] == str(root / "dpo")
    plain = run("ask", "harry", "Who is Ron?", "--stage", "year 1", "--json", "--adapter", "none", home=s.home, env=env)
    assert json.loads(plain.stdout)["adapter"] is None


def test_dpo_without_sft_is_a_clear_error(settings: Settings, hp: Universe) -> None:
    from persona_rag.finetune.dpo import run_dpo

    with pytest.raises(UsageError, match="run --step sft first"):
        run_dpo(settings, hp.id, "ron", load_recipe("tiny"), "tiny")


def test_recipes_folder_is_shipped_with_the_package() -> None:
    assert (corpora_root() / "SCHEMA.md").is_file()
    from persona_rag.finetune.config import RECIPES_DIR

    assert (RECIPES_DIR / "quick.yaml").is_file()


@pytest.mark.parametrize("fast", [True, False])
def test_train_keeps_bf16_only_where_the_device_computes_in_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], fast: bool
) -> None:
    """The quick recipe asks for bf16; on a CPU without bf16 instructions torch emulates it (a matmul ~70x slower
    than float32 on an AVX2 EPYC), so `train` says so and trains in float32; where bf16 is native it is kept."""
    import persona_rag.finetune.data as data
    import persona_rag.finetune.dpo as dpo
    import persona_rag.finetune.sft as sft
    import persona_rag.finetune.train as train

    from persona_rag.cli import main

    seen: dict[str, bool] = {}

    def step(name: str) -> Any:
        def run(settings: Any, universe: str, persona: str, config: TrainConfig, recipe: str) -> dict[str, Any]:
            seen[name] = config.bf16
            return {}

        return run

    monkeypatch.setenv("PERSONA_RAG_HOME", str(tmp_path))
    monkeypatch.setattr(train, "bf16_runs_fast", lambda device: fast)
    monkeypatch.setattr(data, "build_data", lambda *a, **k: {})
    monkeypatch.setattr(sft, "run_sft", step("sft"))
    monkeypatch.setattr(dpo, "run_dpo", step("dpo"))
    assert load_recipe("quick").bf16
    assert main(["train", "harry", "--recipe", "quick"]) == 0
    assert seen == {"sft": fast, "dpo": fast}
    assert ("bf16 is emulated" in capsys.readouterr().out) is not fast
    seen.clear()  # asked for by name, it is kept wherever it runs
    assert main(["train", "harry", "--recipe", "quick", "--bf16"]) == 0
    assert seen == {"sft": True, "dpo": True}
