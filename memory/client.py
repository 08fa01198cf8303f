"""The Chroma side of the memory: clients, the writers' file lock, error wrapping and collection names.

Nothing here knows what a passage or a persona is; :mod:`persona_rag.memory.store` builds on it.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from persona_rag.errors import MemoryStoreError, PersonaRagError, UsageError

STORES = ("persistent", "memory", "server")
_F = TypeVar("_F", bound=Callable[..., Any])


def is_store_failure(exc: BaseException) -> bool:
    """Chroma, its HTTP client or the disk failed (as opposed to a bug of ours)."""
    if isinstance(exc, PersonaRagError):
        return False
    root = type(exc).__module__.split(".")[0]
    return isinstance(exc, (OSError, TimeoutError)) or root in {"chromadb", "httpx", "httpcore", "sqlite3"}


def vectors_unreadable(exc: BaseException) -> bool:
    """Chroma's embedded store cannot read the vectors another process wrote after this one opened it
    ("Error finding id"; metadata and documents still read fine)."""
    return type(exc).__module__.startswith("chromadb") and "finding id" in str(exc).lower()


def store_call(what: str) -> Callable[[_F], _F]:
    """Turn a Chroma or connection failure inside the method into a one-line MemoryStoreError."""

    def wrap(fn: _F) -> _F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_store_failure(exc):
                    raise
                detail = (str(exc).strip().splitlines() or [""])[0][:200]
                raise MemoryStoreError(
                    f"{what} failed ({type(exc).__name__}: {detail}); check that the store is reachable "
                    "(PERSONA_RAG_CHROMA_URL, `chroma run`) and retry"
                ) from exc

        return inner  # type: ignore[return-value]

    return wrap


def collection_name(text: str) -> str:
    """A valid Chroma collection name (3-60 characters of ``[a-zA-Z0-9_-]``) made from ``text``."""
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", text)[:60]
    name = name.strip("_-.") or "memory"
    return name if len(name) >= 3 else name + "000"


class FileLock:
    """An exclusive file lock for writers of an embedded store (no-op without a path: servers, in-memory)."""

    def __init__(self, path: Path | None, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fh: Any = None

    def __enter__(self) -> FileLock:
        if self.path is None:
            return self
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._fh.close()
                    raise MemoryStoreError(
                        f"another process is writing to the memory at {self.path.parent} (waited {self.timeout:.0f} s); "
                        "retry, or run a Chroma server and set PERSONA_RAG_CHROMA_URL for several writers"
                    ) from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def make_client(store: str, path: Path | None = None, url: str = "") -> Any:
    """A Chroma client for one of STORES. Telemetry off; nothing downloads."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if store == "memory":
        return chromadb.EphemeralClient(settings=chroma_settings)
    if store == "persistent":
        if path is None:
            raise ValueError("a persistent store needs a path")
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    if store == "server":
        from urllib.parse import urlparse

        parsed = urlparse(url if "://" in url else f"http://{url}")
        try:
            return chromadb.HttpClient(
                host=parsed.hostname or "localhost",
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise MemoryStoreError(
                f"cannot reach the Chroma server at {url}: {exc}; start it with `chroma run`"
            ) from exc
    raise UsageError(f"unknown store {store!r}; valid: {', '.join(STORES)}")
