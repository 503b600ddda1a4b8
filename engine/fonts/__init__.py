"""Fonts: characters enrolled from a typeface, and symbol search over a whole font.

`faces` opens a font file or collection (fontTools), chooses characters by block, script, text or range and
enrols them as a gallery (`import_font`); `files` finds installed fonts; `render` draws characters with
FreeType (Pillow) through the single-image normalisation, in worker processes that import no torch; `search`
renders and embeds a whole font in one pipeline, ranked against what is ready (`FontSearch`)."""

from __future__ import annotations

import importlib

# Public names, each from its module; imported on first use so that importing the package stays cheap.
_HOMES = {
    "FontError": "faces",
    "FontFace": "faces",
    "FontImport": "faces",
    "import_font": "faces",
    "open_font": "faces",
    "select_characters": "faces",
    "InstalledFont": "files",
    "find_installed": "files",
    "installed_fonts": "files",
    "render_codepoints": "render",
    "FontSearch": "search",
}


def __getattr__(name: str):
    """Return the public name `name` from the module that defines it."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = sorted(_HOMES)
