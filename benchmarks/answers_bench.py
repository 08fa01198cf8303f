"""Answers worth reading: who writes them, how fast, and (with hand labels) how many are good.

    python benchmarks/answers_bench.py                              # base model, harry hermione ron, 72 questions each
    python benchmarks/answers_bench.py --tuned --dump answers.jsonl # base and the quick-tuned adapters; every answer
    python benchmarks/answers_bench.py --labels tests/data/labelled_plan_answers.jsonl --from-dump answers.jsonl

Questions: the frozen benchmark (benchmarks/data/answers_eval.jsonl, pinned by tests/test_answer_plan.py): per
persona the evaluation's time probes and held-out questions, none of them, and no question whose plan rests on
one of their memories, in the training data (finetune/plan_items.py drops those).

Per persona and variant it prints
  model-written  share of answers the model wrote and the review passed (answered_by model/model-retry)
  verbatim       share of model-written answers that are word for word the rule-based first-person rewrite
                 of the plan's sentences (the fallback's words): the model copied, it did not say it itself
  plan kinds     memory / hearsay / dont-know / profile / role-break, and how many plans rest on the persona's
                 own answer to a question like it (grounds dialogue:ID, graphs/plan.py said_plan)
  p50 p95        seconds per warm answer (one engine thread), the whole graph with its review and retries
and, with --labels (hand labels of a blind, shuffled sample; see tests/data/labelled_plan_answers.jsonl):
  good           share of labelled answers right on all five points (time, true, answers, first person, voice)
  wrong|model    share of labelled model-written answers that are not true to the corpus or wrong about time
  good|unseen    good share among labelled answers whose plan rests on memories no training item rests on
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "benchmarks" / "data" / "answers_eval.jsonl"


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.graphs.review import say_plan
    from persona_rag.memory.store import open_memory

    from persona_rag.paths import adapter_root, data_dir
    from persona_rag.persona import Persona
    from persona_rag.settings import load_settings

    settings = load_settings()
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    out: list[dict[str, Any]] = []
    memory = None
    for pid in args.personas.split(","):
        persona = Persona.load(pid, settings.corpus)
        memory = memory or open_memory(settings, persona.universe)
        trained: set[str] = set()
        sft = data_dir(settings, persona.universe.id, pid) / "sft_train.jsonl"
        if sft.is_file():
            for line in sft.read_text(encoding="utf-8").splitlines():
                trained.update(json.loads(line).get("grounds") or [])
        variants: dict[str, Any] = {} if args.skip_base else {"base": None}
        if args.tuned:
            dpo = adapter_root(settings, persona.universe.id, pid) / "dpo"
            if not (dpo / "adapter_config.json").is_file():
                print(f"no trained adapter at {dpo}; run `persona-rag train {pid} --recipe quick`", file=sys.stderr)
                raise SystemExit(2)
            variants["sft-dpo"] = dpo
        questions = [r for r in rows if r["persona"] == pid][: args.limit or None]
        for name, adapter in variants.items():
            graph = PersonaGraph.from_persona(
                persona, settings=settings, memory=memory, adapter=adapter, checkpointer=None, quiet=True
            )
            graph.invoke({"question": "Who are you?", "stage": "year 1"})  # warm: model loaded, prompt cache
            for r in questions:
                t0 = time.perf_counter()
                res = graph.invoke({"question": r["question"], "stage": r["stage"]})
                secs = time.perf_counter() - t0
                plan = res.get("plan") or {}
                rewrite = say_plan(plan, persona, r["question"]) if plan.get("sentences") else ""
                by = res["answered_by"]
                row = {
                    "persona": pid,
                    "variant": name,
                    "type": r.get("type") or r.get("kind"),
                    "stage": r["stage"],
                    "question": r["question"],
                    "answer": res["answer"],
                    "answered_by": by,
                    "verdict": res["verdict"],
                    "plan": plan.get("kind"),
                    "plan_sentences": plan.get("sentences") or [],
                    "grounds": res.get("grounds") or [],
                    # a plan resting on one of the persona's own answers (dialogue:ID) rests on a training target
                    "unseen": bool(res.get("grounds"))
                    and not (set(res["grounds"]) & trained)
                    and not any(g.startswith("dialogue:") for g in res["grounds"]),
                    "verbatim": by in ("model", "model-retry")
                    and bool(rewrite)
                    and norm(rewrite) in norm(res["answer"]),
                    "seconds": round(secs, 3),
                    "notices": res.get("notices") or [],
                }
                out.append(row)
                if args.dump:  # as it comes: a long run interrupted keeps what it answered
                    with args.dump.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                if args.verbose:
                    print(f"[{pid} {name} {by} {secs:.1f}s] {r['question']} -> {res['answer'][:140]}", file=sys.stderr)
    return out


def report(rows: list[dict[str, Any]], labels: dict[tuple[str, ...], dict[str, Any]]) -> None:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["persona"], r["variant"])].append(r)
    head = f"{'persona':9} {'variant':8} {'n':>3} {'model-written':>13} {'verbatim':>8} {'p50':>5} {'p95':>5}"
    if labels:
        head += f" {'labelled':>8} {'good':>5} {'wrong|model':>11} {'good|unseen':>11}"
    print(head + "  answered_by; plan kinds")
    for (pid, variant), items in groups.items():
        n = len(items)
        model = [r for r in items if r["answered_by"] in ("model", "model-retry")]
        secs = sorted(r["seconds"] for r in items)
        p95 = secs[min(len(secs) - 1, round(0.95 * (len(secs) - 1)))]
        line = (
            f"{pid:9} {variant:8} {n:3d} {len(model) / n:13.2f} {sum(r['verbatim'] for r in model) / max(len(model), 1):8.2f}"
            f" {statistics.median(secs):5.2f} {p95:5.2f}"
        )
        if labels:
            lab = [(r, labels[key(r)]) for r in items if key(r) in labels]
            good = [r for r, lb in lab if lb["good"]]
            lab_model = [(r, lb) for r, lb in lab if r["answered_by"] in ("model", "model-retry")]
            wrong = [r for r, lb in lab_model if not (lb["true"] and lb["time"])]
            unseen = [(r, lb) for r, lb in lab if r["unseen"]]
            wrong_share = f"{len(wrong)}/{len(lab_model)}"
            unseen_good = f"{sum(lb['good'] for _, lb in unseen)}/{len(unseen)}"
            line += f" {len(lab):8d} {len(good) / max(len(lab), 1):5.2f} {wrong_share:>11} {unseen_good:>11}"
        who = Counter(r["answered_by"] for r in items)
        kinds = Counter(r["plan"] for r in items)
        own = sum(any(g.startswith("dialogue:") for g in r.get("grounds") or []) for r in items)
        print(f"{line}  {dict(who)}; {dict(kinds)}; on its own answers: {own}")


def key(r: dict[str, Any]) -> tuple[str, ...]:
    return (r["persona"], r["variant"], r["stage"], r["question"], r["answer"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--personas", default="harry,hermione,ron")
    ap.add_argument(
        "--questions",
        type=Path,
        default=EVAL,
        help="question file, JSON lines with persona, stage, question (default: the frozen benchmark; "
        "benchmarks/data/answers_fresh.jsonl is the set frozen before the third round's changes, "
        "benchmarks/data/answers_fresh2.jsonl the one frozen before the fourth's, fresh3 and fresh4 before the "
        "fifth's and the sixth's)",
    )
    ap.add_argument("--limit", type=int, default=0, help="first N questions per persona (0: all)")
    ap.add_argument("--tuned", action="store_true", help="also run each persona's trained adapter (sft-dpo)")
    ap.add_argument("--skip-base", action="store_true", help="with --tuned: the tuned personas only")
    ap.add_argument("--dump", type=Path, help="write every answer as JSON lines (for labelling, --from-dump)")
    ap.add_argument("--from-dump", type=Path, nargs="+", help="report on dumps instead of running the graph")
    ap.add_argument("--labels", type=Path, help="hand labels (tests/data/labelled_plan_answers.jsonl)")
    ap.add_argument("--verbose", action="store_true", help="print each answer as it comes")
    ap.add_argument(
        "--full-retries",
        action="store_true",
        help="decode a draft with a banned word again from the start (CTranslate2 continues it by default)",
    )
    args = ap.parse_args()
    if args.from_dump:
        rows = []
        for dump in args.from_dump:
            rows += [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        if args.full_retries:
            from persona_rag.backends.ct2 import CT2Generator

            CT2Generator.continues_drafts = False
        if args.dump:
            args.dump.write_text("", encoding="utf-8")
        rows = run(args)
    labels: dict[tuple[str, ...], dict[str, Any]] = {}
    if args.labels:
        for line in args.labels.read_text(encoding="utf-8").splitlines():
            if line.strip():
                lb = json.loads(line)
                labels[key(lb)] = lb
    report(rows, labels)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
