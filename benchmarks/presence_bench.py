"""Verdict accuracy per type on the hand-written "were you there when ..." probes, with the real
MiniLM embeddings (no generation: the verdict needs no model call).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/presence_bench.py [--home DIR] [--show-wrong]

Uses PERSONA_RAG_HOME (or --home) for the memory; the first run ingests the corpus (~20 s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", default=os.environ.get("PERSONA_RAG_HOME") or "", help="persona-rag home for the memory")
    ap.add_argument("--show-wrong", action="store_true", help="print every probe whose verdict is wrong")
    args = ap.parse_args()
    os.environ["PERSONA_RAG_HOME"] = args.home or tempfile.mkdtemp(prefix="presence-bench-")

    from persona_rag.graphs.verdict import time_verdict
    from persona_rag.memory.store import open_memory

    from persona_rag.corpus import load_universe
    from persona_rag.evaluation.presence import PRESENCE_TYPES, presence_probes, presence_report
    from persona_rag.settings import load_settings

    settings = load_settings()
    universe = load_universe("harry_potter")
    t0 = time.perf_counter()
    memory = open_memory(settings, universe, ingest=False)
    memory.ingest(progress=False)  # incremental: only passages changed since the last run are embedded
    t_open = time.perf_counter() - t0
    probes = presence_probes(universe)
    outputs = []
    t0 = time.perf_counter()
    for p in probes:
        stage = universe.stage(p.stage)
        ev = time_verdict(memory, p.persona, p.question, stage, settings.grounding_score)
        outputs.append({"verdict": ev.verdict, "reason": ev.reason})
    t_verdicts = time.perf_counter() - t0
    report = presence_report(probes, outputs)
    print(f"embeddings: {settings.embed_model}; {len(probes)} probes; memory opened in {t_open:.1f} s;")
    print(f"verdicts in {t_verdicts:.2f} s ({1000 * t_verdicts / len(probes):.1f} ms each)")
    print(f"{'type':15} {'n':>3} {'verdict accuracy':>17}")
    for t in PRESENCE_TYPES:
        row = report["types"].get(t)
        if row:
            print(f"{t:15} {row['n']:3d} {row['verdict_accuracy']:17.1%}")
    right = sum(o["verdict"] == p.expected for p, o in zip(probes, outputs, strict=True))
    print(f"{'all':15} {len(probes):3d} {right / len(probes):17.1%}")
    print(
        "confusions (expected -> got):",
        dict(
            Counter(
                (p.expected, o["verdict"]) for p, o in zip(probes, outputs, strict=True) if o["verdict"] != p.expected
            )
        ),
    )
    if args.show_wrong:
        for p, o in zip(probes, outputs, strict=True):
            if o["verdict"] != p.expected:
                print(
                    f"  {p.persona} @ {p.stage}: {p.question!r} expected {p.expected}, got {o['verdict']} ({o['reason']})"
                )


if __name__ == "__main__":
    main()
