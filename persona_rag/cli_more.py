"""Subcommands for corpora, memory, chat and multi-persona conversation."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from persona_rag.errors import UsageError


def _cli() -> Any:
    from persona_rag import cli

    return cli


def _open_memory(args: argparse.Namespace) -> tuple[Any, Any]:
    from persona_rag.corpus import load_universe
    from persona_rag.memory.store import open_memory

    settings = _cli()._settings(args)
    uni = load_universe(settings.corpus)
    return open_memory(settings, uni), uni


# ----------------------------------------------------------------------------- corpus


def cmd_corpus(args: argparse.Namespace) -> int:
    from persona_rag.corpus import check_corpus, universe_path

    if args.path is None:
        args.path = _cli()._settings(args).corpus
    if args.action == "check":
        try:
            root = universe_path(args.path)
        except UsageError:
            root = None
        problems = check_corpus(root or args.path)
        for p in problems:
            print(p)
        if problems:
            print(f"{len(problems)} problem(s)", file=sys.stderr)
            return 1
        from persona_rag.corpus import load_universe

        uni = load_universe(str(root))
        events = len(uni.events)
        personal = sum(len(v) for v in uni.personal.values())
        dialogues = sum(len(v) for v in uni.dialogues.values())
        print(
            f"ok: {uni.id}: {len(uni.timeline.stages)} stages, {len(uni.characters)} characters, {events} events, "
            f"{personal} personal passages, {len(uni.profiles)} profiles, {dialogues} dialogues"
        )
        return 0
    # ingest
    from persona_rag.corpus import load_universe
    from persona_rag.memory.store import open_memory

    settings = _cli()._settings(args)
    uni = load_universe(args.path or settings.corpus)
    memory = open_memory(settings, uni, ingest=False)
    report = memory.ingest(progress=True)
    print(f"{uni.id}: {report}")
    return 0


# ----------------------------------------------------------------------------- memory


def cmd_memory(args: argparse.Namespace) -> int:
    memory, uni = _open_memory(args)
    as_json = getattr(args, "json", False)

    def stage_of(value: str | None, required: bool = True) -> Any:
        if value is None and not required:
            return None
        return uni.stage(value)

    def show(obj: Any, text: str) -> None:
        print(json.dumps(obj, indent=2, ensure_ascii=False) if as_json else text)

    if args.action == "add":
        p = memory.add(args.persona, stage_of(args.stage), args.text, kind=args.kind)
        show({"id": p.id, "stage": p.stage}, f"added {p.id} (known from stage {p.stage})")
    elif args.action == "correct":
        p = memory.correct(args.id, stage_of(args.from_stage), args.text)
        show(
            {"id": p.id, "replaces": args.id, "from_stage": p.stage},
            f"{args.id} corrected from stage {p.stage}: {p.id}",
        )
    elif args.action == "retire":
        p = memory.retire(args.id, stage_of(args.from_stage))
        show({"id": p.id, "valid_to": p.valid_to}, f"{p.id} no longer holds from stage {p.valid_to}")
    elif args.action == "history":
        versions = memory.history(args.id)
        rows = [
            {
                "id": v.id,
                "version": v.version,
                "text": v.text,
                "stage": v.stage,
                "known_from": v.known_from,
                "valid_to": None if v.valid_to >= 1_000_000 else v.valid_to,
                "source": v.source,
            }
            for v in versions
        ]
        show(
            rows,
            "\n".join(
                f"v{r['version']} {r['id']} [{r['known_from']}..{r['valid_to'] or ''}) {r['text']}" for r in rows
            ),
        )
    elif args.action == "search":
        stage = stage_of(args.stage, required=False)
        hits = memory.search(args.persona, args.query, stage, k=args.k, all_stages=stage is None)
        rows = [h.as_dict() for h in hits]
        show(rows, "\n".join(f"{r['score']:.3f} [{r['stage']}] {r['id']}: {r['text']}" for r in rows) or "(nothing)")
    elif args.action == "list":
        passages = memory.list(args.persona, stage_of(args.stage, required=False))
        rows = [
            {"id": p.id, "stage": p.stage, "known_from": p.known_from, "kind": p.kind, "text": p.text} for p in passages
        ]
        show(rows, "\n".join(f"[{r['known_from']:>2}] {r['id']:<36} {r['text']}" for r in rows) or "(nothing)")
    return 0


# ----------------------------------------------------------------------------- chat and converse


def cmd_chat(args: argparse.Namespace) -> int:
    import uuid

    from persona_rag.graphs.persona_graph import PersonaGraph

    settings = _cli()._settings(args)
    from persona_rag.persona import Persona

    check = Persona.load(args.persona, settings.corpus)
    check.stage(args.stage, default=check.default_stage())
    graph = PersonaGraph.from_persona(
        args.persona,
        settings=settings,
        adapter=args.adapter or "auto",
        openai_url=args.openai_url,
        openai_model=args.openai_model,
    )
    stage = graph.persona.stage(args.stage, default=graph.persona.default_stage())
    thread = args.thread or f"chat-{uuid.uuid4().hex[:8]}"
    last: dict[str, Any] = {}
    print(f"Talking to {graph.persona.name} at {stage.label}. /stage S to move in time, /sources, /quit.")
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
        if line.startswith("/stage"):
            try:
                stage = graph.persona.stage(line[len("/stage") :].strip())
                print(f"[now at {stage.label}]")
            except UsageError as exc:
                print(f"[{exc}]")
            continue
        if line == "/sources":
            for s in last.get("sources") or []:
                print(f"  {s['score']:.3f} [{s['stage']}] {s['id']}: {s['text']}")
            if not last.get("sources"):
                print("  (no sources yet)")
            continue
        print(f"{graph.persona.character.name.split()[0].lower()}> ", end="", flush=True)
        try:
            last = graph.invoke(
                {"question": line, "stage": stage.key},
                thread_id=thread,
                on_token=lambda t: print(t, end="", flush=True),
            )
        except UsageError as exc:
            print(f"[{exc}]")
            continue
        print(f"\n[{last['verdict']}]")


def cmd_converse(args: argparse.Namespace) -> int:
    from persona_rag.graphs.conversation import Conversation

    settings = _cli()._settings(args)
    speakers = [(args.a, args.stage_a), (args.b, args.stage_b)]
    from persona_rag.persona import Persona

    for name, stage in speakers:  # fail on bad input before loading any model
        p = Persona.load(name, settings.corpus)
        p.stage(stage, default=p.default_stage())
    generator = None
    if args.openai_url:
        from persona_rag.generators import OpenAICompatGenerator

        if not args.openai_model:
            raise UsageError("--openai-url needs --openai-model (the model name at that endpoint)")
        generator = OpenAICompatGenerator(args.openai_url, args.openai_model)
    conv = Conversation.from_personas(speakers, settings=settings, generator=generator)
    turns = conv.run(
        args.topic,
        turns=args.turns,
        on_turn=None if args.json else lambda t: print(f"{t['name']} ({t['stage']['label']}): {t['text']}\n"),
    )
    if args.json:
        print(json.dumps(turns, indent=2, ensure_ascii=False))
    return 0


# ----------------------------------------------------------------------------- registration


def register(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser("corpus", help="check a corpus folder, or ingest it into the memory")
    p.add_argument("action", choices=["check", "ingest"])
    p.add_argument("path", nargs="?", help="universe folder or shipped corpus name (default: PERSONA_RAG_CORPUS)")
    common(p, memory=True)
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("memory", help="search and update what personas know, without retraining")
    msub = p.add_subparsers(dest="action", metavar="ACTION")
    msub.required = True
    m = msub.add_parser("add", help="teach a persona a new fact from a stage on")
    m.add_argument("persona")
    m.add_argument("--stage", required=True, help="from when the persona knows it")
    m.add_argument("--text", required=True)
    m.add_argument("--kind", default="fact", help="fact, event, opinion, relation, ... (default: fact)")
    m = msub.add_parser("correct", help="replace a fact from a stage on; the old version is kept")
    m.add_argument("id")
    m.add_argument("--from-stage", required=True)
    m.add_argument("--text", required=True)
    m = msub.add_parser("retire", help="a fact stops holding from a stage on (kept in history)")
    m.add_argument("id")
    m.add_argument("--from-stage", required=True)
    m = msub.add_parser("history", help="every version of a fact, oldest first")
    m.add_argument("id")
    m = msub.add_parser("search", help="what a persona knows about something at a stage")
    m.add_argument("persona")
    m.add_argument("query")
    m.add_argument("--stage", help="omit to search every stage")
    m.add_argument("--k", type=int, default=5)
    m = msub.add_parser("list", help="every record of a persona (at a stage, if given)")
    m.add_argument("persona")
    m.add_argument("--stage")
    for m in msub.choices.values():
        m.add_argument("--json", action="store_true", help="machine-readable output")
        common(m, memory=True)
    p.set_defaults(func=cmd_memory)

    p = sub.add_parser("chat", help="talk with a persona; /stage S moves in time, /sources, /quit")
    p.add_argument("persona")
    p.add_argument("--stage")
    p.add_argument("--thread", help="conversation id (default: a new one)")
    p.add_argument("--adapter", help="LoRA adapter folder or 'none' (default: the persona's, if trained)")
    _cli().openai_flags(p)
    common(p, model=True)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("demo", help="the main job: Harry at two stages, then a knowledge update (offline)")
    common(p, model=True)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("converse", help="two personas, each at its own stage, talk about a topic")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--stage-a")
    p.add_argument("--stage-b")
    p.add_argument("--topic", required=True)
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--json", action="store_true")
    _cli().openai_flags(p)
    common(p, model=True)
    p.set_defaults(func=cmd_converse)


# ----------------------------------------------------------------------------- demo

DEMO_FACT = "Harry's favourite sweets are Honeydukes Peppermint Toads, which Ron brought back for him from Hogsmeade."


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the offline default: time-scoped answers and a live knowledge update."""
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.memory.store import open_memory
    from persona_rag.persona import Persona

    settings = _cli()._settings(args)
    persona = Persona.load("harry", settings.corpus)
    print(
        "persona-rag demo: Harry Potter, the offline default model (SmolLM2-135M) and the shipped corpus.\n", flush=True
    )
    # A scratch collection, rebuilt each run, so the demo's update never touches your own memory.
    memory = open_memory(settings, persona.universe, collection=f"pr_{persona.universe.id}_demo", ingest=False)
    memory.ingest(progress=True)
    memory.forget_updates("harry")
    graph = PersonaGraph.from_persona("harry", settings=settings, memory=memory, quiet=False)

    def ask(question: str, stage: str) -> dict[str, Any]:
        result = graph.invoke({"question": question, "stage": stage})
        top = result["sources"][0] if result["sources"] else None
        print(f'== Harry at {result["stage"]["label"]}: "{question}"')
        print(f"   verdict: {result['verdict']} ({result['verdict_reason']})")
        print(f"   answer:  {result['answer']}")
        if top:
            print(f"   top memory: [{top['id']}] {top['text'][:110]}")
        print(flush=True)
        return result

    ask("Who is Gilderoy Lockhart?", "year 1")
    ask("Who is Gilderoy Lockhart?", "year 2")
    print("== Knowledge update, no retraining:")
    print(f'   persona-rag memory add harry --stage "Christmas of year 3" --text "{DEMO_FACT}"\n')
    question = "What are your favourite sweets?"
    added = memory.add("harry", persona.stage("Christmas of year 3"), DEMO_FACT, kind="opinion")
    before = ask(question, "start of year 3")
    after = ask(question, "end of year 3")
    seen_before = any(s["id"] == added.id for s in before["sources"])
    seen_after = any(s["id"] == added.id for s in after["sources"])
    print(
        f"The new fact {added.id} is {'used' if seen_after else 'NOT used'} at the end of year 3 "
        f"and {'wrongly used' if seen_before else 'not known'} at the start of year 3."
    )
    return 0 if seen_after and not seen_before else 1
