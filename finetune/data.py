"""SFT and automatic DPO datasets in the prompt format PersonaGraph uses at inference.

For each annotated dialogue (persona, stage, mode, question, analysis, response):

- SFT: prompt = the persona graph's messages (system prompt with the temporal label,
  then the facts retrieved at that stage, the time verdict hint and the question);
  completion = the in-character response.
- DPO: chosen = the response; rejected is drawn, by a configurable mix, from
  (a) ``other_persona``: another persona's answer to the most similar question,
  (b) ``other_stage``: the same persona's answer at another stage, to a similar question,
  (c) ``base_model``: the base model's answer without persona conditioning,
  (d) ``assistant``: an assistant-style answer that breaks the role,
  (e) ``leaks_later``: one of the persona's own later memories, in its words (a leak of its future),
  (f) ``ignores_memory``: the persona's answer to an unrelated question (in voice, but not from its memory).
- What the review's templates do today, taught to the model: for every persona, in-character refusals
  (its profile's ``refusals``) to questions about its future and about events it did not witness, and
  first-person answers built from its retrieved memories, each with DPO negatives that leak a later
  fact or ignore the memory.

Prompts have the inference shape: the same number of retrieved facts, the same token budget and the
same verdict hint as the persona graph (settings ``top_k``, ``context_tokens``; the time check).
Held-out items (fixed by question, see corpora/SCHEMA.md) go to separate files that training never
reads, and no held-out response (of any persona) is used anywhere in training data, chosen or
rejected. Questions within cosine 0.95 of an earlier one are dropped.
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
from persona_rag.corpus import Dialogue, Universe, is_heldout
from persona_rag.errors import UsageError
from persona_rag.persona import Persona
from persona_rag.settings import DEFAULT_CONTEXT_TOKENS, DEFAULT_TOP_K

# claims_presence: "Yes, I was there" to a "were you there ...?" about an event the persona missed (synthetic
# questions only; drawn from the mix it falls back to an assistant answer).
REJECTED_KINDS = (
    "other_persona",
    "other_stage",
    "base_model",
    "assistant",
    "leaks_later",
    "ignores_memory",
    "claims_presence",
)

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
    facts_k: int = field(default=DEFAULT_TOP_K, metadata={"help": "retrieved facts per prompt (as at inference)"})
    context_tokens: int = field(
        default=DEFAULT_CONTEXT_TOKENS, metadata={"help": "token budget for the facts (as at inference)"}
    )
    dedup_threshold: float = field(default=0.95, metadata={"help": "drop questions this similar to an earlier one"})
    rejected_mix: dict[str, float] = field(
        default_factory=lambda: {
            "other_persona": 0.2,
            "other_stage": 0.2,
            "base_model": 0.05,
            "assistant": 0.15,
            "leaks_later": 0.2,
            "ignores_memory": 0.2,
        },
        metadata={"help": "share of each rejected kind in the DPO pairs"},
    )
    base_model_limit: int = field(default=24, metadata={"help": "most base-model answers to generate (slow on CPU)"})
    questions_per_stage: int = field(default=4, metadata={"help": "generated questions per stage (model annotators)"})
    synthetic_per_kind: int = field(
        default=24, metadata={"help": "refusals (future, unwitnessed) and memory answers added to the SFT data"}
    )
    grounding_score: float = field(default=0.45, metadata={"help": "the time check's known_floor, as at inference"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    plan_items: bool = field(
        default=True,
        metadata={
            "help": "train the answer plan's task: curated answers backed by their plan's memory, and "
            "questions on every memory with its first-person rewrite (finetune/plan_items.py)"
        },
    )
    answer_items: bool = field(
        default=False,
        metadata={
            "help": "with plan_items, also questions that ask one thing of a memory (who, a false premise, what "
            "happened after, how it felt) whose targets answer first (finetune/plan_items.py answer_items); off by "
            "default: on the sixth fresh set it did not raise the good share (README, ninth round)"
        },
    )


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
    from persona_rag.graphs.review import in_own_words

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
    from persona_rag.finetune.book_items import BookItems

    book = BookItems(universe, persona.id)  # dialogues from the book: their own DPO negatives (book_items.py)
    embed = memory.embed_query
    warm = getattr(memory, "embed_queries", None)  # every question in one batch first: a few thousand are asked
    if warm is not None:
        warm([d.question for d in own] + [d.question for ds in universe.dialogues.values() for d in ds])
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

    heldout_responses = {d.response.strip() for ds in universe.dialogues.values() for d in ds if d.heldout}
    later_pool = {p.id: p for p in universe.passages() if p.persona == persona.id}

    from types import SimpleNamespace

    from persona_rag.finetune.plan_items import plan_rows
    from persona_rag.graphs.plan import plan_question
    from persona_rag.graphs.review import say_sentences

    shape = SimpleNamespace(
        top_k=config.facts_k, context_tokens=config.context_tokens, grounding_score=config.grounding_score
    )

    def inference_prompt(question: str, stage: Any) -> tuple[list[dict[str, str]], list[str]]:
        """The persona graph's prompt: retrieval, time check and answer plan as at inference (graphs.plan)."""
        plan, ev = plan_question(memory, persona, question, stage, shape, count_tokens)
        system = persona.system_prompt(stage)
        msgs = prompts.plan_messages(system, question, plan.kind, plan.sentences, ev.verdict, (), ev.hearsay_from)
        return msgs, list(plan.sentences) if plan.kind == "memory" else []

    plan_sft, plan_counts = (
        plan_rows(
            persona,
            memory,
            shape,
            count_tokens,
            rng,
            curated=[d for d in own if d.id not in book.ids],
            answers=config.answer_items,
            per_memory=1 if config.answer_items else 2,
            progress=progress,
        )
        if config.plan_items
        else ([], Counter())
    )
    kept_curated = {r["id"] for r in plan_sft if r["source"] == "curated"}

    def leak_of_later(vec: np.ndarray, stage_ordinal: int) -> str | None:
        """The persona's own memory from a later stage, nearest to the question (the memory's stored vectors), in
        its words."""
        for hit in memory.search(persona.id, vec, k=len(later_pool), all_stages=True):
            p = later_pool.get(hit.passage.id)
            if p is not None and p.known_from > stage_ordinal:
                return in_own_words(p.text, persona)
        return None

    def unrelated(vec: np.ndarray) -> str | None:
        """The persona's training answer to the least similar question: in voice, but not from this memory."""
        pool = [j for j, o in enumerate(own) if not o.heldout]
        if not pool:
            return None
        j = pool[int(np.argmin(own_vecs[pool] @ vec))]
        return own[j].response

    other_train = [j for j, o in enumerate(others) if not o.heldout]
    for i, d in enumerate(tqdm(own, desc=f"building {persona.id}", unit="item", disable=not progress)):
        if config.plan_items and not d.heldout and d.id not in kept_curated and d.id not in book.ids:
            continue  # its plan's memory does not back the answer: not trained on (counted in plan_items)
        prompt, facts = inference_prompt(d.question, d.stage)
        split = "heldout" if d.heldout else "train"
        meta = {"id": d.id, "stage": d.stage.key, "mode": d.mode, "question": d.question}
        if not (config.plan_items and split == "train") or d.id in book.ids:  # else the plan items hold it
            files[f"sft_{split}"].append(
                {
                    **meta,
                    "prompt": prompt,
                    "completion": [{"role": "assistant", "content": d.response}],
                    "analysis": d.analysis,
                }
            )
        kind = rng.choices(kinds, weights)[0] if kinds else "assistant"
        rejected = book.rejected(d, kind, own)  # a book item: another character's reply, a distant stage's
        if rejected:
            pass
        elif kind == "base_model" and base_budget > 0:
            rejected = base_generator.generate([{"role": "user", "content": d.question}], max_new_tokens=60)
            base_budget -= 1
        elif kind == "other_persona" and other_train:
            j = _nearest(own_vecs[i], other_vecs[other_train])
            rejected = others[other_train[j]].response if j is not None else None
        elif kind == "other_stage":
            far = {j for j, o in enumerate(own) if abs(o.stage.ordinal - d.stage.ordinal) < 4 or o.heldout}
            j = _nearest(own_vecs[i], own_vecs, exclude=far)
            rejected = own[j].response if j is not None else None
        elif kind == "leaks_later":
            rejected = leak_of_later(own_vecs[i], d.stage.ordinal)
        elif kind == "ignores_memory":
            rejected = unrelated(own_vecs[i])
        if not rejected or rejected.strip() == d.response.strip() or rejected.strip() in heldout_responses:
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
    from persona_rag.graphs.verdict import asks_presence

    synthetic = synthetic_items(persona, config.synthetic_per_kind, rng)
    for item in synthetic:
        prompt, facts = inference_prompt(item["question"], item["stage"])
        if item["kind"] == "memory":
            if not facts:
                continue
            chosen = say_sentences(facts, persona)
            rejected, rkind = unrelated(embed(item["question"])), "ignores_memory"
        else:
            chosen = item["response"]
            rejected, rkind = item["leak"], "leaks_later"
            if item["kind"] == "past-absence" and asks_presence(item["question"]):
                rejected, rkind = f"Yes, I was there. {item['leak']}", "claims_presence"
        meta = {"id": item["id"], "stage": item["stage"].key, "mode": item["kind"], "question": item["question"]}
        completion = [{"role": "assistant", "content": chosen}]
        files["sft_train"].append({**meta, "prompt": prompt, "completion": completion, "analysis": ""})
        if rejected and rejected.strip() != chosen.strip() and rejected.strip() not in heldout_responses:
            kind_counts[rkind] += 1
            files["dpo_train"].append(
                {
                    **meta,
                    "prompt": prompt,
                    "chosen": completion,
                    "rejected": [{"role": "assistant", "content": rejected}],
                    "rejected_kind": rkind,
                }
            )
    for row in plan_sft:
        files["sft_train"].append({k: v for k, v in row.items() if k not in ("rejected", "rejected_kind")})
        # A curated row's DPO pair is the curated loop's (another persona's answer, another stage, ...).
        if row["source"] != "curated" and row["rejected"]:
            kind_counts[row["rejected_kind"]] += 1
            files["dpo_train"].append(
                {**{k: v for k, v in row.items() if k != "completion"}, "chosen": row["completion"]}
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
        "synthetic": dict(Counter(item["kind"] for item in synthetic)),
        "prompt_shape": {"facts_k": config.facts_k, "context_tokens": config.context_tokens, "verdict_hint": True},
        "annotator_rejected": rejected_by_annotator,
        "prompt_format": prompts.PROMPT_FORMAT,
        "plan_items": dict(sorted(plan_counts.items())),
        "heldout_rule": "sha256(normalised question)[0] < 52",
        "sha256": digest.hexdigest(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def synthetic_items(persona: Persona, per_kind: int, rng: random.Random) -> list[dict[str, Any]]:
    """Questions about the persona's future and about events it did not witness, with its own refusals
    (and the later fact a leaking answer would give, for DPO), and questions about its own memories.

    Questions that the held-out rule would hold out are skipped, so the split stays fixed by question.
    """
    from persona_rag.graphs.review import in_own_words

    uni = persona.universe
    keys = uni.timeline.by_key
    first: dict[str, int] = {}
    for ev in uni.events:
        for name in ev.get("entities") or []:
            first[name] = min(first.get(name, 10**6), keys[ev["stage"]].ordinal)
    known: dict[str, int] = {}
    for p in uni.passages():
        if p.persona == persona.id:
            for name in p.entities:
                known[name] = min(known.get(name, 10**6), p.known_from)
    out: dict[str, list[dict[str, Any]]] = {"future": [], "past-absence": [], "memory": []}
    stages = uni.timeline.stages
    for ev in uni.events:
        s = keys[ev["stage"]].ordinal
        names = [n for n in ev.get("entities") or [] if len(n.split()) >= 2 and first.get(n) == s]
        if not names:
            continue
        name = names[0]
        if persona.id in ev["participants"] and s > 0:
            at = stages[rng.randrange(0, s)]
            q = rng.choice(["What do you know about {n}?", "Who or what is {n}?", "Tell me about {n}."])
            out["future"].append({"stage": at, "question": q.format(n=name), "kind": "future", "text": ev["text"]})
        elif persona.id not in ev["participants"] and not ev.get("public") and known.get(name, 10**6) > s:
            learned = (ev.get("learned_by") or {}).get(persona.id)
            last = min(len(stages) - 1, keys[learned].ordinal - 1) if learned else len(stages) - 1
            if last < s:
                continue
            at = stages[rng.randint(s, last)]
            if known.get(name, 10**6) <= at.ordinal:
                continue
            q = rng.choice(["What happened with {n}?", "Were you there with {n}?"])
            out["past-absence"].append(
                {"stage": at, "question": q.format(n=name), "kind": "past-absence", "text": ev["text"]}
            )
    for p in uni.passages():
        if p.persona == persona.id and p.entities:
            name = p.entities[0]
            if len(name.split()) < 2:
                continue
            at = stages[min(len(stages) - 1, max(p.known_from, 0))]
            q = rng.choice(["Tell me about {n}.", "What about {n}?", "What can you tell me about {n}?"])
            out["memory"].append({"stage": at, "question": q.format(n=name), "kind": "memory"})
    items: list[dict[str, Any]] = []
    for kind, rows in out.items():
        rows = [r for r in rows if not is_heldout(r["question"])]
        rng.shuffle(rows)
        for n, r in enumerate(rows[:per_kind]):
            r["id"] = f"{persona.id}-syn-{kind}-{n:03d}"
            if kind != "memory":
                r["response"] = prompts.refusal(persona.profile, kind, r["question"], persona.short_name)
                r["leak"] = in_own_words(r["text"], persona)  # what a leaking answer would say
            items.append(r)
    return items


def data_stats(universe: Universe) -> dict[str, Any]:
    """Per persona: total, train, heldout, modes, stages and sources (book or curated) of its dialogues."""
    from persona_rag.finetune.book_items import source_counts

    out: dict[str, Any] = {}
    for pid in universe.characters:
        ds = universe.dialogues.get(pid, [])
        out[pid] = {
            "total": len(ds),
            "train": sum(not d.heldout for d in ds),
            "heldout": sum(d.heldout for d in ds),
            "modes": dict(Counter(d.mode for d in ds)),
            "stages": dict(Counter(d.stage.key.split(".")[0] for d in ds)),
            "sources": source_counts(universe, pid),
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
