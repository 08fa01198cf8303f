"""`persona-rag memory`: search and update what personas know, without retraining."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from persona_rag.cli.common import add_common, open_memory_for
from persona_rag.corpus import OPEN, WORLD
from persona_rag.errors import UsageError

EXPORT_FORMAT = "persona-rag.memory-updates/1"


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
    from persona_rag.memory.store import version_row

    rows = [version_row(v) for v in memory.history(args.id)]
    text = "\n".join(f"v{r['version']} {r['id']} [{r['known_from']}..{r['valid_to'] or ''}) {r['text']}" for r in rows)
    return rows, text


def _search(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    stage = _stage(uni, args.stage)
    rows = [h.as_dict() for h in memory.search(args.persona, args.query, stage, k=args.k, all_stages=stage is None)]
    return rows, "\n".join(f"{r['score']:.3f} [{r['stage']}] {r['id']}: {r['text']}" for r in rows) or "(nothing)"


def _list(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    from persona_rag.memory.store import record_row

    rows = [record_row(p) for p in memory.list(args.persona, _stage(uni, args.stage))]
    return rows, "\n".join(f"[{r['known_from']:>2}] {r['id']:<36} {r['text']}" for r in rows) or "(nothing)"


def _export(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    rows = []
    for p, extra in memory.updates():
        rows.append(
            {
                "format": EXPORT_FORMAT,
                "universe": p.universe,
                "id": p.id,
                "persona": p.persona,
                "text": p.text,
                "stage": p.stage,
                "known_from": p.known_from,
                "valid_to": None if p.valid_to >= OPEN else p.valid_to,
                "kind": p.kind,
                "participants": list(p.participants),
                "entities": list(p.entities),
                "source": p.source,
                "witnessed": p.witnessed,
                "root": p.root or p.id,
                "version": p.version,
                **{k: extra[k] for k in ("origin", "superseded_by", "closed_by_update", "hash") if k in extra},
            }
        )
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    out = Path(args.file).expanduser()
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)  # a complete file or none
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # no half-written file left beside the target
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    facts = len({r["root"] for r in rows})
    return {
        "file": str(out),
        "records": len(rows),
        "facts": facts,
    }, f"wrote {len(rows)} records of {facts} facts to {out}"


def _read_export(path: str, uni: Any) -> list[tuple[Any, dict[str, Any]]]:
    from persona_rag.corpus import Passage

    src = Path(path).expanduser()
    try:
        lines = src.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {src}: {getattr(exc, 'strerror', None) or exc}") from None
    last = len(uni.timeline.stages) - 1
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{src}:{n}"
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{where}: not a JSON line; give a file written by `persona-rag memory export`") from None
        if not isinstance(row, dict) or row.get("format") != EXPORT_FORMAT:
            raise UsageError(f"{where}: not a record of `persona-rag memory export` ({EXPORT_FORMAT})")
        if row.get("universe") != uni.id:
            raise UsageError(f"{where}: a record of universe {row.get('universe')!r}, not {uni.id!r}; use --universe")
        try:
            if not isinstance(row["persona"], str):
                raise ValueError("persona must be text")
            persona = row["persona"] if row["persona"] == WORLD else uni.persona(row["persona"]).id
            stages = [int(row["stage"]), int(row["known_from"])]
            valid_to = OPEN if row.get("valid_to") is None else int(row["valid_to"])
            if not all(0 <= s <= last for s in stages) or not 0 <= valid_to <= OPEN:
                raise ValueError("stage out of range")
            if not isinstance(row["text"], str) or not row["text"].strip() or not isinstance(row["id"], str):
                raise ValueError("id and text must be text")
            p = Passage(
                row["id"],
                uni.id,
                persona,
                row["text"],
                stages[0],
                stages[1],
                valid_to,
                str(row.get("kind") or "fact"),
                tuple(str(x) for x in row.get("participants") or ()),
                tuple(str(x) for x in row.get("entities") or ()),
                str(row.get("source") or "update"),
                bool(row.get("witnessed")),
                str(row.get("root") or row["id"]),
                int(row.get("version") or 1),
            )
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{where}: bad record ({type(exc).__name__}: {exc})") from None
        extra = {k: row[k] for k in ("origin", "superseded_by", "closed_by_update", "hash") if row.get(k) is not None}
        records.append((p, extra))
    return records


def _import(memory: Any, uni: Any, args: argparse.Namespace) -> tuple[Any, str]:
    records = _read_export(args.file, uni)
    n = memory.restore(records)
    return {
        "file": args.file,
        "records": n,
    }, f"imported {n} records from {args.file} (same ids: importing again changes nothing)"


ACTIONS: dict[str, Callable[[Any, Any, argparse.Namespace], tuple[Any, str]]] = {
    "add": _add,
    "correct": _correct,
    "retire": _retire,
    "history": _history,
    "search": _search,
    "list": _list,
    "export": _export,
    "import": _import,
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
    m = msub.add_parser(
        "export", help="write every run-time addition, correction and retirement (with history) to JSONL"
    )
    m.add_argument("file", help="the JSONL file to write")
    m = msub.add_parser("import", help="replay a `memory export` file (same ids; importing twice changes nothing)")
    m.add_argument("file", help="a JSONL file written by `persona-rag memory export`")
    for m in msub.choices.values():
        m.add_argument("--json", action="store_true", help="machine-readable output")
        add_common(m, memory=True)
    p.set_defaults(func=cmd_memory)
