"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys

from ..paths import SHIPPED_WEIGHTS


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding images_background.zip / images_evaluation.zip "
                                      "(default: $OMNIGLOT_DIR, else the per-user data folder)")


def add_weights(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None, help=f"model weights (.safetensors); default: the shipped model "
                                                   f"({SHIPPED_WEIGHTS.name})")


def print_json_line(data: dict) -> None:
    """Print one line of JSON on stdout (the last line of a --json run, for scripts)."""
    print(json.dumps(data), flush=True)


def info(message: str) -> None:
    """Print a human-readable line on stderr (stdout stays clean for --json)."""
    print(message, file=sys.stderr, flush=True)
