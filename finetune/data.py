"""SFT and automatic DPO datasets in the prompt format PersonaGraph uses at inference.

For each annotated dialogue (persona, stage, mode, question, analysis, response):

- SFT: prompt = the persona graph's messages (system prompt with the temporal label,
  then the facts retrieved at that stage, the time verdict hint and the question);
  completion = the in-character response.
- DPO: chosen = the response; rejected is drawn, by a configurable mix, from
  (a) ``other_persona``: another persona's answer to the most similar question,
  (b) ``other_stage``: the same persona's answer at another stage, to a similar question,
  (c) ``base_model``: the base model's answer without persona conditioning,
  (d) ``assistant``: an assistant-style answer that breaks the role.

Held-out items (fixed by question, see corpora/SCHEMA.md) go to separate files that
training never reads. Questions within cosine 0.95 of an earlier one are dropped.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from persona_rag import prompts
from persona_rag.corpus import Dialogue, Universe
from persona_rag.errors import UsageError
from persona_rag.persona import Persona

REJECTED_KINDS = ("other_persona", "other_stage", "base_model", "assistant")

ASSISTANT_TEMPLATES = (
    "As an AI language model, I don't have personal experiences, but I can tell you that {topic} is an interesting subject.",
    "I'm just a virtual assistant, so I can't really answer as a person. Here is some general information about {topic}.",
    "Great question! As a helpful assistant, I'd be happy to explain {topic}. Let me know if you need anything else.",
    "I am an artificial intelligence and do not have feelings about {topic}, but many people find it fascinating.",
)


@dataclass
class DataConfig:
    """How `persona-rag data build` writes a persona's datasets."""

    persona: str = field(metadata={"help": "persona id"})
    universe: str = field(default="harry_potter", metadata={"help": "shipped corpus name or folder"})
    annotator: str = field(default="curated", metadata={"help": "curated, local or openai"})
    facts_k: int = field(default=3, metadata={"help": "retrieved facts per prompt"})
    context_tokens: int = field(default=256, metadata={"help": "token budget for the facts"})
    dedup_threshold: float = field(default=0.95, metadata={"help": "drop questions this similar to an earlier one"})
    rejected_mix: dict[str, float] = field(
        default_factory=lambda: {"other_persona": 0.35, "other_stage": 0.3, "base_model": 0.05, "assistant": 0.3},
        metadata={"help": "share of each rejected kind in the DPO pairs"},
    )
    base_model_limit: int = field(default=24, metadata={"help": "most base-model answers to generate (slow on CPU)"})
    questions_per_stage: int = field(default=4, metadata={"help": "generated questions per stage (model annotators)"})
    seed: int = field(default=0, metadata={"help": "random seed"})


def temporal_prompt(
    persona: Persona, dialogue: Dialogue, facts: Sequence[str], verdict: str | None
) -> list[dict[str, str]]:
    return prompts.messages(persona.system_prompt(dialogue.stage), dialogue.question, facts, verdict)


def _topic(question: str) -> str:
    words = [w.strip("?.,!") for w in question.split()]
    caps = [w for w in words[1:] if w[:1].isupper()]
    return " ".join(caps[:3]) if caps else "that"


def _nearest(vec: np.ndarray, pool: np.ndarray, exclude: set[int] | None = None) -> int | None:
    if pool.size == 0:
        return None
    scores = pool @ vec
    for i in np.argsort(-scores):
        if exclude is None or int(i) not in exclude:
            return int(i)
    return None


def dedupe(dialogues: Sequence[Dialogue], vectors: np.ndarray, threshold: float) -> list[int]:
    """Indices of dialogues kept: a question within ``threshold`` cosine of a kept one is dropped."""
    kept: list[int] = []
    for i in range(len(dialogues)):
        if kept and float(np.max(vectors[kept] @ vectors[i])) >= threshold:
            continue
        kept.append(i)
    return kept


def build_datasets(
    config: DataConfig,
    universe: Universe,
    memory: Any,
    out_dir: Path,
    *,
    count_tokens: Any = None,
    base_generator: Any = None,
    annotator: Any = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write sft_{train,heldout}.jsonl, dpo_{train,heldout}.jsonl and manifest.json; return the manifest."""
    from persona_rag.graphs.verdict import time_verdict
    from persona_rag.memory.retrieval import retrieve_facts

    unknown = set(config.rejected_mix) - set(REJECTED_KINDS)
    if unknown:
        raise UsageError(f"unknown rejected kinds {sorted(unknown)}; valid: {', '.join(REJECTED_KINDS)}")
    persona = Persona(universe, universe.persona(config.persona))
    count_tokens = count_tokens or (lambda text: len(text.split()))
    rng = random.Random(config.seed)
    rejected_by_annotator = 0
    if annotator is None:
        own = list(universe.dialogues.get(persona.id, []))
        if not own:
            raise UsageError(f"no curated dialogues for {persona.id}; use --annotator local or openai")
    else:
        from persona_rag.finetune.annotate import annotated, generate_questions

        own = []
        for dlg, _ in annotated(
            persona,
            annotator,
            generate_questions(persona, config.questions_per_stage, config.seed),
            memory,
            config.facts_k,
        ):
            if dlg is None:
                rejected_by_annotator += 1
            else:
                own.append(dlg)
    others = [d for pid, ds in universe.dialogues.items() if pid != persona.id for d in ds]
    embed = memory.embed_query
    own_vecs = np.stack([embed(d.question) for d in own]) if own else np.zeros((0, 1), np.float32)
    kept = dedupe(own, own_vecs, config.dedup_threshold)
    dropped = len(own) - len(kept)
    own = [own[i] for i in kept]
    own_vecs = own_vecs[kept]
    other_vecs = (
        np.stack([embed(d.question) for d in others]) if others else np.zeros((0, own_vecs.shape[1]), np.float32)
    )

    kinds = [k for k in REJECTED_KINDS if config.rejected_mix.get(k, 0) > 0]
    weights = [config.rejected_mix[k] for k in kinds]
    base_budget = config.base_model_limit if base_generator is not None else 0
    files: dict[str, list[dict[str, Any]]] = {"sft_train": [], "sft_heldout": [], "dpo_train": [], "dpo_heldout": []}
    kind_counts: Counter[str] = Counter()
    from tqdm import tqdm

    for i, d in enumerate(tqdm(own, desc=f"building {persona.id}", unit="item", disable=not progress)):
        _, facts = retrieve_facts(
            memory, persona.id, d.question, d.stage, config.facts_k, config.context_tokens, count_tokens
        )
        verdict = time_verdict(memory, persona.id, d.question, d.stage).verdict if d.mode == "false-premise" else None
        prompt = temporal_prompt(persona, d, facts, verdict)
        split = "heldout" if d.heldout else "train"
        meta = {"id": d.id, "stage": d.stage.key, "mode": d.mode, "question": d.question}
        files[f"sft_{split}"].append(
            {
                **meta,
                "prompt": prompt,
                "completion": [{"role": "assistant", "content": d.response}],
                "analysis": d.analysis,
            }
        )
        kind = rng.choices(kinds, weights)[0] if kinds else "assistant"
        rejected = None
        if kind == "base_model" and base_budget > 0:
            rejected = base_generator.generate([{"role": "user", "content": d.question}], max_new_tokens=60)
            base_budget -= 1
        elif kind == "other_persona" and len(others):
            j = _nearest(own_vecs[i], other_vecs)
            rejected = others[j].response if j is not None else None
        elif kind == "other_stage":
            far = {j for j, o in enumerate(own) if abs(o.stage.ordinal - d.stage.ordinal) < 4}
            j = _nearest(own_vecs[i], own_vecs, exclude=far)
            rejected = own[j].response if j is not None else None
        if not rejected or rejected.strip() == d.response.strip():
            kind = "assistant"
            rejected = rng.choice(ASSISTANT_TEMPLATES).format(topic=_topic(d.question))
        kind_counts[kind] += 1
        files[f"dpo_{split}"].append(
            {
                **meta,
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": d.response}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "rejected_kind": kind,
            }
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for name, rows in files.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        digest.update(text.encode())
        tmp = out_dir / f".{name}.jsonl.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out_dir / f"{name}.jsonl")
    manifest = {
        "persona": persona.id,
        "universe": universe.id,
        "config": asdict(config),
        "counts": {name: len(rows) for name, rows in files.items()},
        "rejected_kinds": dict(kind_counts),
        "near_duplicates_dropped": dropped,
        "annotator_rejected": rejected_by_annotator,
        "heldout_rule": "sha256(normalised question)[0] < 52",
        "sha256": digest.hexdigest(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def data_stats(universe: Universe) -> dict[str, Any]:
    """Per persona: total, train, heldout, modes and stages of the curated dialogues."""
    out: dict[str, Any] = {}
    for pid in universe.characters:
        ds = universe.dialogues.get(pid, [])
        out[pid] = {
            "total": len(ds),
            "train": sum(not d.heldout for d in ds),
            "heldout": sum(d.heldout for d in ds),
            "modes": dict(Counter(d.mode for d in ds)),
            "stages": dict(Counter(d.stage.key.split(".")[0] for d in ds)),
        }
    return out


def build_data(
    settings: Any,
    universe: Universe,
    persona: str,
    annotator_kind: str = "curated",
    openai_url: str | None = None,
    openai_model: str | None = None,
    config_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a persona's datasets under the home folder with the default models (what `data build` runs)."""
    from persona_rag.finetune.annotate import make_annotator
    from persona_rag.memory.store import open_memory

    from persona_rag.backends.hf import TransformersGenerator
    from persona_rag.paths import data_dir

    persona_id = universe.persona(persona).id
    config = DataConfig(persona=persona_id, universe=universe.id, annotator=annotator_kind)
    valid = {f.name for f in fields(DataConfig)}
    unknown = sorted(set(config_overrides or {}) - valid)
    if unknown:
        raise UsageError(f"unknown data option(s) {unknown}; valid: {', '.join(sorted(valid))}")
    for key, value in (config_overrides or {}).items():
        setattr(config, key, value)
    memory = open_memory(settings, universe)
    base = TransformersGenerator.load(settings, quiet=True) if config.rejected_mix.get("base_model", 0) > 0 else None
    annotator = make_annotator(annotator_kind, settings, openai_url, openai_model)
    return build_datasets(
        config,
        universe,
        memory,
        data_dir(settings, universe.id, persona_id),
        progress=True,
        count_tokens=base.count_tokens if base else None,
        base_generator=base,
        annotator=annotator,
    )
