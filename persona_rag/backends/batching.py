"""Batched decoding across requests: the generation calls of concurrent graph runs decode as one batch.

A :class:`Batcher` owns one decode thread for all the engines of a process (one CPU
decodes one batch at a time anyway). A :class:`BatchingGenerator` is a CTranslate2
generator's face: its ``generate`` joins the next batch for its engine and streams its
own tokens back to the calling thread, where ``on_token`` runs as it would without
batching (the graph's stream writer, the review's early cut, a cancelled request).

- The first request waits ``window`` seconds for others; every request pending then for
  the same engine and the same constraint decodes together (at most ``max_batch``),
  oldest first; a request that arrives while a batch decodes (a review retry, the next
  question of a client) joins the next one.
- ``generate_batch`` calls back once per new token of each entry; the callback ends an
  entry at its own token limit, at its end token, or when its caller asked to stop
  (``StopGeneration`` from ``on_token``, a client that disconnected): it leaves the
  batch at the next step and the others go on.
- Decoding constraints (``constraint=``, an answer plan's allowed words, with a ``key``):
  CTranslate2's only per-request constraint, ``suppress_sequences``, applies to a whole
  batch. By default (``mix_constraints=False``) only requests whose constraint keys are
  equal share a batch (the engine's ``suppressed(constraint)`` gives the sequences);
  requests with different constraints decode in separate batches, one after the other,
  each with its whole token mask. Answer plans are per question, so under load most
  requests then decode alone. ``mix_constraints=True`` batches them anyway: the batch
  suppresses only what every request in it suppresses (a mask no request's allowed
  words are cut by), and each request's own constraint is enforced by the graph's
  per-request check of finished words, which stops a draft at a word its plan does not
  allow and decodes again with that word banned. The graph checks finished words in
  both modes, as without batching. An engine without ``suppressed`` runs a constrained
  request through its own ``generate(..., constraint=...)``, alone.
- Greedy decoding in a batch pads the shorter prompts and runs int8 matrix products
  over several rows: the logits can differ from a lone run in the last bits, so an
  answer can rarely take another word where two were nearly tied
  (``benchmarks/server_load.py --compare`` counts how often).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from persona_rag.backends.base import Message, OnToken, StopGeneration

WINDOW_S = 0.005
MAX_BATCH = 16


def constraint_key(constraint: Any) -> Any:
    """What decides whether two requests may share a batch: None, or the constraint's ``key``."""
    if constraint is None:
        return None
    return getattr(constraint, "key", id(constraint))


@dataclass
class _Request:
    messages: list[Message]
    tokens: list[str]
    max_new_tokens: int
    constraint: Any
    out: queue.SimpleQueue[tuple[str, Any]] = field(default_factory=queue.SimpleQueue)
    stop: threading.Event = field(default_factory=threading.Event)
    arrived: float = field(default_factory=time.monotonic)
    ids: list[int] = field(default_factory=list)
    shown: str = ""
    # The constraint's suppress_sequences (and, for mixed batches, as a set), made in the caller's thread: the
    # decode thread only decodes (a vocabulary scan there would hold up every request of the batch).
    suppress: list[list[str]] | None = None
    suppress_set: frozenset[tuple[str, ...]] | None = None


class Batcher:
    """One decode thread: collects requests for ``window`` seconds and decodes them in batches."""

    def __init__(self, window: float = WINDOW_S, max_batch: int = MAX_BATCH, *, mix_constraints: bool = False) -> None:
        self.window = window
        self.max_batch = max(1, max_batch)
        self.mix_constraints = mix_constraints
        self._cond = threading.Condition()
        self._pending: list[tuple[Any, _Request]] = []
        self._thread: threading.Thread | None = None
        self.batches: list[int] = []  # sizes of the batches decoded, for tests and benchmarks

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._pending)

    def submit(self, engine: Any, request: _Request) -> None:
        with self._cond:
            self._pending.append((engine, request))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True, name="persona-rag-batcher")
                self._thread.start()
            self._cond.notify_all()

    def _next_group(self) -> tuple[Any, list[_Request]]:
        """The oldest request's engine and constraint, with every pending request that shares both."""
        with self._cond:
            while not self._pending:
                self._cond.wait()
            first_engine, first = self._pending[0]
        delay = first.arrived + self.window - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with self._cond:
            key = constraint_key(first.constraint)
            group: list[tuple[Any, _Request]] = []
            rest: list[tuple[Any, _Request]] = []
            for engine, req in self._pending:
                same = engine is first_engine and (self.mix_constraints or constraint_key(req.constraint) == key)
                (group if same and len(group) < self.max_batch else rest).append((engine, req))
            self._pending = rest
        return first_engine, [req for _, req in group]

    def _loop(self) -> None:
        while True:
            engine, group = self._next_group()
            live = []
            for req in group:
                if req.stop.is_set():  # its caller left while it waited
                    req.out.put(("end", None))
                else:
                    live.append(req)
            if not live:
                continue
            self.batches.append(len(live))
            try:
                constrained = any(req.constraint is not None for req in live)
                if constrained and not hasattr(engine, "suppressed") and not self.mix_constraints:
                    for req in live:
                        decode_alone(engine, req)
                else:
                    decode_batch(engine, live)
            except Exception as exc:  # the engine failed: every caller of this batch hears it
                for req in live:
                    req.out.put(("error", exc))
                continue
            for req in live:
                req.out.put(("end", None))


def _push_text(engine: Any, req: _Request, final: bool = False) -> None:
    text = engine.tokenizer.decode(req.ids)
    # A multi-byte character split over tokens decodes to U+FFFD until it is complete.
    if (final or not text.endswith("\ufffd")) and len(text) > len(req.shown):
        req.out.put(("text", text[len(req.shown) :]))
        req.shown = text


def prepare(engine: Any, req: _Request, mixed: bool) -> None:
    """The request's suppress_sequences (the engine caches them per constraint), in the caller's thread."""
    if req.constraint is None or not hasattr(engine, "suppressed"):
        return
    req.suppress = engine.suppressed(req.constraint)
    if mixed:
        req.suppress_set = frozenset(tuple(seq) for seq in req.suppress or [])


def common_suppression(engine: Any, batch: Sequence[_Request]) -> list[list[str]] | None:
    """The token sequences every request of the batch suppresses (all of them for one shared constraint)."""
    if not hasattr(engine, "suppressed") or any(req.constraint is None for req in batch):
        return None
    keys = {constraint_key(req.constraint) for req in batch}
    for req in batch:
        if req.suppress is None and req.suppress_set is None:
            prepare(engine, req, len(keys) > 1)
    if len(keys) == 1:
        return batch[0].suppress
    common: frozenset[tuple[str, ...]] | None = None
    for req in batch:
        mine = req.suppress_set
        if mine is None:
            mine = req.suppress_set = frozenset(tuple(seq) for seq in req.suppress or [])
        common = mine if common is None else common & mine
    return [list(seq) for seq in sorted(common or ())] or None


def decode_batch(engine: Any, batch: Sequence[_Request]) -> None:
    """One ``generate_batch`` over the requests' prompts (a CT2Generator's model), streaming each entry."""
    from persona_rag.backends.ct2 import REPETITION_PENALTY

    end_ids = set(engine.end_ids)
    suppress = common_suppression(engine, batch)

    def on_step(step: Any) -> bool:
        req = batch[step.batch_id]
        if req.stop.is_set():
            return True
        if step.token_id in end_ids:
            return True
        req.ids.append(step.token_id)
        _push_text(engine, req)
        return len(req.ids) >= req.max_new_tokens

    with engine._lock:
        engine.generator.generate_batch(
            [req.tokens for req in batch],
            max_length=max(req.max_new_tokens for req in batch),
            sampling_topk=1,
            beam_size=1,
            repetition_penalty=REPETITION_PENALTY,
            end_token=engine.end_ids or None,
            include_prompt_in_result=False,
            suppress_sequences=suppress,
            callback=on_step,
        )
    for req in batch:
        if not req.stop.is_set():
            _push_text(engine, req, final=True)


def decode_alone(engine: Any, req: _Request) -> None:
    """A request with a decoding constraint: the engine's own generate, streaming into the request."""

    def on_token(piece: str) -> None:
        req.out.put(("text", piece))
        if req.stop.is_set():
            raise StopGeneration

    engine.generate(req.messages, max_new_tokens=req.max_new_tokens, on_token=on_token, constraint=req.constraint)


class BatchingGenerator:
    """A CTranslate2 generator whose calls decode in batches with the concurrent calls of other threads."""

    engine = "ctranslate2"

    def __init__(self, inner: Any, batcher: Batcher) -> None:
        self.inner = inner
        self.batcher = batcher

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def adapter(self) -> str | None:
        return self.inner.adapter  # type: ignore[no-any-return]

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 96,
        on_token: OnToken | None = None,
        constraint: Any = None,
    ) -> str:
        tok = self.inner.tokenizer  # the whole prompt: a batch has no shared static prefix to cache
        tokens = tok.tokens(tok.render(messages, add_generation_prompt=True))
        req = _Request([dict(m) for m in messages], tokens, max_new_tokens, constraint)
        prepare(self.inner, req, self.batcher.mix_constraints)
        self.batcher.submit(self.inner, req)
        pieces: list[str] = []
        try:
            while True:
                kind, value = req.out.get()
                if kind == "end":
                    break
                if kind == "error":
                    raise value
                pieces.append(value)
                if on_token is not None:
                    try:
                        on_token(value)
                    except StopGeneration:
                        return "".join(pieces).strip()
        finally:
            req.stop.set()  # leaves the batch at its next step (a no-op once it has ended)
        return "".join(pieces).strip()
