"""Which model answers for each persona of a served universe.

- :class:`FixedModels`: one generator for every persona (a scripted model in tests, an
  OpenAI-compatible endpoint without LoRA names).
- :class:`LocalModels`: each persona answers with its own adapter, the one ``persona-rag ask``
  would use (DPO if trained, else SFT, else the base model). Engines come from an
  :class:`EnginePool`: one merged int8 CTranslate2 model per adapter, loaded on first use;
  at most ``max_models`` stay loaded, the least recently used is dropped. Merging an adapter
  and converting it run in a child process (torch and transformers never enter the server's
  memory); the conversion is cached under the home, so the next start only loads it.
- :class:`EndpointModels`: an OpenAI-compatible endpoint that serves the tuned personas as LoRA
  modules named ``<universe>-<persona>`` (``persona-rag adapters export``), the rest as the base model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persona_rag.backends.batching import Batcher
    from persona_rag.corpus import Universe
    from persona_rag.settings import Settings


class FixedModels:
    """The same generator for every persona."""

    def __init__(self, generator: Any, *, concurrent: bool = False) -> None:
        self.default = generator
        self.concurrent = concurrent  # True: the generator schedules concurrent calls itself (no server lock)

    def for_persona(self, persona_id: str) -> Any:
        return self.default

    def tuned(self, persona_id: str) -> str | None:
        """What makes this persona's model its own (an adapter folder, a LoRA module name), or None."""
        return None


class EndpointModels:
    """Tuned personas to their LoRA module at the endpoint, the others to the base model."""

    def __init__(
        self,
        settings: Settings,
        universe: Universe,
        url: str,
        base_model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        lora: bool = True,
    ) -> None:
        """``lora=False``: every persona with ``base_model`` (an endpoint without the exported adapters)."""
        from persona_rag.backends.openai_compat import OpenAICompatGenerator

        self.settings = settings
        self.universe = universe
        self._make = lambda model: OpenAICompatGenerator(url, model, api_key=api_key, timeout=timeout)
        self.default = self._make(base_model)
        self.lora = lora
        self.concurrent = True  # the endpoint batches and queues requests itself
        self._by_persona: dict[str, Any] = {}

    def tuned(self, persona_id: str) -> str | None:
        from persona_rag.backends.adapters import lora_name
        from persona_rag.paths import find_adapter

        if not self.lora or find_adapter(self.settings, self.universe.id, persona_id) is None:
            return None
        return lora_name(self.universe.id, persona_id)

    def for_persona(self, persona_id: str) -> Any:
        name = self.tuned(persona_id)
        if name is None:
            return self.default
        from persona_rag.backends.adapters import resolve_adapter

        resolve_adapter(self.settings, self.universe.id, persona_id, "auto")  # refuses a stale prompt format
        if name not in self._by_persona:
            self._by_persona[name] = self._make(name)
        return self._by_persona[name]


class EnginePool:
    """Loaded engines by adapter (None: the base model), least recently used dropped past ``max_models``.

    ``load(adapter)`` makes an engine; the default prepares the CTranslate2 folder in a child process
    when it is not cached yet and loads it here. With a ``batcher`` each engine decodes in batches.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        max_models: int = 4,
        batcher: Batcher | None = None,
        load: Callable[[Path | None], Any] | None = None,
    ) -> None:
        from persona_rag.errors import UsageError

        if max_models < 1:
            raise UsageError(f"--max-models {max_models}: at least 1 model must stay loaded")
        self.settings = settings
        self.max_models = max_models
        self.batcher = batcher
        self._load = load or self._load_engine
        self._engines: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.loads = 0  # engines loaded so far (tests, /health)

    @staticmethod
    def key(adapter: Path | None) -> str:
        return "base" if adapter is None else str(adapter)

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._engines)

    def peek(self, adapter: Path | None) -> Any:
        """The loaded engine for ``adapter``, or None (nothing is loaded)."""
        with self._lock:
            return self._engines.get(self.key(adapter))

    def get(self, adapter: Path | None) -> Any:
        key = self.key(adapter)
        with self._lock:
            engine = self._engines.get(key)
            if engine is not None:
                self._engines.move_to_end(key)
                return engine
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one load per model, however many requests want it
            with self._lock:
                engine = self._engines.get(key)
            if engine is None:
                engine = self._load(adapter)
                if self.batcher is not None and getattr(engine, "engine", "") == "ctranslate2":
                    from persona_rag.backends.batching import BatchingGenerator

                    engine = BatchingGenerator(engine, self.batcher)
                self.loads += 1
            with self._lock:
                self._engines[key] = engine
                self._engines.move_to_end(key)
                while len(self._engines) > self.max_models:
                    self._engines.popitem(last=False)  # calls in flight keep their reference until they end
        return engine

    def _load_engine(self, adapter: Path | None) -> Any:
        from persona_rag.backends.convert import EngineUnavailable, cached_conversion, engine_installed
        from persona_rag.models import choose_engine, require_chat_model

        engine, _ = choose_engine(self.settings)
        if engine == "ctranslate2" and engine_installed():
            folder = cached_conversion(self.settings, adapter)
            try:
                folder = folder or prepare_in_child(self.settings, adapter)
            except EngineUnavailable:
                folder = None  # load_generator below says why and falls back
            if folder is not None:
                from persona_rag.backends.ct2 import CT2Generator

                resolved = require_chat_model(self.settings)
                return CT2Generator.load(folder, resolved.name, adapter, threads=self.settings.engine_threads)
        from persona_rag.backends.engine import load_generator

        return load_generator(self.settings, adapter, quiet=True)


def prepare_in_child(settings: Settings, adapter: Path | None) -> Path:
    """:func:`persona_rag.backends.convert.prepare` in a child process: merging loads torch and the dense model,
    which would otherwise stay in the server's memory."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from persona_rag.backends.convert import prepare

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(prepare, settings, adapter).result()


class PersonaModel:
    """What one persona's graph talks to: the engine of its adapter, taken from the pool at each call."""

    def __init__(self, pool: EnginePool, adapter: Path | None, name: str) -> None:
        self.pool = pool
        self.adapter_path = adapter
        self.name = name
        self.adapter = str(adapter) if adapter is not None else None

    @property
    def engine(self) -> str:
        """The loaded engine's kind ('ctranslate2', 'transformers'), without loading it."""
        loaded = self.pool.peek(self.adapter_path)
        return str(getattr(loaded, "engine", type(loaded).__name__)) if loaded is not None else "not loaded"

    def ready(self) -> Any:
        """Load (or convert) the engine now: callers do it before they queue for the model."""
        return self.pool.get(self.adapter_path)

    def generate(self, messages: Sequence[dict[str, str]], **kw: Any) -> str:
        return str(self.pool.get(self.adapter_path).generate(messages, **kw))

    def count_tokens(self, text: str) -> int:
        return int(self.pool.get(self.adapter_path).count_tokens(text))


class LocalModels:
    """Each persona with its own adapter, through an :class:`EnginePool`."""

    def __init__(self, settings: Settings, universe: Universe, pool: EnginePool, name: str) -> None:
        self.settings = settings
        self.universe = universe
        self.pool = pool
        self.name = name
        self.default = PersonaModel(pool, None, name)
        self.concurrent = pool.batcher is not None
        self._by_adapter: dict[str, PersonaModel] = {}

    def tuned(self, persona_id: str) -> str | None:
        adapter = self._adapter(persona_id)
        return str(adapter) if adapter is not None else None

    def _adapter(self, persona_id: str) -> Path | None:
        from persona_rag.paths import find_adapter

        return find_adapter(self.settings, self.universe.id, persona_id)

    def for_persona(self, persona_id: str) -> Any:
        from persona_rag.backends.adapters import resolve_adapter

        # As `ask`: the DPO adapter if trained, else SFT; refused if trained for another prompt format.
        adapter = resolve_adapter(self.settings, self.universe.id, persona_id, "auto")
        if adapter is None:
            return self.default
        key = str(adapter)
        if key not in self._by_adapter:
            self._by_adapter[key] = PersonaModel(self.pool, adapter, self.name)
        return self._by_adapter[key]
