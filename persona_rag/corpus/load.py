"""Reading and checking a universe folder (see corpora/SCHEMA.md).

:func:`check_corpus` never raises on bad input: it returns every problem with
its file and line. :func:`load_universe` raises :class:`CorpusError` with the
first problems when a corpus is unusable.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from persona_rag.corpus.schema import (
    DIALOGUE_MODES,
    PASSAGE_KINDS,
    Character,
    Dialogue,
    Problem,
    Universe,
)
from persona_rag.errors import CorpusError, UsageError
from persona_rag.timeline import Timeline

# ----------------------------------------------------------------------------- locating


def corpora_root() -> Path:
    """The shipped corpora: the checkout's corpora/ or the installed package data."""
    import importlib.util

    spec = importlib.util.find_spec("persona_rag.corpora")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "corpora"


def shipped_universes() -> list[str]:
    root = corpora_root()
    return sorted(p.name for p in root.iterdir() if (p / "universe.yaml").is_file()) if root.is_dir() else []


def user_universes() -> list[str]:
    """Universes built or imported by the user, under ``$PERSONA_RAG_HOME/universes``."""
    from persona_rag.paths import user_universes_dir
    from persona_rag.settings import load_settings

    root = user_universes_dir(load_settings())
    return sorted(p.name for p in root.iterdir() if (p / "universe.yaml").is_file()) if root.is_dir() else []


def universe_path(name_or_path: str) -> Path:
    """A universe folder: a path, a user universe by name, or a shipped corpus by name."""
    from persona_rag.paths import user_universes_dir
    from persona_rag.settings import load_settings

    path = Path(name_or_path).expanduser()
    if (path / "universe.yaml").is_file():
        return path
    user = user_universes_dir(load_settings()) / name_or_path
    if "/" not in name_or_path and (user / "universe.yaml").is_file():
        return user
    shipped = corpora_root() / name_or_path
    if (shipped / "universe.yaml").is_file():
        return shipped
    raise UsageError(
        f"no universe {name_or_path!r}: give a folder with universe.yaml, one of yours ("
        + (", ".join(user_universes()) or "none yet: `persona-rag corpus build`")
        + "), or a shipped one: "
        + ", ".join(shipped_universes())
    )


# ----------------------------------------------------------------------------- reading


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, root: Path, problems: list[Problem]) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(_rel(path, root), 1, f"cannot read: {exc}"))
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problems.append(Problem(_rel(path, root), line, f"malformed YAML: {getattr(exc, 'problem', exc)}"))
        return None


def _read_jsonl(path: Path, root: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(_rel(path, root), 1, f"cannot read: {exc}"))
        return rows
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(_rel(path, root), n, f"malformed JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(_rel(path, root), n, "expected a JSON object"))
            continue
        rows.append((n, obj))
    return rows


def _line_of(text: str, needle: str) -> int:
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return 1


def _check_learned_by(
    row: dict[str, Any], rel: str, n: int, characters: dict[str, Character], keys: Any, problems: list[Problem]
) -> bool:
    """Check an event's ``learned_by`` and normalise it in place.

    Each value is a stage key (``{"ron": "y1.end"}``) or ``{"stage": key, "from": who}``, where
    ``who`` is a character id or a person's name. After loading, ``learned_by`` always maps
    persona ids to stage keys and ``_learned_from`` maps persona ids to who told them.
    """
    learned = row.get("learned_by") or {}
    if not isinstance(learned, dict):
        problems.append(Problem(rel, n, "learned_by must map persona ids to stage keys or {stage, from}"))
        return False
    ok = True
    stages: dict[str, str] = {}
    told: dict[str, str] = {}
    for p, value in learned.items():
        if p not in characters:
            problems.append(Problem(rel, n, f"unknown character {p!r} in learned_by"))
            ok = False
            continue
        if isinstance(value, dict):
            extra = sorted(set(value) - {"stage", "from"})
            if extra:
                problems.append(Problem(rel, n, f"learned_by {p!r}: unknown field {extra[0]!r}; use stage and from"))
                ok = False
            st, who = value.get("stage"), value.get("from")
            if who is not None and (not isinstance(who, str) or not who.strip()):
                problems.append(Problem(rel, n, f"learned_by {p!r}: from must be a character id or a name"))
                ok = False
            elif isinstance(who, str) and who == who.lower() and " " not in who and who not in characters:
                problems.append(
                    Problem(rel, n, f"learned_by {p!r}: unknown character {who!r} in from (an id, or a Name)")
                )
                ok = False
            elif isinstance(who, str):
                if who == p:
                    problems.append(Problem(rel, n, f"learned_by {p!r}: a persona cannot be told by itself"))
                    ok = False
                told[p] = who.strip()
        elif isinstance(value, str):
            st = value
        else:
            problems.append(Problem(rel, n, f"learned_by {p!r}: give a stage key or {{stage, from}}"))
            ok = False
            continue
        if not isinstance(st, str) or st not in keys:
            problems.append(Problem(rel, n, f"unknown stage {st!r} in learned_by"))
            ok = False
            continue
        stages[p] = st
    if ok:
        row["learned_by"] = stages
        row["_learned_from"] = told
    return ok


def _read(root: Path) -> tuple[Universe | None, list[Problem]]:
    problems: list[Problem] = []
    root = root.resolve()
    conf_path = root / "universe.yaml"
    if not conf_path.is_file():
        return None, [Problem(_rel(conf_path, root), 1, "missing universe.yaml (see corpora/SCHEMA.md)")]
    conf = _read_yaml(conf_path, root, problems)
    if not isinstance(conf, dict):
        if not problems:
            problems.append(Problem(_rel(conf_path, root), 1, "universe.yaml must be a mapping"))
        return None, problems
    conf_text = conf_path.read_text(encoding="utf-8")
    uconf = _rel(conf_path, root)
    for key in ("id", "stages", "characters"):
        if not conf.get(key):
            problems.append(Problem(uconf, 1, f"missing field {key!r}"))
    if problems:
        return None, problems
    try:
        timeline = Timeline.from_config(conf)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, [Problem(uconf, _line_of(conf_text, "stages"), f"bad stages: {exc}")]
    keys = timeline.by_key
    if len(keys) != len(timeline.stages):
        problems.append(Problem(uconf, _line_of(conf_text, "stages"), "duplicate stage keys"))
    for cp_list in (e.get("checkpoints") or [] for e in conf["stages"] if isinstance(e, dict)):
        for cp in cp_list:
            if cp not in (conf.get("checkpoints") or {}):
                problems.append(Problem(uconf, _line_of(conf_text, f"{cp}"), f"unknown checkpoint {cp!r}"))
    for year, key in timeline.calendar.items():
        if key not in keys:
            problems.append(Problem(uconf, _line_of(conf_text, str(year)), f"calendar {year}: unknown stage {key!r}"))
    characters: dict[str, Character] = {}
    for c in conf["characters"]:
        if not isinstance(c, dict) or not c.get("id"):
            problems.append(Problem(uconf, _line_of(conf_text, "characters"), "each character needs an id"))
            continue
        cid = str(c["id"])
        if cid in characters:
            problems.append(Problem(uconf, _line_of(conf_text, f"id: {cid}"), f"duplicate character {cid!r}"))
        characters[cid] = Character(cid, str(c.get("name", cid)), tuple(str(a) for a in c.get("aliases") or ()))
    uni = Universe(
        str(conf["id"]),
        str(conf.get("name", conf["id"])),
        root,
        timeline,
        characters,
        description=str(conf.get("description", "")),
        config=conf,
    )
    seen: dict[str, str] = {}

    def check_common(row: dict[str, Any], where: Problem, required: tuple[str, ...]) -> bool:
        ok = True
        for f in required:
            if f not in row or row[f] in (None, "") or (f != "participants" and row[f] == []):
                problems.append(Problem(where.file, where.line, f"missing field {f!r}"))
                ok = False
        rid = row.get("id")
        if isinstance(rid, str) and rid:
            if rid in seen:
                problems.append(Problem(where.file, where.line, f"duplicate id {rid!r} (first at {seen[rid]})"))
                ok = False
            else:
                seen[rid] = f"{where.file}:{where.line}"
        for f in ("stage", "valid_to", "public"):
            value = row.get(f)
            if value in (None, ""):
                continue
            if not isinstance(value, str):  # a list or a number would not even hash: say what is wrong
                problems.append(Problem(where.file, where.line, f"{f!r} must be one stage key (text), not {value!r}"))
                ok = False
            elif value not in keys:
                problems.append(Problem(where.file, where.line, f"unknown stage {value!r} in {f!r}"))
                ok = False
        for f in ("participants", "entities"):
            value = row.get(f)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                problems.append(Problem(where.file, where.line, f"{f!r} must be a list of names, not {value!r}"))
                ok = False
        if ok and row.get("valid_to") and keys[row["valid_to"]].ordinal <= keys[row["stage"]].ordinal:
            problems.append(Problem(where.file, where.line, "valid_to must be after stage"))
            ok = False
        for f in ("text", "question", "analysis", "response"):
            if f in row and not isinstance(row[f], str):
                problems.append(Problem(where.file, where.line, f"field {f!r} must be text"))
                ok = False
        if "entities" in row and not (
            isinstance(row["entities"], list) and all(isinstance(e, str) for e in row["entities"])
        ):
            problems.append(Problem(where.file, where.line, "entities must be a list of names"))
            ok = False
        return ok

    for path in sorted((root / "events").glob("*.jsonl")):
        rel = _rel(path, root)
        for n, row in _read_jsonl(path, root, problems):
            where = Problem(rel, n, "")
            ok = check_common(row, where, ("id", "stage", "text", "participants"))
            parts = row.get("participants")
            if not isinstance(parts, list):
                problems.append(Problem(rel, n, "participants must be a list of persona ids"))
                ok = False
            else:
                for p in parts:
                    if p not in characters:
                        problems.append(Problem(rel, n, f"unknown character {p!r} in participants"))
                        ok = False
            ok = _check_learned_by(row, rel, n, characters, keys, problems) and ok
            if ok:
                row["_source"] = f"{rel}:{n}"
                uni.events.append(row)
    for path in sorted((root / "personas").glob("*.jsonl")):
        rel = _rel(path, root)
        pid = path.stem
        if pid not in characters:
            problems.append(Problem(rel, 1, f"unknown character {pid!r}: the file name must be a character id"))
            continue
        for n, row in _read_jsonl(path, root, problems):
            ok = check_common(row, Problem(rel, n, ""), ("id", "stage", "kind", "text"))
            if row.get("kind") and row["kind"] not in PASSAGE_KINDS:
                problems.append(Problem(rel, n, f"unknown kind {row['kind']!r}; valid: {', '.join(PASSAGE_KINDS)}"))
                ok = False
            if ok:
                row["_source"] = f"{rel}:{n}"
                uni.personal.setdefault(pid, []).append(row)
    for path in sorted((root / "profiles").glob("*.yaml")):
        rel = _rel(path, root)
        pid = path.stem
        data = _read_yaml(path, root, problems)
        if data is None:
            continue
        if pid not in characters:
            problems.append(Problem(rel, 1, f"unknown character {pid!r}: the file name must be a character id"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(rel, 1, "a profile must be a mapping"))
            continue
        text = path.read_text(encoding="utf-8")
        ok = True
        for entry in data.get("stages") or []:
            if not isinstance(entry, dict) or entry.get("from") not in keys:
                frm = entry.get("from") if isinstance(entry, dict) else entry
                problems.append(Problem(rel, _line_of(text, f"from: {frm}"), f"unknown stage {frm!r} in 'from'"))
                ok = False
        if ok:
            uni.profiles[pid] = data
    for path in sorted((root / "dialogues").glob("*.jsonl")):
        rel = _rel(path, root)
        pid = path.stem
        if pid not in characters:
            problems.append(Problem(rel, 1, f"unknown character {pid!r}: the file name must be a character id"))
            continue
        for n, row in _read_jsonl(path, root, problems):
            ok = check_common(row, Problem(rel, n, ""), ("id", "stage", "mode", "question", "analysis", "response"))
            if row.get("mode") and row["mode"] not in DIALOGUE_MODES:
                problems.append(Problem(rel, n, f"unknown mode {row['mode']!r}; valid: {', '.join(DIALOGUE_MODES)}"))
                ok = False
            if ok:
                uni.dialogues.setdefault(pid, []).append(
                    Dialogue(
                        row["id"],
                        pid,
                        keys[row["stage"]],
                        row["mode"],
                        row["question"],
                        row["analysis"],
                        row["response"],
                        f"{rel}:{n}",
                    )
                )
    return uni, problems


def check_corpus(path: str | Path) -> list[Problem]:
    """Every problem in a universe folder, with file and line. Never raises on bad data."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return [Problem(str(root), 1, "not a folder (give a universe folder containing universe.yaml)")]
    try:
        _, problems = _read(root)
    except Exception as exc:  # a checker must report, not crash
        return [Problem(str(root), 1, f"could not be read: {type(exc).__name__}: {exc}")]
    return problems


@lru_cache(maxsize=8)
def _load_cached(root: str, stamp: float) -> Universe:
    uni, problems = _read(Path(root))
    if uni is None or problems:
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CorpusError(f"corpus {root} has problems: {shown}{more}; run `persona-rag corpus check {root}`")
    return uni


def load_universe(name_or_path: str | Path = "harry_potter") -> Universe:
    """Load a shipped universe by name, or a universe folder. Cached until a file changes."""
    root = universe_path(str(name_or_path))
    stamp = max((p.stat().st_mtime for p in root.rglob("*") if p.is_file()), default=0.0)
    return _load_cached(str(root.resolve()), stamp)
