"""Every on-disk location under the home folder, defined once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from persona_rag.settings import Settings


def adapter_root(settings: Settings, universe: str, persona: str) -> Path:
    """``adapters/<universe>/<persona>``: holds ``sft/`` and ``dpo/``."""
    return settings.adapters_dir / universe / persona


def data_dir(settings: Settings, universe: str, persona: str) -> Path:
    """Built SFT/DPO datasets and their manifest."""
    return settings.home / "data" / universe / persona


def eval_dir(settings: Settings, universe: str, persona: str) -> Path:
    """Evaluation reports, charts and the answer cache."""
    return settings.home / "eval" / universe / persona


def find_adapter(settings: Settings, universe: str, persona: str) -> Path | None:
    """The persona's trained LoRA adapter: DPO if there, else SFT."""
    base = adapter_root(settings, universe, persona)
    for step in ("dpo", "sft"):
        if (base / step / "adapter_config.json").is_file():
            return base / step
        # A save killed between its two renames leaves the previous adapter here (finetune.train.save_adapter).
        if (base / f".{step}.old" / "adapter_config.json").is_file():
            return base / f".{step}.old"
    return None


def threads_db(settings: Settings) -> Path:
    """Named chat threads (LangGraph's SQLite checkpointer)."""
    return settings.home / "threads.sqlite"


def user_universes_dir(settings: Settings) -> Path:
    """Universes built from a user's own text or imported cards."""
    return settings.home / "universes"


def build_work_dir(settings: Settings, universe: str) -> Path:
    """What `corpus build` keeps between runs of one universe: the first pass and the LLM cache."""
    return settings.home / "builds" / universe


def install_folder(built: Path, target: Path, is_complete: Callable[[Path], bool]) -> None:
    """Move a folder built aside into place with one rename, so a reader never sees half of it. A complete
    folder already there (a concurrent winner) is kept; a broken leftover is replaced."""
    try:
        os.rename(built, target)
    except OSError:
        if not is_complete(target):
            shutil.rmtree(target, ignore_errors=True)
            os.rename(built, target)
