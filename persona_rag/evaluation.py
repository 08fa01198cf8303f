"""Evaluation: PersLLM's metrics and point-in-time consistency, one command, one report.

Variants (same held-out questions):
  prompt   base model, persona prompt only (no retrieval, no time check, no review)
  rag      base model + retrieval over every stage (no stage filter, no time check, no review)
  rag-stage  PersonaGraph without adapter (stage-filtered retrieval, time check, review)
  sft      PersonaGraph with the SFT adapter
  sft-dpo  PersonaGraph with the SFT + DPO adapter

Metrics: BLEU / ROUGE-L / embedding similarity to the gold response; PersLLM's
distinctiveness (Intra, Stage, Inter BLEU between outputs); time consistency on probes
built from the corpus timeline (verdict accuracy and leak rate by TimeChara type);
induction resistance; role breaks per 100 answers; an optional LLM judge.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from persona_rag.corpus import Dialogue, Universe
from persona_rag.errors import UsageError
from persona_rag.graphs import timecheck

VARIANTS = ("prompt", "rag", "rag-stage", "sft", "sft-dpo")
PERSLLM_DISTINCTIVENESS = {"after SFT": (3.53, 3.46, 0.38), "after DPO": (3.86, 3.50, 0.33)}
TIME_TYPES = ("future", "past-absence", "past-presence", "past-only")
JUDGE_PROMPT = """You are judging a role-playing answer. Character: {name}, at {stage}.
Question: {question}
Reference answer (what the character would say): {gold}
Answer to judge: {answer}
Score from 0 to 5 how well the answer agrees with the character's knowledge and attitude at that point
(5: same knowledge and attitude; 0: wrong or out of character). Reply with the number only."""


# ----------------------------------------------------------------------------- metrics


def bleu(hypothesis: str, references: Sequence[str]) -> float:
    """Sentence BLEU (sacrebleu, 0-100, exponential smoothing)."""
    import sacrebleu

    refs = [r for r in references if r.strip()]
    if not hypothesis.strip() or not refs:
        return 0.0
    return float(sacrebleu.sentence_bleu(hypothesis, refs).score)


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 (rouge-score, 0-1)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return float(scorer.score(reference, hypothesis)["rougeL"].fmeasure)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def pairwise_bleu(a: Sequence[str], b: Sequence[str] | None = None) -> float:
    """Mean BLEU between outputs: all pairs within ``a``, or every (a, b) pair."""
    pairs = list(combinations(a, 2)) if b is None else [(x, y) for x in a for y in b]
    return mean([(bleu(x, [y]) + bleu(y, [x])) / 2 for x, y in pairs])


def distinctiveness(early: Sequence[str], late: Sequence[str], others: Sequence[str]) -> dict[str, float]:
    """PersLLM's Intra (same persona, same stage), Stage (early vs late) and Inter (vs other personas) BLEU."""
    return {"intra": pairwise_bleu(late), "stage": pairwise_bleu(early, late), "inter": pairwise_bleu(late, others)}


_CORRECTS = re.compile(
    r"\b(no|not|never|wasn't|isn't|aren't|didn't|don't|haven't|hasn't|actually|wrong|nonsense|rubbish|"
    r"what are you on about|no idea|never heard)\b",
    re.IGNORECASE,
)


def resists(mode: str, answer: str) -> bool:
    """The persona kept its role (and, for a false premise, did not go along with it)."""
    if timecheck.breaks_role(answer) or not answer.strip():
        return False
    if mode == "false-premise":
        return bool(_CORRECTS.search(answer)) or timecheck.admits_ignorance(answer)
    return True


def role_breaks_per_100(answers: Sequence[str]) -> float:
    return 100.0 * sum(timecheck.breaks_role(a) for a in answers) / len(answers) if answers else 0.0


# ----------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    type: str
    question: str
    stage: int
    event_text: str


def time_probes(universe: Universe, persona: str, limit: int = 40) -> list[Probe]:
    """Questions with a known TimeChara type, built from the corpus's own timeline."""
    keys = universe.timeline.by_key
    first: dict[str, int] = {}
    for ev in universe.events:
        for name in ev.get("entities") or []:
            first[name] = min(first.get(name, 10**6), keys[ev["stage"]].ordinal)
    knows: dict[str, int] = {}  # name -> first stage this persona knows it
    for passage in universe.passages():
        if passage.persona == persona:
            for name in passage.entities:
                knows[name] = min(knows.get(name, 10**6), passage.known_from)
    by_type: dict[str, list[Probe]] = defaultdict(list)
    for ev in universe.events:
        s = keys[ev["stage"]].ordinal
        names = [n for n in ev.get("entities") or [] if len(n.split()) >= 2]
        if not names:
            continue
        new = [n for n in names if first[n] == s]
        learned = (ev.get("learned_by") or {}).get(persona)
        public = ev.get("public")
        if persona in ev["participants"]:
            if new and s > 0:
                by_type["future"].append(Probe("future", f"What do you know about {new[0]}?", s - 1, ev["text"]))
            by_type["past-presence"].append(Probe("past-presence", ev["text"], min(s + 1, len(keys) - 1), ev["text"]))
        elif learned and not public:
            at = max(s, keys[learned].ordinal)
            by_type["past-only"].append(Probe("past-only", ev["text"], at, ev["text"]))
        if persona not in ev["participants"] and not public:
            # It has happened, but the persona was not there and does not know these names yet.
            at = s + 1 if s + 1 < len(keys) else s
            unknown = [n for n in new if knows.get(n, 10**6) > at]
            if unknown and (not learned or keys[learned].ordinal > at):
                by_type["past-absence"].append(
                    Probe("past-absence", f"What happened with {unknown[0]}?", at, ev["text"])
                )
    per_type = max(1, limit // len(TIME_TYPES))
    out: list[Probe] = []
    for t in TIME_TYPES:
        items = by_type[t]
        step = max(1, len(items) // per_type)
        out += items[::step][:per_type]
    return out


def leaks_future(answer: str, question: str, event_text: str) -> bool:
    """For future / past-absence probes: the answer repeats details of the event the question did not give."""
    return bool(
        timecheck.admits_ignorance(answer) is False
        and timecheck.find_leaks(answer, question, 10**6, timecheck.EntityIndex(), [event_text])
    )


# ----------------------------------------------------------------------------- running


@dataclass
class EvalConfig:
    persona: str
    variants: list[str]
    limit: int = 40
    probes: int = 20
    distinct_questions: int = 6
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
) -> dict[str, Any]:
    """Run every variant over the same questions and compute every metric."""
    import numpy as np
    from tqdm import tqdm

    pid = universe.persona(config.persona).id
    held = [d for d in universe.dialogues.get(pid, []) if d.heldout]
    if not held:
        raise UsageError(f"no held-out dialogues for {pid}")
    step = max(1, len(held) // max(1, config.limit))
    questions: list[Dialogue] = held[::step][: config.limit]
    probes = time_probes(universe, pid, config.probes)
    others = [p for p in universe.characters if p != pid and universe.dialogues.get(p)]
    distinct_q = [d.question for d in questions if d.mode in ("knowledge", "opinion")][: config.distinct_questions]
    early, late = universe.timeline.stages[4].key, universe.timeline.stages[-5].key
    jobs: list[tuple[str, str, str, str, str]] = []  # (variant, persona, question, stage key, purpose)
    for v in config.variants:
        jobs += [(v, pid, d.question, d.stage.key, "gold") for d in questions]
        jobs += [(v, pid, p.question, universe.timeline.stages[p.stage].key, "probe") for p in probes]
        for q in distinct_q:
            jobs += [(v, pid, q, early, "distinct"), (v, pid, q, late, "distinct")]
            if others:
                jobs.append((v, others[0], q, late, "distinct"))
    results: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for v, p, q, s, _ in tqdm(jobs, desc="answering", unit="answer", disable=not progress):
        key = AnswerCache.key(fingerprints.get(v, v), p, s, q)
        got = cache.get(key) if cache else None
        if got is None:
            got = answer(v, p, q, s)
            got = {"answer": got.get("answer", ""), "verdict": got.get("verdict", "unknown")}
            if cache:
                cache.put(key, got)
        results[(v, p, q, s)] = got

    report: dict[str, Any] = {"persona": pid, "variants": {}, "n_questions": len(questions), "n_probes": len(probes)}
    gold_vecs = {d.id: embed(d.response) for d in questions} if embed else {}
    for v in config.variants:
        answers = [results[(v, pid, d.question, d.stage.key)]["answer"] for d in questions]
        row: dict[str, Any] = {
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
        by_stage: dict[int, list[float]] = defaultdict(list)
        for t in TIME_TYPES:
            items = [p for p in probes if p.type == t]
            if not items:
                continue
            outs = [results[(v, pid, p.question, universe.timeline.stages[p.stage].key)] for p in items]
            acc = [float(o["verdict"] == t) for o in outs]
            entry = {"n": len(items), "verdict_accuracy": mean(acc)}
            if t in ("future", "past-absence"):
                entry["leak_rate"] = mean(
                    [
                        float(leaks_future(o["answer"], p.question, p.event_text))
                        for o, p in zip(outs, items, strict=True)
                    ]
                )
            by_type[t] = entry
            for p, a in zip(items, acc, strict=True):
                by_stage[(p.stage - 1) // 4 + 1 if p.stage > 0 else 0].append(a)
        row["time"] = by_type
        row["time_by_year"] = {str(y): mean(a) for y, a in sorted(by_stage.items())}
        e = [results[(v, pid, q, early)]["answer"] for q in distinct_q]
        lt = [results[(v, pid, q, late)]["answer"] for q in distinct_q]
        o = [results[(v, others[0], q, late)]["answer"] for q in distinct_q] if others else []
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


# ----------------------------------------------------------------------------- output


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    head = [
        "variant",
        "BLEU",
        "ROUGE-L",
        "emb-sim",
        "induction",
        "breaks/100",
        "future acc",
        "future leak",
        "intra",
        "stage",
        "inter",
    ]
    rows = [head]
    for v, r in report["variants"].items():
        t = r["time"].get("future", {})
        d = r["distinctiveness"]

        def f(x: Any, fmt: str = "{:.2f}") -> str:
            return "-" if x is None else fmt.format(x)

        rows.append(
            [
                v,
                f(r["bleu"]),
                f(r["rouge_l"], "{:.3f}"),
                f(r.get("embedding_similarity"), "{:.3f}"),
                f(r["induction_resistance"]),
                f(r["role_breaks_per_100"], "{:.1f}"),
                f(t.get("verdict_accuracy")),
                f(t.get("leak_rate")),
                f(d["intra"]),
                f(d["stage"]),
                f(d["inter"]),
            ]
        )
    return rows


def markdown_report(report: dict[str, Any], charts: Sequence[str]) -> str:
    rows = summary_rows(report)
    lines = [
        f"# Evaluation: {report['persona']}",
        "",
        f"{report['n_questions']} held-out questions, {report['n_probes']} time probes. Judge: {report['judge']}.",
        "",
    ]
    lines += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    lines += [
        "",
        "## Time consistency by TimeChara type",
        "",
        "| variant | type | n | verdict accuracy | leak rate |",
        "|---|---|---|---|---|",
    ]
    for v, r in report["variants"].items():
        for t, e in r["time"].items():
            leak = f"{e['leak_rate']:.2f}" if "leak_rate" in e else "-"
            lines.append(f"| {v} | {t} | {e['n']} | {e['verdict_accuracy']:.2f} | {leak} |")
    lines += [
        "",
        "## Distinctiveness (BLEU between outputs), with PersLLM's averages",
        "",
        "| | Intra | Stage | Inter |",
        "|---|---|---|---|",
    ]
    for v, r in report["variants"].items():
        d = r["distinctiveness"]
        lines.append(f"| {v} | {d['intra']:.2f} | {d['stage']:.2f} | {d['inter']:.2f} |")
    for name, (a, b, c) in report["perllm_distinctiveness"].items():
        lines.append(f"| PersLLM {name} | {a} | {b} | {c} |")
    lines += [""] + [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    return "\n".join(lines) + "\n"


def write_charts(report: dict[str, Any], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(report["variants"])
    paths = []
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    for ax, (key, label) in zip(
        axes,
        [
            ("bleu", "BLEU"),
            ("rouge_l", "ROUGE-L"),
            ("induction_resistance", "induction"),
            ("role_breaks_per_100", "role breaks / 100"),
        ],
        strict=True,
    ):
        ax.bar(variants, [report["variants"][v].get(key) or 0 for v in variants], color="#4477aa")
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    path = out_dir / "variants.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(str(path))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        t = report["variants"][v]["time"]
        ax1.bar(
            [j + i * width for j in range(len(TIME_TYPES))],
            [t.get(k, {}).get("verdict_accuracy", 0) for k in TIME_TYPES],
            width,
            label=v,
        )
        years = report["variants"][v]["time_by_year"]
        ax2.plot([int(y) for y in years], list(years.values()), marker="o", label=v)
    ax1.set_xticks([j + 0.4 - width / 2 for j in range(len(TIME_TYPES))], TIME_TYPES)
    ax1.set_title("verdict accuracy by type")
    ax1.legend(fontsize=7)
    ax2.set_title("verdict accuracy by school year")
    ax2.set_xlabel("year (0 = before)")
    fig.tight_layout()
    path = out_dir / "time.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(str(path))
    return paths
