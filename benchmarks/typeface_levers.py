"""Levers on the typeface check (issue 21, item 4): DejaVu faces typed into images and enrolled one letter each,
ranking Omniglot's 520 handwritten Latin drawings (26-way; Latin is a validation alphabet), each lever on and off.

    python benchmarks/typeface_levers.py [--second-model PATH]

Levers, all at query time unchanged (one forward pass a query):
- framing views: each letter also enrolled framed at 58, 72 and 86 px (its best view scores);
- affine reference views: 8 fixed Koch-style distortions of each letter, best view (max) or their mean (prototype);
- two encoders: the logits of the shipped model and of a second one (default: the 105-px v1) added.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from other_sources import FACES, FONT_DIR, LETTERS, _png, _typed  # noqa: E402
from PIL import ImageFont  # noqa: E402

from engine.data import load_omniglot  # noqa: E402
from engine.evaluation.evaluate import character_logits, embed_for_views  # noqa: E402
from engine.glyph import glyph_from_image  # noqa: E402
from engine.glyph.normalise import Normalisation  # noqa: E402
from engine.recognition.views import card_views  # noqa: E402
from engine.weights import load_weights  # noqa: E402

FRAMINGS = (58.0, 72.0, 86.0)
SECOND_MODEL = Path(__file__).resolve().parent.parent / "resources" / "models" / "glyphs-compact-v1.safetensors"


def typed_letters(face: str) -> list[bytes]:
    """Return a-z of a DejaVu face typed at 80 pt into 160-px PNGs (as `other_sources` types them)."""
    font = ImageFont.truetype(str(FONT_DIR / f"{face}.ttf"), 80)
    return [_png(_typed(ch, font)) for ch in LETTERS]


def logits(model, views, images: np.ndarray, queries) -> "np.ndarray":
    """Return (queries, 26) logits of the Latin drawings against references (26, rows, 105, 105), best row each."""
    n, rows = images.shape[:2]
    emb = embed_for_views(model, images.reshape(n * rows, 105, 105), views, batch_size=64)
    return character_logits(model, emb.reshape(n, rows, *emb.shape[1:]), queries, views)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("OMNIGLOT_DIR"))
    p.add_argument("--second-model", default=str(SECOND_MODEL), help="the second encoder ('': skip)")
    p.add_argument("--faces", nargs="+", default=list(FACES), help="DejaVu faces (those not installed are skipped)")
    p.add_argument("--drawers", type=int, default=20, help="Latin drawings of the first K drawers (default all 20)")
    args = p.parse_args()
    first = load_weights(None)
    second = load_weights(args.second_model) if args.second_model else None
    bg = load_omniglot(args.data_dir, with_evaluation=False).background
    chars = bg.alphabet_characters(bg.alphabets.index("Latin"))
    index = np.flatnonzero(np.isin(bg.char, chars) & (bg.drawer <= args.drawers))
    truth = np.searchsorted(chars, bg.char[index])
    views = card_views(first.card)
    affine = replace(views, reference_views=8)
    queries = {m.name: embed_for_views(m.model, bg.pixels(index), affine, batch_size=64)
               for m in (first, second) if m is not None}
    print(f"load average {os.getloadavg()[0]:.1f}; {first.name}" + (f" + {second.name}" if second else ""))
    heads = ["shipped", "framing views 58/72/86", "8 affine views, max", "8 affine views, prototype"]
    heads += ["two encoders"] if second else []
    print("| face | " + " | ".join(heads) + " |\n" + "|---" * (len(heads) + 1) + "|")
    faces = [f for f in args.faces if (FONT_DIR / f"{f}.ttf").is_file()]
    if not faces:
        print(f"none of the faces is installed in {FONT_DIR}: nothing to measure")
    for face in faces:
        letters = typed_letters(face)
        one = np.stack([glyph_from_image(im).pixels for im in letters])[:, None]
        framed = np.stack([[glyph_from_image(im, Normalisation(extent=(e, e))).pixels for e in FRAMINGS]
                           for im in letters])
        q = queries[first.name]
        cols = [logits(first.model, views, one, q), logits(first.model, views, framed, q),
                logits(first.model, affine, one, q),
                logits(first.model, replace(affine, rule="prototype"), one, q)]
        if second:
            cols.append(cols[0] + logits(second.model, views, one, queries[second.name]))
        acc = [f"{100 * float((c.argmax(1).cpu().numpy() == truth).mean()):.1f}%" for c in cols]
        print(f"| {face} | " + " | ".join(acc) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
