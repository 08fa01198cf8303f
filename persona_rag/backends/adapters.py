"""LoRA adapters at inference: apply the stack (SFT under DPO) and merge it into the weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_adapter_stack(model: Any, adapter: Path) -> Any:
    """Apply an adapter (and the SFT adapter under a DPO one) and merge it into the weights."""
    from peft import PeftModel

    meta_path = adapter / "persona_rag.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    for rel in meta.get("stack", [])[:-1]:
        model = PeftModel.from_pretrained(model, str((adapter / rel).resolve())).merge_and_unload()
    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
