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
    if args.batch_plans is not None and args.batching is False:
        raise UsageError("--batch-plans says how batches form: it needs batching on (drop --no-batching)")
    if args.max_models is not None and args.max_models < 1:
        raise UsageError(f"--max-models {args.max_models}: at least 1 model must stay loaded")
    try:
        import uvicorn

        from persona_rag.server.app import create_app
    except ImportError as exc:
        raise UsageError(
            f"the server needs FastAPI and uvicorn ({exc.name} is missing); both are dependencies of persona-rag: "
            "reinstall it (pip install persona-rag, or `make setup` in a clone)"
        ) from None
    settings = settings_from(args)
    models = models_from_args(args, settings)
    app = create_app(
        settings,
        models=models,
        api_key=api_key,
        read_only=args.read_only,
        batching=args.batching is not False,
        max_models=4 if args.max_models is None else args.max_models,
        mix_constraints=args.batch_plans == "mixed",
    )
    base = f"http://{args.host if ':' not in args.host else f'[{args.host}]'}:{args.port}"
    service = app.state.service
    tuned = [p["id"] for p in service.personas() if p["tuned"]]
    print(
        f"persona-rag: {service.universe.name} with {service.generator.name} at {base}/ "
        f"(OpenAI base URL {base}/v1, schema {base}/openapi.json"
        + (f", tuned: {', '.join(tuned)}" if tuned else ", no tuned persona")
        + (", batching" if not service.generator.serial and models is None else "")
        + (", read-only" if args.read_only else "")
        + (", API key required" if api_key else "")
        + ")",
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def models_from_args(args: argparse.Namespace, settings: Any) -> Any:
    """Each persona's model for ``--openai-url`` (tuned personas to their LoRA module with ``--lora-names``),
    or None: the local engine, each persona with its adapter. Refuses flags that would be ignored."""
    if not args.openai_url:
        if args.lora_names:
            raise UsageError(
                "--lora-names routes tuned personas to LoRA modules at an endpoint: add --openai-url URL "
                "--openai-model BASE (see `persona-rag adapters export`)"
            )
        generator_from_args(args)  # refuses --openai-model/--openai-api-key without --openai-url
        return None
    local_only = (
        ("--max-models", args.max_models),
        ("--batching/--no-batching", args.batching),
        ("--batch-plans", args.batch_plans),
    )
    for flag, value in local_only:
        if value is not None:
            raise UsageError(f"{flag} applies to the local model; the endpoint at --openai-url schedules its own")
    endpoint = generator_from_args(args)  # checks --openai-model and --openai-timeout
    from persona_rag.builder.cards import load_universe_for
    from persona_rag.server.models import EndpointModels

    return EndpointModels(
        settings,
        load_universe_for(settings, settings.corpus),
        args.openai_url,
        endpoint.name,
        api_key=endpoint.api_key,
        timeout=endpoint.timeout,
        lora=args.lora_names,
    )


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
    p.add_argument(
        "--max-models",
        type=int,
        metavar="N",
        help="local engines kept loaded, one per tuned persona plus the base model; the least recently used "
        "is dropped past N (default 4)",
    )
    p.add_argument(
        "--batching",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="decode concurrent requests for the same model together (default on); --no-batching answers one "
        "request at a time, first come first served",
    )
    p.add_argument(
        "--batch-plans",
        choices=["same", "mixed"],
        help="how answers with different answer plans share a batch: 'same' (default) batches only requests "
        "with the same plan constraint, each with its whole token mask; 'mixed' batches them all, masks only "
        "what every plan in the batch forbids and leaves the rest to the per-answer word check",
    )
    add_openai_flags(p)
    p.add_argument(
        "--lora-names",
        action="store_true",
        help="with --openai-url: send each tuned persona to the LoRA module named <universe>-<persona> "
        "(as `persona-rag adapters export` names them), the others to --openai-model",
    )
    add_common(p, model=True)
    p.set_defaults(func=cmd_serve)
