"""`persona-rag eval`: every variant on the same held-out questions, one report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from persona_rag.cli.common import add_common, add_openai_flags, generator_from_args, settings_from
from persona_rag.errors import UsageError


def cmd_eval(args: argparse.Namespace) -> int:
    from persona_rag import paths
    from persona_rag.evaluation import (
        VARIANTS,
        AnswerCache,
        EvalConfig,
        evaluate,
        markdown_report,
        summary_rows,
        write_charts,
    )
    from persona_rag.evaluation.variants import check_adapters, variant_answerer
    from persona_rag.memory.store import open_memory
    from persona_rag.persona import Persona

    settings = settings_from(args)
    persona = Persona.load(args.persona, settings.corpus)
    variants = list(VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise UsageError(f"unknown variant(s) {bad}; valid: all, or a comma list of {', '.join(VARIANTS)}")
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.probes < 0:
        raise UsageError("--probes must be 0 (no time probes) or more")
    distinct = min(args.limit, 30) if args.distinct is None else args.distinct
    if distinct < 0:
        raise UsageError("--distinct must be 0 (no distinctiveness questions) or more")
    jg = generator_from_args(args, "judge")
    check_adapters(settings, persona, variants)  # fail before loading anything
    out_dir = paths.eval_dir(settings, persona.universe.id, persona.id)
    out_dir.mkdir(parents=True, exist_ok=True)
    memory = open_memory(settings, persona.universe)
    answer, fingerprints = variant_answerer(settings, persona, variants, memory)
    judge = None
    if jg is not None:

        def judge(prompt: str) -> str:
            return str(jg.generate([{"role": "user", "content": prompt}], max_new_tokens=4))
    else:
        # A note, not output: stdout stays pure JSON with --json.
        print("[judge skipped: no --judge-url given]", file=sys.stderr)
    config = EvalConfig(
        persona=persona.id, variants=variants, limit=args.limit, probes=args.probes, distinct_questions=distinct
    )
    report = evaluate(
        persona.universe,
        config,
        answer,
        fingerprints,
        embed=memory.embed_query,
        judge=judge,
        cache=AnswerCache(out_dir / "cache.jsonl"),
        progress=True,
        memory_revision=memory.revision(),
    )
    charts = write_charts(report, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown_report(report, charts), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = summary_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print(f"\nreport: {out_dir / 'report.md'} (charts: {', '.join(Path(c).name for c in charts)})")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("eval", help="compare prompt, rag, rag-stage, sft and sft-dpo on held-out questions")
    p.add_argument("persona")
    p.add_argument("--variants", default="all", help="'all' or a comma list of prompt,rag,rag-stage,sft,sft-dpo")
    p.add_argument("--limit", type=int, default=40, help="held-out questions per variant (default 40)")
    p.add_argument("--probes", type=int, default=20, help="time-consistency probes per variant (default 20; 0: none)")
    p.add_argument(
        "--distinct",
        type=int,
        help="distinctiveness questions per variant, each asked early, late and of another persona"
        " (default: as many as --limit, at most 30; 0: none)",
    )
    add_openai_flags(p, "judge", "OpenAI-compatible endpoint for the optional LLM judge")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    add_common(p, model=True)
    p.set_defaults(func=cmd_eval)
