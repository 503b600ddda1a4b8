"""`python -m engine rank`: rank images (or Omniglot stroke files) against a gallery.

Each query is reported on its own: an unreadable image gives an error for that query and the others still run;
the exit code is 1 if any query failed. A gallery that cannot be used is said once, naming it (exit code 1);
with --json each query's line carries that error. With --json,
stdout holds exactly one JSON line per query, in the order given:

    {"image": "a.png", "no_ink": false, "no_confident_match": false,
     "results": [{"name": "alpha", "score": 0.97, "reference": 0, "char": null}, ...]}   (best first)
    {"image": "b.png", "error": "b.png: cannot read an image from it (...)", "no_ink": null, "results": []}
"""

from __future__ import annotations

import json

from ..device import select_device
from ..gallery import read_glyph
from ..glyph import GlyphError
from ..recognition.recognize import RankResult
from ..weights import load_weights
from .common import add_gallery_ranking, gallery_recognizer, info


def add_parser(sub) -> None:
    p = sub.add_parser("rank", help="rank images against a gallery",
                       description="Rank each IMAGE (any image file, or an Omniglot stroke file .txt drawn like "
                                   "the canvas) against a gallery, best character first.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or Omniglot stroke files (.txt)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="characters to list per image (default 5)")
    add_gallery_ranking(p, "one line of JSON per image on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    loaded = load_weights(args.weights, select_device(args.device))
    recognizer, gallery_error, chars = None, None, {}
    try:
        recognizer = gallery_recognizer(args, loaded)
        chars = {c.name: c.char for c in recognizer.gallery.characters}  # "char": the Unicode character, when known
    except (OSError, ValueError) as exc:  # GalleryError is a ValueError
        gallery_error = f"cannot use the gallery {args.gallery}: {exc}"
    if gallery_error and not args.json:
        info(f"error: {gallery_error}")  # once, naming the gallery: no image was at fault
        return 1
    glyphs, errors = {}, {}
    for i, path in enumerate(args.images):
        if gallery_error:
            errors[i] = gallery_error  # --json keeps its one line per image, each saying why
            continue
        try:
            glyphs[i] = read_glyph(path)
        except GlyphError as exc:
            errors[i] = str(exc)
    ranked = dict(zip(glyphs, recognizer.rank_many(list(glyphs.values()), k=args.top))) if glyphs else {}
    for i, path in enumerate(args.images):
        _report(path, ranked.get(i), errors.get(i), args.json, chars)
    return 1 if errors else 0


def _report(image: str, result: RankResult | None, error: str | None, as_json: bool,
            chars: dict[str, str | None]) -> None:
    if as_json:
        if error is not None:
            line = {"image": image, "error": error, "no_ink": None, "results": []}
        else:
            line = {"image": image, "no_ink": result.no_ink, "no_confident_match": result.no_confident_match,
                    "results": [{"name": m.name, "score": round(m.score, 6), "reference": m.reference,
                                 "char": chars.get(m.name)} for m in result.matches]}
        print(json.dumps(line, ensure_ascii=False), flush=True)
        return
    if error is not None:
        info(f"{image}: error: {error}")
    elif result.no_ink:
        print(f"{image}: no ink (nothing to recognise)")
    else:
        ranking = ", ".join(f"{m.name} {m.score:.3f}" for m in result.matches) or "(empty gallery)"
        note = "  [no confident match]" if result.no_confident_match and result.matches else ""
        print(f"{image}: {ranking}{note}")
