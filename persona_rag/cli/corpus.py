"""`persona-rag corpus`: check a universe folder, or ingest it into the memory."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from persona_rag.cli.common import add_common, settings_from
from persona_rag.errors import UsageError


def cmd_check(path: str) -> int:
    from persona_rag.corpus import check_corpus, load_universe, universe_path

    try:
        root = universe_path(path)
    except UsageError:
        root = None
    problems = check_corpus(root or path)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    uni = load_universe(str(root))
    events = len(uni.events)
    personal = sum(len(v) for v in uni.personal.values())
    dialogues = sum(len(v) for v in uni.dialogues.values())
    print(
        f"ok: {uni.id}: {len(uni.timeline.stages)} stages, {len(uni.characters)} characters, {events} events, "
        f"{personal} personal passages, {len(uni.profiles)} profiles, {dialogues} dialogues"
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from persona_rag.corpus import load_universe
    from persona_rag.memory.store import open_memory

    settings = settings_from(args)
    uni = load_universe(args.path or settings.corpus)
    memory = open_memory(settings, uni, ingest=False)
    report = memory.ingest(progress=True)
    print(f"{uni.id}: {report}")
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    if args.action == "check":
        return cmd_check(args.path or settings_from(args).corpus)
    return cmd_ingest(args)


def register(sub: Any) -> None:
    p = sub.add_parser("corpus", help="check a corpus folder, or ingest it into the memory")
    p.add_argument("action", choices=["check", "ingest"])
    p.add_argument("path", nargs="?", help="universe folder or shipped corpus name (default: PERSONA_RAG_CORPUS)")
    add_common(p, memory=True)
    p.set_defaults(func=cmd_corpus)
