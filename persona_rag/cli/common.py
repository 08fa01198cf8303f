"""What every command shares: settings from flags, the common flags, JSON output."""

from __future__ import annotations

import argparse
import json
from typing import Any

from persona_rag.errors import UsageError
from persona_rag.settings import Settings, load_settings


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings for one command: flags over environment variables over defaults."""
    return load_settings(
        home=getattr(args, "home", None),
        model=getattr(args, "model", None),
        embed_model=getattr(args, "embed_model", None),
        corpus=getattr(args, "universe", None),
        device=getattr(args, "device", None),
        chroma_url=getattr(args, "chroma_url", None),
    )


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def add_common(p: argparse.ArgumentParser, model: bool = False, memory: bool = False) -> None:
    p.add_argument("--home", help="home folder (env PERSONA_RAG_HOME)")
    p.add_argument("--universe", help="shipped corpus name or corpus folder (env PERSONA_RAG_CORPUS)")
    if model:
        p.add_argument("--model", help="chat model: default, local folder or Hugging Face id (env PERSONA_RAG_MODEL)")
        p.add_argument("--device", help="torch device (env PERSONA_RAG_DEVICE)")
    if memory or model:
        p.add_argument("--embed-model", help="embedding model (env PERSONA_RAG_EMBED_MODEL)")
        p.add_argument("--chroma-url", help="Chroma server URL (env PERSONA_RAG_CHROMA_URL)")


def add_openai_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--openai-url", help="use an OpenAI-compatible endpoint (vLLM, Ollama, ...) instead of the local model"
    )
    p.add_argument("--openai-model", help="model name at that endpoint")


def openai_generator(url: str | None, model: str | None) -> Any:
    """An OpenAI-compatible generator for ``--openai-url``, or None when no URL is given."""
    if not url:
        return None
    from persona_rag.backends.openai_compat import OpenAICompatGenerator

    if not model:
        raise UsageError("--openai-url needs --openai-model (the model name at that endpoint)")
    return OpenAICompatGenerator(url, model)


def open_memory_for(args: argparse.Namespace) -> tuple[Any, Any]:
    """The memory and the universe a command works on."""
    from persona_rag.corpus import load_universe
    from persona_rag.memory.store import open_memory

    settings = settings_from(args)
    uni = load_universe(settings.corpus)
    return open_memory(settings, uni), uni
