"""Who may talk to the server and how much they may send.

- With an API key every request except the web page and its files needs
  ``Authorization: Bearer KEY`` (as llama.cpp's server and vLLM do).
- Without a key the server listens on loopback only (:func:`check_bind`), and a
  memory write from a non-loopback client, or one forwarded by a proxy, is refused even so.
- Bodies over ``max_body`` bytes get 413 before the app reads them.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from starlette.exceptions import HTTPException

from persona_rag.errors import UsageError

# The page and its files load without a key (a browser cannot add the header to a page load);
# everything they do afterwards goes through the API and needs it.
PUBLIC_PATHS = ("/", "/health", "/favicon.ico")
PUBLIC_PREFIXES = ("/static/",)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without a key."""
    if not api_key and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without --api-key: anyone who can reach it could use the model "
            "and change the memory; add --api-key KEY (or PERSONA_RAG_API_KEY), or use --host 127.0.0.1"
        )


def error_body(status: int, message: str, kind: str) -> bytes:
    """The OpenAI error shape, which OpenAI clients turn into readable exceptions."""
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()


class TooLarge(HTTPException):
    """A body that grew past the limit while it was read (no Content-Length, or a wrong one)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the server's limit of {limit} bytes")


class Guard:
    """ASGI middleware: bearer-key check and request body limit."""

    def __init__(self, app: Any, *, api_key: str | None, max_body: int, max_body_for: dict[str, int]) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body = max_body
        self.max_body_for = max_body_for

    async def _reply(self, send: Any, status: int, message: str, kind: str, headers: list[Any] | None = None) -> None:
        body = error_body(status, message, kind)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                + (headers or []),
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _authorised(self, scope: Any) -> bool:
        if not self.api_key:
            return True
        path = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return True
        headers = dict(scope.get("headers") or [])
        got = headers.get(b"authorization", b"").decode("latin-1")
        return hmac.compare_digest(got.encode(), f"Bearer {self.api_key}".encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            await self._reply(
                send,
                401,
                "missing or wrong API key: send the header 'Authorization: Bearer KEY' with the server's --api-key",
                "authentication_error",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        limit = self.max_body_for.get(scope.get("path", ""), self.max_body)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = f"the request body is over the server's limit of {limit} bytes"
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reply(send, 413, too_big, "invalid_request_error")
            return
        seen = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(limit)
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except TooLarge:
            if not started:
                await self._reply(send, 413, too_big, "invalid_request_error")
