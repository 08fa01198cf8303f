"""Personified SFT: LoRA on the persona's dialogues with trl's SFTTrainer."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from typing import Any

from persona_rag.finetune.config import TrainConfig
from persona_rag.finetune.train import common_args, datasets, last_checkpoint, lora, save_adapter

from persona_rag import prompts
from persona_rag.errors import UsageError
from persona_rag.paths import adapter_root, data_dir
from persona_rag.settings import Settings


def run_sft(settings: Settings, universe: str, persona: str, config: TrainConfig, recipe: str) -> dict[str, Any]:
    from trl import SFTConfig, SFTTrainer

    from persona_rag.models import load_chat_model

    folder = data_dir(settings, universe, persona)
    manifest = json.loads((folder / "manifest.json").read_text())
    train, held = datasets(folder, "sft", config)
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
        **common_args(config, settings),
    )
    lora_config = lora(config)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=held, processing_class=tok, peft_config=lora_config
    )
    if len(trainer.eval_dataset) == 0 or len(trainer.train_dataset) == 0:  # type: ignore[arg-type]
        raise UsageError(
            f"every example is longer than max_length={config.max_length} tokens; raise --max-length "
            "or lower --context-tokens"
        )
    before = trainer.evaluate()["eval_loss"]  # LoRA starts at zero: this is the base model's held-out loss
    t = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last_checkpoint(ckpt))
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
        "prompt_format": prompts.PROMPT_FORMAT,
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
    save_adapter(trainer.model, root / "sft", card)
    shutil.rmtree(ckpt, ignore_errors=True)
    return metrics
