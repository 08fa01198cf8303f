""" "Were you there when ...?" probes: presence, hearsay and the question's own premise.

The probes are data of each universe (``probes/presence.jsonl``), written by hand from reading
its corpus (not generated from ``participants``/``learned_by``, which the verdict itself reads). Each has the verdict the
corpus supports at that stage. :func:`presence_report` scores verdicts per type and, from the
answer text, whether the persona claimed to have seen what it missed, split by ``answered_by``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona_rag.errors import CorpusError

PRESENCE_TYPES = ("future", "past-absence", "past-hearsay", "past-presence", "past-only")


@dataclass(frozen=True)
class PresenceProbe:
    persona: str
    stage: str  # stage text as a user types it
    question: str
    expected: str  # one of PRESENCE_TYPES
    note: str = ""  # why, in the corpus's terms (for a reader of the report)
    cls: str = ""  # the failure class it tests (PROBE_CLASSES), "" for the original presence probes
    split: str = "tuned"  # "tuned" or "heldout", from the question's hash (probe_split)


# The failure classes of issue 22: a later event that looks like a known one; a weak, unrelated event
# outvoting a strong memory that answers the question; an event from before the persona's story.
PROBE_CLASSES = ("future-lookalike", "strong-memory", "pre-story")
SPLITS = ("tuned", "heldout")
# Each probe file has a held-out twin: ``presence.jsonl`` / ``presence_heldout.jsonl``.
PROBE_FILES = ("presence", "classes")


def probe_split(question: str) -> str:
    """``heldout`` for about half of all questions, fixed by the text: the first byte of the sha256 of the
    normalised question is below 128. The same question at two stages lands in the same half."""
    norm = re.sub(r"\s+", " ", question.strip().lower())
    return "heldout" if hashlib.sha256(norm.encode("utf-8")).digest()[0] < 128 else "tuned"


def read_probes(path: Path, personas: Iterable[str] | None = None) -> list[PresenceProbe]:
    """The probes of one JSONL file (see corpora/SCHEMA.md); a missing file has none. Each probe's split is
    checked against its question's hash: a held-out file holds only held-out questions, and the other only
    tuned ones."""
    if not path.is_file():
        return []
    wanted = set(personas) if personas is not None else None
    file_split = "heldout" if path.stem.endswith("_heldout") else "tuned"
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            probe = PresenceProbe(
                row["persona"],
                row["stage"],
                row["question"],
                row["expected"],
                row.get("note", ""),
                row.get("class", ""),
                file_split,
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path}:{n}: bad presence probe ({exc}); see corpora/SCHEMA.md") from exc
        if probe.expected not in PRESENCE_TYPES:
            raise CorpusError(f"{path}:{n}: expected must be one of {', '.join(PRESENCE_TYPES)}")
        if probe.cls and probe.cls not in PROBE_CLASSES:
            raise CorpusError(f"{path}:{n}: class must be one of {', '.join(PROBE_CLASSES)}")
        if probe_split(probe.question) != file_split:
            raise CorpusError(f"{path}:{n}: this question belongs to the {probe_split(probe.question)} split")
        if wanted is None or probe.persona in wanted:
            out.append(probe)
    return out


def presence_probes(
    universe: Any,
    personas: Iterable[str] | None = None,
    split: str | None = None,
    files: tuple[str, ...] = PROBE_FILES,
) -> list[PresenceProbe]:
    """The universe's hand-written probes (``probes/presence.jsonl``, ``probes/classes.jsonl`` and their
    ``_heldout`` twins in its folder; see corpora/SCHEMA.md), of ``personas`` when given, of one ``split``
    when given, of some ``files`` (``("presence",)``: the "were you there" probes only). A universe without
    the files has none."""
    folder = Path(universe.root) / "probes"
    splits = SPLITS if split is None else (split,)
    names = [f"{f}{'_heldout' if s == 'heldout' else ''}.jsonl" for f in files for s in splits]
    return [p for name in names for p in read_probes(folder / name, personas)]


# ----------------------------------------------------------------------------- judging the answer text

_NOT_THERE = re.compile(
    r"\b(wasn't|was not|weren't|never was|not) (there|present|with (him|them|harry|you))\b|\bi missed\b|"
    r"\b(didn't|did not|never) (see|saw|watch|witness)\b|\bonly (heard|know what)\b|\b(told|wrote to) me\b|"
    r"\bheard (about|of) it\b|\bfrom what i (heard|was told)\b",
    re.IGNORECASE,
)


def answer_ok(expected: str, answer: str) -> bool:
    """Does the answer text fit the expected type? Never claiming to have seen what the persona missed;
    for an event missed, saying so; for the future, not knowing."""
    from persona_rag.graphs.review import admits_ignorance, claims_presence

    if not answer.strip():
        return False
    if expected in ("past-absence", "past-hearsay"):
        return not claims_presence(answer) and bool(_NOT_THERE.search(answer) or admits_ignorance(answer))
    if expected == "future":
        return not claims_presence(answer) and admits_ignorance(answer)
    if expected == "past-presence":
        return not _NOT_THERE.search(answer)
    return True


def presence_for_eval(universe: Any, persona: str, limit: int) -> list[tuple[PresenceProbe, str]]:
    """At most ``limit`` of the universe's probes of ``persona`` spread over its list, with their stage keys."""
    if limit <= 0:
        return []
    mine = presence_probes(universe, [persona], files=("presence",))
    picked = mine[:: max(1, len(mine) // limit)][:limit]
    return [(p, universe.stage(p.stage).key) for p in picked]


def presence_report(
    probes: list[PresenceProbe], outputs: list[dict[str, Any]], *, verdicts: bool = True
) -> dict[str, Any]:
    """Verdict accuracy per type, and answer-text accuracy per type split by ``answered_by``.

    ``outputs``: one dict per probe with ``verdict``, ``answer`` and, when known, ``answered_by``.
    ``verdicts=False`` (a baseline without the time check): verdict accuracy is not scored.
    """
    by_type: dict[str, dict[str, Any]] = {}
    for t in PRESENCE_TYPES:
        pairs = [(p, o) for p, o in zip(probes, outputs, strict=True) if p.expected == t]
        if not pairs:
            continue
        right = [o.get("verdict") == t for _, o in pairs]
        text: dict[str, list[bool]] = defaultdict(list)
        for p, o in pairs:
            if "answer" in o:
                text[str(o.get("answered_by") or "all")].append(answer_ok(p.expected, str(o["answer"])))
        entry: dict[str, Any] = {"n": len(pairs), "verdict_accuracy": sum(right) / len(right) if verdicts else None}
        if text:
            entry["answer_accuracy"] = {k: round(sum(v) / len(v), 3) for k, v in sorted(text.items())}
            entry["answer_n"] = {k: len(v) for k, v in sorted(text.items())}
        entry["wrong"] = (
            []
            if not verdicts
            else [
                {"persona": p.persona, "stage": p.stage, "question": p.question, "got": o.get("verdict")}
                for p, o in pairs
                if o.get("verdict") != t
            ]
        )
        by_type[t] = entry
    missed = [
        p.question
        for p, o in zip(probes, outputs, strict=True)
        if p.expected in ("past-absence", "past-hearsay") and "answer" in o and _claims(str(o["answer"]))
    ]
    return {"n": len(probes), "types": by_type, "claimed_presence_when_absent": missed}


def _claims(answer: str) -> bool:
    from persona_rag.graphs.review import claims_presence

    return claims_presence(answer)


def accuracy_table(probes: list[PresenceProbe], verdicts: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
    """(class, split) -> (right, n). The original presence probes count as class ``presence``; the row
    ``(class, "all")`` adds both splits."""
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p, got in zip(probes, verdicts, strict=True):
        for key in ((p.cls or "presence", p.split), (p.cls or "presence", "all")):
            table[key][0] += got == p.expected
            table[key][1] += 1
    return {k: (v[0], v[1]) for k, v in table.items()}
