"""`persona-rag ask`: one question to a persona at a stage of its life."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from persona_rag.cli.common import add_common, add_openai_flags, generator_from_args, print_json, settings_from
from persona_rag.errors import UsageError


def cmd_ask(args: argparse.Namespace) -> int:
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.persona import Persona

    settings = settings_from(args)
    question = sys.stdin.read() if args.question == "-" else args.question
    # Check what we can before loading any model: bad input fails in a fraction of a second.
    if not question.strip():
        raise UsageError("the question is empty; ask the persona something")
    persona = Persona.load(args.persona, settings.corpus)
    persona.stage(args.stage, default=persona.default_stage())
    generator = generator_from_args(args)
    if generator is None:
        from persona_rag.models import require_chat_model

        require_chat_model(settings)
    graph = PersonaGraph.from_persona(
        persona,
        settings=settings,
        use_memory=not args.no_memory,
        adapter=args.adapter or "auto",
        generator=generator,
    )
    if args.json:
        result = graph.invoke({"question": question, "stage": args.stage})
        print_json(graph.public_result(result))
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
            f"answered by: {result['answered_by']} | {len(result.get('sources') or [])} sources]",
            file=sys.stderr,
        )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("ask", help="ask a persona one question at a stage of its life")
    p.add_argument("persona", help="persona id or name, e.g. harry")
    p.add_argument("question", help="the question ('-' reads it from standard input)")
    p.add_argument("--stage", help="e.g. 'year 2', 'Christmas of year 3', 'y2.start', 7 (default: the last stage)")
    p.add_argument(
        "--json", action="store_true", help="print answer, answered_by, stage, verdict, sources and adapter as JSON"
    )
    p.add_argument("--no-memory", action="store_true", help="no retrieval: the persona prompt only")
    p.add_argument("--adapter", help="LoRA adapter folder, or 'none' (default: the persona's trained adapter, if any)")
    add_openai_flags(p)
    add_common(p, model=True)
    p.set_defaults(func=cmd_ask)
