"""Prepare a chat model for CTranslate2: merge the persona's LoRA stack, convert to int8, once; or export the
dense base model and each persona's stack as one LoRA for vLLM (:func:`export_for_vllm`).

The result is cached under ``$PERSONA_RAG_HOME/models/ct2/<key>``, where the key
hashes the base model folder (file names, sizes and modification times: the
weights are hundreds of MB and are never edited in place) and the adapter files
(their content: a retrained adapter is a new conversion, an unchanged one is
none). A conversion is written to a temporary folder and renamed into place, so
an interrupted one never looks complete.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_rag.errors import PersonaRagError, UsageError
from persona_rag.paths import install_folder

if TYPE_CHECKING:
    from persona_rag.models import ResolvedModel
    from persona_rag.settings import Settings

QUANTIZATION = "int8"
FORMAT = "ct2-int8-v1"  # bump when the conversion itself changes
META = "persona_rag_engine.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


class EngineUnavailable(PersonaRagError):
    """CTranslate2 is missing or cannot convert this model: the caller falls back to transformers."""


def engine_installed() -> bool:
    return importlib.util.find_spec("ctranslate2") is not None


def cache_key(base: ResolvedModel, adapter: Path | None) -> str:
    h = hashlib.sha256(FORMAT.encode())
    h.update(f"|{base.name}|{base.source}".encode())
    if base.path is not None and base.path.is_dir():
        for f in sorted(p for p in base.path.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"|{f.relative_to(base.path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    elif base.path is not None:
        h.update(str(base.path).encode())
    if adapter is not None:
        from persona_rag.backends.adapters import stack_folders

        for folder in stack_folders(adapter):
            for f in sorted(p for p in folder.iterdir() if p.is_file()):
                h.update(f"|{f.name}:".encode())
                h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:20]


def is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("model.bin", "config.json", "tokenizer.json", META))


def engine_dir(settings: Settings) -> Path:
    return settings.models_dir / "ct2"


def dense_base(settings: Settings, quiet: bool) -> ResolvedModel:
    """The chat model as a dense transformers model: the packaged GGUF's converted folder, or the model itself."""
    from persona_rag.models import DEFAULT_CHAT, ResolvedModel, convert_smollm, require_chat_model

    resolved = require_chat_model(settings)
    if resolved.source == "package":  # the packaged GGUF: its safetensors folder first (once)
        resolved = ResolvedModel(DEFAULT_CHAT, "chat", "cache", convert_smollm(settings, quiet=quiet), True)
    return resolved


def cached_conversion(settings: Settings, adapter: Path | None = None) -> Path | None:
    """The converted folder for the current base model and ``adapter`` if it exists (no work done)."""
    from persona_rag.models import resolve_chat_model

    resolved = resolve_chat_model(settings)
    if not resolved.ready or resolved.source == "package":
        return None
    target = engine_dir(settings) / cache_key(resolved, adapter)
    return target if is_complete(target) else None


def prepare(settings: Settings, adapter: Path | None = None, *, quiet: bool = False) -> Path:
    """The CTranslate2 folder for the chat model plus ``adapter``, converting it the first time.

    Raises :class:`EngineUnavailable` when CTranslate2 is not installed or cannot convert the model.
    """
    if not engine_installed():
        raise EngineUnavailable("CTranslate2 is not installed (pip install ctranslate2)")
    base = dense_base(settings, quiet)
    target = engine_dir(settings) / cache_key(base, adapter)
    if is_complete(target):
        return target
    what = base.name + (f" + adapter {adapter}" if adapter is not None else "")
    if not quiet:
        step = "merging the adapter and converting" if adapter is not None else "converting"
        print(
            f"persona-rag: preparing the fast engine for {what}: {step} to int8 (once, about 10-30 s) ...",
            file=sys.stderr,
            flush=True,
        )
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        source = base.load_target
        if adapter is not None:
            source = str(_merge(settings, adapter, tmp / "merged"))
        out = tmp / "model"
        _convert(source, out)
        (out / META).write_text(
            json.dumps({"format": FORMAT, "base": base.name, "adapter": str(adapter) if adapter else None})
        )
        if not is_complete(out):
            raise EngineUnavailable(f"the conversion of {what} produced an incomplete folder")
        install_folder(out, target, is_complete)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(
            f"persona-rag: fast engine ready in {time.perf_counter() - started:.0f} s ({target})",
            file=sys.stderr,
            flush=True,
        )
    return target


def _merge(settings: Settings, adapter: Path, out: Path) -> Path:
    """Base + LoRA stack merged into plain weights, saved with its tokenizer."""
    from persona_rag.backends.adapters import load_adapter_stack
    from persona_rag.models import load_chat_model

    model, tokenizer, _ = load_chat_model(settings.with_overrides(device="cpu"), quiet=True)
    try:
        model = load_adapter_stack(model, adapter)
    except (OSError, ValueError, KeyError) as exc:
        raise EngineUnavailable(f"cannot merge adapter {adapter}: {exc}") from exc
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def _convert(source: str, out: Path) -> None:
    from ctranslate2.converters import TransformersConverter

    from persona_rag.offline import configure_offline

    configure_offline()
    folder = Path(source)
    copy = [name for name in TOKENIZER_FILES if (folder / name).is_file()]
    if "tokenizer.json" not in copy:
        raise EngineUnavailable(f"{source} has no tokenizer.json (a fast tokenizer is needed)")
    try:
        TransformersConverter(source, copy_files=copy).convert(str(out), quantization=QUANTIZATION, force=True)
    except (ValueError, NotImplementedError, KeyError, OSError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise EngineUnavailable(f"CTranslate2 cannot convert {source}: {first}") from exc


# ----------------------------------------------------------------------------- the hand-off to vLLM


def _link_or_copy(source: Path, target: Path) -> None:
    """The base model's files, hard-linked when the home and DIR share a disk (no copy of hundreds of MB)."""
    import os
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for f in sorted(source.iterdir()):
        dest = target / f.name
        if f.is_dir() or dest.exists():
            continue
        try:
            os.link(f, dest)
        except OSError:
            shutil.copy2(f, dest)


EXPORT_MARK = "persona_rag_export.json"


def export_for_vllm(settings: Settings, out: Path, universe: str | None = None) -> dict[str, Any]:
    """``persona-rag adapters export DIR``: DIR/base (the dense base model) and DIR/loras/<universe>-<persona>
    (each tuned persona's whole stack as one LoRA); returns what was written and the rank vLLM needs."""
    from persona_rag.backends.adapters import combine_stack, lora_name, tuned_personas, vllm_rank

    out = out.expanduser()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / EXPORT_MARK).is_file())):
        raise UsageError(f"{out} exists and is not an earlier export; give an empty or new folder")
    base = dense_base(settings, quiet=False)
    source = Path(base.load_target)
    if not source.is_dir():
        raise UsageError(
            f"the base model {base.name} is not a local folder ({base.load_target}); vLLM can load it by that name: "
            "export needs a local model to copy"
        )
    _link_or_copy(source, out / "base")
    loras: list[dict[str, Any]] = []
    ranks: list[int] = []
    for uni, persona, adapter in tuned_personas(settings, universe):
        name = lora_name(uni, persona)
        folder = out / "loras" / name
        rank = combine_stack(adapter, folder, str((out / "base").resolve()))
        loras.append({"name": name, "path": str(folder), "rank": rank, "from": str(adapter)})
        ranks.append(rank)
    report = {
        "base": str(out / "base"),
        "base_name": base.name,
        "loras": loras,
        "max_lora_rank": vllm_rank(max(ranks)) if ranks else None,
    }
    (out / EXPORT_MARK).write_text(json.dumps(report, indent=2))
    return report
