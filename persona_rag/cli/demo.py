"""`persona-rag demo`: the main job on the offline default.

What it asks comes from the universe's own config (the ``demo`` section of
``universe.yaml``), so any universe can carry its own demo.
"""

from __future__ import annotations

import argparse
from typing import Any

from persona_rag.cli.common import add_common, settings_from
from persona_rag.errors import UsageError


def cmd_demo(args: argparse.Namespace) -> int:
    """Time-scoped answers at two stages, then a live knowledge update."""
    from persona_rag.corpus import load_universe
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.memory.store import open_memory
    from persona_rag.persona import Persona

    settings = settings_from(args)
    uni = load_universe(settings.corpus)
    demo = uni.config.get("demo")
    if not demo:
        raise UsageError(f"universe {uni.id!r} has no `demo` section in universe.yaml; see corpora/SCHEMA.md")
    persona = Persona.load(demo["persona"], uni)
    print(
        f"persona-rag demo: {persona.name}, universe {uni.id!r}, the offline default model.\n",
        flush=True,
    )
    # A scratch collection, rebuilt each run, so the demo's update never touches your own memory.
    memory = open_memory(settings, uni, collection=f"pr_{uni.id}_demo", ingest=False)
    memory.ingest(progress=True)
    memory.forget_updates(persona.id)
    graph = PersonaGraph.from_persona(persona, settings=settings, memory=memory, quiet=False)

    def ask(question: str, stage: str) -> dict[str, Any]:
        result = graph.invoke({"question": question, "stage": stage})
        top = result["sources"][0] if result["sources"] else None
        print(f'== {persona.short_name} at {result["stage"]["label"]}: "{question}"')
        print(f"   verdict: {result['verdict']} ({result['verdict_reason']})")
        print(f"   answer:  {result['answer']}")
        print(f"   answered by: {result['answered_by']}")
        if top:
            print(f"   top memory: [{top['id']}] {top['text'][:110]}")
        print(flush=True)
        return result

    for stage in demo["stages"]:
        ask(demo["question"], stage)
    update = demo["update"]
    print("== Knowledge update, no retraining:")
    print(f'   persona-rag memory add {persona.id} --stage "{update["stage"]}" --text "{update["text"]}"\n')
    added = memory.add(persona.id, persona.stage(update["stage"]), update["text"], kind=update.get("kind", "fact"))
    before = ask(update["question"], update["before"])
    after = ask(update["question"], update["after"])
    seen_before = any(s["id"] == added.id for s in before["sources"])
    seen_after = any(s["id"] == added.id for s in after["sources"])
    print(
        f"The new fact {added.id} is {'used' if seen_after else 'NOT used'} at {after['stage']['label']} "
        f"and {'wrongly used' if seen_before else 'not known'} at {before['stage']['label']}."
    )
    return 0 if seen_after and not seen_before else 1


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="the main job: a persona at two stages, then a knowledge update (offline)")
    add_common(p, model=True)
    p.set_defaults(func=cmd_demo)
