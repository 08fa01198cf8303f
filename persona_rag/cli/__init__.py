"""The `persona-rag` command: thin subcommands over the library, one module per command group.

Heavy imports (torch, transformers, chromadb) happen inside the handlers, so
`persona-rag --help` is instant. Errors a user can fix print one line and exit
non-zero (2 for bad input); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from persona_rag.cli import adapters, ask, card, chat, corpus, demo, eval, memory, models, serve, train
from persona_rag.errors import PersonaRagError
from persona_rag.settings import describe_settings

COMMAND_GROUPS = (ask, models, corpus, memory, chat, demo, train, eval, serve, card, adapters)

EPILOG = "settings (environment variables):\n" + "\n".join(
    f"  {env:<32} {help_}" for _, env, help_ in describe_settings() if env
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona-rag",
        description="Persona agents that answer as one character at one moment of its life.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args) or 0)
    except PersonaRagError as exc:
        print(f"persona-rag: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("persona-rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
