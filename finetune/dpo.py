"""Automatic DPO from the SFT model: the merged SFT adapter is the reference."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from typing import Any

from persona_rag.finetune.config import TrainConfig
from persona_rag.finetune.train import common_args, datasets, last_checkpoint, lora, save_adapter

from persona_rag import prompts
from persona_rag.backends.adapters import load_adapter_stack
from persona_rag.errors import UsageError
from persona_rag.paths import adapter_root, data_dir
from persona_rag.settings import Settings


def run_dpo(settings: Settings, universe: str, persona: str, config: TrainConfig, recipe: str) -> dict[str, Any]:
    from trl import DPOConfig, DPOTrainer

    from persona_rag.models import load_chat_model

    root = adapter_root(settings, universe, persona)
    if not (root / "sft" / "adapter_config.json").is_file():
        raise UsageError(f"DPO starts from the SFT adapter, and there is none for {persona}; run --step sft first")
    folder = data_dir(settings, universe, persona)
    manifest = json.loads((folder / "manifest.json").read_text())
    train, held = datasets(folder, "dpo", config)
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
        **common_args(config, settings),
    )
    lora_config = lora(config)
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=held, processing_class=tok, peft_config=lora_config
    )
    # No evaluation before training: the policy equals its reference, so every reward is exactly zero.
    t = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last_checkpoint(ckpt))
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
        "prompt_format": prompts.PROMPT_FORMAT,
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
    save_adapter(trainer.model, root / "dpo", card)
    shutil.rmtree(ckpt, ignore_errors=True)
    return metrics
