"""A persona: one character of a universe, seen at one stage of its life."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from persona_rag import prompts
from persona_rag.corpus import Character, Universe, load_universe
from persona_rag.timeline import Stage


@dataclass
class Persona:
    universe: Universe
    character: Character

    @classmethod
    def load(cls, name: str, universe: str | Universe = "harry_potter") -> Persona:
        uni = universe if isinstance(universe, Universe) else load_universe(universe)
        return cls(uni, uni.persona(name))

    @property
    def id(self) -> str:
        return self.character.id

    @property
    def name(self) -> str:
        return self.character.name

    @property
    def short_name(self) -> str:
        """How the persona is called in a sentence: "Harry", "Dumbledore" (titles come from the universe)."""
        vocab = self.universe.vocabulary
        name = vocab.strip_title(self.name)
        # A name that was only a title and a surname ("Professor Snape") keeps the surname.
        return name.split()[0] if name != self.name and len(name.split()) == 1 else vocab.short_name(self.name)

    @property
    def profile(self) -> dict[str, Any]:
        return self.universe.profiles.get(self.id, {"summary": ""})

    def stage(self, value: str | int | Stage | None, default: Stage | None = None) -> Stage:
        return self.universe.stage(value, default)

    def default_stage(self) -> Stage:
        return self.universe.timeline.last

    def stage_notes(self, stage: Stage) -> str:
        """The profile's notes and attitudes in force at ``stage`` (the latest entry not after it)."""
        keys = self.universe.timeline.by_key
        current: dict[str, Any] | None = None
        for entry in self.profile.get("stages") or []:
            if keys[entry["from"]].ordinal <= stage.ordinal:
                current = entry
        if not current:
            return ""
        text = str(current.get("notes", "")).strip()
        attitudes = current.get("attitudes") or {}
        if attitudes:
            text = ". ".join(text.split(". ")[:2]).rstrip(".") + "."
            text += " " + " ".join(f"About {k}: {str(v).rstrip('.')}." for k, v in list(attitudes.items())[:2])
        return text.strip()

    def system_prompt(self, stage: Stage) -> str:
        return prompts.system_prompt(
            self.name, self.profile, stage.temporal_label(), self.stage_notes(stage), self.short_name
        )
