"""Enrolling characters from a font: one clean reference per character the font draws.

A font file (TrueType or OpenType, single or a collection) is read with fontTools for its character map
and names; the characters asked for (a Unicode block or script, explicit text, code-point ranges, or all)
are rendered with Pillow's FreeType renderer and go through `glyph_from_image`, the normalisation every
imported image gets (Omniglot's framing and pen width).

Rendering and framing (Omniglot's ink extent and pen, whatever the typeface) are in `engine.fonts.render`,
which worker processes import without torch, so a whole font renders on every core.

Skipped, with a count per reason (`SKIP_REASONS`): characters the font does not map (asked for by text or
range), those it maps to ``.notdef`` (the missing-glyph box), controls, invisible format characters, spaces,
lone combining marks (they only draw attached to a base), and anything that renders blank.

Each character is named by itself ("ж"); the gallery index keeps its code point and Unicode name, and each
reference the font (name, version, file). Importing the same characters from another font adds that font's
rendering as another reference of the same character. A bad font file (not a font, truncated, or with no
drawable character in the selection) raises `FontError` before anything is written.
"""

from __future__ import annotations

import difflib
import io
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fontTools import unicodedata as ucd
from fontTools.ttLib import TTCollection, TTFont, TTLibError

from ..chars import describe_char
from ..cancel import Cancelled
from .render import RenderCancelled, render_codepoints, unpack_glyph
from ..gallery.files import INDEX_NAME, FontSource, GalleryError, check_name
from ..gallery.importing import FolderTaken, _Sink
from ..gallery.store import Character, Gallery, Reference

ProgressFn = Callable[[int, int], None]

FONT_SUFFIXES = frozenset({".ttf", ".otf", ".ttc", ".otc"})
MAX_FONT_BYTES = 256 << 20  # the largest CJK collections are ~100 MB

# Why a character was left out (the keys of `FontImport.skipped`), in the order they are reported.
NOT_IN_FONT = "not in the font"
NOTDEF = "drawn as the missing-glyph box (.notdef)"
CONTROL = "control character"
FORMAT = "invisible format character"
SPACE = "space"
COMBINING = "lone combining mark"
BLANK = "renders blank"
SKIP_REASONS = (NOT_IN_FONT, NOTDEF, CONTROL, FORMAT, SPACE, COMBINING, BLANK)
_CATEGORY_REASONS = {"Cc": CONTROL, "Cs": CONTROL, "Cf": FORMAT, "Zs": SPACE, "Zl": SPACE, "Zp": SPACE,
                     "Mn": COMBINING, "Me": COMBINING}


class FontError(GalleryError):
    """A font file that cannot be used (not a font, damaged, or nothing drawable in it); names the file."""


# ------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class FontFace:
    """One face of a font file: names, character map (code point -> glyph name) and the skip reasons known
    before rendering (`cmap` lists every mapped code point; `reason_for` says which cannot be drawn)."""

    path: Path
    index: int
    n_faces: int
    family: str
    style: str
    full_name: str
    version: str
    cmap: dict[int, str] = field(repr=False)

    @property
    def source(self) -> FontSource:
        """Return what the gallery index records about this font."""
        return FontSource(self.full_name, self.version, self.path.name)

    def reason_for(self, cp: int) -> str | None:
        """Return why code point `cp` cannot be drawn from its map and category alone, or None if it may be."""
        glyph = self.cmap.get(cp)
        if glyph is None:
            return NOT_IN_FONT
        if glyph == ".notdef":
            return NOTDEF
        return _CATEGORY_REASONS.get(unicodedata.category(chr(cp)))

    def unmapped(self) -> int:
        """Return a code point the font does not map (FreeType draws the missing-glyph box for it)."""
        return next(cp for cp in range(0x10FFFD, 0, -1) if cp not in self.cmap)

    def drawable(self) -> list[int]:
        """Return the code points the font maps that may be drawable (rendering may still find blanks)."""
        return [cp for cp in sorted(self.cmap) if self.reason_for(cp) is None]


def open_font(path: str | Path, face: int = 0) -> FontFace:
    """Return face `face` of the font file at `path` (TrueType/OpenType, or a .ttc/.otc collection).

    Raises FontError naming the file when it is missing, not a font, truncated or has no character map.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FONT_BYTES:
            raise FontError(f"{path}: {size >> 20} MB is too large for a font file")
        data = path.read_bytes()
    except FontError:
        raise
    except OSError as exc:
        raise FontError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    n_faces = 1
    try:
        if data[:4] == b"ttcf":
            collection = TTCollection(io.BytesIO(data), lazy=True)
            n_faces = len(collection.fonts)
            if not 0 <= face < n_faces:
                raise FontError(f"{path}: the collection has {n_faces} faces (0-{n_faces - 1}); no face {face}")
            font = collection.fonts[face]
        else:
            if face != 0:
                raise FontError(f"{path}: not a font collection; it has only face 0")
            font = TTFont(io.BytesIO(data), lazy=True)
        _check_tables(font, len(data), path)
        cmap = font.getBestCmap()
        names = font["name"] if "name" in font else None
    except FontError:
        raise
    except (TTLibError, Exception) as exc:  # fontTools raises many kinds (struct.error, KeyError...) on bad data
        raise FontError(f"{path}: not a usable font file ({type(exc).__name__}: {exc})") from exc
    if not cmap:
        raise FontError(f"{path}: the font has no Unicode character map, so no character can be named")

    def name(*ids: int) -> str:
        for i in ids:
            text = names.getDebugName(i) if names is not None else None
            if text:
                return text.strip()
        return ""

    family = name(16, 1) or path.stem
    style = name(17, 2) or "Regular"
    full = name(4) or f"{family} {style}"
    return FontFace(path, face, n_faces, family, style, full, name(5), dict(cmap))


def _check_tables(font: TTFont, size: int, path: Path) -> None:
    """Raise FontError if the file is shorter than its own table directory says (a truncated download)."""
    reader = getattr(font, "reader", None)
    tables = getattr(reader, "tables", {}) or {}
    if not tables:
        raise FontError(f"{path}: not a font file (no font tables)")
    for tag, entry in tables.items():
        if entry.offset + entry.length > size:
            raise FontError(f"{path}: the file is truncated (its '{tag}' table ends at byte "
                            f"{entry.offset + entry.length:,}, the file has {size:,}); get a complete copy")


# ------------------------------------------------------------------------------------------------ choosing


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def block_of(cp: int) -> str:
    """Return the Unicode block name of code point `cp` (e.g. "Cyrillic", "Runic")."""
    return ucd.block(chr(cp))


def script_of(cp: int) -> str:
    """Return the Unicode script name of code point `cp` (e.g. "Cyrillic", "Common")."""
    return ucd.script_name(ucd.script(chr(cp))).replace("_", " ")


def block_counts(codepoints: Iterable[int]) -> dict[str, int]:
    """Return {block name: how many of `codepoints` lie in it}, in Unicode order."""
    counts: dict[str, int] = {}
    for cp in sorted(codepoints):
        block = block_of(cp)
        counts[block] = counts.get(block, 0) + 1
    return counts


def parse_range(text: str) -> tuple[int, int]:
    """Return (first, last) code points of "U+0400-U+04FF", "0400-04FF" or one "U+16A0"; raise ValueError."""
    parts = [p.strip() for p in text.strip().split("-")]
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"not a code-point range: {text!r} (write U+XXXX-U+YYYY)")
    try:
        values = [int(re.sub(r"^(U\+|0x)", "", p, flags=re.IGNORECASE), 16) for p in parts]
    except ValueError:
        raise ValueError(f"not a code-point range: {text!r} (write U+XXXX-U+YYYY)") from None
    first, last = values[0], values[-1]
    if not 0 <= first <= last <= 0x10FFFF:
        raise ValueError(f"not a code-point range: {text!r} (needs 0 <= first <= last <= U+10FFFF)")
    return first, last


def _match_block_or_script(name: str, candidates: Iterable[int]) -> list[int]:
    """Return the `candidates` in the block called `name`, or else in the script called `name`."""
    key = _key(name)
    blocks = {_key(b): b for b in ucd.Blocks.VALUES if b != "No_Block"}
    if key in blocks:
        return [cp for cp in candidates if block_of(cp) == blocks[key]]
    scripts = {_key(s): code for code, s in ucd.Scripts.NAMES.items()}
    if key in scripts:
        return [cp for cp in candidates if ucd.script(chr(cp)) == scripts[key]]
    known = sorted(set(blocks.values()) | {s.replace("_", " ") for s in ucd.Scripts.NAMES.values()})
    near = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(near)}?" if near else " `--list-blocks` lists those of the font."
    raise ValueError(f"No Unicode block or script called {name!r}.{hint}")


def first_character_of(name: str) -> int | None:
    """Return the first assigned, visible code point of the Unicode block or script called `name`, or None."""
    key = _key(name)
    for ranges, values, of in ((ucd.Blocks.RANGES, ucd.Blocks.VALUES, lambda v: v),
                               (ucd.Scripts.RANGES, ucd.Scripts.VALUES,
                                lambda v: ucd.Scripts.NAMES.get(v, v).replace("_", " "))):
        for i, value in enumerate(values):
            if value in ("No_Block", "Zzzz") or _key(of(value)) != key:
                continue
            end = ranges[i + 1] if i + 1 < len(ranges) else 0x110000
            for cp in range(ranges[i], end):
                if unicodedata.category(chr(cp)) not in _INVISIBLE:
                    return cp
    return None


_INVISIBLE = {"Cn", "Co", "Cc", "Cs", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"}


def fonts_for_blocks(blocks: Sequence[str]) -> str:
    """Return a sentence naming the installed fonts that draw characters of `blocks` (their first visible
    character), or saying that none does; "" when no name is a block or script."""
    from .files import fonts_drawing

    parts = []
    for name in blocks:
        cp = first_character_of(name)
        if cp is None:
            continue
        families = sorted({f.family for f in fonts_drawing(cp)})
        if families:
            shown = ", ".join(families[:8]) + (f" and {len(families) - 8} more" if len(families) > 8 else "")
            parts.append(f"Installed fonts that have {name}: {shown}.")
        else:
            parts.append(f"No installed font has {name} ({chr(cp)} U+{cp:04X}); install one that does "
                         f"(e.g. from the Noto family) or give a font file.")
    return " ".join(parts)


@dataclass
class Selection:
    """The code points to render, in order, and what was left out before rendering: {reason: code points}."""

    codepoints: list[int]
    skipped: dict[str, list[int]]


def select_characters(face: FontFace, text: str | None = None, blocks: Sequence[str] = (),
                      ranges: Sequence[str | tuple[int, int]] = ()) -> Selection:
    """Return the characters of `face` chosen by `text` (its characters; spaces and line breaks in it only
    separate them), `blocks` (block or script names) and `ranges` (code-point ranges): their union, in
    Unicode order (text in its own order, first). With none of them, every character the font maps.
    Characters the font cannot draw are listed by reason.

    Raises ValueError for an unknown block or script name or a malformed range.
    """
    asked: list[int] = []
    if text:
        asked += [ord(c) for c in text if not c.isspace()]
    everything = not (text or blocks or ranges)
    mapped = sorted(face.cmap)
    picked: set[int] = set(mapped) if everything else set()
    for name in blocks:
        picked.update(_match_block_or_script(name, mapped))
    for r in ranges:
        first, last = parse_range(r) if isinstance(r, str) else r
        # Only mapped code points: a range over unassigned space says nothing about them one by one.
        picked.update(cp for cp in mapped if first <= cp <= last)
    order = list(dict.fromkeys(asked + sorted(picked)))
    chosen, skipped = [], {}
    for cp in order:
        reason = face.reason_for(cp)
        if reason is None:
            chosen.append(cp)
        else:
            skipped.setdefault(reason, []).append(cp)
    return Selection(chosen, skipped)


# ----------------------------------------------------------------------------------------------- importing


@dataclass
class FontImport:
    """What an import did: the gallery, counts, and the characters left out by reason."""

    gallery: Gallery
    face: FontFace
    added_characters: int
    added_references: int
    skipped: dict[str, list[int]]
    chosen: int = 0  # characters chosen that the font maps drawably: what a preview counts before rendering
    rendered: int = 0  # of those, how many rendered (the others render blank or as the missing-glyph box)

    def counts_summary(self) -> str:
        """Return how the chosen count became the rendered one, e.g. "5,681 of the 5,683 chosen characters
        (2 render blank)", or "all 26 chosen characters" when every one rendered."""
        if self.rendered == self.chosen:
            return f"all {self.chosen:,} chosen characters"
        lost = [f"{len(self.skipped[r]):,} {r}" for r in (BLANK, NOTDEF) if self.skipped.get(r)]
        return f"{self.rendered:,} of the {self.chosen:,} chosen characters ({', '.join(lost)})"

    @property
    def n_skipped(self) -> int:
        """Return how many asked-for characters were left out."""
        return sum(len(v) for v in self.skipped.values())

    def skipped_summary(self) -> str:
        """Return the skip counts as one line, e.g. "skipped: space 3, lone combining mark 12"."""
        return _summary(self.skipped) if self.n_skipped else "nothing skipped"


def render_selection(face: FontFace, codepoints: Sequence[int], progress: ProgressFn | None = None,
                     cancel: threading.Event | None = None, total: int | None = None, workers: int | None = None
                     ) -> tuple[list[tuple[int, np.ndarray]], list[int], list[int]]:
    """Return ([(code point, packed binary glyph)], blank code points, code points drawn as the .notdef box)
    for `codepoints` of `face`.

    Glyphs are kept packed (np.packbits: 1.4 KB each) so a whole font fits in memory before anything is
    written. Large selections render in worker processes (`workers`, default: every core). `progress(done,
    total)` as characters are done; setting `cancel` raises `Cancelled`. Raises FontError if FreeType
    cannot open the font or render one of its glyphs (a damaged file).
    """
    try:
        return render_codepoints(str(face.path), face.index, codepoints, progress=progress, cancel=cancel,
                                 total=total, workers=workers, unmapped=face.unmapped())
    except RenderCancelled:
        raise Cancelled("font import cancelled") from None
    except (OSError, ValueError) as exc:
        raise FontError(f"{face.path}: FreeType cannot render this font ({exc}); the file is damaged") from exc


def import_font(font: str | Path | FontFace, dest: str | Path | Gallery | None = None, *, text: str | None = None,
                blocks: Sequence[str] = (), ranges: Sequence[str | tuple[int, int]] = (), face: int = 0,
                name: str | None = None, progress: ProgressFn | None = None,
                cancel: threading.Event | None = None) -> FontImport:
    """Return the result of enrolling characters of a font (see the module docstring for the choices).

    `dest`: a new (or empty) folder to create the gallery in; an existing gallery folder (or an open
    `Gallery`), which gains one reference per character (new characters are appended); or None for an
    in-memory gallery (nothing written). Every character is rendered before anything is written, so a
    failure or `cancel` (raises `Cancelled`) leaves `dest` as it was. `progress(done, total)` counts the
    characters rendered (writing them follows). Raises FontError for a bad font or nothing drawable, ValueError for a bad choice.
    """
    face_ = font if isinstance(font, FontFace) else open_font(font, face)
    selection = select_characters(face_, text, blocks, ranges)
    skipped = {k: list(v) for k, v in selection.skipped.items()}
    if not selection.codepoints:
        what = "in the selection" if (text or blocks or ranges) else "in it"
        why = f" ({_summary(skipped)})" if skipped else f" ({face_.full_name} has none there)"
        elsewhere = f" {fonts_for_blocks(blocks)}" if blocks else ""
        raise FontError(f"{face_.path}: no drawable character {what}{why}; nothing was written.{elsewhere}".strip())
    existing = dest if isinstance(dest, Gallery) else None
    if existing is None and dest is not None and (Path(dest) / INDEX_NAME).is_file():
        existing = Gallery.open(dest)
    elif existing is None and dest is not None and Path(dest).exists() and (
            not Path(dest).is_dir() or any(Path(dest).iterdir())):
        # Said before rendering, which can take a minute for a whole font.
        raise GalleryError(f"{dest} exists and is neither a gallery nor an empty folder; choose another folder")
    n = len(selection.codepoints)
    rendered, blank, boxes = render_selection(face_, selection.codepoints, progress, cancel, n)
    for reason, cps in ((BLANK, blank), (NOTDEF, boxes)):
        if cps:
            skipped.setdefault(reason, []).extend(cps)
    if not rendered:
        raise FontError(f"{face_.path}: no drawable character: all {n} render blank or as the missing-glyph box; "
                        "nothing was written")
    source = face_.source

    if existing is None:
        try:
            gallery = write_font_gallery(face_, dest, name or face_.full_name, rendered, cancel)
            return FontImport(gallery, face_, len(gallery), len(gallery), skipped, n, len(rendered))
        except FolderTaken:
            if not (Path(dest) / INDEX_NAME).is_file():
                raise
            # Another import created the gallery meanwhile (two imports into one new folder at once):
            # add to it, as if it had been there from the start.
            existing = Gallery.open(dest)
    characters = [Character(chr(cp), [Reference(f"u{cp:04x}", "", unpack_glyph(px), None, source)], chr(cp))
                  for cp, px in rendered]
    if cancel is not None and cancel.is_set():
        raise Cancelled("font import cancelled")
    added_chars, added_refs = existing.extend(characters)
    return FontImport(existing, face_, added_chars, added_refs, skipped, n, len(rendered))


def write_font_gallery(face: FontFace, dest: str | Path | None, name: str, rendered: Sequence[tuple[int, np.ndarray]],
                       cancel: threading.Event | None = None) -> Gallery:
    """Return a new gallery of `rendered` [(code point, packed glyph)] characters of `face`, one reference each:
    written to the new (or empty) folder `dest`, or in memory when `dest` is None. A failure or `cancel` (raises
    `Cancelled`) leaves nothing behind; a folder another writer took first raises FolderTaken."""
    source = face.source
    sink = _Sink(Path(dest) if dest is not None else None)
    try:
        characters = []
        for cp, px in rendered:
            if cancel is not None and cancel.is_set():
                raise Cancelled("font import cancelled")
            ref = sink.add(f"u{cp:04x}", unpack_glyph(px), f"{face.path.name} U+{cp:04X}")
            ref.font = source
            characters.append(Character(chr(cp), [ref], chr(cp)))
        return sink.finish(check_name(name, "gallery name"), characters, cancel)
    except BaseException:
        sink.abort()
        raise


def _summary(skipped: dict[str, list[int]]) -> str:
    parts = [f"{reason} {len(skipped[reason])}" for reason in SKIP_REASONS if skipped.get(reason)]
    return "skipped: " + ", ".join(parts) if parts else "the font maps no character"


__all__ = [
    "BLANK", "COMBINING", "CONTROL", "FONT_SUFFIXES", "FORMAT", "FontError", "FontFace", "FontImport",
    "NOTDEF", "NOT_IN_FONT", "SKIP_REASONS", "SPACE", "Selection", "block_counts", "block_of", "describe_char",
    "first_character_of", "fonts_for_blocks", "import_font", "open_font", "parse_range", "render_selection",
    "script_of", "select_characters", "write_font_gallery",
]
