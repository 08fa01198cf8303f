"""Chat generators behind one small interface (this module: the interface and the scripted fake).

- :class:`persona_rag.backends.hf.TransformersGenerator`: a local causal LM (the offline default SmolLM2),
  optionally with a persona's LoRA adapter.
- :class:`persona_rag.backends.openai_compat.OpenAICompatGenerator`: any OpenAI-compatible ``/v1/chat/completions``
  endpoint (vLLM, Ollama, llama.cpp server, a hosted API).
- :class:`ScriptedGenerator` (here): a deterministic fake for tests, shipped so users can
  test their own code against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from persona_rag.backends.constraint import Constraint

Message = dict[str, str]
OnToken = Callable[[str], None]


class StopGeneration(Exception):
    """Raised by an ``on_token`` callback to end the answer early (the graph's review already rejects it);
    the generator stops decoding and returns the text produced so far."""


@runtime_checkable
class Generator(Protocol):
    name: str
    adapter: str | None

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 96,
        on_token: OnToken | None = None,
        constraint: Constraint | None = None,
    ) -> str:
        """Answer the chat; call ``on_token`` with each piece of text as it is produced.

        ``on_token`` may raise :class:`StopGeneration`: decoding stops and the text so far is returned.
        ``constraint`` (an answer plan's allowed words): a backend that can masks word starts no allowed word
        has and never produces a banned word; the graph checks finished words whatever the backend.
        A backend with ``continues_drafts = True`` also takes ``prefix``: the start of its own earlier draft for
        these messages; it decodes on after it, returns the whole text and calls ``on_token`` with the new
        pieces only (see :func:`persona_rag.graphs.nodes.constrained_decode`)."""
        ...

    def count_tokens(self, text: str) -> int: ...


@dataclass
class ScriptedGenerator:
    """Replies from a script: a list of answers used in turn, or a function of the messages."""

    replies: Sequence[str] | Callable[[Sequence[Message]], str] = ("I'm not sure.",)
    name: str = "scripted"
    adapter: str | None = None
    calls: list[list[Message]] = field(default_factory=list)
    constraints: list[Constraint | None] = field(default_factory=list)

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 96,
        on_token: OnToken | None = None,
        constraint: Constraint | None = None,
    ) -> str:
        self.constraints.append(constraint)
        self.calls.append([dict(m) for m in messages])
        if callable(self.replies):
            text = self.replies(messages)
        else:
            text = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        words = text.split(" ")[:max_new_tokens]
        if on_token is not None:
            for i, w in enumerate(words):
                try:
                    on_token(w if i == 0 else " " + w)
                except StopGeneration:
                    return " ".join(words[: i + 1])
        return " ".join(words)

    def count_tokens(self, text: str) -> int:
        return len(text.split())
