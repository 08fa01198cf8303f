"""Any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, Ollama, llama.cpp server, a hosted API)."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from persona_rag.backends.base import Message, OnToken, StopGeneration
from persona_rag.errors import ModelError


class OpenAICompatGenerator:
    """Chat completions over HTTP, standard library only. Streams with server-sent events."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.name = model
        self.adapter = None
        # None: the usual OPENAI_API_KEY, as the OpenAI clients do.
        self.api_key = os.environ.get("OPENAI_API_KEY", "") if api_key is None else api_key
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
            body = " ".join(exc.read().decode(errors="replace").split())[:200]
            hint = "; check --openai-api-key or OPENAI_API_KEY" if exc.code in (401, 403) else ""
            raise ModelError(f"chat endpoint {self.base_url} answered {exc.code}: {body}{hint}") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise ModelError(f"cannot reach chat endpoint {self.base_url}: {exc}; is the server running?") from exc

    def _read_error(self, exc: BaseException) -> ModelError:
        if isinstance(exc, TimeoutError):
            return ModelError(
                f"chat endpoint {self.base_url} stopped sending for {self.timeout:g} s in the middle of the answer; "
                "retry, or raise --openai-timeout"
            )
        return ModelError(
            f"chat endpoint {self.base_url} closed the connection in the middle of the answer "
            f"({type(exc).__name__}); retry"
        )

    def _events(self, resp: Any) -> Iterator[dict[str, Any]]:
        finished = False  # a stream is complete at [DONE], or when a choice has a finish_reason
        events, other = 0, ""
        try:
            for raw in resp:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    other = other or line
                    continue
                events += 1
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise ModelError(
                        f"chat endpoint {self.base_url} streamed something that is not JSON: {data[:120]!r}"
                    ) from None
                if not isinstance(event, dict):
                    raise ModelError(f"chat endpoint {self.base_url} streamed an unexpected event: {data[:120]!r}")
                finished = finished or any(
                    isinstance(c, dict) and c.get("finish_reason") for c in event.get("choices") or []
                )
                yield event
        except (OSError, http.client.HTTPException) as exc:
            raise self._read_error(exc) from exc
        if finished:
            return
        if not events and other:
            raise ModelError(
                f"chat endpoint {self.base_url} answered with a body that is not JSON events: {other[:120]!r}; "
                "is --openai-url the API's base URL (ending in /v1)?"
            )
        raise ModelError(f"chat endpoint {self.base_url} closed the stream before the end of the answer; retry")

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 96,
        on_token: OnToken | None = None,
        constraint: Any = None,
    ) -> str:
        # An OpenAI-compatible endpoint takes no token mask: the graph's check of finished words applies alone.
        payload = {"model": self.name, "messages": list(messages), "max_tokens": max_new_tokens, "temperature": 0}
        if on_token is None:
            with self._post(payload) as resp:
                try:
                    raw = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    raise self._read_error(exc) from exc
            try:
                body = json.loads(raw)
            except ValueError:
                text = " ".join(raw.decode("utf-8", errors="replace").split())[:120]
                raise ModelError(
                    f"chat endpoint {self.base_url} answered with a body that is not JSON: {text!r}; "
                    "is --openai-url the API's base URL (ending in /v1)?"
                ) from None
            try:
                return str(body["choices"][0]["message"]["content"]).strip()
            except (KeyError, IndexError, TypeError) as exc:
                raise ModelError(f"chat endpoint {self.base_url} sent an unexpected reply: {str(body)[:200]}") from exc
        pieces = []
        with self._post({**payload, "stream": True}) as resp:
            for event in self._events(resp):
                try:
                    delta = (event.get("choices") or [{}])[0].get("delta", {}).get("content") or ""
                except (AttributeError, IndexError, TypeError):
                    raise ModelError(
                        f"chat endpoint {self.base_url} streamed an unexpected event: {str(event)[:120]}"
                    ) from None
                if delta:
                    pieces.append(delta)
                    try:
                        on_token(delta)
                    except StopGeneration:
                        break  # leaving the block closes the connection: the server stops generating
        return "".join(pieces).strip()
