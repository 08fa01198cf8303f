"""Subcommands for personified data and training: `data stats`, `data build`, `train`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any


def _cli() -> Any:
    from persona_rag import cli

    return cli


def cmd_data(args: argparse.Namespace) -> int:
    from persona_rag.corpus import load_universe

    settings = _cli()._settings(args)
    uni = load_universe(settings.corpus)
    if args.action == "stats":
        from persona_rag.finetune.data import data_stats

        stats = data_stats(uni)
        if args.json:
            print(json.dumps(stats, indent=2))
        else:
            print(f"{'persona':<12}{'total':>7}{'train':>7}{'heldout':>9}  modes")
            for pid, s in stats.items():
                modes = ", ".join(f"{k} {v}" for k, v in sorted(s["modes"].items()))
                print(f"{pid:<12}{s['total']:>7}{s['train']:>7}{s['heldout']:>9}  {modes}")
        return 0
    manifest = build_data(settings, uni, args.persona, args.annotator, args.openai_url, args.openai_model)
    print(
        json.dumps(manifest["counts"])
        if args.json
        else f"wrote {manifest['counts']} to {settings.home / 'data' / uni.id / manifest['persona']} "
        f"(rejected kinds: {manifest['rejected_kinds']}, near-duplicates dropped: {manifest['near_duplicates_dropped']})"
    )
    return 0


def build_data(
    settings: Any,
    uni: Any,
    persona: str,
    annotator_kind: str = "curated",
    openai_url: str | None = None,
    openai_model: str | None = None,
    config_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from persona_rag.finetune.annotate import make_annotator
    from persona_rag.finetune.data import DataConfig, build_datasets
    from persona_rag.finetune.train import data_dir
    from persona_rag.generators import TransformersGenerator
    from persona_rag.memory.store import open_memory

    pid = uni.persona(persona).id
    config = DataConfig(persona=pid, universe=uni.id, annotator=annotator_kind)
    for key, value in (config_overrides or {}).items():
        if hasattr(config, key):
            setattr(config, key, value)
    memory = open_memory(settings, uni)
    base = TransformersGenerator.load(settings, quiet=True) if config.rejected_mix.get("base_model", 0) > 0 else None
    annotator = make_annotator(annotator_kind, settings, openai_url, openai_model)
    return build_datasets(
        config,
        uni,
        memory,
        data_dir(settings, uni.id, pid),
        progress=True,
        count_tokens=base.count_tokens if base else None,
        base_generator=base,
        annotator=annotator,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from persona_rag.corpus import load_universe
    from persona_rag.finetune.config import TrainConfig, load_recipe
    from persona_rag.finetune.train import adapter_root, data_dir, run_dpo, run_sft

    settings = _cli()._settings(args)
    uni = load_universe(settings.corpus)
    pid = uni.persona(args.persona).id
    overrides = {f.name: getattr(args, f"opt_{f.name}", None) for f in fields(TrainConfig)}
    config = load_recipe(args.recipe, {k: v for k, v in overrides.items() if v is not None})
    folder = data_dir(settings, uni.id, pid)
    if not (folder / "manifest.json").is_file() or (args.rebuild_data and args.step in ("sft", "all")):
        print(f"building {pid}'s datasets ({config.annotator} annotator) ...", flush=True)
        build_data(
            settings,
            uni,
            pid,
            config.annotator,
            config_overrides={
                "facts_k": config.facts_k,
                "context_tokens": config.context_tokens,
                "rejected_mix": config.rejected_mix,
                "base_model_limit": config.base_model_limit,
                "seed": config.seed,
            },
        )
    results: dict[str, Any] = {}
    if args.step in ("sft", "all"):
        print(f"SFT for {pid} with the {args.recipe} recipe ...", flush=True)
        results["sft"] = run_sft(settings, uni.id, pid, config, args.recipe)
        print(json.dumps({"sft": results["sft"]}), flush=True)
    if args.step in ("dpo", "all"):
        print(f"DPO for {pid} from the SFT adapter ...", flush=True)
        results["dpo"] = run_dpo(settings, uni.id, pid, config, args.recipe)
        print(json.dumps({"dpo": results["dpo"]}), flush=True)
    print(f"adapters in {adapter_root(settings, uni.id, pid)}; `persona-rag ask {pid} ...` now uses them")
    return 0


def register(sub: Any, common: Callable[..., None]) -> None:
    from persona_rag.finetune.config import TrainConfig, recipe_names

    p = sub.add_parser("data", help="personified data: stats of the curated dialogues, or build SFT/DPO datasets")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    d = dsub.add_parser("stats", help="per persona: total, train, heldout, modes and stages")
    d.add_argument("--json", action="store_true")
    common(d)
    d = dsub.add_parser("build", help="write a persona's SFT and DPO datasets (JSONL) with a manifest")
    d.add_argument("persona")
    d.add_argument(
        "--annotator",
        default="curated",
        choices=["curated", "local", "openai"],
        help="curated: the shipped dialogues; local: the local model; openai: an OpenAI-compatible endpoint",
    )
    d.add_argument("--openai-url")
    d.add_argument("--openai-model")
    d.add_argument("--json", action="store_true")
    common(d, model=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="LoRA SFT then DPO for one persona (resumable)")
    p.add_argument("persona")
    p.add_argument("--recipe", default="quick", help=f"shipped: {', '.join(recipe_names())}, or a YAML path")
    p.add_argument("--step", default="all", choices=["sft", "dpo", "all"])
    p.add_argument("--rebuild-data", action="store_true", help="rebuild the datasets even if they exist")
    group = p.add_argument_group("recipe overrides")
    for f in fields(TrainConfig):
        if f.name == "description" or f.type in ("dict[str, float]",):
            continue
        kind = {"int": int, "float": float, "str": str}.get(str(f.type))
        if str(f.type) == "bool":
            group.add_argument(
                f"--{f.name.replace('_', '-')}",
                dest=f"opt_{f.name}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f.metadata.get("help"),
            )
        elif kind is not None:
            group.add_argument(
                f"--{f.name.replace('_', '-')}",
                dest=f"opt_{f.name}",
                type=kind,
                default=None,
                metavar=f.name.split("_")[-1].upper(),
                help=f.metadata.get("help"),
            )
    common(p, model=True)
    p.set_defaults(func=cmd_train)
