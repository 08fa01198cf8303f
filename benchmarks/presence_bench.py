"""Verdict accuracy on the hand-written probes, per class and split (tuned / held-out), with the real
MiniLM embeddings (no generation: the verdict needs no model call), and the time per verdict.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/presence_bench.py [--home DIR] [--books] [--show-wrong]

Harry Potter: the shipped universe's probes (``probes/presence*.jsonl``, ``probes/classes*.jsonl``).
``--books [NAME ...]`` adds two universes built from ../shared/texts (the Sherlock Holmes canon, personas Watson and
Holmes; Persuasion, Anne and Wentworth) with the probes in tests/data/probes/. The builds and their
embeddings are cached in the home (PERSONA_RAG_HOME or --home): the first run builds and embeds them
(the canon takes several minutes), later runs reuse them. Classes: ``presence`` (the "were you there"
probes of issue 12), ``future-lookalike``, ``strong-memory``, ``pre-story`` (issue 22; see corpora/SCHEMA.md).
Time per verdict: the first pass (the question is embedded) and a second pass (query vectors cached:
the matcher's own cost).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TEXTS = REPO.parent / "shared" / "texts"
PROBES = REPO / "tests" / "data" / "probes"
BOOKS = {  # universe name -> (text file, personas)
    "sherlock": ("sherlock_canon.txt", ["Watson", "Holmes"]),
    "persuasion": ("persuasion.txt", ["Anne", "Wentworth"]),
}
CLASSES = ("presence", "future-lookalike", "strong-memory", "pre-story")


def book_universe(name: str, settings: Any) -> Any:
    """The universe built from the book (built once into the home, then reused)."""
    from persona_rag.builder import BuildOptions, build
    from persona_rag.corpus import load_universe
    from persona_rag.paths import build_work_dir

    out = settings.home / "universes" / name
    text, personas = BOOKS[name]
    if not (out / "universe.yaml").is_file():
        t0 = time.perf_counter()
        build(BuildOptions([TEXTS / text], out, personas, build_work_dir(settings, name), name=name))
        print(f"[{name}] built in {time.perf_counter() - t0:.1f} s")
    return load_universe(str(out))


def run(universe: Any, probes: list[Any], settings: Any, show_wrong: bool) -> tuple[list[str], float, float]:
    from persona_rag.graphs.verdict import time_verdict
    from persona_rag.memory.store import open_memory

    t0 = time.perf_counter()
    memory = open_memory(settings, universe, ingest=False)
    if not memory.ingest_complete():
        memory.ingest(progress=False)  # incremental: only passages changed since the last run are embedded
    print(f"[{universe.id}] memory ready in {time.perf_counter() - t0:.1f} s; {len(probes)} probes")
    passes = []
    for _ in range(2):
        outs = []
        t0 = time.perf_counter()
        for p in probes:
            ev = time_verdict(memory, p.persona, p.question, universe.stage(p.stage), settings.grounding_score)
            outs.append(ev)
        passes.append((outs, (time.perf_counter() - t0) / max(1, len(probes))))
    outs = passes[0][0]
    if show_wrong:  # the tuned half only: the held-out half's questions and errors are not for reading
        for p, ev in zip(probes, outs, strict=True):
            if ev.verdict != p.expected and p.split == "tuned":
                print(f"  WRONG [{p.cls or 'presence'}/{p.split}] {p.persona} @ {p.stage}: {p.question!r}")
                print(f"        expected {p.expected}, got {ev.verdict} ({ev.reason})")
    return [ev.verdict for ev in outs], 1000 * passes[0][1], 1000 * passes[1][1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=os.environ.get("PERSONA_RAG_HOME") or "", help="persona-rag home for the memory")
    ap.add_argument(
        "--books",
        nargs="*",
        choices=sorted(BOOKS),
        help="also the universes built from ../shared/texts (all of them, or those named)",
    )
    ap.add_argument("--only-books", action="store_true", help="skip Harry Potter")
    ap.add_argument(
        "--show-wrong", action="store_true", help="print every tuned-half probe whose verdict is wrong (never held-out)"
    )
    ap.add_argument("--split", choices=("tuned", "heldout"), help="only the probes of one split")
    args = ap.parse_args()
    os.environ["PERSONA_RAG_HOME"] = args.home or tempfile.mkdtemp(prefix="presence-bench-")

    from persona_rag.corpus import load_universe
    from persona_rag.evaluation.presence import accuracy_table, presence_probes, read_probes
    from persona_rag.settings import load_settings

    settings = load_settings()
    runs: list[tuple[str, Any, list[Any]]] = []
    if not args.only_books:
        hp = load_universe("harry_potter")
        runs.append(("harry_potter", hp, presence_probes(hp)))
    books = (args.books or sorted(BOOKS)) if args.books is not None or args.only_books else []
    if books:
        if not TEXTS.is_dir():
            print(f"no texts at {TEXTS}: the book universes need ../shared/texts", file=sys.stderr)
            return 2
        for name in books:
            uni = book_universe(name, settings)
            probes = read_probes(PROBES / f"{name}.jsonl") + read_probes(PROBES / f"{name}_heldout.jsonl")
            runs.append((name, uni, probes))
    if args.split:
        runs = [(name, uni, [p for p in probes if p.split == args.split]) for name, uni, probes in runs]
    print(f"embeddings: {settings.embed_model}")
    rows = []
    for name, uni, probes in runs:
        verdicts, ms_first, ms_warm = run(uni, probes, settings, args.show_wrong)
        table = accuracy_table(probes, verdicts)
        rows.append((name, table, ms_first, ms_warm))
        print(
            f"[{name}] tuned-half confusions (expected -> got):",
            dict(
                Counter(
                    (p.expected, v)
                    for p, v in zip(probes, verdicts, strict=True)
                    if v != p.expected and p.split == "tuned"
                )
            ),
        )
    print()
    print(f"{'universe':13} {'class':17} {'tuned':>13} {'held-out':>13} {'all':>13}")
    for name, table, _, _ in rows:
        for cls in CLASSES:
            if (cls, "all") not in table:
                continue
            cells = []
            for split in ("tuned", "heldout", "all"):
                right, n = table.get((cls, split), (0, 0))
                cells.append(f"{right / n:6.1%} ({right}/{n})" if n else "-")
            print(f"{name:13} {cls:17} " + " ".join(f"{c:>13}" for c in cells))
    print()
    for name, _, ms_first, ms_warm in rows:
        print(f"[{name}] time per verdict: {ms_first:.1f} ms (question embedded), {ms_warm:.1f} ms (embedding cached)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
