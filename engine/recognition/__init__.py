"""Recognition: how a glyph becomes an embedding and a ranking against a gallery.

The pipeline, in order: `centering` (each glyph's ink box moved to the middle of the frame), `views` (fixed
distortions of references or queries, as a model card chooses), `embedding` (`GlyphEncoder`: the one path
references and queries take), `index` (references stored as the head prepares them, scored in one sweep) and
`recognize` (`Recognizer`: a gallery's references embedded once and cached, queries ranked, "no confident
match" below the card's threshold)."""

from __future__ import annotations

from ..lazy import lazy_exports

# Public names, each from its module (imported on first use).
_HOMES = {
    "center_ink": "centering",
    "ink_shifts": "centering",
    "ViewConfig": "views",
    "card_views": "views",
    "describe_views": "views",
    "GlyphEncoder": "embedding",
    "embed_glyphs": "embedding",
    "embed_glyph_views": "embedding",
    "ReferenceIndex": "index",
    "score_characters": "index",
    "DEFAULT_THRESHOLD": "recognize",
    "Match": "recognize",
    "RankResult": "recognize",
    "Recognizer": "recognize",
    "default_model": "recognize",
    "rank": "recognize",
}


__getattr__, __all__ = lazy_exports(__name__, _HOMES)
