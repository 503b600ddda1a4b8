"""`python -m engine embed`: embeddings of images, for scripts and other tools."""

from __future__ import annotations

import argparse

import numpy as np

from ..device import select_device
from ..recognition.embedding import embed_glyph_views
from ..recognition.views import card_views
from ..weights import load_weights
from .common import add_device, add_weights, info


def add_parser(sub) -> None:
    p = sub.add_parser("embed", help="write the embeddings of images to a .npy file")
    p.add_argument("images", nargs="+", help="image files, or Omniglot stroke files (.txt)")
    p.add_argument("--out", required=True, help="output .npy file: one row per image, in the order given")
    p.add_argument("--center", action=argparse.BooleanOptionalAction, default=None,
                   help="move each glyph's ink to the middle of the frame first (default: as the model card says, "
                        "as `rank` and the app embed a reference)")
    add_weights(p)
    add_device(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..gallery import read_glyph  # the same reading as gallery import and `engine rank`

    # A GlyphError (a ValueError naming the file) reaches the CLI's error handler before the model loads.
    glyphs = np.stack([read_glyph(p).pixels for p in args.images])
    loaded = load_weights(args.weights, select_device(args.device))
    center = card_views(loaded.card).center if args.center is None else args.center
    emb = embed_glyph_views(loaded.model, glyphs, 0, center=center)[:, 0].cpu().numpy()
    np.save(args.out, emb, allow_pickle=False)
    info(f"Wrote {emb.shape[0]} embeddings of size {emb.shape[1]} to {args.out} (model {loaded.name}"
         f"{', ink centred' if center else ''})")
    return 0
