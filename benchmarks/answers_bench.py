"""Who writes the answers users read: model-written share, grounded share and leak rate, base vs tuned.

    python benchmarks/answers_bench.py harry --limit 10                 # base model only
    python benchmarks/answers_bench.py harry --limit 40 --tuned         # after `persona-rag train harry --recipe quick`
    python benchmarks/answers_bench.py harry --limit 10 --dump attempts.jsonl   # every attempt, for hand-labelling

Questions: the evaluation's time probes (phrased as a user asks) and the persona's held-out questions.
Per variant it prints
  model-written  share of answers written by the model and passed by the review (answered_by model/model-retry)
  grounded       share of all answers that are model-written and supported by a given passage
                 (the review's claim check run over every retrieved passage, not only the strong ones)
  leak           share of answers that mention what the persona cannot know yet (judged from the answer text,
                 with the evaluation's own name table, not the review's rules)
  answered_by    counts of model, model-retry, memory, refusal
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("persona", nargs="?", default="harry")
    ap.add_argument("--limit", type=int, default=10, help="time probes and held-out questions (each)")
    ap.add_argument("--tuned", action="store_true", help="also run the persona's trained adapter (sft-dpo)")
    ap.add_argument("--dump", type=Path, help="write every attempt (answer, facts, verdict, accepted) as JSON lines")
    ap.add_argument("--skip-base", action="store_true", help="with --tuned: run the tuned persona only")
    ap.add_argument("--show-leaks", action="store_true", help="print each answer judged to leak, with the names")
    args = ap.parse_args()

    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.graphs.review import unsupported_claims
    from persona_rag.memory.store import open_memory

    from persona_rag.evaluation.metrics import first_mentions, mentions_later
    from persona_rag.evaluation.probes import time_probes
    from persona_rag.paths import adapter_root
    from persona_rag.persona import Persona
    from persona_rag.settings import load_settings

    settings = load_settings()
    persona = Persona.load(args.persona, settings.corpus)
    uni = persona.universe
    memory = open_memory(settings, uni)
    index = memory.entity_index(persona.id)
    first = first_mentions(uni)
    questions: list[tuple[str, str, str]] = [
        (p.type, p.question, uni.timeline.stages[p.stage].key) for p in time_probes(uni, persona.id, args.limit)
    ]
    held = [d for d in uni.dialogues.get(persona.id, []) if d.heldout]
    step = max(1, len(held) // max(1, args.limit))
    questions += [("held-out", d.question, d.stage.key) for d in held[::step][: args.limit]]
    variants: dict[str, Any] = {} if args.skip_base and args.tuned else {"base": None}
    if args.tuned:
        dpo = adapter_root(settings, uni.id, persona.id) / "dpo"
        if not (dpo / "adapter_config.json").is_file():
            print(f"no trained adapter at {dpo}; run `persona-rag train {persona.id} --recipe quick`", file=sys.stderr)
            return 2
        variants["sft-dpo"] = dpo
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    rows = []
    for name, adapter in variants.items():
        graph = PersonaGraph.from_persona(
            persona, settings=settings, memory=memory, adapter=adapter, checkpointer=None, quiet=True
        )
        who: Counter[str] = Counter()
        grounded = leaks = 0
        t0 = time.time()
        for kind, q, stage in questions:
            attempts, current = [], ""
            result: dict[str, Any] = {}
            for ev, value in graph.stream_events({"question": q, "stage": stage}):
                if ev == "token":
                    current += value
                elif ev == "reset":
                    attempts.append(current)
                    current = ""
                elif ev == "result":
                    result = value
            attempts.append(current)
            by = result["answered_by"]
            who[by] += 1
            st = uni.stage(stage)
            facts = [s["text"] for s in result["sources"]]
            ok = by in ("model", "model-retry") and not unsupported_claims(
                result["answer"], result["question"], result["verdict"], st.ordinal, index, facts
            )
            grounded += ok
            leak = mentions_later(result["answer"], q, st.ordinal, first)
            leaks += bool(leak)
            if leak and args.show_leaks:
                print(f"  leak [{name}, {by}, {stage}] {q!r} -> {result['answer'][:160]!r}: {leak}", file=sys.stderr)
            if dump:
                model_attempts = attempts if by not in ("memory", "refusal") else attempts[:-1]
                for i, a in enumerate(model_attempts):
                    if a.strip():
                        row = {"variant": name, "type": kind, "persona": persona.id, "stage": stage, "question": q}
                        row |= {"verdict": result["verdict"], "facts": facts, "answer": a.strip()}
                        # The attempt the user reads: the last one, when the review passed it.
                        row["accepted"] = by in ("model", "model-retry") and i == len(model_attempts) - 1
                        dump.write(json.dumps(row, ensure_ascii=False) + "\n")
        n = len(questions)
        rows.append(
            (name, n, (who["model"] + who["model-retry"]) / n, grounded / n, leaks / n, dict(who), time.time() - t0)
        )
    if dump:
        dump.close()
    print(f"{persona.name}: {len(questions)} questions ({args.limit} time probes max + {args.limit} held-out max)")
    print(f"{'variant':8} {'n':>3} {'model-written':>13} {'grounded':>9} {'leak':>6}  answered_by  (seconds)")
    for name, n, share, g, lk, who_, secs in rows:
        print(f"{name:8} {n:3d} {share:13.2f} {g:9.2f} {lk:6.2f}  {who_}  ({secs:.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
