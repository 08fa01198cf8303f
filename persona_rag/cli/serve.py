"""`persona-rag serve`: the personas over HTTP: OpenAI-compatible chat, the native API and a web page."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from persona_rag.cli.common import add_common, add_openai_flags, generator_from_args, settings_from
from persona_rag.errors import UsageError


def cmd_serve(args: argparse.Namespace) -> int:
    from persona_rag.server.security import check_bind

    api_key = args.api_key or os.environ.get("PERSONA_RAG_API_KEY") or None
    # Refuse an unsafe address before loading any model.
    check_bind(args.host, api_key)
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a port number (1-65535)")
    try:
        import uvicorn

        from persona_rag.server.app import create_app
    except ImportError as exc:
        raise UsageError(
            f"the server needs FastAPI and uvicorn ({exc.name} is missing): pip install 'persona-rag[serve]'"
        ) from None
    settings = settings_from(args)
    generator = generator_from_args(args)
    app = create_app(settings, generator=generator, api_key=api_key, read_only=args.read_only)
    base = f"http://{args.host if ':' not in args.host else f'[{args.host}]'}:{args.port}"
    service = app.state.service
    print(
        f"persona-rag: {service.universe.name} with {service.generator.name} at {base}/ "
        f"(OpenAI base URL {base}/v1, schema {base}/openapi.json"
        + (", read-only" if args.read_only else "")
        + (", API key required" if api_key else "")
        + ")",
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the personas over HTTP: OpenAI-compatible chat, memory API and a web page",
        description=(
            "One process, the model and memory loaded once. Memory writes through the API change the "
            "personas for every client: use --read-only for a server that only talks."
        ),
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; others need --api-key)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--api-key", help="require 'Authorization: Bearer KEY' on every API request (env PERSONA_RAG_API_KEY)"
    )
    p.add_argument("--read-only", action="store_true", help="refuse memory writes and card imports")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    add_openai_flags(p)
    add_common(p, model=True)
    p.set_defaults(func=cmd_serve)
