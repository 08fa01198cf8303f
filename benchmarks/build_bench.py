"""Build a universe from the whole Sherlock Holmes canon and check it as a reader would.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/build_bench.py [--embed hash] [--text PATH]

Prints build time, peak memory, words per second, the works/chapters/scenes/
characters/events found, whether every novel's chapter count equals its own table
of contents, the ingest (embedding) time, and the six probes of issue 13 through
the graph's time verdict (``graphs.verdict.time_verdict``, the function the persona
graph calls). Default embedder: MiniLM (the product default); ``--embed hash`` is a
quick run without a neural model.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

TEXT = Path(__file__).resolve().parent.parent.parent / "shared" / "texts" / "sherlock_canon.txt"
PROBES = [  # persona, question, stage, expect future?
    ("watson", "Who is Mary Morstan?", "A Study in Scarlet", True),
    ("watson", "Who is Mary Morstan?", "The Sign of the Four", False),
    ("holmes", "Who is Irene Adler?", "The Sign of the Four", True),
    ("holmes", "Who is Irene Adler?", "A Scandal in Bohemia", False),
    ("watson", "Who is Professor Moriarty?", "The Sign of the Four", True),
    ("watson", "Who is Professor Moriarty?", "The Final Problem", False),
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default=str(TEXT))
    ap.add_argument("--embed", default="all-minilm-l6-v2", help="embedding model (hash: quick, no neural model)")
    ap.add_argument("--home", help="home folder to build in (default: a temporary one)")
    args = ap.parse_args()
    text = Path(args.text)
    if not text.is_file():
        print(f"no text at {text}; pass --text PATH", file=sys.stderr)
        return 2
    home = Path(args.home or tempfile.mkdtemp(prefix="build-bench-"))
    os.environ["PERSONA_RAG_HOME"] = str(home)
    from persona_rag.graphs.verdict import time_verdict
    from persona_rag.memory.embeddings import load_embed_model
    from persona_rag.memory.store import open_memory

    from persona_rag.builder import BuildOptions, build
    from persona_rag.builder.embed import DedupEmbedding
    from persona_rag.corpus import load_universe
    from persona_rag.paths import build_work_dir
    from persona_rag.settings import load_settings

    settings = load_settings().with_overrides(embed_model=args.embed)
    out = home / "universes" / "holmes"
    opts = BuildOptions(
        [text], out, ["Watson", "Holmes"], build_work_dir(settings, "holmes"), name="holmes", progress=False
    )
    t0 = time.perf_counter()
    report = build(opts)
    t_build = time.perf_counter() - t0
    print(
        f"build (rules extractor): {t_build:.1f} s, {report.words / t_build:,.0f} words/s, peak RSS {peak_rss_mb():.0f} MB"
    )
    print(
        f"found: {report.works} works, {report.chapters} chapters, {report.scenes} scenes, {report.stages} stages, "
        f"{report.characters} characters, {report.events} events ({report.chunks} chunks), {report.words:,} words"
    )
    novels = [(t, found, toc) for t, found, toc in report.chapters_per_work if toc > 3]
    for title, found, toc in novels:
        print(
            f"  novel {title!r}: {found} chapters found, {toc} in its table of contents {'ok' if found == toc else 'MISMATCH'}"
        )
    uni = load_universe(str(out))
    labels = [s.label for s in uni.timeline.stages]
    print(f"stages in text order: {labels[:3]} .. {labels[-2:]}")
    t1 = time.perf_counter()
    memory = open_memory(settings, uni, embed_model=DedupEmbedding.wrap(load_embed_model(settings)), ingest=False)
    ing = memory.ingest(progress=False)
    t_ingest = time.perf_counter() - t1
    print(f"ingest ({args.embed}): {t_ingest:.1f} s for {ing}; peak RSS {peak_rss_mb():.0f} MB")
    print(f"total build + embedding: {t_build + t_ingest:.1f} s")
    t2 = time.perf_counter()
    again = build(opts)
    print(f"rebuild on unchanged input: {time.perf_counter() - t2:.2f} s, up_to_date={again.up_to_date}")
    right = 0
    for persona, question, stage_name, want_future in PROBES:
        stage = uni.stage(stage_name)
        ev = time_verdict(memory, persona, question, stage)
        ok = (ev.verdict == "future") == want_future and (want_future or ev.verdict != "past-absence")
        right += ok
        print(f"  {'ok ' if ok else 'BAD'} {persona} @ {stage_name!r}: {question} -> {ev.verdict} ({ev.reason})")
    print(f"probes right: {right}/{len(PROBES)}")
    return 0 if right == len(PROBES) else 1


if __name__ == "__main__":
    sys.exit(main())
