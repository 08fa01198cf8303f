"""Reading and checking a universe folder (see corpora/SCHEMA.md).

:func:`check_corpus` never raises on bad input: it returns every problem with
its file and line. :func:`load_universe` raises :class:`CorpusError` with the
first problems when a corpus is unusable.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from persona_rag.errors import CorpusError, UsageError
from persona_rag.timeline import Stage, Timeline

WORLD = "_world"
OPEN = 1_000_000  # valid_to of a passage that still holds: Chroma compares numbers only
PASSAGE_KINDS = ("trait", "relation", "fact", "opinion", "possession", "skill", "family", "knowledge")
DIALOGUE_MODES = ("knowledge", "opinion", "false-premise", "role-break")
HELDOUT_THRESHOLD = 52  # first sha256 byte below this: held out (52/256 ~ 20%)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Passage:
    """One memory record. ``persona`` is a persona id, or WORLD for the universe-wide event log."""

    id: str
    universe: str
    persona: str
    text: str
    stage: int
    known_from: int
    valid_to: int = OPEN
    kind: str = "event"
    participants: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    source: str = ""
    witnessed: bool = False
    root: str = ""  # id of the first version (corrections share it)
    version: int = 1

    def metadata(self) -> dict[str, Any]:
        return {
            "pid": self.id,
            "universe": self.universe,
            "persona": self.persona,
            "stage": self.stage,
            "known_from": self.known_from,
            "valid_to": self.valid_to,
            "kind": self.kind,
            "participants": "," + ",".join(self.participants) + "," if self.participants else "",
            "entities": "|".join(self.entities),
            "source": self.source,
            "witnessed": int(self.witnessed),
            "root": self.root or self.id,
            "version": self.version,
        }

    @classmethod
    def from_metadata(cls, text: str, meta: dict[str, Any]) -> Passage:
        return cls(
            id=str(meta["pid"]),
            universe=str(meta.get("universe", "")),
            persona=str(meta.get("persona", "")),
            text=text,
            stage=int(meta.get("stage", 0)),
            known_from=int(meta.get("known_from", 0)),
            valid_to=int(meta.get("valid_to", OPEN)),
            kind=str(meta.get("kind", "")),
            participants=tuple(p for p in str(meta.get("participants", "")).split(",") if p),
            entities=tuple(e for e in str(meta.get("entities", "")).split("|") if e),
            source=str(meta.get("source", "")),
            witnessed=bool(int(meta.get("witnessed", 0))),
            root=str(meta.get("root", meta["pid"])),
            version=int(meta.get("version", 1)),
        )


@dataclass
class Character:
    id: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass
class Dialogue:
    id: str
    persona: str
    stage: Stage
    mode: str
    question: str
    analysis: str
    response: str
    source: str = ""

    @property
    def heldout(self) -> bool:
        return is_heldout(self.question)


def is_heldout(question: str) -> bool:
    """The fixed held-out split, by question text (documented in corpora/SCHEMA.md)."""
    norm = re.sub(r"\s+", " ", question.strip().lower())
    return hashlib.sha256(norm.encode("utf-8")).digest()[0] < HELDOUT_THRESHOLD


@dataclass
class Universe:
    id: str
    name: str
    root: Path
    timeline: Timeline
    characters: dict[str, Character]
    events: list[dict[str, Any]] = field(default_factory=list)
    personal: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    dialogues: dict[str, list[Dialogue]] = field(default_factory=dict)
    description: str = ""

    def persona(self, name: str) -> Character:
        """Find a character by id or alias, or raise a UsageError listing the valid ones."""
        key = name.strip().lower()
        if key in self.characters:
            return self.characters[key]
        for c in self.characters.values():
            if key in (a.lower() for a in c.aliases) or key == c.name.lower():
                return c
        valid = ", ".join(self.characters)
        raise UsageError(f"unknown persona {name!r} in universe {self.id!r}; valid personas: {valid}")

    def stage(self, value: str | int | Stage | None, default: Stage | None = None) -> Stage:
        return self.timeline.resolve(value, default)

    def passages(self) -> list[Passage]:
        """Every memory record of the universe: per-persona views plus the world event log."""
        out: list[Passage] = []
        keys = self.timeline.by_key
        for ev in self.events:
            stage = keys[ev["stage"]].ordinal
            valid_to = keys[ev["valid_to"]].ordinal if ev.get("valid_to") else OPEN
            participants = tuple(ev.get("participants") or ())
            entities = tuple(ev.get("entities") or ())
            src = ev["_source"]
            out.append(
                Passage(
                    f"{WORLD}:{ev['id']}",
                    self.id,
                    WORLD,
                    ev["text"],
                    stage,
                    stage,
                    valid_to,
                    "event",
                    participants,
                    entities,
                    src,
                )
            )
            public = keys[ev["public"]].ordinal if ev.get("public") else None
            for pid in self.characters:
                starts = []
                if pid in participants:
                    starts.append(stage)
                learned = (ev.get("learned_by") or {}).get(pid)
                if learned:
                    starts.append(max(stage, keys[learned].ordinal))
                if public is not None:
                    starts.append(max(stage, public))
                if not starts:
                    continue
                out.append(
                    Passage(
                        f"{pid}:{ev['id']}",
                        self.id,
                        pid,
                        ev["text"],
                        stage,
                        min(starts),
                        valid_to,
                        "event",
                        participants,
                        entities,
                        src,
                        witnessed=pid in participants,
                    )
                )
        for pid, rows in self.personal.items():
            for row in rows:
                stage = keys[row["stage"]].ordinal
                valid_to = keys[row["valid_to"]].ordinal if row.get("valid_to") else OPEN
                out.append(
                    Passage(
                        f"{pid}:{row['id']}",
                        self.id,
                        pid,
                        row["text"],
                        stage,
                        stage,
                        valid_to,
                        row["kind"],
                        (pid,),
                        tuple(row.get("entities") or ()),
                        row["_source"],
                        witnessed=True,
                    )
                )
        return out

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for p in self.passages():
            h.update(json.dumps(p.metadata(), sort_keys=True).encode())
            h.update(p.text.encode())
        return h.hexdigest()[:16]


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


def universe_path(name_or_path: str) -> Path:
    path = Path(name_or_path).expanduser()
    if (path / "universe.yaml").is_file():
        return path
    shipped = corpora_root() / name_or_path
    if (shipped / "universe.yaml").is_file():
        return shipped
    raise UsageError(
        f"no universe {name_or_path!r}: give a folder with universe.yaml or one of the shipped corpora: "
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
            if row.get(f) not in (None, "") and row.get(f) not in keys:
                problems.append(Problem(where.file, where.line, f"unknown stage {row.get(f)!r} in {f!r}"))
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
            learned = row.get("learned_by") or {}
            if not isinstance(learned, dict):
                problems.append(Problem(rel, n, "learned_by must map persona ids to stage keys"))
                ok = False
            else:
                for p, st in learned.items():
                    if p not in characters:
                        problems.append(Problem(rel, n, f"unknown character {p!r} in learned_by"))
                        ok = False
                    elif st not in keys:
                        problems.append(Problem(rel, n, f"unknown stage {st!r} in learned_by"))
                        ok = False
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
