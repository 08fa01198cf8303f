"""Settings in one place.

Every value has a default, an environment variable, and usually a CLI flag.
Nothing here is read at import time: call :func:`load_settings` (the CLI does it
once per command, library users may build :class:`Settings` themselves).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


def _default_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "persona-rag"


# 3 facts in 192 tokens: the same prompt shape fits the quick training recipe on a 2-core CPU, so a tuned
# persona sees at inference exactly what it learned from (finetune.data builds its prompts with these).
DEFAULT_TOP_K = 3
DEFAULT_CONTEXT_TOKENS = 192


@dataclass(frozen=True)
class Settings:
    """Run-time settings. Field metadata holds the env var and the help text."""

    home: Path = field(
        default_factory=_default_home,
        metadata={"env": "PERSONA_RAG_HOME", "help": "folder for models, memory, adapters and reports"},
    )
    model: str = field(
        default="smollm2-135m",
        metadata={
            "env": "PERSONA_RAG_MODEL",
            "help": "chat model: 'smollm2-135m' (offline default), a local folder, or a Hugging Face id",
        },
    )
    embed_model: str = field(
        default="all-minilm-l6-v2",
        metadata={
            "env": "PERSONA_RAG_EMBED_MODEL",
            "help": "embedding model: 'all-minilm-l6-v2' (offline default), a local folder, or a Hugging Face id",
        },
    )
    device: str = field(default="cpu", metadata={"env": "PERSONA_RAG_DEVICE", "help": "torch device: cpu, cuda, mps"})
    engine: str = field(
        default="auto",
        metadata={
            "env": "PERSONA_RAG_ENGINE",
            "help": "decode engine for local models: auto (CTranslate2 int8 on CPU, transformers on a GPU), "
            "ctranslate2, transformers",
        },
    )
    engine_threads: int = field(
        default=1,
        metadata={
            "env": "PERSONA_RAG_ENGINE_THREADS",
            "help": "CPU threads of the CTranslate2 engine (1 measured fastest for small models on 2 cores)",
        },
    )
    corpus: str = field(
        default="harry_potter",
        metadata={"env": "PERSONA_RAG_CORPUS", "help": "universe: a shipped corpus name or a corpus folder"},
    )
    chroma_url: str = field(
        default="",
        metadata={"env": "PERSONA_RAG_CHROMA_URL", "help": "Chroma server URL (chroma run); empty = embedded store"},
    )
    top_k: int = field(
        default=DEFAULT_TOP_K, metadata={"env": "PERSONA_RAG_TOP_K", "help": "passages retrieved per question"}
    )
    context_tokens: int = field(
        default=DEFAULT_CONTEXT_TOKENS,
        metadata={"env": "PERSONA_RAG_CONTEXT_TOKENS", "help": "token budget for retrieved facts"},
    )
    max_new_tokens: int = field(
        default=72, metadata={"env": "PERSONA_RAG_MAX_NEW_TOKENS", "help": "longest answer, in tokens"}
    )
    retries: int = field(
        default=0,
        metadata={
            "env": "PERSONA_RAG_RETRIES",
            "help": "new drafts when the review rejects one (each costs a whole generation; 0: the rewrite answers)",
        },
    )
    max_question_words: int = field(
        default=300, metadata={"env": "PERSONA_RAG_MAX_QUESTION_WORDS", "help": "longer questions are truncated"}
    )
    grounding_score: float = field(
        default=0.45,
        metadata={
            "env": "PERSONA_RAG_GROUNDING_SCORE",
            "help": "a retrieved fact this similar to the question must be reflected in the answer",
        },
    )
    answer_plan: bool = field(
        default=True,
        metadata={
            "env": "PERSONA_RAG_ANSWER_PLAN",
            "help": "answer from one chosen memory, with content words kept to it (off: the top passages as they are)",
        },
    )
    allow_downloads: bool = field(
        default=False,
        metadata={
            "env": "PERSONA_RAG_ALLOW_DOWNLOADS",
            "help": "let Hugging Face ids download from the hub (off: offline only)",
        },
    )

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def memory_dir(self) -> Path:
        return self.home / "memory"

    @property
    def adapters_dir(self) -> Path:
        return self.home / "adapters"

    def with_overrides(self, **values: Any) -> Settings:
        """Return a copy with the non-None values replaced (CLI flags)."""
        clean = {k: v for k, v in values.items() if v is not None}
        if "home" in clean:
            clean["home"] = Path(clean["home"]).expanduser()
        return replace(self, **clean)


def _parse(kind: Any, raw: str) -> Any:
    if kind in (bool, "bool"):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (Path, "Path"):
        return Path(raw).expanduser()
    return raw


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then environment variables, then explicit overrides (flags)."""
    from persona_rag.errors import UsageError

    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        name = f.metadata.get("env")
        if name and env.get(name, "") != "":
            try:
                values[f.name] = _parse(f.type, env[name])
            except ValueError:
                raise UsageError(f"{name}={env[name]!r} is not a valid {f.type}") from None
    settings = Settings(**values).with_overrides(**overrides)
    if settings.retries < 0:
        raise UsageError(f"PERSONA_RAG_RETRIES={settings.retries} is negative; use 0 (no second draft) or more")
    return settings


def describe_settings() -> list[tuple[str, str, str]]:
    """(field, env var, help) for docs and `persona-rag --help`."""
    return [(f.name, f.metadata.get("env", ""), f.metadata.get("help", "")) for f in fields(Settings)]
