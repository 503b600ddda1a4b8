"""`python -m engine gallery import|import-font|export|list`: build, copy and inspect galleries."""

from __future__ import annotations

from pathlib import Path

from ..gallery import Gallery, import_gallery, import_omniglot_alphabet, load_gallery
from ..gallery.files import printable
from .common import add_data_dir, info, print_json_line
from .progress import lazy_bar


def add_parser(sub) -> None:
    p = sub.add_parser("gallery", help="import, export or list galleries (the characters the app knows)",
                       description="A gallery is a folder: gallery.json (the index) plus one PNG per reference.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    imp = actions.add_parser("import", help="make a gallery folder from images or from Omniglot",
                             description="SOURCE: a folder of CHARACTER/ image folders (e.g. an Omniglot alphabet), "
                                         "a flat folder of images (one character per file), a gallery, or a zip "
                                         "of any of these. With --omniglot, give only DEST.")
    imp.add_argument("paths", nargs="+", metavar="PATH",
                     help="SOURCE DEST: what to import, then the new gallery folder (with --omniglot: DEST only)")
    imp.add_argument("--name", help="gallery name (default: the source's name)")
    imp.add_argument("--omniglot", metavar="ALPHABET", help="import this alphabet from the Omniglot dataset")
    imp.add_argument("--set", choices=["background", "evaluation"], default="background",
                     help="Omniglot set holding the alphabet (default: background)")
    imp.add_argument("--references", type=int, default=1, help="Omniglot drawings per character (default 1)")
    imp.add_argument("--seed", type=int, help="pick the Omniglot drawers at random with this seed "
                                              "(default: the lowest-numbered drawers)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(imp)
    imp.set_defaults(func=run_import)

    exp = actions.add_parser("export", help="copy a gallery to a new folder or a zip")
    exp.add_argument("gallery", help="gallery folder")
    exp.add_argument("dest", help="new folder, or a .zip file")
    exp.add_argument("--zip", action="store_true", help="write a zip (implied by a .zip DEST)")
    exp.set_defaults(func=run_export)

    font = actions.add_parser(
        "import-font", help="enrol characters from a font file (or an installed font) into a gallery",
        description="Render characters of FONT (a .ttf/.otf/.ttc file, or the name of an installed font such as "
                    "\"DejaVu Sans\") as references of a gallery, each character named by itself. DEST is a new "
                    "gallery folder, or an existing gallery: then each character gains this font's rendering as "
                    "another reference. Without --chars/--block/--range, every drawable character of the font.")
    font.add_argument("font", metavar="FONT", help="font file, or the name of an installed font")
    font.add_argument("dest", metavar="DEST", nargs="?", help="gallery folder (new or existing)")
    font.add_argument("--chars", metavar="TEXT", help="these characters (spaces between them are ignored)")
    font.add_argument("--block", metavar="NAME", action="append", default=[],
                      help="a Unicode block (\"Runic\", \"Basic Latin\") or script (\"Cyrillic\", \"Latin\"); "
                           "repeatable")
    font.add_argument("--range", metavar="U+XXXX-U+YYYY", action="append", default=[], dest="ranges",
                      help="a code-point range; repeatable")
    font.add_argument("--face", type=int, default=0, help="face of a font collection (.ttc; default 0)")
    font.add_argument("--name", help="name of a new gallery (default: the font's name)")
    font.add_argument("--list-blocks", action="store_true",
                      help="list the font's Unicode blocks with how many drawable characters each has, and stop")
    font.add_argument("--json", action="store_true", help="end with one line of JSON")
    font.add_argument("--quiet", action="store_true", help="no progress bar")
    font.set_defaults(func=run_import_font)

    lst = actions.add_parser("list", help="list a gallery's characters (or Omniglot's alphabets)")
    lst.add_argument("gallery", nargs="?", help="gallery folder, or anything `import` takes (read, not written)")
    lst.add_argument("--omniglot", action="store_true", help="list the alphabets of an Omniglot set instead")
    lst.add_argument("--set", choices=["background", "evaluation"], default="background")
    lst.add_argument("--json", action="store_true", help="one line of JSON")
    add_data_dir(lst)
    lst.set_defaults(func=run_list)


def _omniglot_set(args):
    from ..data import load_omniglot

    data = load_omniglot(args.data_dir, with_evaluation=args.set == "evaluation")
    return data.evaluation if args.set == "evaluation" else data.background


def run_import(args) -> int:
    if len(args.paths) != (1 if args.omniglot else 2):
        info("error: give SOURCE DEST, or --omniglot ALPHABET DEST")
        return 2
    dest = Path(args.paths[-1])
    with lazy_bar("importing", unit="img", quiet=args.quiet) as progress:
        if args.omniglot:
            gallery = import_omniglot_alphabet(_omniglot_set(args), args.omniglot, dest, args.references, args.seed,
                                               progress=progress, name=args.name)
        else:
            gallery = import_gallery(args.paths[0], dest, name=args.name, progress=progress)
    info(f"Imported {printable(repr(gallery.name))}: {len(gallery)} characters, {gallery.n_references} references "
         f"-> {printable(dest, 1000)}")
    report_skipped(gallery)
    return 0


def report_skipped(gallery: Gallery) -> None:
    """Print each file an import left out with its reason, then how many (and what opening repaired)."""
    for skipped in gallery.import_skipped:
        info(f"  skipped: {printable(skipped, 1000)}: {gallery.skip_reasons.get(skipped, 'no ink')}")
    if gallery.import_skipped:
        info(f"  {len(gallery.import_skipped)} file(s) skipped")
    for warning in gallery.warnings:
        info(f"  note: {warning}")


def _font_path(font: str) -> tuple[Path, int | None]:
    """Return the file of FONT (a path, or an installed font's name) and its face when it names one."""
    from ..fonts.files import find_installed, installed_fonts

    path = Path(font)
    if path.exists():
        return path, None
    fonts = installed_fonts()
    found = find_installed(font, fonts)
    if found is None:
        families = sorted({f.family for f in fonts})
        hint = f" Installed: {', '.join(families[:12])}{'…' if len(families) > 12 else ''}." if families else ""
        raise ValueError(f"{font}: no such font file, and no installed font of that name.{hint}")
    return found.path, found.index


def run_import_font(args) -> int:
    from ..fonts.faces import block_counts, import_font, open_font

    path, face = _font_path(args.font)
    font = open_font(path, args.face if face is None else face)
    if args.list_blocks:
        counts = block_counts(font.drawable())
        if args.json:
            print_json_line({"font": font.full_name, "file": str(path), "blocks": counts})
        else:
            print(f"{font.full_name} ({font.version}; {path}): {sum(counts.values())} drawable characters")
            for block, n in counts.items():
                print(f"  {block}\t{n}")
        return 0
    if not args.dest:
        info("error: give DEST, the gallery folder to import into (or --list-blocks)")
        return 2
    dest = Path(args.dest)
    with lazy_bar("rendering", unit="char", quiet=args.quiet) as progress:
        result = import_font(font, dest, text=args.chars, blocks=args.block, ranges=args.ranges, name=args.name,
                             progress=progress)
    g = result.gallery
    info(f"{font.full_name}: {result.counts_summary()} rendered; added {result.added_references:,} references "
         f"({result.added_characters:,} new characters) to {printable(repr(g.name))}, now {len(g):,} characters -> "
         f"{printable(dest, 1000)}; "
         f"{result.skipped_summary()}")
    if args.json:
        print_json_line({"gallery": str(dest), "font": font.full_name, "characters": len(g),
                         "added_characters": result.added_characters, "added_references": result.added_references,
                         "chosen": result.chosen, "rendered": result.rendered,
                         "skipped": {reason: len(cps) for reason, cps in result.skipped.items()}})
    return 0


def run_export(args) -> int:
    gallery = Gallery.open(args.gallery)
    as_zip = args.zip or args.dest.lower().endswith(".zip")
    out = gallery.export(Path(args.dest), as_zip=as_zip)
    info(f"Exported {printable(repr(gallery.name))} ({len(gallery)} characters, {gallery.n_references} references) "
         f"to {printable(out, 1000)}")
    return 0


def run_list(args) -> int:
    if args.omniglot:
        data = _omniglot_set(args)
        rows = {a: int(len(data.alphabet_characters(i))) for i, a in enumerate(data.alphabets)}
        if args.json:
            print_json_line({"set": args.set, "alphabets": rows})
        else:
            for a, n in rows.items():
                print(f"{a}\t{n} characters")
        return 0
    if not args.gallery:
        info("error: give a gallery (or --omniglot)")
        return 2
    gallery = load_gallery(args.gallery)
    if args.json:
        print_json_line({"name": gallery.name, "path": str(gallery.path) if gallery.path else None,
                         "characters": [{"name": c.name, "references": [r.file for r in c.references]}
                                        for c in gallery.characters]})
        return 0
    # Names come from files anyone may have written: escape terminal control sequences, cut huge ones.
    print(f"{printable(gallery.name)}: {len(gallery)} characters, {gallery.n_references} references")
    for c in gallery.characters:
        print(f"  {printable(c.name)}\t{len(c.references)}")
    for warning in gallery.warnings:
        info(f"note: {warning}")
    return 0
