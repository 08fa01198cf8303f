"""The time model: one ordered timeline per universe, and stage resolution.

"year 2", "second year", "Christmas of year 3", "Chamber of Secrets", "1992",
"y2.start" and 7 all resolve to a :class:`Stage`. A bare period ("year 2") means
its last checkpoint: the persona has lived the whole year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from persona_rag.errors import UsageError


@dataclass(frozen=True, order=True)
class Stage:
    """A point on a universe's timeline. Ordered by ``ordinal``."""

    ordinal: int
    key: str = field(compare=False)
    label: str = field(compare=False)
    # How the persona is told where it stands: "Christmas of your second year".
    yours: str = field(default="", compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"ordinal": self.ordinal, "key": self.key, "label": self.label}

    def temporal_label(self) -> str:
        """The PersLLM-style label put in prompts: "Now it's Christmas of your second year"."""
        return f"Now it is {self.yours or self.label}"


def _norm(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^a-z0-9'.\- ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Timeline:
    stages: list[Stage]
    aliases: dict[str, str]  # normalised alias -> stage key
    period_aliases: dict[str, list[str]]  # normalised alias -> stage keys of that period (in order)
    checkpoint_aliases: dict[str, str]  # normalised alias -> checkpoint name
    calendar: dict[int, str]
    groups: dict[str, str] = field(default_factory=dict)  # stage key -> the label of its period (or its own)

    @property
    def by_key(self) -> dict[str, Stage]:
        return {s.key: s for s in self.stages}

    @property
    def last(self) -> Stage:
        return self.stages[-1]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Timeline:
        checkpoints: dict[str, dict[str, Any]] = config.get("checkpoints") or {}
        stages: list[Stage] = []
        groups: dict[str, str] = {}
        aliases: dict[str, str] = {}
        period_aliases: dict[str, list[str]] = {}
        checkpoint_aliases: dict[str, str] = {}
        for name, spec in checkpoints.items():
            checkpoint_aliases[_norm(name)] = name
            for alias in (spec or {}).get("aliases", []) or []:
                checkpoint_aliases[_norm(str(alias))] = name
            if (spec or {}).get("label"):
                checkpoint_aliases[_norm(str(spec["label"]))] = name
        for entry in config.get("stages") or []:
            if "period" in entry:
                period = str(entry["period"])
                plabel = str(entry.get("label", period))
                keys = []
                for cp in entry.get("checkpoints") or []:
                    cp_label = str((checkpoints.get(cp) or {}).get("label", cp))
                    key = f"{period}.{cp}"
                    stages.append(Stage(len(stages), key, f"{cp_label} of {plabel}", f"{cp_label} of your {plabel}"))
                    keys.append(key)
                    groups[key] = plabel
                for alias in [period, plabel, *(entry.get("aliases") or [])]:
                    period_aliases[_norm(str(alias))] = keys
            else:
                key = str(entry["key"])
                stages.append(Stage(len(stages), key, str(entry.get("label", key))))
                groups[key] = str(entry.get("label", key))
                for alias in [key, entry.get("label", key), *(entry.get("aliases") or [])]:
                    aliases[_norm(str(alias))] = key
        calendar = {int(k): str(v) for k, v in (config.get("calendar") or {}).items()}
        return cls(stages, aliases, period_aliases, checkpoint_aliases, calendar, groups)

    def group_of(self, ordinal: int) -> str:
        """The label of the period a stage belongs to ("first year"), or the stage's own label."""
        key = self.stages[ordinal].key
        return self.groups.get(key, self.stages[ordinal].label)

    def early_and_late(self) -> tuple[Stage, Stage]:
        """Two stages far apart on the timeline (about a seventh in from each end), for comparisons."""
        n = len(self.stages)
        step = n // 7
        return self.stages[min(n - 1, max(1, step))], self.stages[max(0, n - 1 - step)]

    def valid_hint(self) -> str:
        periods = sorted({a for a in self.period_aliases if re.fullmatch(r"(year|y)\s?\d+|\d{4}-\d{2}", a) is None})
        examples = ", ".join(list(self.aliases)[:2] + periods[:4])
        cps = ", ".join(sorted(set(self.checkpoint_aliases.values())))
        return (
            f"valid stages: a key such as {self.stages[0].key!r} .. {self.last.key!r}, an ordinal 0-{self.last.ordinal}, "
            f"a name such as {examples}, '<checkpoint> of <period>' with checkpoints {cps or 'none'}"
            + (f", or a calendar year {min(self.calendar)}-{max(self.calendar)}" if self.calendar else "")
        )

    def resolve(self, value: str | int | Stage | None, default: Stage | None = None) -> Stage:
        """Resolve user input to a stage, or raise :class:`UsageError` listing what is valid."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if default is not None:
                return default
            raise UsageError(f"no stage given; {self.valid_hint()}")
        if isinstance(value, Stage):
            return self.stages[value.ordinal]
        if isinstance(value, bool):
            raise UsageError(f"stage {value!r} is not valid; {self.valid_hint()}")
        if isinstance(value, int):
            return self._by_ordinal(value, str(value))
        text = _norm(str(value))
        found = self._lookup(text)
        if found is None:
            raise UsageError(f"unknown stage {str(value)!r}; {self.valid_hint()}")
        return found

    def _by_ordinal(self, n: int, raw: str) -> Stage:
        if 0 <= n < len(self.stages):
            return self.stages[n]
        raise UsageError(f"stage {raw} is out of range; {self.valid_hint()}")

    def _lookup(self, text: str) -> Stage | None:
        by_key = {s.key.lower(): s for s in self.stages}
        if text in by_key:
            return by_key[text]
        bare = re.sub(r"^(the|my|your)\s+", "", text)  # "the flood year" names the stage "flood year"
        if bare != text and (bare in self.aliases or bare in self.period_aliases):
            text = bare
        if text in self.aliases:
            return self.by_key[self.aliases[text]]
        if text in self.period_aliases:
            return self.by_key[self.period_aliases[text][-1]]
        if re.fullmatch(r"\d{4}", text) and int(text) in self.calendar:
            return self.by_key[self.calendar[int(text)]]
        if re.fullmatch(r"\d{1,3}", text):
            return self._by_ordinal(int(text), text)
        # "<checkpoint> of <period>", "<checkpoint> in <period>", "<period> <checkpoint>", "the <...>"
        text = re.sub(r"^(the|at|in|during)\s+", "", text)
        for sep in (" of the ", " of ", " in the ", " in ", " during ", ", ", " "):
            if sep not in text:
                continue
            for i in [m.start() for m in re.finditer(re.escape(sep), text)]:
                left, right = text[:i].strip(), text[i + len(sep) :].strip()
                for cp_text, period_text in ((left, right), (right, left)):
                    cp_text = re.sub(r"^(the|at)\s+", "", cp_text)
                    period_text = re.sub(r"^(the|my|your)\s+", "", period_text)
                    if cp_text in self.checkpoint_aliases and period_text in self.period_aliases:
                        wanted = self.checkpoint_aliases[cp_text]
                        for key in self.period_aliases[period_text]:
                            if key.rsplit(".", 1)[-1] == wanted:
                                return self.by_key[key]
        self._raise_if_out_of_range(text)
        return None

    def _raise_if_out_of_range(self, text: str) -> None:
        # "year 9": looks like a period but is past the timeline -> say so plainly.
        m = re.fullmatch(r"(?:year|y) ?(\d+)", text)
        if m:
            raise UsageError(f"stage {text!r} is out of range; {self.valid_hint()}")


_LEAD = re.compile(r"\b(in|at|during)\s+", re.IGNORECASE)
_MAX_PHRASE_WORDS = 7


def find_stage_in_text(text: str, timeline: Timeline) -> tuple[Stage | None, str]:
    """Find a stage phrase of this timeline after "in", "at" or "during" inside a question.

    The phrases are the timeline's own (aliases, periods, "<checkpoint> of <period>",
    calendar years), so any universe works. Returns the stage (or None) and the text
    of the match, so callers can strip it. Bare numbers are not stages here ("at 7").
    """
    for lead in _LEAD.finditer(text):
        words = text[lead.end() :].split()
        for n in range(min(_MAX_PHRASE_WORDS, len(words)), 0, -1):
            phrase = " ".join(words[:n]).rstrip(",.;:?!")
            if not phrase or re.fullmatch(r"\d{1,3}", phrase):
                continue
            try:
                stage = timeline.resolve(phrase)
            except UsageError:
                continue
            # The phrase was rebuilt with single spaces: match it back with any whitespace between words.
            found = re.compile(r"\s+".join(map(re.escape, phrase.split()))).search(text, lead.end())
            end = found.end() if found else len(text)
            return stage, text[lead.start() : end]
    return None, ""
