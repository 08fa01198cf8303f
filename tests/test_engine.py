"""The fast decode engine (CTranslate2 int8): conversion once per base + adapter, streaming, fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona_rag.settings import Settings
from tests.tiny_model import build_tiny_model

pytest.importorskip("ctranslate2")

MESSAGES = [
    {"role": "system", "content": "You are Harry Potter, a boy in his first year at a school of magic. " * 3},
    {"role": "user", "content": "Who is your best friend at school?"},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [m["content"] for m in MESSAGES] * 20 + ["Ron Weasley is my best friend, and Hermione too."] * 20
    return build_tiny_model(tmp_path_factory.mktemp("tiny-ct2") / "model", texts)


def _adapter(base: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter with non-zero weights (as after training) for the tiny model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(base)),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(str(out))
    return out


def _conversions(settings: Settings) -> list[Path]:
    folder = settings.models_dir / "ct2"
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def test_tiny_model_runs_on_the_fast_engine_and_streams(
    tiny: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from transformers import AutoTokenizer

    from persona_rag.backends.ct2 import CT2Generator
    from persona_rag.backends.engine import load_generator

    s = settings.with_overrides(model=str(tiny))
    gen = load_generator(s)
    assert isinstance(gen, CT2Generator) and gen.engine == "ctranslate2"
    assert "preparing the fast engine" in capsys.readouterr().err  # told the first time
    # The prompt is exactly what transformers' chat template gives, split at the system message.
    static, rest = gen.prompt(MESSAGES)
    hf = AutoTokenizer.from_pretrained(str(tiny))
    ids = hf.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    want = hf.convert_ids_to_tokens(ids)
    assert static and static + rest == list(want)
    pieces: list[str] = []
    text = gen.generate(MESSAGES, max_new_tokens=12, on_token=pieces.append)
    assert text and "".join(pieces).strip() == text
    assert gen.generate(MESSAGES, max_new_tokens=12) == text  # greedy, and the cached prefix changes nothing
    assert gen.count_tokens("Ron Weasley") == len(hf("Ron Weasley", add_special_tokens=False)["input_ids"])
    # A second process start reuses the conversion: no message, no new folder.
    again = load_generator(s)
    assert isinstance(again, CT2Generator)
    assert "preparing" not in capsys.readouterr().err
    assert len(_conversions(s)) == 1


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_both_local_engines_stop_when_the_caller_says_so(tiny: Path, settings: Settings, engine: str) -> None:
    from persona_rag.backends.base import StopGeneration
    from persona_rag.backends.engine import load_generator

    gen = load_generator(settings.with_overrides(model=str(tiny), engine=engine), quiet=True)
    assert gen.engine == engine
    full = gen.generate(MESSAGES, max_new_tokens=24)
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        if len("".join(pieces).split()) >= 2:
            raise StopGeneration

    cut = gen.generate(MESSAGES, max_new_tokens=24, on_token=on_token)
    assert cut == "".join(pieces).strip() and len(cut.split()) == 2
    assert full.startswith(cut) and len(full) > len(cut)


def test_adapter_is_converted_once_and_again_when_retrained(tiny: Path, settings: Settings, tmp_path: Path) -> None:
    from persona_rag.backends.convert import prepare

    s = settings.with_overrides(model=str(tiny))
    adapter = _adapter(tiny, tmp_path / "adapter", seed=1)
    base = prepare(s, None, quiet=True)
    first = prepare(s, adapter, quiet=True)
    assert first != base
    assert prepare(s, adapter, quiet=True) == first  # unchanged adapter: no reconversion
    assert len(_conversions(s)) == 2
    _adapter(tiny, adapter, seed=2)  # retrained in place
    second = prepare(s, adapter, quiet=True)
    assert second not in (first, base) and len(_conversions(s)) == 3
    # The merged weights differ from the base: the adapter is in the converted model.
    assert (first / "model.bin").read_bytes() != (base / "model.bin").read_bytes()
    assert not [p for p in (s.models_dir / "ct2").iterdir() if p.name.startswith(".convert-")]  # no leftovers


def test_a_model_the_engine_cannot_convert_falls_back_with_a_notice(
    tiny: Path, settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctranslate2.converters import TransformersConverter

    from persona_rag.backends.engine import load_generator
    from persona_rag.backends.hf import TransformersGenerator

    def refuse(self: object, *args: object, **kwargs: object) -> str:
        raise NotImplementedError("No conversion is registered for the model configuration TinyConfig")

    monkeypatch.setattr(TransformersConverter, "convert", refuse)
    s = settings.with_overrides(model=str(tiny))
    gen = load_generator(s, quiet=True)
    assert isinstance(gen, TransformersGenerator)
    err = capsys.readouterr().err
    assert "notice" in err and "cannot convert" in err and "using transformers" in err
    assert _conversions(s) == []  # an interrupted or failed conversion never looks complete


def test_engine_setting_and_models_command(tiny: Path, settings: Settings) -> None:
    from persona_rag.backends.engine import load_generator
    from persona_rag.backends.hf import TransformersGenerator
    from persona_rag.errors import UsageError
    from persona_rag.models import choose_engine
    from persona_rag.settings import load_settings

    assert choose_engine(settings)[0] == "ctranslate2"  # auto on CPU
    assert choose_engine(settings.with_overrides(device="cuda"))[0] == "transformers"
    assert load_settings({"PERSONA_RAG_ENGINE": "transformers"}).engine == "transformers"
    with pytest.raises(UsageError, match="valid: auto, ctranslate2, transformers"):
        choose_engine(settings.with_overrides(engine="llamacpp"))
    gen = load_generator(settings.with_overrides(model=str(tiny), engine="transformers"), quiet=True)
    assert isinstance(gen, TransformersGenerator)


def test_models_command_names_the_engine(tmp_path: Path) -> None:
    from tests.conftest import run

    out = run("models", home=tmp_path / "h")
    assert "engine: ctranslate2" in out.stdout
    out = run("models", home=tmp_path / "h", env={"PERSONA_RAG_EMBED_MODEL": "all-minilm-l6-v2"})
    assert "questions embedded in numpy" in out.stdout  # the default MiniLM: no torch at question time
    out = run("models", home=tmp_path / "h", env={"PERSONA_RAG_ENGINE": "transformers"})
    assert "engine: transformers" in out.stdout


@pytest.mark.slow
def test_real_smollm_answers_an_ask_through_the_fast_engine(real_home: Path, hp_memory: object) -> None:
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.ct2 import CT2Generator
    from persona_rag.settings import load_settings

    s = load_settings(home=real_home, embed_model="hash")
    graph = PersonaGraph.from_persona("harry", settings=s, memory=hp_memory, adapter=None, quiet=True)
    assert isinstance(graph.context.generator, CT2Generator)
    out = graph.invoke({"question": "Who is your best friend at Hogwarts?", "stage": "year 1"})
    assert out["answer"].strip() and out["answered_by"]
