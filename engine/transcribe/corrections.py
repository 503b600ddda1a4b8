"""Learning by use: a person confirms what a glyph is, the glyph joins the gallery, the rest is ranked again.

A confirmed correction goes through the workspace's own edits (engine.workspace), so it is undoable like every
gallery edit: the glyph, as it was cut out and ranked, becomes another example of its character, or a new
character when the gallery has none of that name. Then every glyph not yet confirmed is ranked again against
the changed gallery (one forward pass per batch); confirmed glyphs keep the name the person gave them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .page import alternatives, gallery_chars, page_recognizer, rank_glyphs
from .result import Alternative, Page, TranscribedGlyph, TranscribedLine

if TYPE_CHECKING:
    from ..workspace import Edited, Workspace


def confirm(workspace: Workspace, page: Page, index: int, name: str) -> tuple[Page, Edited]:
    """Return (the page with glyph `index` (reading order) confirmed as `name`, the gallery edit made).

    The glyph is added to the open gallery as an example of `name` (a new character if there is none), as one
    undoable step; then the unconfirmed glyphs are re-ranked (`rerank`). Raises what the workspace raises
    (no gallery open, an empty name, a glyph with no ink) and then changes nothing.
    """
    glyph = page.glyphs[index]
    if glyph.glyph.no_ink:
        raise ValueError("this box holds no ink to learn from")
    name = name.strip()
    if not name:
        raise ValueError("a character needs a name")
    known = workspace.gallery is not None and name in workspace.gallery.names()
    edited = (workspace.add_reference(name, glyph.glyph) if known else workspace.add_character(name, glyph.glyph))
    chars = {c.name: c.char for c in workspace.gallery.characters}
    pinned = replace(glyph, alternatives=[Alternative(name, 1.0, chars.get(name))], confident=True, confirmed=True)
    return rerank(workspace, with_glyph(page, index, pinned)), edited


def rerank(workspace: Workspace, page: Page, top: int = 5) -> Page:
    """Return the page with every unconfirmed glyph ranked again against the workspace's open gallery."""
    todo = [i for i, g in enumerate(page.glyphs) if not g.confirmed]
    if workspace.recognizer is None or workspace.gallery is None or not len(workspace.gallery):
        ranked = [([], True) for _ in todo]  # nothing to rank against: no names
    else:
        recognizer = page_recognizer(workspace.recognizer)  # as the page was ranked
        chars = gallery_chars(recognizer)
        results = rank_glyphs(recognizer, [page.glyphs[i].glyph for i in todo], top)
        ranked = [(alternatives(r, chars), r.no_confident_match or r.no_ink) for r in results]
    for i, (alts, unconfident) in zip(todo, ranked):
        page = with_glyph(page, i, replace(page.glyphs[i], alternatives=alts, confident=bool(alts) and not unconfident))
    return page


def with_glyph(page: Page, index: int, glyph: TranscribedGlyph) -> Page:
    """Return a copy of `page` with glyph `index` (reading order) replaced."""
    lines, i = [], 0
    for line in page.lines:
        glyphs = list(line.glyphs)
        if i <= index < i + len(glyphs):
            glyphs[index - i] = glyph
        i += len(glyphs)
        lines.append(TranscribedLine(line.box, glyphs))
    return Page(page.image, page.size, lines, list(page.notes))
