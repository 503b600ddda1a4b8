"""`python -m engine transcribe`: find every glyph of page images, rank each against a gallery, print the text.

Default output: per image, its text, one line per text line (engine.transcribe.result says how a glyph is
written: its Unicode character, else its name in brackets, ``[x?]`` when not confident); with several
images, each text follows a ``== IMAGE`` line. With --json, stdout holds exactly one JSON line per image:

    {"image": "page.png", "lines": [{"box": [x0, y0, x1, y1], "glyphs": [{"box": [...], "name": "alpha",
     "char": null, "score": 0.97, "confident": true, "alternatives": [{"name": "alpha", "score": 0.97}, ...]}]}],
     "text": "..."}
    {"image": "bad.png", "error": "bad.png: not an image Glyphs reads (...)", "lines": [], "text": ""}

Notes (a blank page, limits reached, touching glyphs, an empty gallery) and progress go to stderr. Exit
code 1 if any image failed or the gallery could not be used or is empty; nothing is ever written.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from ..device import select_device
from ..glyph import GlyphError
from ..recognition.recognize import Recognizer
from ..transcribe import SegmentConfig, TranscribeConfig, page_json, transcribe
from ..weights import load_weights
from .common import add_gallery_ranking, gallery_recognizer, info
from .progress import bar, callback_for

# Pages with more glyphs than this show a progress bar while they are ranked.
PROGRESS_FROM = 64


def add_parser(sub) -> None:
    p = sub.add_parser("transcribe", help="find and recognise every glyph of page images",
                       description="Find every glyph of each IMAGE (a scan, a photo, a written line), rank each "
                                   "against a gallery and print the text, one line per text line.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="page images (PNG, JPEG, BMP, GIF, WebP, TIFF)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="alternatives listed per glyph in --json "
                                                                   "(default 5, best first)")
    p.add_argument("--rtl", action="store_true", help="lines read right to left")
    p.add_argument("--split-touching", action="store_true",
                   help="cut glyphs written touching at their thinnest columns (best effort, marked in the output)")
    add_gallery_ranking(p, "one line of JSON per image on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    loaded = load_weights(args.weights, select_device(args.device))
    quiet = args.quiet or not sys.stderr.isatty()
    try:
        recognizer = gallery_recognizer(args, loaded)
    except (OSError, ValueError) as exc:  # GalleryError is a ValueError
        info(f"error: cannot use the gallery {args.gallery}: {exc}")
        return 1
    failed = len(recognizer.gallery) == 0
    config = TranscribeConfig(segment=replace(SegmentConfig(), rtl=args.rtl, split_touching=args.split_touching), top=args.top)
    for path in args.images:
        failed |= not _transcribe_one(path, recognizer, config, args, quiet, len(args.images) > 1)
    return 1 if failed else 0


def _transcribe_one(path: str, recognizer: Recognizer, config: TranscribeConfig, args, quiet: bool,
                    several: bool) -> bool:
    """Transcribe one image and print it; return False when it could not be read."""
    with bar(0, f"{path}: glyphs", unit="glyph", quiet=quiet) as b:
        move = callback_for(b)

        def progress(done: int, total: int) -> None:
            if total >= PROGRESS_FROM:
                move(done, total)

        try:
            page = transcribe(path, recognizer, config, progress=progress)
        except GlyphError as exc:
            error = str(exc)
            page = None
    if page is None:
        if args.json:
            print(json.dumps({"image": path, "error": error, "lines": [], "text": ""}, ensure_ascii=False), flush=True)
        else:
            info(f"{path}: error: {error}")
        return False
    for note in page.notes:
        info(f"{path}: {note}")
    if args.json:
        print(json.dumps(page_json(page, image=path), ensure_ascii=False), flush=True)
    else:
        if several:
            print(f"== {path}")
        if page.text:
            print(page.text, flush=True)
    return True
