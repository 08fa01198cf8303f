"""Verdicts pinned on a fixed set of questions.

The expected verdicts in tests/data/verdict_pins.json were computed by the code before the layered redesign
(commit 92580ee, where the time check searched the memory on its own), with the deterministic hash embedding.
The graph now searches the persona's memory once and shares the hits with the time check: it must reach the
same verdicts. A change made on purpose (a new verdict type, a corpus fix) updates the file and says why in
the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from persona_rag.graphs.persona_graph import PersonaGraph
from persona_rag.memory.store import TemporalMemory

from persona_rag.backends import ScriptedGenerator
from persona_rag.settings import Settings

PINS = json.loads((Path(__file__).parent / "data" / "verdict_pins.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graphs(hp_memory: TemporalMemory) -> dict[str, PersonaGraph]:
    from persona_rag.settings import load_settings

    settings: Settings = load_settings().with_overrides(embed_model="hash")
    return {
        pid: PersonaGraph.from_persona(
            pid, settings=settings, memory=hp_memory, generator=ScriptedGenerator(["I'm not sure."]), checkpointer=None
        )
        for pid in {p["persona"] for p in PINS}
    }


def test_graph_reaches_the_pinned_verdicts(graphs: dict[str, PersonaGraph]) -> None:
    got = [graphs[p["persona"]].invoke({"question": p["question"], "stage": p["stage"]})["verdict"] for p in PINS]
    wrong = [
        f"{p['persona']} @ {p['stage']}: {p['question']!r}: {g} (pinned {p['verdict']})"
        for p, g in zip(PINS, got, strict=True)
        if g != p["verdict"]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_pins_cover_every_verdict_that_the_rule_gives() -> None:
    assert {p["verdict"] for p in PINS} >= {"future", "past-absence", "past-presence", "past-only"}
