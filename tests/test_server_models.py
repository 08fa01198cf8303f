"""One server, every tuned persona: per-persona adapters (engine pool, LRU), batched decoding across requests,
the SFT+DPO stack as one LoRA for vLLM, and routing tuned personas to their LoRA module at an endpoint.

The tiny random llama (tests/tiny_model.py) stands in for SmolLM2 on the real code paths (conversion in a
child process, CTranslate2 batches); one slow test batches the real SmolLM2."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.backends import ScriptedGenerator
from persona_rag.backends.base import StopGeneration
from persona_rag.corpus import Universe
from persona_rag.server.app import create_app
from persona_rag.server.models import EnginePool, LocalModels
from persona_rag.settings import Settings, load_settings
from tests.tiny_model import build_tiny_model

LOCAL = ("127.0.0.1", 50000)
SYSTEM = "You are Harry Potter, a boy in his first year at a school of magic. " * 3
PROMPTS = [
    [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Who is your best friend at school?"}],
    [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is your owl called?"}],
    [{"role": "user", "content": "Tell me about Hermione."}],
    [{"role": "system", "content": "You are Ron."}, {"role": "user", "content": "Chess?"}],
]


@pytest.fixture(scope="module")
def memory(hp: Universe) -> TemporalMemory:
    mem = TemporalMemory(hp, make_client("memory"), HashEmbedding(), collection=f"sm_{uuid.uuid4().hex[:10]}")
    mem.ingest(progress=False)
    return mem


def fake_adapter(home: Path, persona: str, steps: tuple[str, ...] = ("sft",)) -> Path:
    """An adapter folder as training leaves it (enough for find_adapter; never loaded)."""
    for step in steps:
        folder = home / "adapters" / "harry_potter" / persona / step
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text("{}")
    return folder


# ----------------------------------------------------------------------------- which model answers


def test_engine_pool_keeps_at_most_n_engines_and_loads_each_once(tmp_path: Path) -> None:
    loaded: list[str] = []
    gate = threading.Event()

    def load(adapter: Path | None) -> ScriptedGenerator:
        loaded.append(str(adapter))
        gate.wait(5)
        return ScriptedGenerator([f"from {adapter}"], name=str(adapter))

    pool = EnginePool(load_settings(home=str(tmp_path)), max_models=2, load=load)
    a, b, c = Path("/a"), Path("/b"), None
    # Four requests for a model not loaded yet: one load.
    threads = [threading.Thread(target=pool.get, args=(a,)) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert loaded == ["/a"]
    pool.get(b)
    pool.get(a)  # a is now the most recently used
    pool.get(c)  # over the limit: b, the least recently used, goes
    assert pool.loaded() == ["/a", "base"]
    pool.get(b)
    assert loaded == ["/a", "/b", "None", "/b"] and pool.loaded() == ["base", "/b"]
    with pytest.raises(Exception, match="at least 1"):
        EnginePool(load_settings(home=str(tmp_path)), max_models=0)


def test_each_persona_answers_with_its_own_adapter_and_models_say_which_are_tuned(
    tmp_path: Path, memory: TemporalMemory
) -> None:
    home = tmp_path / "home"
    harry_dpo = fake_adapter(home, "harry", ("sft", "dpo"))
    settings = load_settings(environ={}).with_overrides(home=home, embed_model="hash")
    engines: dict[str, ScriptedGenerator] = {}

    def load(adapter: Path | None) -> ScriptedGenerator:
        key = "base" if adapter is None else adapter.parent.name
        engines[key] = ScriptedGenerator(["I am not sure."], name="tiny")
        return engines[key]

    pool = EnginePool(settings, max_models=1, load=load)
    models = LocalModels(settings, memory.universe, pool, "tiny")
    client = TestClient(create_app(settings, universe=memory.universe, models=models, memory=memory), client=LOCAL)
    listed = {m["id"]: m["persona_rag"]["tuned"] for m in client.get("/v1/models").json()["data"]}
    assert listed["harry"] and listed["harry@y2.end"] and not listed["ron"] and not listed["hermione@y1.end"]
    personas = {p["id"]: p for p in client.get("/v1/personas").json()["personas"]}
    assert personas["harry"]["tuned"] and personas["harry"]["adapter"] == str(harry_dpo)
    assert not personas["ron"]["tuned"] and personas["ron"]["adapter"] is None

    def chat(model: str) -> dict[str, Any]:
        r = client.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "Hi"}]})
        assert r.status_code == 200, r.text
        return r.json()

    out = chat("harry@year 2")
    assert engines["harry"].calls and out["persona_rag"]["adapter"] == str(harry_dpo)  # the DPO stack, as ask
    base_calls = len(engines["base"].calls) if "base" in engines else 0
    chat("ron")
    assert len(engines["base"].calls) > base_calls and pool.loaded() == ["base"]  # max 1: harry's engine dropped
    chat("harry")
    assert pool.loads == 3 and pool.loaded() == [str(harry_dpo)]
    assert "tuned" in (Path(__file__).parents[1] / "persona_rag/server/static/app.js").read_text()  # the page


def test_lora_names_send_tuned_personas_to_their_module(
    tmp_path: Path, memory: TemporalMemory, chat_server: Any
) -> None:
    """`serve --openai-url URL --openai-model BASE --lora-names`: every request the endpoint gets names the
    tuned persona's LoRA module (<universe>-<persona>) or BASE."""
    from persona_rag.cli import build_parser
    from persona_rag.cli.serve import models_from_args

    home = tmp_path / "home"
    fake_adapter(home, "hermione")
    argv = [
        "serve",
        "--home",
        str(home),
        "--openai-url",
        chat_server.url,
        "--openai-model",
        "base-135m",
        "--lora-names",
    ]
    args = build_parser().parse_args(argv)
    settings = load_settings(environ={}).with_overrides(home=home, embed_model="hash")
    models = models_from_args(args, settings)
    client = TestClient(create_app(settings, universe=memory.universe, models=models, memory=memory), client=LOCAL)
    for model, question in [("hermione@year 3", "What do you think of Lupin?"), ("ron@year 1", "Chess?")]:
        chat_server.requests.clear()
        r = client.post(
            "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": question}]}
        )
        assert r.status_code == 200, r.text
        want = "harry_potter-hermione" if model.startswith("hermione") else "base-135m"
        assert chat_server.requests and {q["model"] for q in chat_server.requests} == {want}
    assert client.get("/health").json()["batching"]  # the endpoint schedules; no server-side queue
    # Without --lora-names every persona goes to BASE.
    args = build_parser().parse_args(argv[:-1])
    plain = create_app(settings, universe=memory.universe, models=models_from_args(args, settings), memory=memory)
    chat_server.requests.clear()
    body = {"model": "hermione", "messages": [{"role": "user", "content": "Hi"}]}
    assert TestClient(plain, client=LOCAL).post("/v1/chat/completions", json=body).status_code == 200
    assert {q["model"] for q in chat_server.requests} == {"base-135m"}


# ----------------------------------------------------------------------------- the tiny model on the real paths


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [m["content"] for p in PROMPTS for m in p] * 20 + ["Ron Weasley is my best friend, and Hermione too."] * 20
    return build_tiny_model(tmp_path_factory.mktemp("tiny-srv") / "model", texts)


def _lora(model: Any, out: Path, seed: int, r: int, targets: list[str]) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    peft = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, init_lora_weights=False))
    with torch.no_grad():  # larger than the init: the stack must visibly move the logits
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.mul_(20)
    peft.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def tiny_home(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where harry has an SFT adapter and a DPO adapter trained over the merged SFT model, as `train` does."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    home = tmp_path_factory.mktemp("tiny-srv-home")
    root = home / "adapters" / "harry_potter" / "harry"
    from persona_rag import prompts

    fmt = {"prompt_format": prompts.PROMPT_FORMAT} if hasattr(prompts, "PROMPT_FORMAT") else {}
    _lora(AutoModelForCausalLM.from_pretrained(str(tiny)), root / "sft", 1, 4, ["q_proj", "v_proj"])
    (root / "sft" / "persona_rag.json").write_text(json.dumps({"stack": ["."], **fmt}))
    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny)), str(root / "sft"))
    _lora(merged.merge_and_unload(), root / "dpo", 2, 2, ["q_proj", "o_proj", "down_proj"])
    (root / "dpo" / "persona_rag.json").write_text(json.dumps({"stack": ["../sft", "."], **fmt}))
    return home


def test_combined_adapter_equals_the_sft_dpo_stack(tiny: Path, tiny_home: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from persona_rag.backends.adapters import combine_stack, load_adapter_stack

    dpo = tiny_home / "adapters" / "harry_potter" / "harry" / "dpo"
    assert combine_stack(dpo, tmp_path / "one", str(tiny)) == 6  # rank 4 + 2
    ids = torch.tensor([list(range(3, 40))])
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(str(tiny)).eval()
        plain = base(ids).logits
        stack = load_adapter_stack(AutoModelForCausalLM.from_pretrained(str(tiny)), dpo).eval()(ids).logits
        one = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny)), str(tmp_path / "one"))
        combined = one.eval()(ids).logits  # applied at run time, as vLLM does, not merged
    assert (stack - plain).abs().max() > 1e-2  # the stack changes the model
    assert torch.allclose(combined, stack, atol=1e-5), (combined - stack).abs().max()


def test_adapters_export_writes_what_vllm_loads_and_the_command(
    tiny: Path, tiny_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from persona_rag.cli import main

    out = tmp_path / "export"
    assert main(["adapters", "export", str(out), "--home", str(tiny_home), "--model", str(tiny)]) == 0
    printed = capsys.readouterr().out
    lora = out / "loras" / "harry_potter-harry"
    assert f"--lora-modules harry_potter-harry={lora}" in printed and "--max-lora-rank 8" in printed
    assert "--lora-names" in printed and "--enable-lora" in printed
    assert json.loads((lora / "adapter_config.json").read_text())["r"] == 6
    assert (out / "base" / "config.json").is_file() and list((out / "base").glob("*.safetensors"))
    # Again into the same folder (an earlier export) works; --json parses.
    assert main(["adapters", "export", str(out), "--home", str(tiny_home), "--model", str(tiny), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_lora_rank"] == 8 and [x["name"] for x in report["loras"]] == ["harry_potter-harry"]
    assert main(["adapters", "list", "--home", str(tiny_home), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["stack"] == ["sft", "dpo"]


def test_server_answers_with_the_adapter_ask_uses_word_for_word_and_batches_concurrent_calls(
    tiny: Path, tiny_home: Path, memory: TemporalMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With batching off the persona's engine (merged and converted in a child process) writes exactly what
    `ask` writes with the same adapter; with batching on, concurrent calls decode as one batch and each gets
    its own tokens, limit and stop."""
    from persona_rag.backends import convert
    from persona_rag.backends.batching import Batcher
    from persona_rag.backends.engine import default_generator

    settings = load_settings(environ={}).with_overrides(home=tiny_home, model=str(tiny), embed_model="hash")
    base_gen = default_generator(settings, "harry_potter", "ron", quiet=True)  # ron: not tuned, the base model

    def not_here(*args: Any, **kw: Any) -> None:
        raise AssertionError("the server merged an adapter in its own process")

    monkeypatch.setattr(convert, "_merge", not_here)  # the child process imports its own, unpatched
    pool = EnginePool(settings, max_models=2)
    models = LocalModels(settings, memory.universe, pool, "tiny")
    service = create_app(settings, universe=memory.universe, models=models, memory=memory).state.service
    harry = service.generator_for(service.persona("harry"))
    served = [harry.generate(p, max_new_tokens=16) for p in PROMPTS]
    monkeypatch.undo()
    ask_gen = default_generator(settings, "harry_potter", "harry", quiet=True)  # what `ask harry` uses
    assert harry.adapter == ask_gen.adapter is not None
    want = [ask_gen.generate(p, max_new_tokens=16) for p in PROMPTS]
    assert served == want  # word for word
    assert base_gen.generate(PROMPTS[0], max_new_tokens=16) != want[0]  # and the adapter matters

    batcher = Batcher(window=1.0)  # every thread has started by then, even on a busy machine
    batched = create_app(
        settings,
        universe=memory.universe,
        models=LocalModels(settings, memory.universe, EnginePool(settings, batcher=batcher), "tiny"),
        memory=memory,
    ).state.service
    gen = batched.generator_for(batched.persona("harry"))
    got: dict[int, str] = {}
    pieces: dict[int, list[str]] = {i: [] for i in range(len(PROMPTS))}

    def run(i: int) -> None:
        def on_token(piece: str) -> None:
            pieces[i].append(piece)
            if i == 3 and len(pieces[i]) >= 2:
                raise StopGeneration  # this one leaves the batch early; the others go on

        got[i] = gen.generate(PROMPTS[i], max_new_tokens=16 if i else 6, on_token=on_token)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert max(batcher.batches) >= 3, batcher.batches  # decoded together
    assert 0 < len(pieces[0]) <= 6 and len(pieces[1]) > 6  # each its own token limit
    assert got[3] == "".join(pieces[3]).strip() and len(pieces[3]) == 2  # its own stop
    assert all("".join(pieces[i]).strip() == got[i] for i in range(3))  # streamed as decoded
    # Greedy in an int8 batch: the tiny random model has many near ties, and a padded batch can flip one
    # (as it rarely does for SmolLM2, see the slow test); most answers are the same tokens as alone.
    assert sum(got[i] == want[i] for i in (1, 2)) >= 1, (got, want)


def test_batches_only_share_a_constraint_key(tiny: Path, settings: Settings) -> None:
    from persona_rag.backends.batching import Batcher, BatchingGenerator
    from persona_rag.backends.engine import load_generator

    engine = load_generator(settings.with_overrides(model=str(tiny)), quiet=True)
    engine.suppressed = lambda constraint: None  # the plan's token mask is the answers issue's; grouping is ours

    class Plan:
        def __init__(self, key: str) -> None:
            self.key = key

    batcher = Batcher(window=2.0)  # every thread has started by then, even on a busy machine
    gen = BatchingGenerator(engine, batcher)
    plans = [None, Plan("a"), Plan("b"), Plan("a"), None, Plan("b")]
    threads = [
        threading.Thread(target=gen.generate, args=(PROMPTS[i % 4],), kwargs={"max_new_tokens": 4, "constraint": c})
        for i, c in enumerate(plans)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(batcher.batches) == [2, 2, 2]
    # Mixed: one batch, masking only what every plan in it forbids; the graph's word check does the rest.
    from persona_rag.backends.batching import _Request, common_suppression

    masks = {"a": [["x"], ["y"]], "b": [["y"], ["z"]]}
    asked_in: list[str] = []

    def suppressed(constraint: Plan) -> list[list[str]]:
        asked_in.append(threading.current_thread().name)
        return masks[constraint.key]

    engine.suppressed = suppressed
    mixed = Batcher(window=2.0, mix_constraints=True)
    gen = BatchingGenerator(engine, mixed)
    threads = [
        threading.Thread(target=gen.generate, args=(PROMPTS[i % 4],), kwargs={"max_new_tokens": 4, "constraint": c})
        for i, c in enumerate(plans[1:4])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert mixed.batches == [3]
    # Each mask is made in its caller's thread: the one decode thread of every batch never scans the vocabulary.
    assert len(asked_in) == 3 and "persona-rag-batcher" not in asked_in
    reqs = [_Request([], [], 4, c) for c in (Plan("a"), Plan("b"), Plan("a"))]
    assert common_suppression(engine, reqs) == [["y"]]
    assert common_suppression(engine, [*reqs, _Request([], [], 4, None)]) is None


@pytest.mark.slow
def test_real_smollm_decodes_concurrent_answers_in_one_batch(real_home: Path) -> None:
    from persona_rag.backends.batching import Batcher, BatchingGenerator
    from persona_rag.backends.ct2 import CT2Generator
    from persona_rag.backends.engine import load_generator

    engine = load_generator(load_settings(home=real_home, embed_model="hash"), quiet=True)
    assert isinstance(engine, CT2Generator)
    alone = [engine.generate(p, max_new_tokens=24) for p in PROMPTS]
    batcher = Batcher(window=1.0)
    gen = BatchingGenerator(engine, batcher)
    got: dict[int, str] = {}
    threads = [
        threading.Thread(target=lambda i=i: got.__setitem__(i, gen.generate(PROMPTS[i], max_new_tokens=24)))
        for i in range(len(PROMPTS))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert batcher.batches == [len(PROMPTS)]
    assert all(got[i].strip() for i in range(len(PROMPTS)))
    # int8 over a padded batch moves near ties, so whole answers often differ from lone ones (measured here: 1 of 4
    # the same over 24 tokens; the README reports it). The answers still start as the lone ones do.
    first = sum(got[i].split()[:1] == alone[i].split()[:1] for i in range(len(PROMPTS)))
    assert first >= len(PROMPTS) - 1, [(alone[i], got[i]) for i in range(len(PROMPTS))]


def test_the_engine_makes_each_constraints_mask_once(
    tiny: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan's mask is a scan of the vocabulary: its regenerations and every batch it joins reuse it."""
    import persona_rag.backends.constraint as constraint_mod
    from persona_rag.backends.constraint import Constraint
    from persona_rag.backends.engine import load_generator

    engine = load_generator(settings.with_overrides(model=str(tiny)), quiet=True)
    scans: list[str] = []
    real = constraint_mod.masked_ids
    monkeypatch.setattr(constraint_mod, "masked_ids", lambda c, starts: scans.append(c.key) or real(c, starts))
    c = Constraint.build(["Harry lulled Fluffy to sleep with a flute from Hagrid."])
    first = engine.suppressed(c)
    assert (
        first
        and engine.suppressed(Constraint.build(["Harry lulled Fluffy to sleep with a flute from Hagrid."])) is first
    )
    banned = engine.suppressed(c.ban("planet"))  # a regeneration's ban is another constraint
    assert len(scans) == 2 and len(banned) > len(first)
