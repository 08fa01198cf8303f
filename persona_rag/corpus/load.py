"""Reading and checking a universe folder (see corpora/SCHEMA.md).

:func:`check_corpus` never raises on bad input: it returns every problem with
its file and line. :func:`load_universe` raises :class:`CorpusError` with the
first problems when a corpus is unusable.
"""

from __future__ import annotations

import json
import re
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


def user_universes(root: Path | None = None) -> list[str]:
    """Universes built or imported by the user, under ``root`` (default ``$PERSONA_RAG_HOME/universes``).
    Folders starting with a dot are a build's work in progress, not universes."""
    from persona_rag.paths import user_universes_dir
    from persona_rag.settings import load_settings

    root = root or user_universes_dir(load_settings())
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and (p / "universe.yaml").is_file())


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


def _read_config(root: Path, problems: list[Problem]) -> Universe | None:
    """universe.yaml: the timeline and the characters. None when the rest cannot be read against it."""
    conf_path = root / "universe.yaml"
    if not conf_path.is_file():
        problems.append(Problem(_rel(conf_path, root), 1, "missing universe.yaml (see corpora/SCHEMA.md)"))
        return None
    conf = _read_yaml(conf_path, root, problems)
    if not isinstance(conf, dict):
        if not problems:
            problems.append(Problem(_rel(conf_path, root), 1, "universe.yaml must be a mapping"))
        return None
    conf_text = conf_path.read_text(encoding="utf-8")
    uconf = _rel(conf_path, root)
    missing = [key for key in ("id", "stages", "characters") if not conf.get(key)]
    problems += [Problem(uconf, 1, f"missing field {key!r}") for key in missing]
    if missing:
        return None
    try:
        timeline = Timeline.from_config(conf)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problems.append(Problem(uconf, _line_of(conf_text, "stages"), f"bad stages: {exc}"))
        return None
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
    return Universe(
        str(conf["id"]),
        str(conf.get("name", conf["id"])),
        root,
        timeline,
        characters,
        description=str(conf.get("description", "")),
        config=conf,
    )


class _RowChecker:
    """The checks every JSONL row shares: required fields, unique ids, stage keys, field types."""

    def __init__(self, uni: Universe, problems: list[Problem]) -> None:
        self.keys = uni.timeline.by_key
        self.problems = problems
        self.seen: dict[str, str] = {}

    def __call__(self, row: dict[str, Any], file: str, line: int, required: tuple[str, ...]) -> bool:
        before = len(self.problems)
        self._required(row, file, line, required)
        self._unique(row, file, line)
        self._stages(row, file, line)
        self._types(row, file, line)
        ok = len(self.problems) == before
        if ok and row.get("valid_to") and self.keys[row["valid_to"]].ordinal <= self.keys[row["stage"]].ordinal:
            self.problems.append(Problem(file, line, "valid_to must be after stage"))
            ok = False
        return ok

    def _required(self, row: dict[str, Any], file: str, line: int, required: tuple[str, ...]) -> None:
        for f in required:
            if f not in row or row[f] in (None, "") or (f != "participants" and row[f] == []):
                self.problems.append(Problem(file, line, f"missing field {f!r}"))

    def _unique(self, row: dict[str, Any], file: str, line: int) -> None:
        rid = row.get("id")
        if isinstance(rid, str) and rid:
            if rid in self.seen:
                self.problems.append(Problem(file, line, f"duplicate id {rid!r} (first at {self.seen[rid]})"))
            else:
                self.seen[rid] = f"{file}:{line}"

    def _stages(self, row: dict[str, Any], file: str, line: int) -> None:
        for f in ("stage", "valid_to", "public"):
            value = row.get(f)
            if value in (None, ""):
                continue
            if not isinstance(value, str):  # a list or a number would not even hash: say what is wrong
                self.problems.append(Problem(file, line, f"{f!r} must be one stage key (text), not {value!r}"))
            elif value not in self.keys:
                self.problems.append(Problem(file, line, f"unknown stage {value!r} in {f!r}"))

    def _types(self, row: dict[str, Any], file: str, line: int) -> None:
        for f in ("participants", "entities"):
            value = row.get(f)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                self.problems.append(Problem(file, line, f"{f!r} must be a list of names, not {value!r}"))
        for f in ("text", "question", "analysis", "response"):
            if f in row and not isinstance(row[f], str):
                self.problems.append(Problem(file, line, f"field {f!r} must be text"))


def _persona_files(root: Path, folder: str, pattern: str, uni: Universe, problems: list[Problem]) -> list[Path]:
    """Files named after a character id (personas/, profiles/, dialogues/); others are reported."""
    out = []
    for path in sorted((root / folder).glob(pattern)):
        if path.stem in uni.characters:
            out.append(path)
        else:
            problems.append(
                Problem(_rel(path, root), 1, f"unknown character {path.stem!r}: the file name must be a character id")
            )
    return out


def _read_events(root: Path, uni: Universe, check: _RowChecker, problems: list[Problem]) -> None:
    for path in sorted((root / "events").glob("*.jsonl")):
        rel = _rel(path, root)
        for n, row in _read_jsonl(path, root, problems):
            ok = check(row, rel, n, ("id", "stage", "text", "participants"))
            parts = row.get("participants")
            if not isinstance(parts, list):
                problems.append(Problem(rel, n, "participants must be a list of persona ids"))
                ok = False
            else:
                for p in parts:
                    if p not in uni.characters:
                        problems.append(Problem(rel, n, f"unknown character {p!r} in participants"))
                        ok = False
            ok = _check_learned_by(row, rel, n, uni.characters, check.keys, problems) and ok
            if ok:
                row["_source"] = f"{rel}:{n}"
                uni.events.append(row)


def _read_personal(root: Path, uni: Universe, check: _RowChecker, problems: list[Problem]) -> None:
    for path in _persona_files(root, "personas", "*.jsonl", uni, problems):
        rel = _rel(path, root)
        for n, row in _read_jsonl(path, root, problems):
            ok = check(row, rel, n, ("id", "stage", "kind", "text"))
            if row.get("kind") and row["kind"] not in PASSAGE_KINDS:
                problems.append(Problem(rel, n, f"unknown kind {row['kind']!r}; valid: {', '.join(PASSAGE_KINDS)}"))
                ok = False
            if ok:
                row["_source"] = f"{rel}:{n}"
                uni.personal.setdefault(path.stem, []).append(row)


def _read_profiles(root: Path, uni: Universe, problems: list[Problem]) -> None:
    keys = uni.timeline.by_key
    for path in _persona_files(root, "profiles", "*.yaml", uni, problems):
        rel = _rel(path, root)
        data = _read_yaml(path, root, problems)
        if data is None:
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
        calls = data.get("calls")
        if calls is not None and (
            not isinstance(calls, dict) or not all(isinstance(v, str) and v.strip() for v in calls.values())
        ):
            problems.append(
                Problem(rel, _line_of(text, "calls:"), "'calls' must map names to the persona's word for them")
            )
            ok = False
        if ok:
            uni.profiles[path.stem] = data


def _read_dialogues(root: Path, uni: Universe, check: _RowChecker, problems: list[Problem]) -> None:
    for path in _persona_files(root, "dialogues", "*.jsonl", uni, problems):
        rel = _rel(path, root)
        persona_id = path.stem
        for n, row in _read_jsonl(path, root, problems):
            ok = check(row, rel, n, ("id", "stage", "mode", "question", "analysis", "response"))
            if row.get("mode") and row["mode"] not in DIALOGUE_MODES:
                problems.append(Problem(rel, n, f"unknown mode {row['mode']!r}; valid: {', '.join(DIALOGUE_MODES)}"))
                ok = False
            if ok:
                stage = check.keys[row["stage"]]
                uni.dialogues.setdefault(persona_id, []).append(
                    Dialogue(
                        row["id"],
                        persona_id,
                        stage,
                        row["mode"],
                        row["question"],
                        row["analysis"],
                        row["response"],
                        f"{rel}:{n}",
                    )
                )


def _read_feelings(root: Path, uni: Universe, problems: list[Problem]) -> None:
    """feelings/<persona>.jsonl: how the persona felt at an event it was at (``event``, ``text``)."""
    events = uni.events_by_id
    for path in _persona_files(root, "feelings", "*.jsonl", uni, problems):
        rel = _rel(path, root)
        persona_id = path.stem
        for n, row in _read_jsonl(path, root, problems):
            event, text = row.get("event"), row.get("text")
            if not isinstance(event, str) or not isinstance(text, str) or not text.strip():
                problems.append(Problem(rel, n, "a feeling needs 'event' (an event id) and 'text'"))
            elif event not in events:
                problems.append(Problem(rel, n, f"unknown event {event!r}"))
            elif persona_id not in (events[event].get("participants") or []):
                problems.append(Problem(rel, n, f"{persona_id!r} is not a participant of {event!r}"))
            elif not re.search(r"\b(?:I|me|my|myself)\b", text):
                problems.append(Problem(rel, n, "a feeling is said as it is written: write it in the first person"))
            elif event in uni.feelings.get(persona_id, {}):
                problems.append(Problem(rel, n, f"a second feeling for {event!r}"))
            else:
                uni.feelings.setdefault(persona_id, {})[event] = " ".join(text.split())


def _read(root: Path) -> tuple[Universe | None, list[Problem]]:
    """Read a universe folder: the universe (None if its config is unusable) and every problem found."""
    problems: list[Problem] = []
    root = root.resolve()
    uni = _read_config(root, problems)
    if uni is None:
        return None, problems
    check = _RowChecker(uni, problems)
    _read_events(root, uni, check, problems)
    _read_personal(root, uni, check, problems)
    _read_profiles(root, uni, problems)
    _read_dialogues(root, uni, check, problems)
    _read_feelings(root, uni, problems)
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
