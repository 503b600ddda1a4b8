"""Finding the fonts installed on this computer (no font ships with Glyphs).

fontconfig's ``fc-list`` answers where it exists (Linux, BSD, some macOS set-ups): it knows every font the
desktop uses, with its family and style. Elsewhere, or when it fails, the platform's font folders are
searched and each file's names read with fontTools. Only TrueType/OpenType files (and their collections)
are listed: those are the ones whose character map fontTools can read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .faces import FONT_SUFFIXES

FC_LIST_TIMEOUT_S = 20.0
# Looking for the fonts that draw a character without fontconfig reads each installed font's character map:
# bounded so that a machine with thousands of fonts answers an empty choice in seconds, not minutes.
SCAN_MAX_FILES = 400
SCAN_MAX_S = 5.0


@dataclass(frozen=True, order=True)
class InstalledFont:
    """One face of an installed font file: `index` is its face in a collection (0 otherwise)."""

    family: str
    style: str
    path: Path
    index: int = 0

    @property
    def label(self) -> str:
        """Return "Family Style" ("Family" alone for a regular face), as font menus show it."""
        return self.family if self.style.lower() in ("regular", "book", "") else f"{self.family} {self.style}"


def font_folders() -> list[Path]:
    """Return the folders where this platform keeps fonts (those that exist), user folders first."""
    home = Path.home()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        candidates = [Path(local) / "Microsoft" / "Windows" / "Fonts"] if local else []
        candidates.append(Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts")
    elif sys.platform == "darwin":
        candidates = [home / "Library" / "Fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts"),
                      Path("/System/Library/Fonts/Supplemental")]
    else:
        data_home = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
        candidates = [data_home / "fonts", home / ".fonts", Path("/usr/local/share/fonts"), Path("/usr/share/fonts")]
    return [p for p in candidates if p.is_dir()]


def installed_fonts(use_fc_list: bool = True) -> list[InstalledFont]:
    """Return the installed TrueType/OpenType faces, sorted by family and style (empty when none)."""
    fonts = _from_fc_list() if use_fc_list else None
    if fonts is None:
        fonts = _from_folders(font_folders())
    return sorted(set(fonts))


def find_installed(name: str, fonts: list[InstalledFont] | None = None) -> InstalledFont | None:
    """Return the installed face called `name` ("DejaVu Sans", "DejaVu Sans Bold", or its file name such as
    "DejaVuSans-Bold.ttf"), case-insensitive, or None. A family name alone picks its regular face (or its first).
    """
    fonts = installed_fonts() if fonts is None else fonts
    key = " ".join(name.lower().split())
    exact = [f for f in fonts if key in (f.label.lower(), f"{f.family} {f.style}".lower(), f.path.name.lower())]
    if exact:
        return exact[0]
    family = [f for f in fonts if f.family.lower() == key]
    regular = [f for f in family if f.label == f.family]
    return (regular or family or [None])[0]


def fonts_drawing(cp: int, use_fc_list: bool = True) -> list[InstalledFont]:
    """Return the installed faces whose character map has code point `cp`, sorted (empty when none).

    fontconfig answers when it is there (``fc-list :charset=XXXX``); otherwise the installed fonts' maps are
    read, at most `SCAN_MAX_FILES` files or `SCAN_MAX_S` seconds, so the answer may then be incomplete."""
    fonts = _from_fc_list(f":charset={cp:x}") if use_fc_list else None
    if fonts is None:
        fonts = _scan_for(cp, installed_fonts(use_fc_list=False))
    return sorted(set(fonts))


def _scan_for(cp: int, fonts: list[InstalledFont]) -> list[InstalledFont]:
    from .faces import FontError, open_font

    found, start, files = [], time.monotonic(), set()
    for font in fonts:
        files.add(font.path)
        if len(files) > SCAN_MAX_FILES or time.monotonic() - start > SCAN_MAX_S:
            break
        try:
            if cp in open_font(font.path, font.index).cmap:
                found.append(font)
        except FontError:  # a broken file among the system's fonts is not ours to report
            continue
    return found


def _from_fc_list(pattern: str | None = None) -> list[InstalledFont] | None:
    exe = shutil.which("fc-list")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--format", "%{file}\t%{index}\t%{family[0]}\t%{style[0]}\n",
                               *([pattern] if pattern else [])],
                              capture_output=True, timeout=FC_LIST_TIMEOUT_S, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    fonts = []
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or Path(parts[0]).suffix.lower() not in FONT_SUFFIXES:
            continue
        try:
            index = int(parts[1])
        except ValueError:
            continue
        if index >> 16:  # a named instance of a variable font: its default face is listed too
            continue
        fonts.append(InstalledFont(parts[2].strip() or Path(parts[0]).stem, parts[3].strip(), Path(parts[0]), index))
    return fonts


def _from_folders(folders: list[Path]) -> list[InstalledFont]:
    from fontTools.ttLib import TTCollection, TTFont

    fonts = []
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for file in files:
                path = Path(root) / file
                if path.suffix.lower() not in FONT_SUFFIXES:
                    continue
                try:
                    if path.suffix.lower() in (".ttc", ".otc"):
                        faces = TTCollection(str(path), lazy=True).fonts
                    else:
                        faces = [TTFont(str(path), lazy=True, fontNumber=-1)]
                    for index, font in enumerate(faces):
                        names = font["name"]
                        family = names.getDebugName(16) or names.getDebugName(1) or path.stem
                        style = names.getDebugName(17) or names.getDebugName(2) or ""
                        fonts.append(InstalledFont(family, style, path, index))
                except Exception:  # a broken file among the system's fonts is not ours to report
                    continue
    return fonts


__all__ = ["InstalledFont", "find_installed", "font_folders", "fonts_drawing", "installed_fonts"]
