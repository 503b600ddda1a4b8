"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from ..paths import SHIPPED_WEIGHTS
from ..recognition.views import RULES, ViewConfig, card_views


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding images_background.zip / images_evaluation.zip "
                                      "(default: $OMNIGLOT_DIR, else the per-user data folder)")


def add_weights(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None, help=f"model weights (.safetensors); default: the shipped model "
                                                   f"({SHIPPED_WEIGHTS.name})")


def add_views(p: argparse.ArgumentParser) -> None:
    """Add the recognition pipeline's view options (default: what the model's card chose)."""
    g = p.add_argument_group("views", "fixed distortions embedded beside each glyph (engine.recognition.views); default: the "
                                      "model card's choice")
    g.add_argument("--reference-views", type=int, metavar="N", help="distortions of each reference (0: none)")
    g.add_argument("--query-views", type=int, metavar="N",
                   help="distortions of each query, their logits averaged (each costs a forward pass)")
    g.add_argument("--view-rule", choices=RULES, help="max: best view's logit; prototype: mean embedding")
    g.add_argument("--center", action=argparse.BooleanOptionalAction, default=None,
                   help="move each glyph's ink to the middle of the frame before embedding it (engine.recognition.centering)")


def views_from_args(args, card: dict | None) -> ViewConfig:
    """Return the model card's views with the command line's overrides."""
    base = card_views(card)
    changes = {"reference_views": args.reference_views, "query_views": args.query_views, "rule": args.view_rule,
               "center": args.center}
    return replace(base, **{k: v for k, v in changes.items() if v is not None})


def print_json_line(data: dict) -> None:
    """Print one line of JSON on stdout (the last line of a --json run, for scripts)."""
    print(json.dumps(data), flush=True)


def info(message: str) -> None:
    """Print a human-readable line on stderr (stdout stays clean for --json)."""
    print(message, file=sys.stderr, flush=True)


def add_gallery_ranking(p: argparse.ArgumentParser, json_help: str) -> None:
    """Add what ranking against a gallery takes: --gallery, --threshold, the views, --json, --quiet, --weights,
    --device."""
    p.add_argument("--gallery", required=True, help="gallery folder, or anything `gallery import` takes "
                                                    "(imported on the fly, nothing written)")
    p.add_argument("--threshold", type=float, help="score under which a match is not confident "
                                                   "(default: the model's calibrated one)")
    add_views(p)
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_weights(p)
    add_device(p)


def gallery_recognizer(args, loaded):
    """Return a Recognizer of `args.gallery` (opened, or imported in memory) with its references embedded (a
    progress bar on stderr unless --quiet). Raises OSError or ValueError (GalleryError) when it cannot be used."""
    from ..gallery import load_gallery
    from ..recognition.recognize import Recognizer
    from .progress import bar, callback_for

    gallery = load_gallery(args.gallery)
    recognizer = Recognizer(loaded, gallery, threshold=args.threshold, views=views_from_args(args, loaded.card))
    with bar(0, "embedding references", unit="ref", quiet=args.quiet or not sys.stderr.isatty()) as b:
        recognizer.refresh(progress=callback_for(b))
    return recognizer
