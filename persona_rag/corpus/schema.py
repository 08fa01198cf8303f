"""What a universe is made of: stages, characters, events, passages, dialogues (corpora/SCHEMA.md)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from persona_rag.errors import UsageError
from persona_rag.timeline import Stage, Timeline
from persona_rag.vocabulary import Vocabulary

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
    # persona id -> event id -> how the persona felt at that event and what it thought of it (feelings/<id>.jsonl)
    feelings: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)  # the whole universe.yaml: titles, stage phrases, demo
    _fingerprint: str = field(default="", repr=False, compare=False)  # computed once: the corpus is read-only

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

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Titles, common words and non-name capitals of this universe (``vocabulary`` in universe.yaml)."""
        return Vocabulary.from_config(self.config)

    @cached_property
    def events_by_id(self) -> dict[str, dict[str, Any]]:
        """The world event log by event id (the id after ``_world:`` in the memory)."""
        return {ev["id"]: ev for ev in self.events}

    def learned_from(self, event: dict[str, Any], persona: str) -> str:
        """Who told ``persona`` of ``event`` (a character's full name or the name the corpus gives), or ""."""
        who = str((event.get("_learned_from") or {}).get(persona) or "")
        return self.characters[who].name if who in self.characters else who

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
        """A hash of every memory record the corpus defines: changes when any event, passage or stage does."""
        if self._fingerprint:
            return self._fingerprint
        h = hashlib.sha256()
        for p in self.passages():
            h.update(json.dumps(p.metadata(), sort_keys=True).encode())
            h.update(p.text.encode())
        self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint
