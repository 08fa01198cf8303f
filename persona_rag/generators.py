"""Chat generators behind one small interface.

- :class:`TransformersGenerator`: a local causal LM (the offline default SmolLM2),
  optionally with a persona's LoRA adapter.
- :class:`OpenAICompatGenerator`: any OpenAI-compatible ``/v1/chat/completions``
  endpoint (vLLM, Ollama, llama.cpp server, a hosted API).
- :class:`ScriptedGenerator`: a deterministic fake for tests, shipped so users can
  test their own code against it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from persona_rag.errors import ModelError

if TYPE_CHECKING:
    from persona_rag.settings import Settings

Message = dict[str, str]
OnToken = Callable[[str], None]


@runtime_checkable
class Generator(Protocol):
    name: str
    adapter: str | None

    def generate(
        self, messages: Sequence[Message], *, max_new_tokens: int = 96, on_token: OnToken | None = None
    ) -> str:
        """Answer the chat; call ``on_token`` with each piece of text as it is produced."""
        ...

    def count_tokens(self, text: str) -> int: ...


@dataclass
class ScriptedGenerator:
    """Replies from a script: a list of answers used in turn, or a function of the messages."""

    replies: Sequence[str] | Callable[[Sequence[Message]], str] = ("I'm not sure.",)
    name: str = "scripted"
    adapter: str | None = None
    calls: list[list[Message]] = field(default_factory=list)

    def generate(
        self, messages: Sequence[Message], *, max_new_tokens: int = 96, on_token: OnToken | None = None
    ) -> str:
        self.calls.append([dict(m) for m in messages])
        if callable(self.replies):
            text = self.replies(messages)
        else:
            text = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        words = text.split(" ")[:max_new_tokens]
        if on_token is not None:
            for i, w in enumerate(words):
                on_token(w if i == 0 else " " + w)
        return " ".join(words)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class TransformersGenerator:
    """A local transformers model, loaded once and reused for every call."""

    def __init__(self, model: Any, tokenizer: Any, name: str, adapter: str | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.adapter = adapter
        self._lock = threading.Lock()  # one generate at a time on a shared model

    @classmethod
    def load(cls, settings: Settings, adapter: Path | None = None, *, quiet: bool = False) -> TransformersGenerator:
        from persona_rag.models import load_chat_model

        model, tokenizer, resolved = load_chat_model(settings, quiet=quiet)
        adapter_name = None
        if adapter is not None:
            try:
                from persona_rag.finetune.train import load_adapter_stack

                # Merging folds the LoRA deltas into the weights: decoding is as fast as the base model.
                model = load_adapter_stack(model, adapter)
                model.eval()
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"cannot load adapter {adapter}: {exc}; retrain it or delete the folder") from exc
            adapter_name = str(adapter)
        return cls(model, tokenizer, resolved.name, adapter_name)

    def _prompt_ids(self, messages: Sequence[Message]) -> Any:
        return self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self, messages: Sequence[Message], *, max_new_tokens: int = 96, on_token: OnToken | None = None
    ) -> str:
        import torch

        inputs = self._prompt_ids(messages).to(self.model.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "repetition_penalty": 1.15,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        with self._lock, torch.inference_mode():
            if on_token is None:
                out = self.model.generate(**inputs, **kwargs)
                new = out[0][inputs["input_ids"].shape[1] :]
                return str(self.tokenizer.decode(new, skip_special_tokens=True)).strip()
            from transformers import TextIteratorStreamer

            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            worker = threading.Thread(target=self.model.generate, kwargs={**inputs, **kwargs, "streamer": streamer})
            worker.start()
            pieces = []
            for piece in streamer:
                if piece:
                    pieces.append(piece)
                    on_token(piece)
            worker.join()
            return "".join(pieces).strip()


class OpenAICompatGenerator:
    """Chat completions over HTTP, standard library only. Streams with server-sent events."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.name = model
        self.adapter = None
        self.api_key = api_key
        self.timeout = timeout
        self._encoding: Any = None

    def count_tokens(self, text: str) -> int:
        if self._encoding is None:
            from persona_rag.offline import configure_offline

            configure_offline()
            import tiktoken

            try:
                self._encoding = tiktoken.encoding_for_model(self.name)
            except KeyError:
                self._encoding = tiktoken.get_encoding("cl100k_base")
        return len(self._encoding.encode(text))

    def _post(self, payload: dict[str, Any]) -> Any:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(payload).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
        )
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")[:200]
            raise ModelError(f"chat endpoint {self.base_url} answered {exc.code}: {body}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ModelError(f"cannot reach chat endpoint {self.base_url}: {exc}; is the server running?") from exc

    def _events(self, resp: Any) -> Iterator[dict[str, Any]]:
        for raw in resp:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            yield json.loads(data)

    def generate(
        self, messages: Sequence[Message], *, max_new_tokens: int = 96, on_token: OnToken | None = None
    ) -> str:
        payload = {"model": self.name, "messages": list(messages), "max_tokens": max_new_tokens, "temperature": 0}
        if on_token is None:
            with self._post(payload) as resp:
                body = json.loads(resp.read())
            try:
                return str(body["choices"][0]["message"]["content"]).strip()
            except (KeyError, IndexError, TypeError) as exc:
                raise ModelError(f"chat endpoint {self.base_url} sent an unexpected reply: {str(body)[:200]}") from exc
        pieces = []
        with self._post({**payload, "stream": True}) as resp:
            for event in self._events(resp):
                delta = (event.get("choices") or [{}])[0].get("delta", {}).get("content") or ""
                if delta:
                    pieces.append(delta)
                    on_token(delta)
        return "".join(pieces).strip()
