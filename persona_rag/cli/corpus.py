"""`persona-rag corpus`: check, ingest, build (from a book) and list universes."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from persona_rag.cli.common import add_common, add_openai_flags, settings_from
from persona_rag.errors import PersonaRagError, UsageError


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
    feelings = sum(len(v) for v in uni.feelings.values())
    print(
        f"ok: {uni.id}: {len(uni.timeline.stages)} stages, {len(uni.characters)} characters, {events} events, "
        f"{personal} personal passages, {len(uni.profiles)} profiles, {dialogues} dialogues, {feelings} feelings"
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


def cmd_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from persona_rag.builder import BuildOptions, build
    from persona_rag.paths import build_work_dir, user_universes_dir

    settings = settings_from(args)
    if args.name and args.out:
        raise UsageError("give --name (a universe under your home) or --out (a folder), not both")
    if args.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", args.name):
        raise UsageError(f"--name {args.name!r}: use ASCII letters, digits, '-' and '_' (start with a letter or digit)")
    # Without --name the universe is named after the output folder or the first file, made safe ("The Hound" ->
    # "the_hound").
    guess = Path(args.out).name if args.out else Path(args.sources[0]).stem
    name = args.name or re.sub(r"[^a-z0-9_-]+", "_", guess.lower()).strip("_-") or "universe"
    out = Path(args.out).expanduser() if args.out else user_universes_dir(settings) / name
    if args.openai_timeout <= 0:
        raise UsageError("--openai-timeout must be a positive number of seconds")
    opts = BuildOptions(
        sources=[Path(s).expanduser() for s in args.sources],
        out=out,
        personas=list(args.persona or []),
        work_dir=build_work_dir(settings, name),
        stages_file=Path(args.stages).expanduser() if args.stages else None,
        cast_file=Path(args.cast).expanduser() if args.cast else None,
        extractor=args.extractor,
        openai_url=args.openai_url,
        openai_model=args.openai_model,
        openai_api_key=args.openai_api_key,
        openai_timeout=args.openai_timeout,
        name=name,
        progress=sys.stderr.isatty(),
    )
    report = build(opts)
    for notice in report.notices:
        print(f"notice: {notice}", file=sys.stderr)
    print(report.summary())
    if not args.no_ingest:
        from persona_rag.builder.embed import DedupEmbedding
        from persona_rag.corpus import load_universe
        from persona_rag.memory.embeddings import load_embed_model
        from persona_rag.memory.store import open_memory

        uni = load_universe(str(out))
        memory = open_memory(settings, uni, embed_model=DedupEmbedding.wrap(load_embed_model(settings)), ingest=False)
        # An unchanged build still ingests when the last ingest did not finish (interrupted, or failed).
        if not report.up_to_date or not memory.ingest_complete():
            print(f"memory: {memory.ingest(progress=sys.stderr.isatty())}")
    where = str(out) if args.out else name
    persona = (args.persona or ["PERSONA"])[0].lower()
    print(f'next: persona-rag ask {persona} "..." --universe {where} --stage "..."')
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from persona_rag.corpus import load_universe, shipped_universes, universe_path
    from persona_rag.corpus.load import corpora_root, user_universes
    from persona_rag.paths import user_universes_dir

    settings = settings_from(args)
    rows = [(n, corpora_root() / n, "shipped") for n in shipped_universes()]
    rows += [(n, user_universes_dir(settings) / n, "yours") for n in user_universes(user_universes_dir(settings))]
    for name, path, kind in rows:
        try:
            uni = load_universe(str(universe_path(str(path))))
        except PersonaRagError as exc:
            print(f"{name} ({kind}, {path}): unreadable: {exc}")
            continue
        stages = uni.timeline.stages
        print(
            f"{name} ({kind}, {path}): personas {', '.join(uni.characters)}; {len(stages)} stages, "
            f"{stages[0].label!r} .. {stages[-1].label!r}"
        )
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    if args.action == "check":
        return cmd_check(args.path or settings_from(args).corpus)
    if args.action == "list":
        return cmd_list(args)
    return cmd_ingest(args)


def register(sub: Any) -> None:
    p = sub.add_parser("corpus", help="check, ingest, build or list universes")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for action, help_ in (("check", "check a universe folder"), ("ingest", "ingest a universe into the memory")):
        a = actions.add_parser(action, help=help_)
        a.add_argument("path", nargs="?", help="universe folder or name (default: PERSONA_RAG_CORPUS)")
        add_common(a, memory=True)
        a.set_defaults(func=cmd_corpus)
    a = actions.add_parser("list", help="the shipped universes and yours, with personas and stages")
    add_common(a, universe=False)
    a.set_defaults(func=cmd_corpus)
    b = actions.add_parser(
        "build",
        help="build a universe from a book or a biography (plain text or Markdown)",
        description="Build a universe folder from raw text: stages from its structure, events with who was "
        "there and who learned of them, persona passages and profiles; then ingest it into the memory.",
    )
    b.add_argument("sources", nargs="+", metavar="SOURCE", help="text or Markdown files, in reading order")
    b.add_argument("--name", help="universe name, built under $PERSONA_RAG_HOME/universes/NAME")
    b.add_argument("--out", help="build into this folder instead")
    b.add_argument("--persona", action="append", help="a character to build a persona for (repeat for more)")
    b.add_argument("--stages", help="YAML mapping chapters or works to named stages (see the README)")
    b.add_argument("--cast", help="YAML cast file (characters: [{name, aliases}], narrator), e.g. a built cast.yaml")
    b.add_argument(
        "--extractor", choices=["rules", "openai"], default="rules", help="rules (offline, default) or openai"
    )
    add_openai_flags(b)
    b.add_argument("--no-ingest", action="store_true", help="write the folder only; ingest on first use")
    add_common(b, memory=True, universe=False)
    b.set_defaults(func=cmd_build)
