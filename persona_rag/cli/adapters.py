"""`persona-rag adapters`: the tuned personas' adapters, and their hand-off to a GPU server (vLLM)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from persona_rag.cli.common import print_json, settings_from


def cmd_list(args: argparse.Namespace) -> int:
    from persona_rag.backends.adapters import lora_name, stack_folders, tuned_personas

    settings = settings_from(args)
    rows = [
        {
            "universe": u,
            "persona": p,
            "adapter": str(a),
            "stack": [f.name for f in stack_folders(a)],
            "lora": lora_name(u, p),
        }
        for u, p, a in tuned_personas(settings, args.universe)
    ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no tuned persona under {settings.adapters_dir}; train one with `persona-rag train PERSONA`")
    for row in rows:
        print(f"{row['universe']}/{row['persona']}: {' + '.join(row['stack'])} ({row['adapter']})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from persona_rag.backends.convert import export_for_vllm

    settings = settings_from(args)
    report = export_for_vllm(settings, Path(args.dir), args.universe)
    if args.json:
        print_json(report)
        return 0
    q = shlex.quote
    print(f"base model: {report['base']}")
    for lora in report["loras"]:
        print(f"adapter {lora['name']}: rank {lora['rank']} (SFT+DPO stack combined) -> {lora['path']}")
    name = report["base_name"]
    line = f"vllm serve {q(report['base'])} --served-model-name {q(name)}"
    if report["loras"]:
        modules = " ".join(q(f"{x['name']}={x['path']}") for x in report["loras"])
        line += f" --enable-lora --max-lora-rank {report['max_lora_rank']} --lora-modules {modules}"
    else:
        print(f"no tuned persona under {settings.adapters_dir}: every persona answers with the base model")
    print("\nOn the GPU machine (copy the folder there):\n  " + line)
    print(
        "Then here (memory, verdicts and review stay in persona-rag):\n"
        f"  persona-rag serve --openai-url http://GPU-HOST:8000/v1 --openai-model {q(name)}"
        + (" --lora-names" if report["loras"] else "")
    )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "adapters",
        help="list the tuned personas' adapters; export them for vLLM",
        description="The LoRA adapters `persona-rag train` wrote (DPO over SFT), and their hand-off to vLLM.",
    )
    s = p.add_subparsers(dest="adapters_command", metavar="ACTION")
    s.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--home", help="home folder (env PERSONA_RAG_HOME)")
        q.add_argument("--universe", help="only this universe's personas (default: every tuned persona in the home)")
        q.add_argument("--json", action="store_true", help="print JSON")

    q = s.add_parser("list", help="the tuned personas and their adapter stacks")
    common(q)
    q.set_defaults(func=cmd_list)

    q = s.add_parser(
        "export",
        help="write the dense base model and one LoRA per tuned persona for vLLM, and print the vllm command",
        description=(
            "Writes DIR/base (the base model, dequantised: what vLLM loads) and DIR/loras/<universe>-<persona>: "
            "each tuned persona's whole stack (SFT, then DPO over it) combined exactly into one LoRA adapter by "
            "concatenating the low-rank factors (rank = the sum of the ranks). Prints the `vllm serve` line with "
            "the --max-lora-rank it needs and the `persona-rag serve --openai-url ... --lora-names` line that "
            "sends each tuned persona to its adapter."
        ),
    )
    q.add_argument("dir", metavar="DIR", help="an empty or new folder (or an earlier export, updated)")
    q.add_argument("--model", help="base chat model: default, local folder (env PERSONA_RAG_MODEL)")
    common(q)
    q.set_defaults(func=cmd_export)
