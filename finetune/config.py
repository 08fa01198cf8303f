"""Training configuration: one dataclass whose fields carry their help text, and YAML recipes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from persona_rag.errors import UsageError
from persona_rag.settings import DEFAULT_CONTEXT_TOKENS, DEFAULT_TOP_K

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


@dataclass
class TrainConfig:
    """Personified tuning: LoRA SFT, then DPO from the SFT adapter (PersLLM section 3.2)."""

    description: str = field(default="", metadata={"help": "what this recipe is for"})
    # data
    annotator: str = field(default="curated", metadata={"help": "curated, local or openai"})
    facts_k: int = field(default=DEFAULT_TOP_K, metadata={"help": "retrieved facts in each training prompt"})
    context_tokens: int = field(default=DEFAULT_CONTEXT_TOKENS, metadata={"help": "token budget for those facts"})
    max_train_items: int = field(default=0, metadata={"help": "use at most this many training items (0: all)"})
    max_eval_items: int = field(default=64, metadata={"help": "held-out items used for the metrics"})
    rejected_mix: dict[str, float] = field(
        default_factory=lambda: {"other_persona": 0.35, "other_stage": 0.3, "base_model": 0.05, "assistant": 0.3},
        metadata={"help": "share of each rejected kind in the DPO pairs"},
    )
    base_model_limit: int = field(default=24, metadata={"help": "most base-model answers generated as rejected"})
    answer_items: bool = field(
        default=False,
        metadata={
            "help": "also train questions that ask one thing of a memory, with targets that answer first (off: "
            "no gain measured, README ninth round)"
        },
    )
    # LoRA
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    target_modules: str = field(default="all-linear", metadata={"help": "modules LoRA adapts"})
    max_length: int = field(default=512, metadata={"help": "longest tokenised example"})
    # SFT
    sft_epochs: float = field(default=1.0, metadata={"help": "SFT epochs"})
    sft_max_steps: int = field(default=-1, metadata={"help": "stop SFT after this many steps (-1: epochs decide)"})
    sft_batch_size: int = field(default=8, metadata={"help": "SFT batch size"})
    sft_learning_rate: float = field(default=2e-4, metadata={"help": "SFT learning rate"})
    # DPO
    dpo_epochs: float = field(default=1.0, metadata={"help": "DPO epochs"})
    dpo_max_steps: int = field(default=-1, metadata={"help": "stop DPO after this many steps (-1: epochs decide)"})
    dpo_batch_size: int = field(default=4, metadata={"help": "DPO batch size"})
    dpo_learning_rate: float = field(default=5e-5, metadata={"help": "DPO learning rate"})
    dpo_beta: float = field(default=0.1, metadata={"help": "DPO beta"})
    # run
    bf16: bool = field(default=False, metadata={"help": "train in bfloat16"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "trade compute for memory"})
    save_steps: int = field(default=20, metadata={"help": "checkpoint every N steps (resume after interruption)"})
    logging_steps: int = field(default=5, metadata={"help": "log the loss every N steps"})
    seed: int = field(default=0, metadata={"help": "random seed"})

    def data_overrides(self) -> dict[str, Any]:
        """The recipe's options that shape the datasets (passed to `build_data`)."""
        return {
            "facts_k": self.facts_k,
            "context_tokens": self.context_tokens,
            "rejected_mix": self.rejected_mix,
            "base_model_limit": self.base_model_limit,
            "answer_items": self.answer_items,
            "seed": self.seed,
        }

    def with_overrides(self, values: dict[str, Any]) -> TrainConfig:
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise UsageError(f"unknown training option {key!r}; valid: {', '.join(sorted(known))}")
            if value is None:
                continue
            setattr(self, key, value)
        return self


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """A recipe by name (finetune/recipes/NAME.yaml) or path. Unknown keys are errors."""
    import yaml

    path = Path(name_or_path)
    if not path.is_file():
        path = RECIPES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UsageError(f"no recipe {name_or_path!r}; shipped recipes: {', '.join(recipe_names())}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"recipe {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"recipe {path} must be a mapping of option: value")
    config = TrainConfig().with_overrides(data)
    return config.with_overrides(overrides or {})
