"""LoRA adapters at inference: apply the stack (SFT under DPO) and merge it into the weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_rag.errors import UsageError
from persona_rag.paths import find_adapter

if TYPE_CHECKING:
    from persona_rag.settings import Settings


def load_adapter_stack(model: Any, adapter: Path) -> Any:
    """Apply an adapter (and the SFT adapter under a DPO one) and merge it into the weights."""
    from peft import PeftModel

    meta_path = adapter / "persona_rag.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    for rel in meta.get("stack", [])[:-1]:
        model = PeftModel.from_pretrained(model, str((adapter / rel).resolve())).merge_and_unload()
    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()


def resolve_adapter(settings: Settings, universe: str, persona: str, adapter: str | Path | None) -> Path | None:
    """``adapter`` as users give it: 'auto' (the persona's trained one, if any), None/'none' (the base model),
    or a folder, which must hold a LoRA adapter."""
    if adapter in (None, "none", ""):
        return None
    if adapter == "auto":
        return find_adapter(settings, universe, persona)
    path = Path(str(adapter)).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise UsageError(f"no LoRA adapter at {path} (adapter_config.json missing)")
    return path
