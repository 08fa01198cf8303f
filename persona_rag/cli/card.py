"""`persona-rag card`: export a persona at a stage as a Character Card, or import a card as a new persona."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from persona_rag.cli.common import add_common, print_json, settings_from
from persona_rag.errors import UsageError


def cmd_export(args: argparse.Namespace) -> int:
    from persona_rag.builder.cards import card_png, export_card, load_universe_for
    from persona_rag.memory.store import open_memory
    from persona_rag.persona import Persona

    settings = settings_from(args)
    uni = load_universe_for(settings, settings.corpus)
    persona = Persona(uni, uni.persona(args.persona))
    stage = persona.stage(args.stage, default=persona.default_stage())
    out = Path(args.output) if args.output else None
    if args.format == "png" and out is None:
        raise UsageError("a PNG card needs a file: add -o FILE.png")
    # The memory, not the corpus: facts taught at run time are part of what the persona knows.
    cards = export_card(persona, stage, open_memory(settings, uni))
    if args.format == "png":
        data = card_png(cards)
    else:
        data = (json.dumps(cards[args.spec], indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if out is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        except OSError as exc:  # a folder, a path under a file, a full disk: say so, keep no half-written card
            if out.is_file():
                out.unlink()
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
        entries = len(cards["v3"]["data"]["character_book"]["entries"])
        print(f"wrote {out}: {persona.name} at {stage.label}, {entries} lorebook entries", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from persona_rag.builder.cards import import_card, read_card

    path = Path(args.file).expanduser()
    if not path.is_file():
        raise UsageError(f"no file {path}; give a card as .json or .png")
    card = read_card(path.read_bytes())
    report = import_card(
        card,
        settings_from(args),
        args.into,
        stage=args.stage,
        persona_id=args.id,
        timeline_from=args.timeline_from,
    )
    if args.json:
        print_json(report)
    else:
        print(
            f"imported {report['name']} as {report['persona']!r} into {report['path']} "
            f"({report['lorebook_entries']} lorebook entries known from {report['stage']['label']}); "
            f"talk to it: persona-rag ask {report['persona']} 'Who are you?' --universe {report['path']}"
        )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("card", help="export a persona at a stage as a Character Card, or import one")
    csub = p.add_subparsers(dest="action", metavar="ACTION")
    csub.required = True
    e = csub.add_parser("export", help="a V2/V3 card whose lorebook holds only what the persona knows at the stage")
    e.add_argument("persona")
    e.add_argument("--stage", help="default: the persona's last stage")
    e.add_argument("--format", choices=["json", "png"], default="json", help="png carries both V2 and V3")
    e.add_argument("--spec", choices=["v2", "v3"], default="v3", help="JSON card version (default v3)")
    e.add_argument("-o", "--output", help="file to write (default: standard output, JSON only)")
    add_common(e, memory=True)
    e.set_defaults(func=cmd_export)
    i = csub.add_parser("import", help="a V2/V3 card (JSON or PNG) becomes a persona of a user universe")
    i.add_argument("file")
    i.add_argument("--into", required=True, metavar="NAME", help="user universe (created under HOME/universes/NAME)")
    i.add_argument("--stage", help="from when the persona knows its lorebook (default: the first stage)")
    i.add_argument("--id", help="persona id (default: from the card's name)")
    i.add_argument("--timeline-from", help="for a new universe: copy this universe's timeline")
    i.add_argument("--json", action="store_true")
    i.add_argument("--home", help="home folder (env PERSONA_RAG_HOME)")
    i.add_argument("--embed-model", help="embedding model (env PERSONA_RAG_EMBED_MODEL)")
    i.add_argument("--chroma-url", help="Chroma server URL (env PERSONA_RAG_CHROMA_URL)")
    i.set_defaults(func=cmd_import)
