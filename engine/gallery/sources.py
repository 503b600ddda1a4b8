"""Reading what a person may import: a folder or a zip of images, and single image or stroke files.

Nothing is ever extracted to disk: zip members are read into memory, and a member whose path would leave
the archive's folder (zip slip: ``../x``, ``/etc/x``, ``C:\\x``) makes the whole archive refused.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..glyph import IMAGE_SUFFIXES, STROKE_SUFFIX, Glyph, GlyphError, glyph_from_image, open_image, render_strokes
from ..glyph import decode
from .files import INDEX_NAME, GalleryError

# Zip-bomb guards: no glyph image is anywhere near these sizes.
MAX_MEMBER_BYTES = 64 << 20
MAX_ARCHIVE_BYTES = 4 << 30
SKIPPED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class SourceFile:
    """One file of an import source: its path inside the source (unwrapped), a reader and a label for messages."""

    path: PurePosixPath
    read: Callable[[], bytes]
    label: str

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() in IMAGE_SUFFIXES


def list_source(source: Path) -> tuple[str, list[SourceFile]]:
    """Return (default gallery name, files) of a folder or zip, with wrapping single folders removed.

    Hidden files and folders (``.name``), ``__MACOSX`` and the like are left out. Raises GalleryError for
    a missing source, a damaged or hostile zip, or a source with no files.
    """
    source = Path(source)
    if source.is_dir():
        files, name = _folder_files(source), source.name
    elif source.is_file():
        files, name = _zip_files(source), source.stem
        files, name = _strip_top(files, name, always=True)
    else:
        raise GalleryError(f"{source} does not exist")
    files, name = _strip_top(files, name, always=False)
    if not files:
        raise GalleryError(f"{source} holds no files to import")
    return name, files


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p in SKIPPED_NAMES for p in parts)


def _folder_files(root: Path) -> list[SourceFile]:
    out = []
    # os.walk without following links: a link to a parent folder cannot loop.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _hidden((d,)))
        for fname in sorted(filenames):
            full = Path(dirpath) / fname
            rel = PurePosixPath(full.relative_to(root).as_posix())
            if _hidden(rel.parts) or not full.is_file():
                continue
            out.append(SourceFile(rel, full.read_bytes, str(full)))
    return out


def _zip_files(archive: Path) -> list[SourceFile]:
    try:
        zf = zipfile.ZipFile(archive)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise GalleryError(f"{archive} is neither a folder nor a readable zip archive ({exc})") from exc
    out, total = [], 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        rel = PurePosixPath(name)
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in rel.parts:
            raise GalleryError(f"{archive}: the member {info.filename!r} would be written outside the gallery "
                               f"folder (zip slip); refusing this archive")
        if info.is_dir() or _hidden(rel.parts) or stat.S_ISLNK(info.external_attr >> 16):
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            raise GalleryError(f"{archive}: the member {info.filename!r} unpacks to {info.file_size} bytes; "
                               f"too large for a glyph image")
        total += info.file_size
        if total > MAX_ARCHIVE_BYTES:
            raise GalleryError(f"{archive} unpacks to more than {MAX_ARCHIVE_BYTES >> 30} GiB; refusing it")
        out.append(SourceFile(PurePosixPath(*[p for p in rel.parts if p not in ("", ".")]),
                              _zip_reader(zf, archive, info), f"{archive}:{info.filename}"))
    return out


def _zip_reader(zf: zipfile.ZipFile, archive: Path, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    # One open archive serves every member (imports read them one after another, in one thread).
    def read() -> bytes:
        try:
            return zf.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error) as exc:
            raise GalleryError(f"{archive}:{info.filename}: cannot read it from the archive ({exc})") from exc
    return read


def _strip_top(files: list[SourceFile], name: str, always: bool) -> tuple[list[SourceFile], str]:
    """Remove folders that wrap everything (``Greek/alpha/1.png`` -> ``alpha/1.png``; name 'Greek').

    A single folder of images is kept as it is (it may be one character) unless `always` (a zip's top
    folder, which wraps a whole folder by convention); a folder of folders is always unwrapped.
    """
    while files and all(len(f.path.parts) >= 2 for f in files):
        top = files[0].path.parts[0]
        if any(f.path.parts[0] != top for f in files):
            break
        nested = any(len(f.path.parts) >= 3 for f in files) or any(f.path.parts[1] == INDEX_NAME for f in files)
        if not (always or nested):
            break
        files = [SourceFile(PurePosixPath(*f.path.parts[1:]), f.read, f.label) for f in files]
        name, always = top, False
    return files, name


def natural_key(text: str) -> list:
    """Return a sort key that puts 'character2' before 'character10'."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


# ------------------------------------------------------------------------------------------- decoding


def glyph_from_bytes(data: bytes, label: str) -> Glyph:
    """Return the glyph of an encoded image (PNG, JPEG, BMP, GIF, WebP, TIFF), or raise GlyphError naming `label`.

    Every image goes through `glyph_from_image`, the one normalisation: an image that already is an Omniglot
    drawing (in its stroke width and framing, not only its size) is taken exactly as it is, anything else is
    framed and redrawn with Omniglot's pen.
    """
    img = open_image(data, label, reduce_to=decode.WORKING_SIDE)
    try:
        return glyph_from_image(img)
    except GlyphError as exc:
        raise GlyphError(f"{label}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise GlyphError(f"{label}: cannot decode the image ({exc})") from exc


def read_glyph(path: str | os.PathLike) -> Glyph:
    """Return the glyph of an image file, or of an Omniglot stroke file (``.txt``) drawn like the canvas.

    Raises GlyphError (a ValueError) naming the file when it cannot be read or understood, and
    FileNotFoundError-like OSError subclasses are turned into GlyphError too, so one message fits all.
    """
    from ..strokes import load_omniglot_strokes

    path = Path(path)
    try:
        if path.suffix.lower() == STROKE_SUFFIX:
            strokes = load_omniglot_strokes(path)
            try:
                return render_strokes(strokes)
            except GlyphError as exc:
                raise GlyphError(f"{path}: {exc}") from exc
        return glyph_from_bytes(path.read_bytes(), str(path))
    except OSError as exc:
        raise GlyphError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except GlyphError:
        raise
    except ValueError as exc:  # StrokeFileError and friends
        raise GlyphError(str(exc)) from exc
