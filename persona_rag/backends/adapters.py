"""LoRA adapters at inference: apply the stack (SFT under DPO) and merge it into the weights, or combine the
stack into one adapter and export it, with the dense base model, for a server that applies LoRA at run time
(vLLM: ``persona-rag adapters export DIR``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_rag.errors import UsageError
from persona_rag.paths import find_adapter

if TYPE_CHECKING:
    from persona_rag.settings import Settings


def load_adapter_stack(model: Any, adapter: Path) -> Any:
    """Apply an adapter (and the SFT adapter under a DPO one) and merge it into the weights."""
    from peft import PeftModel

    meta_path = adapter / "persona_rag.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    for rel in meta.get("stack", [])[:-1]:
        model = PeftModel.from_pretrained(model, str((adapter / rel).resolve())).merge_and_unload()
    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()


def resolve_adapter(settings: Settings, universe: str, persona: str, adapter: str | Path | None) -> Path | None:
    """``adapter`` as users give it: 'auto' (the persona's trained one, if any), None/'none' (the base model),
    or a folder, which must hold a LoRA adapter."""
    if adapter in (None, "none", ""):
        return None
    if adapter == "auto":
        found = find_adapter(settings, universe, persona)
        if found is not None:
            check_prompt_format(found, persona)
        return found
    path = Path(str(adapter)).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise UsageError(f"no LoRA adapter at {path} (adapter_config.json missing)")
    check_prompt_format(path, persona)
    return path


def check_prompt_format(adapter: Path, persona: str) -> None:
    """Refuse an adapter trained for another prompt format than the graph's (it would be used silently wrong)."""
    from persona_rag.prompts import PROMPT_FORMAT

    meta_path = adapter / "persona_rag.json"
    if not meta_path.is_file():
        return  # not trained by persona-rag (a user's own LoRA): its format is the user's business
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        meta = {}
    found = meta.get("prompt_format") or "facts (before answer plans)"
    if found != PROMPT_FORMAT:
        raise UsageError(
            f"the adapter at {adapter} was trained for the prompt format {found!r}, and this version prompts "
            f"with {PROMPT_FORMAT!r}; retrain it with `persona-rag train {persona} --recipe quick` "
            "(or pass --adapter none)"
        )


# ----------------------------------------------------------------------------- one adapter for the whole stack

# vLLM accepts these values of --max-lora-rank.
VLLM_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
_A, _B = ".lora_A.weight", ".lora_B.weight"


def _lora_parts(folder: Path) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """(config, scale, {module: (A, B)}) of a saved PEFT LoRA adapter; refuses what a plain LoRA sum cannot hold."""
    from safetensors.torch import load_file

    config = json.loads((folder / "adapter_config.json").read_text())
    refuse = [
        what
        for what, bad in (
            ("not a LoRA adapter", config.get("peft_type", "LORA") != "LORA"),
            ("DoRA", config.get("use_dora")),
            ("per-module ranks", config.get("rank_pattern")),
            ("per-module alphas", config.get("alpha_pattern")),
            ("trained biases", config.get("bias", "none") != "none"),
            ("fully trained modules", config.get("modules_to_save")),
            ("fan_in_fan_out weights", config.get("fan_in_fan_out")),
        )
        if bad
    ]
    if refuse:
        raise UsageError(f"cannot combine the adapter at {folder}: {', '.join(refuse)}")
    r, alpha = int(config["r"]), float(config["lora_alpha"])
    scale = alpha / (r**0.5) if config.get("use_rslora") else alpha / r
    weights = load_file(str(folder / "adapter_model.safetensors"))
    modules: dict[str, Any] = {}
    for key, tensor in weights.items():
        if key.endswith(_A):
            modules.setdefault(key[: -len(_A)], [None, None])[0] = tensor
        elif key.endswith(_B):
            modules.setdefault(key[: -len(_B)], [None, None])[1] = tensor
        else:
            raise UsageError(f"cannot combine the adapter at {folder}: weight {key} is not a LoRA A/B matrix")
    return config, scale, modules


def stack_folders(adapter: Path) -> list[Path]:
    """The adapter and the ones stacked under it (SFT under DPO), in the order they are applied."""
    meta_path = adapter / "persona_rag.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return [(adapter / rel).resolve() for rel in meta.get("stack", [])[:-1]] + [adapter.resolve()]


def combine_stack(adapter: Path, out: Path, base_model: str) -> int:
    """Write one LoRA adapter equal to the whole stack (SFT, then DPO trained over the merged SFT): its rank.

    Each layer of the stack adds ``s_i * B_i @ A_i`` to a weight. Their sum is one low-rank product:
    ``[s_1 B_1 | s_2 B_2] @ [A_1; A_2]``, exact, with rank r_1 + r_2 and scale 1. A module only one layer
    adapts gets zero rows and columns for the other, so every module has the same rank."""
    import torch
    from safetensors.torch import save_file

    layers = [_lora_parts(folder) for folder in stack_folders(adapter)]
    rank = sum(int(config["r"]) for config, _, _ in layers)
    names = sorted({m for _, _, modules in layers for m in modules})
    tensors: dict[str, Any] = {}
    for name in names:
        a_rows, b_cols = [], []
        shape_a = shape_b = None
        for _, _, modules in layers:
            if name in modules:
                shape_a, shape_b = modules[name][0].shape, modules[name][1].shape
        assert shape_a is not None and shape_b is not None
        for config, scale, modules in layers:
            r = int(config["r"])
            if name in modules:
                a, b = modules[name]
                a_rows.append(a.float())
                b_cols.append(b.float() * scale)
            else:
                a_rows.append(torch.zeros(r, shape_a[1]))
                b_cols.append(torch.zeros(shape_b[0], r))
        tensors[name + _A] = torch.cat(a_rows, dim=0).contiguous()
        tensors[name + _B] = torch.cat(b_cols, dim=1).contiguous()
    targets: set[str] = set()
    for config, _, _ in layers:
        t = config.get("target_modules")
        if isinstance(t, str):
            targets.update(m.rsplit(".", 1)[-1] for m in names)  # a regex: name the modules it matched
        else:
            targets.update(t or [])
    first = layers[0][0]
    config = {
        "peft_type": "LORA",
        "task_type": first.get("task_type", "CAUSAL_LM"),
        "base_model_name_or_path": base_model,
        "r": rank,
        "lora_alpha": rank,  # scale 1: the scales are in B
        "lora_dropout": 0.0,
        "target_modules": sorted(targets),
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": False,
        "inference_mode": True,
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return rank


def lora_name(universe: str, persona: str) -> str:
    """A tuned persona's LoRA module name at an OpenAI-compatible server (vLLM's ``--lora-modules NAME=PATH``)."""
    return f"{universe}-{persona}"


def vllm_rank(rank: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that holds ``rank``."""
    for r in VLLM_RANKS:
        if r >= rank:
            return r
    raise UsageError(f"a combined rank of {rank} is over vLLM's largest --max-lora-rank ({VLLM_RANKS[-1]})")


def tuned_personas(settings: Settings, universe: str | None = None) -> list[tuple[str, str, Path]]:
    """(universe, persona, adapter) for every tuned persona in the home (or in one universe)."""
    from persona_rag.paths import find_adapter

    root = settings.adapters_dir
    universes = (
        [universe] if universe else sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    )
    out = []
    for uni in universes:
        folder = root / uni
        for persona in sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            found = find_adapter(settings, uni, persona)
            if found is not None:
                out.append((uni, persona, found))
    return out
