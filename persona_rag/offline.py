"""Keep every library off the network unless the user asked for downloads.

Called by the code paths that load models or tokenizers (not at import time).
"""

from __future__ import annotations

import os
from pathlib import Path


def tiktoken_cache_dir() -> Path | None:
    """The BPE cache that llama-index-core ships, so tiktoken never downloads."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    return path if path.is_dir() else None


def configure_offline(allow_downloads: bool = False) -> None:
    """Set the env vars that hub clients read. Idempotent; user values win."""
    if not allow_downloads:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chroma
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cache = tiktoken_cache_dir()
    if cache is not None:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
