"""Pick the decode engine for a local chat model: CTranslate2 int8 on CPU, transformers otherwise.

``load_generator`` is what the graphs, the evaluation, the annotator and the CLI call.
The transformers path stays for training, GPUs, models CTranslate2 cannot convert,
and as the reference the engine benchmark compares against.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persona_rag.settings import Settings


def load_generator(settings: Settings, adapter: Path | None = None, *, quiet: bool = False) -> Any:
    """A generator for the configured local chat model plus ``adapter`` (a LoRA folder, or None)."""
    from persona_rag.models import choose_engine

    engine, _ = choose_engine(settings)
    if engine == "ctranslate2":
        from persona_rag.backends.convert import EngineUnavailable, prepare
        from persona_rag.models import require_chat_model

        resolved = require_chat_model(settings)
        try:
            folder = prepare(settings, adapter, quiet=quiet)
        except EngineUnavailable as exc:
            print(f"persona-rag: notice: {exc}; using transformers instead (slower)", file=sys.stderr, flush=True)
        else:
            from persona_rag.backends.ct2 import CT2Generator

            return CT2Generator.load(folder, resolved.name, adapter, threads=settings.engine_threads)
    from persona_rag.backends.hf import TransformersGenerator

    return TransformersGenerator.load(settings, adapter, quiet=quiet)


def default_generator(
    settings: Settings,
    universe: str,
    persona: str,
    *,
    adapter: str | Path | None = "auto",
    openai_url: str | None = None,
    openai_model: str | None = None,
    quiet: bool = False,
) -> Any:
    """The generator a persona graph gets when none is given: an OpenAI-compatible endpoint when a URL is set,
    else the local model with the persona's adapter (see :func:`resolve_adapter`)."""
    if openai_url:
        from persona_rag.backends.openai_compat import OpenAICompatGenerator
        from persona_rag.errors import UsageError

        if not openai_model:
            raise UsageError("--openai-url needs --openai-model (the model name at that endpoint)")
        return OpenAICompatGenerator(openai_url, openai_model)
    from persona_rag.backends.adapters import resolve_adapter

    return load_generator(settings, resolve_adapter(settings, universe, persona, adapter), quiet=quiet)
