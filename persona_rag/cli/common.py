"""What every command shares: settings from flags, the common flags, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any

from persona_rag.errors import UsageError
from persona_rag.settings import Settings, load_settings


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings for one command: flags over environment variables over defaults."""
    settings = load_settings(
        home=getattr(args, "home", None),
        model=getattr(args, "model", None),
        embed_model=getattr(args, "embed_model", None),
        corpus=getattr(args, "universe", None),
        device=getattr(args, "device", None),
        chroma_url=getattr(args, "chroma_url", None),
    )
    check_device(settings.device)
    if settings.home.exists() and not settings.home.is_dir():
        raise UsageError(f"the home {settings.home} is a file, not a folder (--home or PERSONA_RAG_HOME)")
    # A user universe is found by name under *this* home (`--home` included), not only the environment's.
    from persona_rag.paths import user_universes_dir

    mine = user_universes_dir(settings) / settings.corpus
    if "/" not in settings.corpus and (mine / "universe.yaml").is_file():
        settings = settings.with_overrides(corpus=str(mine))
    return settings


DEVICE_PATTERN = re.compile(r"(cpu|cuda(:\d+)?|mps|xpu(:\d+)?)")


def check_device(device: str) -> None:
    """A one-line error for a device that is misspelt or absent, before any model loads."""
    if device == "cpu":
        return
    if not DEVICE_PATTERN.fullmatch(device):
        raise UsageError(
            f"unknown device {device!r}; valid: cpu, cuda, cuda:N, mps, xpu (--device or PERSONA_RAG_DEVICE)"
        )
    import torch

    kind, _, index = device.partition(":")
    backend = getattr(torch, kind, None)
    if kind == "mps":
        available, count = torch.backends.mps.is_available(), 1
    else:
        available = bool(backend is not None and backend.is_available())
        count = backend.device_count() if available else 0  # type: ignore[union-attr]
    if not available:
        raise UsageError(f"device {device!r} is not available on this machine; use --device cpu")
    if index and int(index) >= count:
        raise UsageError(f"device {device!r} does not exist: this machine has {count} {kind} device(s)")


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def add_common(p: argparse.ArgumentParser, model: bool = False, memory: bool = False, universe: bool = True) -> None:
    """The shared flags. ``universe=False`` for commands that work on no single universe (they would ignore it)."""
    p.add_argument("--home", help="home folder (env PERSONA_RAG_HOME)")
    if universe:
        p.add_argument("--universe", help="shipped corpus name or corpus folder (env PERSONA_RAG_CORPUS)")
    if model:
        p.add_argument("--model", help="chat model: default, local folder or Hugging Face id (env PERSONA_RAG_MODEL)")
        p.add_argument("--device", help="torch device (env PERSONA_RAG_DEVICE)")
    if memory or model:
        p.add_argument("--embed-model", help="embedding model (env PERSONA_RAG_EMBED_MODEL)")
        p.add_argument("--chroma-url", help="Chroma server URL (env PERSONA_RAG_CHROMA_URL)")


def add_openai_flags(p: argparse.ArgumentParser, prefix: str = "openai", what: str = "", timeout: bool = True) -> None:
    """``--openai-url``, ``--openai-model``, ``--openai-api-key``, ``--openai-timeout`` (or ``--judge-...``)."""
    what = what or "use an OpenAI-compatible endpoint (vLLM, Ollama, ...) instead of the local model"
    p.add_argument(f"--{prefix}-url", help=what)
    p.add_argument(f"--{prefix}-model", help="model name at that endpoint")
    p.add_argument(f"--{prefix}-api-key", help="API key for that endpoint (env OPENAI_API_KEY)")
    if not timeout:
        return
    p.add_argument(
        f"--{prefix}-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the endpoint, also between streamed tokens (default 120)",
    )


def openai_generator(
    url: str | None, model: str | None, api_key: str | None = None, timeout: float = 120.0, flag: str = "openai"
) -> Any:
    """An OpenAI-compatible generator for ``--openai-url``, or None when no URL is given.

    ``api_key`` None means the usual OPENAI_API_KEY environment variable."""
    if not url:
        return None
    from persona_rag.backends.openai_compat import OpenAICompatGenerator

    if not model:
        raise UsageError(f"--{flag}-url needs --{flag}-model (the model name at that endpoint)")
    if timeout <= 0:
        raise UsageError(f"--{flag}-timeout must be a positive number of seconds")
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
    return OpenAICompatGenerator(url, model, api_key=key, timeout=timeout)


def generator_from_args(args: argparse.Namespace, prefix: str = "openai") -> Any:
    """The endpoint generator the ``--{prefix}-*`` flags describe (None without a URL); refuses flags that
    would be ignored."""
    url = getattr(args, f"{prefix}_url", None)
    if not url:
        for flag in ("model", "api_key"):
            if getattr(args, f"{prefix}_{flag}", None):
                raise UsageError(f"--{prefix}-{flag.replace('_', '-')} needs --{prefix}-url")
        return None
    if getattr(args, "adapter", None) not in (None, "", "none"):
        raise UsageError(
            "--adapter applies to the local model; an OpenAI-compatible endpoint serves its own weights "
            f"(load the adapter in that server, or drop --{prefix}-url)"
        )
    return openai_generator(
        url,
        getattr(args, f"{prefix}_model", None),
        getattr(args, f"{prefix}_api_key", None),
        120.0 if getattr(args, f"{prefix}_timeout", None) is None else getattr(args, f"{prefix}_timeout"),
        prefix,
    )


def open_memory_for(args: argparse.Namespace) -> tuple[Any, Any]:
    """The memory and the universe a command works on."""
    from persona_rag.corpus import load_universe
    from persona_rag.memory.store import open_memory

    settings = settings_from(args)
    uni = load_universe(settings.corpus)
    return open_memory(settings, uni), uni
