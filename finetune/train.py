"""Personified conversational tuning: LoRA SFT with trl's SFTTrainer, then DPO from the SFT model.

Adapters are written under ``$PERSONA_RAG_HOME/adapters/<universe>/<persona>/{sft,dpo}``
with a model card (README.md) and ``persona_rag.json`` (base model, data manifest,
recipe, metrics). PersonaGraph picks them up automatically. The DPO adapter is
trained on top of the merged SFT model (its reference), so loading it applies the
SFT adapter first (``"stack"`` in persona_rag.json).

Training checkpoints go to ``.../<step>.checkpoints``; running the same command again
resumes from the last one.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from persona_rag.finetune.config import TrainConfig

from persona_rag.errors import UsageError
from persona_rag.settings import Settings

STEPS = ("sft", "dpo", "all")


def adapter_root(settings: Settings, universe: str, persona: str) -> Path:
    return settings.adapters_dir / universe / persona


def data_dir(settings: Settings, universe: str, persona: str) -> Path:
    return settings.home / "data" / universe / persona


def load_adapter_stack(model: Any, adapter: Path) -> Any:
    """Apply an adapter (and the SFT adapter under a DPO one) and merge it into the weights."""
    from peft import PeftModel

    meta_path = adapter / "persona_rag.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    for rel in meta.get("stack", [])[:-1]:
        model = PeftModel.from_pretrained(model, str((adapter / rel).resolve())).merge_and_unload()
    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()


def _limit(ds: Any, n: int) -> Any:
    return ds.select(range(min(n, len(ds)))) if n and n > 0 else ds


def _datasets(folder: Path, kind: str, config: TrainConfig) -> tuple[Any, Any]:
    from datasets import load_dataset

    train = load_dataset("json", data_files=str(folder / f"{kind}_train.jsonl"), split="train")
    held = load_dataset("json", data_files=str(folder / f"{kind}_heldout.jsonl"), split="train")
    keep = ["prompt", "completion"] if kind == "sft" else ["prompt", "chosen", "rejected"]
    train = train.shuffle(seed=config.seed)
    train = _limit(train, config.max_train_items).select_columns(keep)
    held = _limit(held, config.max_eval_items).select_columns(keep)
    if len(train) == 0 or len(held) == 0:
        raise UsageError(f"no {kind} data in {folder}; run `persona-rag data build PERSONA` first")
    return train, held


def _last_checkpoint(folder: Path) -> str | None:
    ckpts = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(ckpts[-1]) if ckpts else None


def _save_adapter(model: Any, target: Path, card: dict[str, Any]) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    (tmp / "persona_rag.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    metrics = "\n".join(
        f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in card["metrics"].items()
    )
    (tmp / "README.md").write_text(
        f"# {card['persona']} ({card['universe']}) - {card['step'].upper()} LoRA adapter\n\n"
        f"Base model: `{card['base_model']}`. Trained by persona-rag with the `{card['recipe']}` recipe on "
        f"{card['train_items']} items (data sha256 {card['data_sha256'][:12]}).\n\n| metric | value |\n|---|---|\n"
        f"{metrics}\n",
        encoding="utf-8",
    )
    if target.exists():
        shutil.rmtree(target)
    tmp.replace(target)


def _lora(config: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
    )


def _common_args(config: TrainConfig, settings: Settings) -> dict[str, Any]:
    return {
        "gradient_checkpointing": config.gradient_checkpointing,
        "per_device_eval_batch_size": 4,
        "logging_steps": config.logging_steps,
        "save_steps": config.save_steps,
        "save_total_limit": 2,
        "report_to": [],
        "bf16": config.bf16,
        "max_length": config.max_length,
        "seed": config.seed,
        "use_cpu": settings.device == "cpu",
        "dataloader_num_workers": 0,
        "disable_tqdm": False,
    }


def run_sft(settings: Settings, universe: str, persona: str, config: TrainConfig, recipe: str) -> dict[str, Any]:
    from trl import SFTConfig, SFTTrainer

    from persona_rag.models import load_chat_model

    folder = data_dir(settings, universe, persona)
    manifest = json.loads((folder / "manifest.json").read_text())
    train, held = _datasets(folder, "sft", config)
    model, tok, resolved = load_chat_model(settings, quiet=True)
    model.train()
    root = adapter_root(settings, universe, persona)
    ckpt = root / "sft.checkpoints"
    args = SFTConfig(
        output_dir=str(ckpt),
        num_train_epochs=config.sft_epochs,
        max_steps=config.sft_max_steps,
        per_device_train_batch_size=config.sft_batch_size,
        learning_rate=config.sft_learning_rate,
        completion_only_loss=True,
        label_names=["labels"],
        **_common_args(config, settings),
    )
    lora = _lora(config)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=held, processing_class=tok, peft_config=lora
    )
    if len(trainer.eval_dataset) == 0 or len(trainer.train_dataset) == 0:  # type: ignore[arg-type]
        raise UsageError(
            f"every example is longer than max_length={config.max_length} tokens; raise --max-length "
            "or lower --context-tokens"
        )
    before = trainer.evaluate()["eval_loss"]  # LoRA starts at zero: this is the base model's held-out loss
    t = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=_last_checkpoint(ckpt))
    seconds = time.perf_counter() - t
    after = trainer.evaluate()["eval_loss"]
    lengths = [
        len(tok.apply_chat_template(r["prompt"] + r["completion"], return_dict=True)["input_ids"]) for r in train
    ]
    steps = int(result.global_step)
    seen = steps * config.sft_batch_size * max(1, args.gradient_accumulation_steps)
    tokens = seen * (sum(lengths) / max(1, len(lengths)))
    metrics = {
        "heldout_loss_base": float(before),
        "heldout_loss_tuned": float(after),
        "train_loss": float(result.training_loss),
        "steps": steps,
        "seconds": round(seconds, 1),
        "train_tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else 0.0,
    }
    card = {
        "persona": persona,
        "universe": universe,
        "step": "sft",
        "base_model": resolved.name,
        "recipe": recipe,
        "config": asdict(config),
        "data_manifest": manifest,
        "data_sha256": manifest["sha256"],
        "train_items": len(train),
        "metrics": metrics,
        "stack": ["."],
    }
    _save_adapter(trainer.model, root / "sft", card)
    shutil.rmtree(ckpt, ignore_errors=True)
    return metrics


def run_dpo(settings: Settings, universe: str, persona: str, config: TrainConfig, recipe: str) -> dict[str, Any]:
    from trl import DPOConfig, DPOTrainer

    from persona_rag.models import load_chat_model

    root = adapter_root(settings, universe, persona)
    if not (root / "sft" / "adapter_config.json").is_file():
        raise UsageError(f"DPO starts from the SFT adapter, and there is none for {persona}; run --step sft first")
    folder = data_dir(settings, universe, persona)
    manifest = json.loads((folder / "manifest.json").read_text())
    train, held = _datasets(folder, "dpo", config)
    base, tok, resolved = load_chat_model(settings, quiet=True)
    model = load_adapter_stack(base, root / "sft")  # the merged SFT model is DPO's reference
    model.train()
    ckpt = root / "dpo.checkpoints"
    args = DPOConfig(
        output_dir=str(ckpt),
        num_train_epochs=config.dpo_epochs,
        max_steps=config.dpo_max_steps,
        per_device_train_batch_size=config.dpo_batch_size,
        learning_rate=config.dpo_learning_rate,
        beta=config.dpo_beta,
        **_common_args(config, settings),
    )
    lora = _lora(config)
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=held, processing_class=tok, peft_config=lora
    )
    # No evaluation before training: the policy equals its reference, so every reward is exactly zero.
    t = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=_last_checkpoint(ckpt))
    seconds = time.perf_counter() - t
    after = trainer.evaluate()
    metrics = {
        "heldout_reward_accuracy": float(after.get("eval_rewards/accuracies", 0.0)),
        "heldout_reward_margin": float(after.get("eval_rewards/margins", 0.0)),
        "heldout_loss": float(after.get("eval_loss", 0.0)),
        "train_loss": float(result.training_loss),
        "steps": int(result.global_step),
        "seconds": round(seconds, 1),
    }
    card = {
        "persona": persona,
        "universe": universe,
        "step": "dpo",
        "base_model": resolved.name,
        "recipe": recipe,
        "config": asdict(config),
        "data_manifest": manifest,
        "data_sha256": manifest["sha256"],
        "train_items": len(train),
        "metrics": metrics,
        "stack": ["../sft", "."],
    }
    _save_adapter(trainer.model, root / "dpo", card)
    shutil.rmtree(ckpt, ignore_errors=True)
    return metrics
