"""The answer plan (graphs/plan.py): what the answers rest on, and how its relevance floor was chosen.

    python benchmarks/plan_bench.py --calibrate          # sweep the floor on TRAINING-split curated questions
    python benchmarks/plan_bench.py                      # plan kinds and time per plan on the frozen benchmark
    python benchmarks/plan_bench.py --ranking FILES      # first memory gold as the plan's own ranking changes
    python benchmarks/plan_bench.py --said FILES > D     # each question's plan and fallback answer, a JSON line each
                                                         # (run at two commits and compare: what a change moved)

--calibrate: for every curated knowledge and opinion question of the training split (harry, hermione, ron; never
the held-out split, never the answers benchmark), the plan is made with no floor; the question counts as
"answered by a memory" when the plan rests on the curated answer's own memory: the persona's passage known at
that stage that shares the most content words with the reference answer, when it holds at least a third of them
(no such passage: nothing it knows answers the question, and "I don't know" is right). A floor f turns plans whose best sentence scores below f into "I don't know": the sweep prints, per
f, how many backed plans it keeps (recall) and how many unbacked ones it turns away, and the balanced accuracy;
graphs/plan.py's RELEVANCE_FLOOR was chosen as
the highest floor that keeps about 95% of the backed plans (the last line also names the best balanced one).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]


def grounds_report(files: list[str], memory: Any, settings: Any, tokens: Any) -> int:
    """For each file: the questions that a memory answers (who, what-happened, how-felt, opinion), and how often the
    plan's grounds hold one of the gold events its ``gold`` note lists after "events:" (any / first memory)."""
    from persona_rag.graphs.plan import plan_question

    from persona_rag.persona import Persona

    cache: dict[str, Any] = {}
    for path in files:
        counts: Counter[tuple[str, str]] = Counter()
        for line in Path(path).read_text().splitlines():
            q = json.loads(line)
            if q["kind"] not in ("who", "what-happened", "how-felt", "opinion"):
                continue
            persona = cache.setdefault(q["persona"], Persona.load(q["persona"], settings.corpus))
            stage = persona.universe.timeline.resolve(q["stage"])
            plan, _ = plan_question(memory, persona, q["question"], stage, settings, tokens)
            gold = {e.strip() for e in q["gold"].split("events:")[-1].split(",")}
            grounds = [g.split(":", 1)[-1] for g in plan.grounds]
            counts[(q["persona"], "n")] += 1
            counts[(q["persona"], "any")] += any(g in gold for g in grounds)
            counts[(q["persona"], "first")] += bool(grounds) and grounds[0] in gold
        people = sorted({p for p, _ in counts})
        row = ", ".join(f"{p} {counts[(p, 'any')]}/{counts[(p, 'first')]}/{counts[(p, 'n')]}" for p in people)
        total = [sum(counts[(p, k)] for p in people) for k in ("any", "first", "n")]
        print(
            f"{Path(path).name}: grounds hold gold / first memory gold / questions: {row}; all {total[0]}/{total[1]}/{total[2]}"
        )
    return 0


def ranking_sweep(files: list[str], memory: Any, settings: Any, tokens: Any) -> int:
    """The questions a memory answers (who, what-happened, how-felt, opinion) in ``files``: how often the plan's
    first memory (and any of its memories) is one of the gold events, and how many plans say "I don't know", as the
    plan's own ranking changes. Where the verdict matched an event, the plan says that event whatever the ranking."""
    import persona_rag.graphs.plan as plan_mod

    from persona_rag.persona import Persona

    cache: dict[str, Any] = {}
    rows = [json.loads(line) for path in files for line in Path(path).read_text().splitlines()]
    rows = [q for q in rows if q["kind"] in ("who", "what-happened", "how-felt", "opinion")]
    default = (plan_mod.EMBED_WEIGHT, plan_mod.MISSING_NAME_FACTOR, plan_mod.PLAN_K)
    configs = [default, (0.3, 0.6, 8), (0.7, 0.6, 8), (0.5, 0.4, 8), (0.5, 1.0, 8), (0.5, 0.6, 4), (0.5, 0.6, 16)]
    print(f"{len(rows)} questions a memory answers")
    for weight, missing, k in configs:
        plan_mod.EMBED_WEIGHT, plan_mod.MISSING_NAME_FACTOR, plan_mod.PLAN_K = weight, missing, k
        first = held = unknown = 0
        for q in rows:
            persona = cache.setdefault(q["persona"], Persona.load(q["persona"], settings.corpus))
            stage = persona.universe.timeline.resolve(q["stage"])
            plan, _ = plan_mod.plan_question(memory, persona, q["question"], stage, settings, tokens)
            gold = {e.strip() for e in q["gold"].split("events:")[-1].split(",")}
            grounds = [g.split(":", 1)[-1] for g in plan.grounds]
            first += bool(grounds) and grounds[0] in gold
            held += any(g in gold for g in grounds)
            unknown += plan.kind == "dont-know"
        print(
            f"embedding weight {weight:.1f}, missing-name factor {missing:.1f}, {k:2d} candidates: first memory gold "
            f"{first}, any gold {held}, I don't know {unknown}"
        )
    plan_mod.EMBED_WEIGHT, plan_mod.MISSING_NAME_FACTOR, plan_mod.PLAN_K = default
    return 0


def sweep(scored: list[tuple[float, bool]], used: float) -> None:
    """Print, per floor, the share of backed plans it keeps and of unbacked ones it turns away."""
    pos = sum(b for _, b in scored)
    neg = len(scored) - pos
    print(f"{len(scored)} training-split questions with a memory plan: {pos} backed, {neg} not")
    print(f"{'floor':>6} {'kept backed':>12} {'turned away unbacked':>21} {'balanced acc':>13}")
    best = (0.0, 0.0)
    for step in range(20, 66, 2):
        f = step / 100
        tp = sum(s >= f and b for s, b in scored)
        tn = sum(s < f and not b for s, b in scored)
        bal = (tp / max(pos, 1) + tn / max(neg, 1)) / 2
        best = max(best, (bal, f))
        print(f"{f:6.2f} {tp / max(pos, 1):12.2f} {tn / max(neg, 1):21.2f} {bal:13.3f}")
    steps = [step / 100 for step in range(20, 66, 2)]
    keeps = max((f for f in steps if sum(s >= f and b for s, b in scored) >= 0.95 * pos), default=steps[0])
    print(
        f"best floor {best[1]:.2f} (balanced accuracy {best[0]:.3f}); the highest that keeps 95% of the backed "
        f"plans {keeps:.2f}; graphs/plan.py uses {used}"
    )


def fallback_text(plan: Any, ev: Any, persona: Any, question: str) -> str:
    """What the fallback says for a plan, as the graph's fallback node says it (no generation): the plan in the
    persona's words, what it heard for hearsay, or ``[kind: reason]`` for a plan it answers with a refusal."""
    from persona_rag.graphs.review import hearsay_answer, known_names, say_plan

    from persona_rag import prompts

    if plan.kind == "hearsay":
        state = {"question": question, "plan": plan.as_dict(), "hearsay_from": ev.hearsay_from}
        return hearsay_answer(state | {"verdict_reason": ev.reason}, persona)[0]  # type: ignore[arg-type]
    if plan.kind in ("memory", "profile") and plan.sentences:
        said = say_plan(plan.as_dict(), persona, question)
        return prompts.recall(persona.profile, said, question, known_names(persona.universe))
    return f"[{plan.kind}: {plan.reason}]"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibrate", action="store_true", help="sweep the relevance floor on training-split questions")
    ap.add_argument(
        "--recall",
        action="store_true",
        help="how often the plan rests on the reference answer's memory, training and held-out split apart",
    )
    ap.add_argument(
        "--say",
        type=int,
        metavar="N",
        help="print the fallback answer (the plan said in the persona's words) for N training-split questions",
    )
    ap.add_argument(
        "--grounds",
        nargs="+",
        metavar="FILE",
        help="answer question files with gold events (benchmarks/data/answers_fresh*.jsonl): how often the plan's "
        "grounds hold a gold event, and how often its first memory is one, per persona (who, what, feeling, view)",
    )
    ap.add_argument(
        "--ranking",
        nargs="+",
        metavar="FILE",
        help="with question files with gold events: how often the plan's first memory is a gold one as the plan's "
        "own ranking changes (the embedding's weight, the missing-name factor, the number of candidates)",
    )
    ap.add_argument(
        "--said",
        nargs="+",
        metavar="FILE",
        help="for question files (persona, stage, question): each plan, its verdict and the fallback answer that "
        "says it, a JSON line each on stdout, with no generation",
    )
    ap.add_argument("--personas", default="harry,hermione,ron")
    args = ap.parse_args()
    if args.say is not None and args.say < 1:
        ap.error("--say takes how many training-split questions to print: a number from 1")

    from persona_rag.graphs.plan import RELEVANCE_FLOOR, plan_question, stems
    from persona_rag.memory.store import open_memory

    from persona_rag.persona import Persona
    from persona_rag.settings import load_settings

    settings = load_settings()
    personas = [Persona.load(p, settings.corpus) for p in args.personas.split(",")]
    memory = open_memory(settings, personas[0].universe)

    def tokens(text: str) -> int:  # words stand in for tokens: only the facts' budget depends on them
        return len(text.split())

    if args.grounds:
        return grounds_report(args.grounds, memory, settings, tokens)
    if args.ranking:
        return ranking_sweep(args.ranking, memory, settings, tokens)
    if args.said:
        by_id = {p.id: p for p in personas}
        for path in args.said:
            for line in Path(path).read_text().splitlines():
                q = json.loads(line)
                persona = by_id.get(q["persona"]) or by_id.setdefault(
                    q["persona"], Persona.load(q["persona"], settings.corpus)
                )
                stage = persona.universe.timeline.resolve(q["stage"])
                plan, ev = plan_question(memory, persona, q["question"], stage, settings, tokens)
                row = {"file": Path(path).name, "persona": persona.id, "stage": q["stage"], "question": q["question"]}
                row |= {"verdict": ev.verdict, "plan": plan.kind, "reason": plan.reason, "grounds": plan.grounds}
                print(json.dumps(row | {"said": fallback_text(plan, ev, persona, q["question"])}))
        return 0

    def gold_memory(d: Any, own: list[Any]) -> tuple[float, str] | None:
        """The reference answer's memory: the persona's passage known at the question's stage that shares the most
        content words with the curated answer, with that share (it backs the answer from a third up)."""
        said = stems(d.response) - stems(d.question)
        known = [p for p in own if p.known_from <= d.stage.ordinal < p.valid_to]
        if not said or not known:
            return None
        return max((len(said & stems(p.text)) / len(said), p.id) for p in known)

    if args.recall:
        # Per split: curated knowledge questions whose answer a known memory backs (gold), with a time verdict that
        # lets the persona answer; how often that memory is among the plan's candidates (the searches' top
        # PLAN_K), and how often the plan rests on it.
        from persona_rag.graphs.plan import PLAN_K

        for split in ("train", "heldout"):
            n = cand = picked = dont = 0
            t0 = time.perf_counter()
            for persona in personas:
                own = [p for p in persona.universe.passages() if p.persona == persona.id]
                for d in persona.universe.dialogues.get(persona.id, []):
                    if d.heldout != (split == "heldout") or d.mode != "knowledge":
                        continue
                    found = gold_memory(d, own)
                    if found is None or found[0] < 1 / 3:
                        continue
                    gold = found[1]
                    plan, ev = plan_question(memory, persona, d.question, d.stage, settings, tokens)
                    if ev.verdict in ("future", "past-absence"):
                        continue
                    hits = memory.search(persona.id, d.question, d.stage, k=PLAN_K)
                    n += 1
                    cand += gold in {h.passage.id for h in hits} or gold in plan.grounds
                    picked += gold in plan.grounds
                    dont += plan.kind == "dont-know"
            ms = (time.perf_counter() - t0) / max(n, 1) * 1000
            print(
                f"{split:8} {n:4} questions with a gold memory: gold among the candidates {cand / max(n, 1):.2f}, "
                f"plan rests on it {picked / max(n, 1):.2f}, plan says don't know {dont / max(n, 1):.2f} "
                f"({ms:.0f} ms a question)"
            )
        return 0

    if args.say:
        # What the fallback says for training-split questions (never the held-out split or the answers benchmark):
        # for reading the rewrite's slips by eye.
        import random

        pool = [
            (persona, d)
            for persona in personas
            for d in persona.universe.dialogues.get(persona.id, [])
            if not d.heldout and d.mode in ("knowledge", "opinion")
        ]
        for persona, d in random.Random(7).sample(pool, min(args.say, len(pool))):
            plan, ev = plan_question(memory, persona, d.question, d.stage, settings, tokens)
            said = fallback_text(plan, ev, persona, d.question)
            print(f"{persona.id} @ {d.stage.key} [{ev.verdict}/{plan.kind}] {d.question}\n  -> {said}\n")
        return 0

    if args.calibrate:
        import persona_rag.graphs.plan as plan_mod

        # (score, backed) for each training-split plan made with no floor (make_plan reads the module's floor
        # when called)
        scored: list[tuple[float, bool]] = []
        plan_mod.RELEVANCE_FLOOR = 0.0
        for persona in personas:
            own = [p for p in persona.universe.passages() if p.persona == persona.id]
            for d in persona.universe.dialogues.get(persona.id, []):
                if d.heldout or d.mode not in ("knowledge", "opinion"):
                    continue
                plan, ev = plan_question(memory, persona, d.question, d.stage, settings, tokens)
                if plan.kind != "memory" or ev.verdict in ("future", "past-absence"):
                    continue
                found = gold_memory(d, own)
                if found is None:
                    continue
                share, gold = found
                backed = share >= 1 / 3 and gold in plan.grounds
                scored.append((plan.score, backed))
        sweep(scored, RELEVANCE_FLOOR)
        return 0

    rows = [json.loads(line) for line in (ROOT / "benchmarks/data/answers_eval.jsonl").read_text().splitlines()]
    kinds: Counter[str] = Counter()
    t0 = time.perf_counter()
    n = 0
    for r in rows:
        persona = next(p for p in personas if p.id == r["persona"])
        plan, _ = plan_question(memory, persona, r["question"], persona.stage(r["stage"]), settings, tokens)
        kinds[f"{r['type']}:{plan.kind}"] += 1
        n += 1
    per = (time.perf_counter() - t0) / max(n, 1)
    print(f"{n} benchmark questions; {per * 1000:.1f} ms per plan (retrieval, verdict and plan)")
    for key, value in sorted(kinds.items()):
        print(f"  {key:28} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
