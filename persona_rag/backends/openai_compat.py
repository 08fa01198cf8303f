"""Any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, Ollama, llama.cpp server, a hosted API)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from persona_rag.backends.base import Message, OnToken
from persona_rag.errors import ModelError


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
