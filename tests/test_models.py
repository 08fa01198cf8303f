"""Model resolution and the offline default models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from persona_rag.errors import ModelError
from persona_rag.models import (
    converted_dir,
    load_chat_model,
    resolve_chat_model,
    resolve_embed_model,
)
from persona_rag.offline import configure_offline, tiktoken_cache_dir
from persona_rag.settings import load_settings


def test_defaults_come_from_pypi_packages(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path)
    chat = resolve_chat_model(s)
    assert chat.ready and chat.source == "package" and chat.path is not None and chat.path.suffix == ".gguf"
    emb = resolve_embed_model(s)
    assert emb.ready and emb.path is not None and (emb.path / "config.json").is_file()


def test_env_vars_and_flags_override_the_models(tmp_path: Path) -> None:
    env = {"PERSONA_RAG_MODEL": str(tmp_path), "PERSONA_RAG_EMBED_MODEL": "org/some-embedder", "PERSONA_RAG_TOP_K": "9"}
    s = load_settings(environ=env)
    assert s.model == str(tmp_path) and s.top_k == 9
    assert load_settings(environ=env, model="smollm2-135m").model == "smollm2-135m"  # a flag wins


@pytest.mark.parametrize("name", ["/nonexistent", "llama", "./nope"])
def test_missing_or_wrong_models_raise_one_line_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelError) as err:
        load_chat_model(load_settings(home=tmp_path, model=name))
    assert "\n" not in str(err.value)


def test_hub_ids_are_not_downloaded_by_default(tmp_path: Path) -> None:
    r = resolve_chat_model(load_settings(home=tmp_path, model="someorg/not-cached-model"))
    assert r.source == "hub" and not r.ready and "PERSONA_RAG_ALLOW_DOWNLOADS" in r.detail


def test_incomplete_cache_is_not_used(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path)
    broken = converted_dir(s)
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")  # an interrupted copy: no weights
    assert resolve_chat_model(s).source == "package"


def test_offline_mode_and_tiktoken_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("HF_HUB_OFFLINE", "TIKTOKEN_CACHE_DIR"):
        monkeypatch.delenv(key, raising=False)
    configure_offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    cache = tiktoken_cache_dir()
    assert cache is not None and os.environ["TIKTOKEN_CACHE_DIR"] == str(cache)
    import tiktoken

    assert len(tiktoken.get_encoding("cl100k_base").encode("Hogwarts")) > 0


def test_import_layout_installs_no_generic_packages(tmp_path: Path) -> None:
    code = "import persona_rag.memory, persona_rag.graphs, persona_rag.finetune\ntry:\n import memory\nexcept ImportError:\n print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.slow
def test_default_model_converts_once_and_generates(real_home: Path) -> None:
    s = load_settings(home=real_home)
    model, tok, resolved = load_chat_model(s, quiet=True)
    assert resolved.source == "cache" and (converted_dir(s) / "model.safetensors").is_file()
    assert getattr(model, "hf_quantizer", None) is None  # trainable and saveable: no GGUF quantizer left
    assert not [p for p in converted_dir(s).parent.iterdir() if p.name.startswith(".convert-")]
    assert resolve_chat_model(s).source == "cache"
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Say hello."}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert tok.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    info = json.loads((converted_dir(s) / "config.json").read_text())
    assert "quantization_config" not in info
