"""Engine benchmark: CTranslate2 int8 against transformers fp32 on the same model, same prompts, same run.

Prints, per engine, then the ratios:
  1. decode tok/s (greedy, the graph's own prompts, --decode-tokens new tokens each);
  2. warm `ask` p50/p95 over --questions varied questions through the whole graph with the real review
     (rejections, retries and fallbacks counted), and time to the first streamed token;
  3. process start to first answer and peak resident memory of `persona-rag ask` in a fresh process;
  4. quality: the evaluation's reference metrics and model-written share on a small held-out set.

Usage: python benchmarks/engine_bench.py [--home DIR] [--questions 20] [--eval-limit 8] [--eval-probes 6]
       [--skip-eval] [--skip-cold]
The home (default ~/.cache/persona-rag-bench) keeps the converted models and the ingested memory between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

ENGINES = ("ctranslate2", "transformers")
STAGES = ["year 1", "Christmas of year 2", "year 3", "Halloween of year 4", "year 5", "year 6", "year 7"]
QUESTIONS = [
    "Who is your best friend?",
    "What do you think of Professor Snape?",
    "Tell me about the Philosopher's Stone.",
    "What happened in the Chamber of Secrets?",
    "Who is Sirius Black?",
    "How did you feel at the Yule Ball?",
    "What is your favourite subject?",
    "What do you know about Horcruxes?",
    "Describe your first Quidditch match.",
    "What do you think of Dolores Umbridge?",
    "Where do you spend your summers?",
    "Who is the Half-Blood Prince?",
    "What happened at the Triwizard Tournament?",
    "How do you get on with Draco Malfoy?",
    "What is Dumbledore like?",
    "Have you ever been to Hogsmeade?",
    "What is a Patronus?",
    "Tell me about Dobby.",
    "What did you see in the Mirror of Erised?",
    "Who killed Cedric Diggory?",
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def graphs(home: Path, adapter: str) -> dict[str, Any]:
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.memory.store import open_memory

    from persona_rag.backends.adapters import resolve_adapter
    from persona_rag.backends.engine import load_generator
    from persona_rag.settings import load_settings

    out = {}
    memory = None
    for engine in ENGINES:
        s = load_settings(home=home, engine=engine)
        memory = memory or open_memory(s)
        gen = load_generator(s, resolve_adapter(s, "harry_potter", "harry", adapter), quiet=False)
        out[engine] = PersonaGraph.from_persona("harry", settings=s, memory=memory, generator=gen, checkpointer=None)
    print(f"adapter: {out[ENGINES[0]].context.generator.adapter or 'none (base model)'}")
    return out


def bench_decode(gs: dict[str, Any], new_tokens: int) -> dict[str, float]:
    """Greedy decode speed on the graph's own prompt shape (system + facts + question), both engines.

    Each prompt is timed twice: one new token (the prefill) and ``new_tokens`` new tokens; decode tok/s is
    the extra tokens over the extra time, so the prompt's length does not blur the engines' decode speed.
    """
    from persona_rag import prompts

    system = "You are Harry Potter. " + "You are brave, loyal and sometimes reckless. " * 6
    facts = ["Harry met Ron Weasley on the Hogwarts Express and they shared a pile of sweets from the trolley."] * 3
    msgs = [
        [{"role": "system", "content": system}, {"role": "user", "content": prompts.user_turn(q, facts)}]
        for q in QUESTIONS[:4]
    ]
    speed = {}
    for engine, g in gs.items():
        gen = g.context.generator
        gen.generate(msgs[0], max_new_tokens=8)  # warm
        tokens, secs, pre = 0, 0.0, 0.0
        for m in msgs:
            t = time.perf_counter()
            gen.generate(m, max_new_tokens=1)
            one = time.perf_counter() - t
            t = time.perf_counter()
            out = gen.generate(m, max_new_tokens=new_tokens)
            secs += time.perf_counter() - t - one
            pre += one
            tokens += max(0, gen.count_tokens(out) - 1)
        speed[engine] = tokens / secs
        print(
            f"decode  {engine:<13} {speed[engine]:6.1f} tok/s ({tokens} tokens after the first; "
            f"prefill + first token {pre / len(msgs) * 1000:.0f} ms per prompt)"
        )
    return speed


def bench_ask(gs: dict[str, Any], n: int) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    written: dict[str, list[bool]] = {}
    for engine, g in gs.items():
        g.invoke({"question": "Hello there.", "stage": "year 1"})  # warm
        lat, first, by = [], [], []
        for i in range(n):
            q, stage = QUESTIONS[i % len(QUESTIONS)], STAGES[i % len(STAGES)]
            t = time.perf_counter()
            ttft = None
            for kind, value in g.stream_events({"question": q, "stage": stage}):
                if kind == "token" and ttft is None:
                    ttft = time.perf_counter() - t
                if kind == "answered_by":
                    by.append(value)
            lat.append(time.perf_counter() - t)
            first.append(ttft if ttft is not None else lat[-1])
        rows[engine] = {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "ttft50": pct(first, 0.5)}
        written[engine] = [b in ("model", "model-retry") for b in by]
        share = sum(written[engine]) / max(1, len(by))
        print(
            f"ask     {engine:<13} p50 {rows[engine]['p50']:5.2f} s  p95 {rows[engine]['p95']:5.2f} s  "
            f"first token p50 {rows[engine]['ttft50']:5.2f} s  model-written {share:.0%} of {n}"
        )
    spread(written)
    return rows


def spread(written: dict[str, list[bool]], draws: int = 2000) -> None:
    """Greedy decoding makes two runs of one engine identical, so the spread is taken over questions: a paired
    bootstrap of the model-written share (the same resampled questions for both engines)."""
    import random

    a, b = (written[e] for e in ENGINES)
    n = min(len(a), len(b))
    if n == 0:
        return
    rng = random.Random(0)
    shares: dict[str, list[float]] = {e: [] for e in ENGINES}
    diffs = []
    for _ in range(draws):
        idx = [rng.randrange(n) for _ in range(n)]
        sa, sb = sum(a[i] for i in idx) / n, sum(b[i] for i in idx) / n
        shares[ENGINES[0]].append(sa)
        shares[ENGINES[1]].append(sb)
        diffs.append(sa - sb)
    for e in ENGINES:
        print(
            f"  model-written {e:<13} 95% interval over questions {pct(shares[e], 0.025):.2f}-{pct(shares[e], 0.975):.2f}"
        )
    lo, hi = pct(diffs, 0.025), pct(diffs, 0.975)
    verdict = "agree (0 inside)" if lo <= 0 <= hi else "differ"
    print(f"  difference ctranslate2 - transformers: 95% interval {lo:+.2f} to {hi:+.2f}: {verdict}")


def bench_cold(home: Path, adapter: str) -> dict[str, tuple[float, float]]:
    """`persona-rag ask` in a fresh process: wall time to the answer and peak RSS (MB)."""
    out = {}
    for engine in ENGINES:
        env = {**os.environ, "PERSONA_RAG_HOME": str(home), "PERSONA_RAG_ENGINE": engine}
        code = (
            "import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run([sys.executable, '-m', 'persona_rag.cli', 'ask', 'harry', "
            "'Who is your best friend?', '--stage', 'year 2', '--adapter', '"
            + adapter
            + "'], capture_output=True, text=True); "
            "w = time.perf_counter() - t; "
            "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)"
        )
        got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        wall, rss, rc = got.stdout.split()
        out[engine] = (float(wall), float(rss))
        print(
            f"cold    {engine:<13} process start to first answer {float(wall):5.1f} s, peak RSS {float(rss):5.0f} MB"
            + ("" if rc == "0" else f" (exit {rc})")
        )
    return out


def bench_quality(gs: dict[str, Any], limit: int, probes: int) -> dict[str, dict[str, Any]]:
    from persona_rag.evaluation.run import EvalConfig, evaluate

    uni = gs[ENGINES[0]].persona.universe

    def answer(v: str, p: str, q: str, s: str) -> dict[str, Any]:
        return dict(gs[v].invoke({"question": q, "stage": s}))

    config = EvalConfig(persona="harry", variants=list(ENGINES), limit=limit, probes=probes, distinct_questions=0)
    report = evaluate(uni, config, answer, {e: e for e in ENGINES})
    rows = report["variants"]
    keys = ["model_written", "bleu", "rouge_l", "role_breaks_per_100", "induction_resistance"]
    print(f"quality on {report['n_questions']} held-out questions + {report['n_probes']} time probes:")
    for k in keys:
        a, b = rows[ENGINES[0]].get(k), rows[ENGINES[1]].get(k)
        fmt = lambda x: "   n/a" if x is None else f"{x:6.3f}"  # noqa: E731
        print(f"  {k:<22} ctranslate2 {fmt(a)}   transformers {fmt(b)}")
    for k in ("time_accuracy", "by_type"):
        if k in rows[ENGINES[0]]:
            print(f"  {k:<22} ctranslate2 {json.dumps(rows[ENGINES[0]][k])[:90]}")
            print(f"  {'':<22} transformers {json.dumps(rows[ENGINES[1]][k])[:90]}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=str(Path.home() / ".cache" / "persona-rag-bench"))
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--decode-tokens", type=int, default=96)
    ap.add_argument("--eval-limit", type=int, default=8)
    ap.add_argument("--eval-probes", type=int, default=6)
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument(
        "--adapter", default="none", help="none: the base model; auto: harry's trained adapter if the home has one"
    )
    args = ap.parse_args()
    home = Path(args.home).expanduser()
    os.environ["PERSONA_RAG_HOME"] = str(home)
    gs = graphs(home, args.adapter)
    speed = bench_decode(gs, args.decode_tokens)
    ask = bench_ask(gs, args.questions)
    cold = {} if args.skip_cold else bench_cold(home, args.adapter)
    if not args.skip_eval:
        bench_quality(gs, args.eval_limit, args.eval_probes)
    ct, hf = ENGINES
    print("ratios (ctranslate2 / transformers; goals on 2 cores in brackets):")
    print(f"  decode speed   {speed[ct] / speed[hf]:5.2f}x   [>= 3.0x, >= 61 tok/s: {speed[ct]:.1f}]")
    print(f"  ask p50        {ask[ct]['p50'] / ask[hf]['p50']:5.2f}    [ct2 p50 <= 2.0 s: {ask[ct]['p50']:.2f} s]")
    print(f"  ask p95        {ask[ct]['p95'] / ask[hf]['p95']:5.2f}    [ct2 p95 <= 4.0 s: {ask[ct]['p95']:.2f} s]")
    print(f"  first token    {ask[ct]['ttft50'] / ask[hf]['ttft50']:5.2f}    [<= 0.3 s: {ask[ct]['ttft50']:.2f} s]")
    if cold:
        print(f"  cold start     {cold[ct][0] / cold[hf][0]:5.2f}    [<= 8 s: {cold[ct][0]:.1f} s]")
        print(f"  peak RSS       {cold[ct][1] / cold[hf][1]:5.2f}")


if __name__ == "__main__":
    main()
