"""`python -m engine embed`: embeddings of images, for scripts and other tools."""

from __future__ import annotations

import numpy as np

from ..device import select_device
from ..embedding import embed_glyphs
from ..weights import load_weights
from .common import add_device, add_weights, info


def add_parser(sub) -> None:
    p = sub.add_parser("embed", help="write the embeddings of images to a .npy file")
    p.add_argument("images", nargs="+", help="image files, or Omniglot stroke files (.txt)")
    p.add_argument("--out", required=True, help="output .npy file: one row per image, in the order given")
    add_weights(p)
    add_device(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..gallery import read_glyph  # the same reading as gallery import and `engine rank`

    # A GlyphError (a ValueError naming the file) reaches the CLI's error handler before the model loads.
    glyphs = np.stack([read_glyph(p).pixels for p in args.images])
    loaded = load_weights(args.weights, select_device(args.device))
    emb = embed_glyphs(loaded.model, glyphs).cpu().numpy()
    np.save(args.out, emb, allow_pickle=False)
    info(f"Wrote {emb.shape[0]} embeddings of size {emb.shape[1]} to {args.out} (model {loaded.name})")
    return 0
