"""`persona-rag memory`: search and update what personas know, without retraining."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from persona_rag.cli.common import add_common, open_memory_for
from persona_rag.corpus import OPEN


def _stage(uni: Any, value: str | None) -> Any:
    return None if value is None else uni.stage(value)


def _add(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    p = memory.add(args.persona, uni.stage(args.stage), args.text, kind=args.kind)
    return {"id": p.id, "stage": p.stage}, f"added {p.id} (known from stage {p.stage})"


def _correct(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    p = memory.correct(args.id, uni.stage(args.from_stage), args.text)
    return {"id": p.id, "replaces": args.id, "from_stage": p.stage}, f"{args.id} corrected from stage {p.stage}: {p.id}"


def _retire(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    p = memory.retire(args.id, uni.stage(args.from_stage))
    return {"id": p.id, "valid_to": p.valid_to}, f"{p.id} no longer holds from stage {p.valid_to}"


def _history(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    rows = [
        {
            "id": v.id,
            "version": v.version,
            "text": v.text,
            "stage": v.stage,
            "known_from": v.known_from,
            "valid_to": None if v.valid_to >= OPEN else v.valid_to,
            "source": v.source,
        }
        for v in memory.history(args.id)
    ]
    text = "\n".join(f"v{r['version']} {r['id']} [{r['known_from']}..{r['valid_to'] or ''}) {r['text']}" for r in rows)
    return rows, text


def _search(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    stage = _stage(uni, args.stage)
    rows = [h.as_dict() for h in memory.search(args.persona, args.query, stage, k=args.k, all_stages=stage is None)]
    return rows, "\n".join(f"{r['score']:.3f} [{r['stage']}] {r['id']}: {r['text']}" for r in rows) or "(nothing)"


def _list(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    rows = [
        {"id": p.id, "stage": p.stage, "known_from": p.known_from, "kind": p.kind, "text": p.text}
        for p in memory.list(args.persona, _stage(uni, args.stage))
    ]
    return rows, "\n".join(f"[{r['known_from']:>2}] {r['id']:<36} {r['text']}" for r in rows) or "(nothing)"


ACTIONS: dict[str, Callable[[Any, Any, argparse.Namespace], tuple[Any, str]]] = {
    "add": _add,
    "correct": _correct,
    "retire": _retire,
    "history": _history,
    "search": _search,
    "list": _list,
}


def cmd_memory(args: argparse.Namespace) -> int:
    memory, uni = open_memory_for(args)
    obj, text = ACTIONS[args.action](memory, uni, args)
    print(json.dumps(obj, indent=2, ensure_ascii=False) if args.json else text)
    return 0


def register(sub: Any) -> None:
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
        add_common(m, memory=True)
    p.set_defaults(func=cmd_memory)
