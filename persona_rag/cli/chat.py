"""`persona-rag chat` and `persona-rag converse`: talk with a persona, or let two talk."""

from __future__ import annotations

import argparse
import json
import re
import uuid
from typing import Any

from persona_rag.cli.common import add_common, add_openai_flags, generator_from_args, settings_from
from persona_rag.errors import UsageError

THREAD_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _chat_command(graph: Any, line: str, stage: Any, last: dict[str, Any]) -> Any:
    """Handle a /command; returns the (possibly new) stage."""
    if line.startswith("/stage"):
        try:
            stage = graph.persona.stage(line[len("/stage") :].strip())
            print(f"[now at {stage.label}]")
        except UsageError as exc:
            print(f"[{exc}]")
    elif line == "/sources":
        for s in last.get("sources") or []:
            print(f"  {s['score']:.3f} [{s['stage']}] {s['id']}: {s['text']}")
        if not last.get("sources"):
            print("  (no sources yet)")
    else:
        print("[commands: /stage S, /sources, /quit]")
    return stage


def cmd_chat(args: argparse.Namespace) -> int:
    from persona_rag import paths
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.persona import Persona

    settings = settings_from(args)
    persona = Persona.load(args.persona, settings.corpus)
    stage = persona.stage(args.stage, default=persona.default_stage())
    if args.thread is not None and not THREAD_NAME.fullmatch(args.thread):
        raise UsageError(f"--thread {args.thread!r}: use 1-64 letters, digits, '.', '_' or '-'")
    # A named thread is kept on disk (SQLite under the home), so `chat --thread NAME` resumes it later.
    checkpointer = f"sqlite:{paths.threads_db(settings)}" if args.thread else "memory"
    graph = PersonaGraph.from_persona(
        persona,
        settings=settings,
        adapter=args.adapter or "auto",
        generator=generator_from_args(args),
        checkpointer=checkpointer,
    )
    # Threads are per persona: the same NAME with another persona is another conversation.
    thread = f"{persona.universe.id}:{persona.id}:{args.thread}" if args.thread else f"chat-{uuid.uuid4().hex[:8]}"
    last: dict[str, Any] = {}
    speaker = persona.short_name.lower()
    print(f"Talking to {persona.name} at {stage.label}. /stage S to move in time, /sources, /quit.")
    earlier = len(graph.history(thread)) // 2 if args.thread else 0
    if earlier:
        print(f"[thread {args.thread}: resuming after {earlier} earlier exchange(s)]")
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            return 0
        if line.startswith("/"):
            stage = _chat_command(graph, line, stage, last)
            continue
        print(f"{speaker}> ", end="", flush=True)
        try:
            last = graph.invoke(
                {"question": line, "stage": stage.key},
                thread_id=thread,
                on_token=lambda t: print(t, end="", flush=True),
            )
        except UsageError as exc:
            print(f"[{exc}]")
            continue
        print(f"\n[{last['verdict']} | answered by: {last['answered_by']}]")


def cmd_converse(args: argparse.Namespace) -> int:
    from persona_rag.graphs.conversation import Conversation
    from persona_rag.persona import Persona

    settings = settings_from(args)
    speakers = [(args.a, args.stage_a), (args.b, args.stage_b)]
    for name, stage in speakers:  # fail on bad input before loading any model
        p = Persona.load(name, settings.corpus)
        p.stage(stage, default=p.default_stage())
    generator = generator_from_args(args)
    conv = Conversation.from_personas(speakers, settings=settings, generator=generator)
    turns = conv.run(
        args.topic,
        turns=args.turns,
        on_turn=None
        if args.json
        else lambda t: print(
            f"{t['name']} ({t['stage']['label']}): {t['text']}\n   [answered by: {t['answered_by']}]\n"
        ),
    )
    if args.json:
        print(json.dumps(turns, indent=2, ensure_ascii=False))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("chat", help="talk with a persona; /stage S moves in time, /sources, /quit")
    p.add_argument("persona")
    p.add_argument("--stage")
    p.add_argument(
        "--thread", help="name of a conversation kept under the home; the same name resumes it (default: a new one)"
    )
    p.add_argument("--adapter", help="LoRA adapter folder or 'none' (default: the persona's, if trained)")
    add_openai_flags(p)
    add_common(p, model=True)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("converse", help="two personas, each at its own stage, talk about a topic")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--stage-a")
    p.add_argument("--stage-b")
    p.add_argument("--topic", required=True)
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--json", action="store_true")
    add_openai_flags(p)
    add_common(p, model=True)
    p.set_defaults(func=cmd_converse)
