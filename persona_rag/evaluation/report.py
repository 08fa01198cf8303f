"""The evaluation's outputs: a summary table, report.md and charts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from persona_rag.evaluation.probes import TIME_TYPES

# ----------------------------------------------------------------------------- output


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    head = [
        "variant",
        "model-written",
        "BLEU",
        "ROUGE-L",
        "emb-sim",
        "induction",
        "breaks/100",
        "time (answers)",
        "leak (answers)",
        "future rule acc",
        "intra",
        "stage",
        "inter",
    ]
    rows = [head]
    for v, r in report["variants"].items():
        t = r["time"].get("future", {})
        d = r["distinctiveness"]
        probes = [e for e in r["time"].values()]
        n = sum(e["n"] for e in probes)
        time_ok = sum(e["answer_accuracy"] * e["n"] for e in probes) / n if n else None
        leak = sum(e["leak_rate"] * e["n"] for e in probes) / n if n else None

        def f(x: Any, fmt: str = "{:.2f}") -> str:
            return "-" if x is None else fmt.format(x)

        rows.append(
            [
                v,
                f(r.get("model_written")),
                f(r["bleu"]),
                f(r["rouge_l"], "{:.3f}"),
                f(r.get("embedding_similarity"), "{:.3f}"),
                f(r["induction_resistance"]),
                f(r["role_breaks_per_100"], "{:.1f}"),
                f(time_ok),
                f(leak),
                f(t.get("verdict_accuracy")),
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
        f"{report['n_questions']} held-out questions, {report['n_probes']} time probes, "
        f"{report.get('n_distinct_questions', '-')} distinctiveness questions "
        f"(other personas: {', '.join(report.get('distinct_listeners') or []) or '-'}). Judge: {report['judge']}.",
        "",
        "model-written: share of answers the model wrote and the review passed (answered_by model or model-retry;",
        "the rest are the memory fallback or a refusal template). time (answers): probes answered right, judged",
        "from the answer text (admits not knowing its future or what it missed; answers what it lived) for every",
        "variant. leak (answers): answers that mention what the persona cannot know yet. future rule acc: the",
        "graph's time-check verdict on future probes (- for the baselines, which have no time check).",
        "",
    ]
    lines += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    lines += [
        "",
        "## Time consistency by TimeChara type",
        "",
        "| variant | type | n | right (answer text) | admits not knowing | leak rate | model-written | rule verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v, r in report["variants"].items():
        for t, e in r["time"].items():
            rule = "-" if e.get("verdict_accuracy") is None else f"{e['verdict_accuracy']:.2f}"
            lines.append(
                f"| {v} | {t} | {e['n']} | {e['answer_accuracy']:.2f} | {e['admits_rate']:.2f} | "
                f"{e['leak_rate']:.2f} | {e['model_written']:.2f} | {rule} |"
            )
    lines += [
        "",
        "## Distinctiveness (BLEU between outputs), with PersLLM's averages",
        "",
        "| | Intra | Stage | Inter |",
        "|---|---|---|---|",
    ]
    for v, r in report["variants"].items():
        d = r["distinctiveness"]
        cells = ["-" if d[k] is None else f"{d[k]:.2f}" for k in ("intra", "stage", "inter")]
        lines.append(f"| {v} | {' | '.join(cells)} |")
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
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.2))
    for ax, (key, label) in zip(
        axes,
        [
            ("model_written", "model-written share"),
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
            [t.get(k, {}).get("answer_accuracy", 0) for k in TIME_TYPES],
            width,
            label=v,
        )
        periods = report["variants"][v]["time_by_period"]
        ax2.plot(list(periods), list(periods.values()), marker="o", label=v)
    ax1.set_xticks([j + 0.4 - width / 2 for j in range(len(TIME_TYPES))], TIME_TYPES)
    ax1.set_title("time probes answered right (answer text), by type")
    ax1.legend(fontsize=7)
    ax2.set_title("time probes answered right, by period of the timeline")
    ax2.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    path = out_dir / "time.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(str(path))
    return paths
