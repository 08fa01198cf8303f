"""`persona-rag data` and `persona-rag train`: personified datasets, then LoRA SFT and DPO."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

from persona_rag.cli.common import add_common, add_openai_flags, settings_from
from persona_rag.errors import UsageError


def _use_api_key(args: argparse.Namespace) -> None:
    """The annotator's endpoint is built deep in the data pipeline; it reads OPENAI_API_KEY (this process only)."""
    if getattr(args, "openai_api_key", None):
        os.environ["OPENAI_API_KEY"] = args.openai_api_key


def _check_annotator_flags(annotator: str, args: argparse.Namespace) -> None:
    if annotator == "openai" and not (args.openai_url and args.openai_model):
        raise UsageError("--annotator openai needs --openai-url and --openai-model (the endpoint that annotates)")
    if annotator != "openai" and (args.openai_url or args.openai_model or args.openai_api_key):
        raise UsageError(f"--openai-url/--openai-model/--openai-api-key are for --annotator openai (not {annotator})")


def cmd_data(args: argparse.Namespace) -> int:
    from persona_rag import paths
    from persona_rag.corpus import load_universe
    from persona_rag.finetune.data import build_data, data_stats

    settings = settings_from(args)
    uni = load_universe(settings.corpus)
    if args.action == "build":
        _check_annotator_flags(args.annotator, args)
        _use_api_key(args)
    if args.action == "stats":
        stats = data_stats(uni)
        if args.json:
            print(json.dumps(stats, indent=2))
        else:
            print(f"{'persona':<12}{'total':>7}{'train':>7}{'heldout':>9}  {'sources':<22}modes")
            for persona_id, s in stats.items():
                modes = ", ".join(f"{k} {v}" for k, v in sorted(s["modes"].items()))
                sources = ", ".join(f"{k} {v}" for k, v in sorted(s.get("sources", {}).items())) or "-"
                print(f"{persona_id:<12}{s['total']:>7}{s['train']:>7}{s['heldout']:>9}  {sources:<22}{modes}")
        return 0
    from persona_rag.finetune.config import load_recipe

    # The recipe's data options (facts per prompt, base-model negatives, ...): `train` with the same recipe then
    # trains on these datasets instead of building them again.
    data_options = load_recipe(args.recipe).data_overrides()
    manifest = build_data(
        settings,
        uni,
        args.persona,
        args.annotator,
        args.openai_url,
        args.openai_model,
        config_overrides=data_options,
    )
    print(
        json.dumps(manifest["counts"])
        if args.json
        else f"wrote {manifest['counts']} to {paths.data_dir(settings, uni.id, manifest['persona'])} "
        f"(rejected kinds: {manifest['rejected_kinds']}, near-duplicates dropped: {manifest['near_duplicates_dropped']})"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from persona_rag import paths
    from persona_rag.corpus import load_universe
    from persona_rag.finetune.config import TrainConfig, load_recipe
    from persona_rag.finetune.data import build_data
    from persona_rag.finetune.dpo import run_dpo
    from persona_rag.finetune.sft import run_sft
    from persona_rag.finetune.train import bf16_runs_fast

    settings = settings_from(args)
    uni = load_universe(settings.corpus)
    persona_id = uni.persona(args.persona).id
    overrides = {f.name: getattr(args, f"opt_{f.name}", None) for f in fields(TrainConfig)}
    given = {k: v for k, v in overrides.items() if v is not None}
    config = load_recipe(args.recipe, given)
    _check_annotator_flags(config.annotator, args)
    _use_api_key(args)
    if config.bf16 and not bf16_runs_fast(settings.device):
        if "bf16" in given:  # asked for on the command line: kept, and said what it costs
            print(f"bf16 is emulated on this {settings.device}, tens of times slower than float32", flush=True)
        else:
            print(
                f"bf16 is emulated on this {settings.device} (no bf16 instructions), tens of times slower than "
                "float32: training in float32 (the adapter card records it; --bf16 insists)",
                flush=True,
            )
            config = dataclasses.replace(config, bf16=False)
    folder = paths.data_dir(settings, uni.id, persona_id)
    stale = _stale_data_options(folder, config, given)
    if stale and not args.rebuild_data:
        if args.step == "dpo":
            raise UsageError(
                f"the datasets were built with other data options ({stale}); DPO must use the SFT adapter's data: "
                "run --step all (or --rebuild-data --step sft) to rebuild them and retrain"
            )
        print(f"data options changed ({stale}): rebuilding the datasets", flush=True)
    if not (folder / "manifest.json").is_file() or ((args.rebuild_data or stale) and args.step in ("sft", "all")):
        print(f"building {persona_id}'s datasets ({config.annotator} annotator) ...", flush=True)
        # Checkpoints of an interrupted run were trained on the old data: never resume from them.
        root = paths.adapter_root(settings, uni.id, persona_id)
        for step in ("sft", "dpo"):
            shutil.rmtree(root / f"{step}.checkpoints", ignore_errors=True)
        build_data(
            settings,
            uni,
            persona_id,
            config.annotator,
            args.openai_url,
            args.openai_model,
            config_overrides=config.data_overrides(),
        )
    results: dict[str, Any] = {}
    if args.step in ("sft", "all"):
        print(f"SFT for {persona_id} with the {args.recipe} recipe ...", flush=True)
        results["sft"] = run_sft(settings, uni.id, persona_id, config, args.recipe)
        print(json.dumps({"sft": results["sft"]}), flush=True)
        if args.step == "sft":
            _drop_stale_dpo(paths.adapter_root(settings, uni.id, persona_id))
        else:  # a DPO run interrupted on the previous SFT adapter must not be resumed on this one
            shutil.rmtree(paths.adapter_root(settings, uni.id, persona_id) / "dpo.checkpoints", ignore_errors=True)
    if args.step in ("dpo", "all"):
        print(f"DPO for {persona_id} from the SFT adapter ...", flush=True)
        results["dpo"] = run_dpo(settings, uni.id, persona_id, config, args.recipe)
        print(json.dumps({"dpo": results["dpo"]}), flush=True)
    print(
        f"adapters in {paths.adapter_root(settings, uni.id, persona_id)}; `persona-rag ask {persona_id} ...` now uses them"
    )
    return 0


def _stale_data_options(folder: Path, config: Any, given: dict[str, Any]) -> str:
    """The data-shaping options (from the recipe or the command line) that differ from those the datasets were
    built with: a new recipe, or a recipe file that changed, rebuilds the data."""
    try:
        built = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("config") or {}
    except (OSError, ValueError):
        return ""
    wanted = config.data_overrides()
    diff = [f"{k}: {built.get(k)} -> {wanted[k]}" for k in wanted if k in built and built[k] != wanted[k]]
    from persona_rag.prompts import PROMPT_FORMAT

    try:
        shape = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("prompt_format")
    except (OSError, ValueError):
        shape = PROMPT_FORMAT
    if shape != PROMPT_FORMAT:
        diff.append(f"prompt format: {shape or 'facts (before answer plans)'} -> {PROMPT_FORMAT}")
    return ", ".join(diff)


def _drop_stale_dpo(root: Path) -> None:
    """A DPO adapter is trained on top of one SFT adapter; a new SFT makes it stale (it would stack wrongly)."""
    dpo = root / "dpo"
    if dpo.exists():
        shutil.rmtree(dpo)
        shutil.rmtree(root / "dpo.checkpoints", ignore_errors=True)
        print(f"removed the DPO adapter trained on the previous SFT adapter ({dpo}); run --step dpo to retrain it")


def _recipe_flags(p: argparse.ArgumentParser) -> None:
    from persona_rag.finetune.config import TrainConfig

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


def register(sub: Any) -> None:
    from persona_rag.finetune.config import recipe_names

    p = sub.add_parser("data", help="personified data: stats of the curated dialogues, or build SFT/DPO datasets")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    d = dsub.add_parser("stats", help="per persona: total, train, heldout, sources (book, curated), modes and stages")
    d.add_argument("--json", action="store_true")
    add_common(d)
    d = dsub.add_parser("build", help="write a persona's SFT and DPO datasets (JSONL) with a manifest")
    d.add_argument("persona")
    d.add_argument(
        "--annotator",
        default="curated",
        choices=["curated", "local", "openai"],
        help="curated: the shipped dialogues; local: the local model; openai: an OpenAI-compatible endpoint",
    )
    add_openai_flags(d, what="with --annotator openai: the OpenAI-compatible endpoint that annotates", timeout=False)
    d.add_argument(
        "--recipe",
        default="quick",
        help="the training recipe whose data options to use (default quick, as `train`): `train` with the same"
        " recipe then uses these datasets",
    )
    d.add_argument("--json", action="store_true")
    add_common(d, model=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="LoRA SFT then DPO for one persona (resumable)")
    p.add_argument("persona")
    p.add_argument("--recipe", default="quick", help=f"shipped: {', '.join(recipe_names())}, or a YAML path")
    p.add_argument("--step", default="all", choices=["sft", "dpo", "all"])
    p.add_argument("--rebuild-data", action="store_true", help="rebuild the datasets even if they exist")
    add_openai_flags(p, what="with --annotator openai: the OpenAI-compatible endpoint that annotates", timeout=False)
    _recipe_flags(p)
    add_common(p, model=True)
    p.set_defaults(func=cmd_train)
