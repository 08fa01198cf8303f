"""Running the evaluation: every variant over the same questions, cached answers, one report dict."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona_rag.corpus import Dialogue, Universe
from persona_rag.errors import UsageError
from persona_rag.evaluation.metrics import (
    admits_not_knowing,
    bleu,
    breaks_character,
    distinctiveness,
    first_mentions,
    mean,
    mentions_later,
    resists,
    role_breaks_per_100,
    rouge_l,
)
from persona_rag.evaluation.presence import presence_for_eval, presence_report
from persona_rag.evaluation.probes import TIME_TYPES, time_probes
from persona_rag.graphs.state import ANSWERED_BY

VARIANTS = ("prompt", "rag", "rag-stage", "sft", "sft-dpo")
BASELINES = ("prompt", "rag")  # no time check: their verdict is not the graph's rule, so it is not scored
MODEL_WRITTEN = ("model", "model-retry")
PERSLLM_DISTINCTIVENESS = {"after SFT": (3.53, 3.46, 0.38), "after DPO": (3.86, 3.50, 0.33)}
JUDGE_PROMPT = """You are judging a role-playing answer. Character: {name}, at {stage}.
Question: {question}
Reference answer (what the character would say): {gold}
Answer to judge: {answer}
Score from 0 to 5 how well the answer agrees with the character's knowledge and attitude at that point
(5: same knowledge and attitude; 0: wrong or out of character). Reply with the number only."""


# ----------------------------------------------------------------------------- running


@dataclass
class EvalConfig:
    persona: str
    variants: list[str]
    limit: int = 40
    probes: int = 20
    distinct_questions: int = 30  # asked of this persona early and late, and of every other persona in turn
    judge_url: str | None = None
    judge_model: str | None = None
    out_dir: Path = field(default_factory=lambda: Path("."))


class AnswerCache:
    """answers keyed by (variant fingerprint, persona, stage, question): a re-run on the same inputs is instant."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.data[row["key"]] = row["value"]
                except (json.JSONDecodeError, KeyError):
                    continue  # a torn last line after an interruption

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "value": value}) + "\n")


UNKNOWN = ("future", "past-absence")  # the probe types a persona should answer with "I don't know"


def distinct_questions(universe: Universe, persona: str, n: int) -> list[str]:
    """``n`` knowledge and opinion questions for distinctiveness, from every persona's dialogues in turn
    (held-out and training alike: only the answers' wording is compared, never a gold answer)."""
    pools = [
        [d.question for d in universe.dialogues.get(p, []) if d.mode in ("knowledge", "opinion")]
        for p in [persona, *sorted(p for p in universe.characters if p != persona)]
    ]
    out: list[str] = []
    for i in range(max((len(p) for p in pools), default=0)):
        for pool in pools:
            if i < len(pool) and pool[i] not in out:
                out.append(pool[i])
            if len(out) >= n:
                return out
    return out


Answerer = Callable[[str, str, str, str], dict[str, Any]]  # (variant, persona, question, stage key) -> result


def evaluate(
    universe: Universe,
    config: EvalConfig,
    answer: Answerer,
    fingerprints: dict[str, str],
    embed: Callable[[str], Any] | None = None,
    judge: Callable[[str], str] | None = None,
    cache: AnswerCache | None = None,
    progress: bool = False,
    memory_revision: str = "",
) -> dict[str, Any]:
    """Run every variant over the same questions and compute every metric.

    Cached answers are keyed by the variant's fingerprint, the corpus fingerprint and ``memory_revision``
    (the memory's revision token), so a re-run after a corpus change or a knowledge update answers again.
    """
    import numpy as np
    from tqdm import tqdm

    pid = universe.persona(config.persona).id
    held = [d for d in universe.dialogues.get(pid, []) if d.heldout]
    if not held:
        raise UsageError(f"no held-out dialogues for {pid}")
    step = max(1, len(held) // max(1, config.limit))
    questions: list[Dialogue] = held[::step][: config.limit]
    probes = time_probes(universe, pid, config.probes)
    presence = presence_for_eval(universe, pid, config.probes)  # hand-written "were you there when ..."
    others = [p for p in universe.characters if p != pid and universe.dialogues.get(p)]
    distinct_q = distinct_questions(universe, pid, config.distinct_questions)
    listener = {q: others[i % len(others)] for i, q in enumerate(distinct_q)} if others else {}
    early, late = (s.key for s in universe.timeline.early_and_late())
    jobs: list[tuple[str, str, str, str, str]] = []  # (variant, persona, question, stage key, purpose)
    for v in config.variants:
        jobs += [(v, pid, d.question, d.stage.key, "gold") for d in questions]
        jobs += [(v, pid, p.question, universe.timeline.stages[p.stage].key, "probe") for p in probes]
        jobs += [(v, pid, p.question, key, "presence") for p, key in presence]
        for q in distinct_q:
            jobs += [(v, pid, q, early, "distinct"), (v, pid, q, late, "distinct")]
            if others:
                jobs.append((v, listener[q], q, late, "distinct"))
    corpus = universe.fingerprint()
    results: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for v, p, q, s, _ in tqdm(jobs, desc="answering", unit="answer", disable=not progress):
        key = AnswerCache.key(fingerprints.get(v, v), corpus, memory_revision, p, s, q)
        got = cache.get(key) if cache else None
        if got is None:
            got = answer(v, p, q, s)
            got = {
                "answer": got.get("answer", ""),
                "verdict": got.get("verdict", "unknown"),
                "answered_by": got.get("answered_by", "model"),
            }
            if cache:
                cache.put(key, got)
        results[(v, p, q, s)] = got

    report: dict[str, Any] = {
        "persona": pid,
        "variants": {},
        "n_questions": len(questions),
        "n_probes": len(probes),
        "n_distinct_questions": len(distinct_q),
        "distinct_listeners": sorted(set(listener.values())),
    }
    first = first_mentions(universe)
    gold_vecs = {d.id: embed(d.response) for d in questions} if embed else {}
    for v in config.variants:
        answers = [results[(v, pid, d.question, d.stage.key)]["answer"] for d in questions]
        mine = [r for (vv, _, _, _), r in results.items() if vv == v]
        row: dict[str, Any] = {
            "model_written": mean([float(r.get("answered_by", "model") in MODEL_WRITTEN) for r in mine]),
            "answered_by": {k: sum(r.get("answered_by", "model") == k for r in mine) for k in ANSWERED_BY},
            "bleu": mean([bleu(a, [d.response]) for a, d in zip(answers, questions, strict=True)]),
            "rouge_l": mean([rouge_l(a, d.response) for a, d in zip(answers, questions, strict=True)]),
            "role_breaks_per_100": role_breaks_per_100(answers),
        }
        if embed:
            sims = [
                float(np.dot(embed(a), gold_vecs[d.id])) if a.strip() else 0.0
                for a, d in zip(answers, questions, strict=True)
            ]
            row["embedding_similarity"] = mean(sims)
        tricky = [(d, a) for d, a in zip(questions, answers, strict=True) if d.mode in ("false-premise", "role-break")]
        row["induction_resistance"] = mean([float(resists(d.mode, a)) for d, a in tricky]) if tricky else None
        by_type: dict[str, dict[str, float]] = {}
        by_stage: dict[str, list[float]] = defaultdict(list)
        for t in TIME_TYPES:
            items = [p for p in probes if p.type == t]
            if not items:
                continue
            outs = [results[(v, pid, p.question, universe.timeline.stages[p.stage].key)] for p in items]
            acc = [float(o["verdict"] == t) for o in outs]
            # Judged from the answer text, for every variant: does it admit not knowing (future, past-absence),
            # does it mention what the persona cannot know yet, is it right on both counts.
            admits = [admits_not_knowing(o["answer"]) for o in outs]
            leaks = [
                bool(mentions_later(o["answer"], p.question, p.stage, first, [p.event_text] if t in UNKNOWN else []))
                for o, p in zip(outs, items, strict=True)
            ]
            right = [
                (a if t in UNKNOWN else not a)
                and not lk
                and bool(o["answer"].strip())
                and not breaks_character(o["answer"])
                for a, lk, o in zip(admits, leaks, outs, strict=True)
            ]
            entry: dict[str, Any] = {
                "n": len(items),
                "answer_accuracy": mean([float(x) for x in right]),
                "admits_rate": mean([float(x) for x in admits]),
                "leak_rate": mean([float(x) for x in leaks]),
                "model_written": mean([float(o.get("answered_by", "model") in MODEL_WRITTEN) for o in outs]),
                "verdict_accuracy": None if v in BASELINES else mean(acc),
            }
            by_type[t] = entry
            for p, ok in zip(items, right, strict=True):
                by_stage[universe.timeline.group_of(p.stage)].append(float(ok))
        row["time"] = by_type
        if presence:
            outs = [results[(v, pid, p.question, key)] for p, key in presence]
            row["presence"] = presence_report([p for p, _ in presence], outs, verdicts=v not in BASELINES)
        order = [universe.timeline.group_of(s.ordinal) for s in universe.timeline.stages]
        row["time_by_period"] = {g: mean(by_stage[g]) for g in dict.fromkeys(order) if g in by_stage}
        e = [results[(v, pid, q, early)]["answer"] for q in distinct_q]
        lt = [results[(v, pid, q, late)]["answer"] for q in distinct_q]
        o = [results[(v, listener[q], q, late)]["answer"] for q in distinct_q] if others else []
        row["distinctiveness"] = distinctiveness(e, lt, o)
        if judge is not None:
            scores = []
            for d, a in zip(questions, answers, strict=True):
                reply = judge(
                    JUDGE_PROMPT.format(
                        name=universe.characters[pid].name,
                        stage=d.stage.label,
                        question=d.question,
                        gold=d.response,
                        answer=a,
                    )
                )
                m = re.search(r"[0-5]", reply)
                if m:
                    scores.append(float(m.group(0)))
            row["judge"] = mean(scores) if scores else None
        report["variants"][v] = row
    report["judge"] = "on" if judge is not None else "skipped: no --judge-url given"
    report["perllm_distinctiveness"] = PERSLLM_DISTINCTIVENESS
    return report
