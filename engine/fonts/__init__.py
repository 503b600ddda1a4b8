"""Fonts: characters enrolled from a typeface, and symbol search over a whole font.

`faces` opens a font file or collection (fontTools), chooses characters by block, script, text or range and
enrols them as a gallery (`import_font`); `files` finds installed fonts; `render` draws characters with
FreeType (Pillow) through the single-image normalisation, in worker processes that import no torch; `search`
renders and embeds a whole font in one pipeline, ranked against what is ready (`FontSearch`)."""

from __future__ import annotations

from ..lazy import lazy_exports

# Public names, each from its module (imported on first use).
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


__getattr__, __all__ = lazy_exports(__name__, _HOMES)
