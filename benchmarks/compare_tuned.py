"""Held-out questions answered by the base model and by the tuned persona, side by side, both through
PersonaGraph (same memory, same prompts, same review).

Usage: python benchmarks/compare_tuned.py [--persona harry] [--n 10]
Run `persona-rag train PERSONA --recipe quick` first.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persona", default="harry")
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.memory.store import open_memory

    from persona_rag.paths import find_adapter
    from persona_rag.persona import Persona
    from persona_rag.settings import load_settings

    settings = load_settings()
    persona = Persona.load(args.persona, settings.corpus)
    adapter = find_adapter(settings, persona.universe.id, persona.id)
    if adapter is None:
        raise SystemExit(f"no adapter for {persona.id}: run `persona-rag train {persona.id} --recipe quick` first")
    memory = open_memory(settings, persona.universe)
    base = PersonaGraph.from_persona(persona.id, settings=settings, memory=memory, adapter="none", quiet=True)
    tuned = PersonaGraph.from_persona(persona.id, settings=settings, memory=memory, adapter="auto", quiet=True)
    held = [d for d in persona.universe.dialogues[persona.id] if d.heldout]
    step = max(1, len(held) // args.n)
    picked = held[::step][: args.n]
    print(f"# {persona.name}: base model vs tuned ({adapter}), {len(picked)} held-out questions\n")
    for d in picked:
        b = base.invoke({"question": d.question, "stage": d.stage.key})
        t = tuned.invoke({"question": d.question, "stage": d.stage.key})
        print(f"## [{d.mode}] {d.stage.label}: {d.question}")
        print(f"- gold:  {d.response}")
        print(f"- base:  {b['answer']}  ({b['verdict']}{', revised' if b['notices'] else ''})")
        print(f"- tuned: {t['answer']}  ({t['verdict']}{', revised' if t['notices'] else ''})\n")


if __name__ == "__main__":
    main()
