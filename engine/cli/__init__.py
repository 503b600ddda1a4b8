"""The Glyphs command line: one module per subcommand, each with `add_parser(subparsers)` and `run(args)`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, in the order `--help` lists them.
COMMANDS = ["train", "distill", "evaluate", "embed", "data"]
OPTIONAL_COMMANDS = ["gallery", "rank"]


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="python -m engine", description="Glyphs: one-shot character recognition")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS + OPTIONAL_COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if name in OPTIONAL_COMMANDS and exc.name and exc.name.endswith(name):
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code (0 ok, 1 failure, 2 usage, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
