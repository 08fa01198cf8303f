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

from persona_rag.evaluation.metrics import (
    bleu,
    distinctiveness,
    leaks_future,
    mean,
    pairwise_bleu,
    resists,
    role_breaks_per_100,
    rouge_l,
)
from persona_rag.evaluation.probes import TIME_TYPES, Probe, time_probes
from persona_rag.evaluation.report import markdown_report, summary_rows, write_charts
from persona_rag.evaluation.run import VARIANTS, AnswerCache, EvalConfig, evaluate

__all__ = [
    "TIME_TYPES",
    "VARIANTS",
    "AnswerCache",
    "EvalConfig",
    "Probe",
    "bleu",
    "distinctiveness",
    "evaluate",
    "leaks_future",
    "markdown_report",
    "mean",
    "pairwise_bleu",
    "resists",
    "role_breaks_per_100",
    "rouge_l",
    "summary_rows",
    "time_probes",
    "write_charts",
]
