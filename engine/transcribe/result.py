"""What a transcription gives: pages of text lines of glyphs, each with its box, best match and alternatives.

Text: each glyph is written as its Unicode character when the gallery knows one (fonts, named files), else
as its name in brackets (``[character05]``); an unconfident glyph (best score under the model's threshold)
is written in brackets with a question mark after its best guess (``[ж?]``, ``[character05?]``), a glyph
the gallery cannot name at all (empty gallery, or nothing readable in its box) as ``[?]``.

JSON (`page_json`): ``{"image": PATH, "lines": [{"box": [x0, y0, x1, y1], "glyphs": [{"box": [...],
"name": ..., "char": ..., "score": ..., "confident": ..., "alternatives": [{"name": ..., "score": ...}]}]}],
"text": ...}``; boxes in the image's own pixels (x1, y1 exclusive), `alternatives` the top-k matches
best first (the first is the glyph's own match), `name`/`char`/`score` null when there is no match. A glyph
that is a best effort has one more field, ``"best_effort"``: ``"split"`` (a piece cut from touching glyphs at
their thinnest columns) or ``"wide"`` (probably touching glyphs that could not be cut).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..glyph import Glyph

UNKNOWN = "[?]"
SCORE_DIGITS = 6

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Alternative:
    """One candidate character for a glyph: its name, score in [0, 1] and Unicode character (None if unknown)."""

    name: str
    score: float
    char: str | None = None


@dataclass
class TranscribedGlyph:
    """One glyph of a page: box (original pixels), the cut-out glyph as ranked, and its ranking.

    `alternatives` holds the top-k candidates, best first; `confident` is the card's rule (the best score is
    at least the threshold). `wide`: the glyph is much wider than its line's glyphs (touching glyphs that
    could not be split, best effort). `split`: it is a piece cut from touching glyphs (best effort).
    `confirmed`: a person confirmed its name (`alternatives` is then that name).
    """

    box: Box
    glyph: Glyph
    alternatives: list[Alternative] = field(default_factory=list)
    confident: bool = False
    wide: bool = False
    split: bool = False
    confirmed: bool = False  # a person said what it is (engine.transcribe.corrections)

    @property
    def best(self) -> Alternative | None:
        return self.alternatives[0] if self.alternatives else None

    @property
    def name(self) -> str | None:
        return self.best.name if self.best else None

    @property
    def char(self) -> str | None:
        return self.best.char if self.best else None

    @property
    def score(self) -> float | None:
        return self.best.score if self.best else None

    @property
    def text(self) -> str:
        """Return how the glyph is written in the text (module docstring)."""
        best = self.best
        if best is None:
            return UNKNOWN
        shown = best.char if best.char is not None else best.name
        if not self.confident:
            return f"[{shown}?]"
        return shown if best.char is not None else f"[{shown}]"


@dataclass
class TranscribedLine:
    """One text line: its box (original pixels) and glyphs in reading order."""

    box: Box
    glyphs: list[TranscribedGlyph]

    @property
    def text(self) -> str:
        return "".join(g.text for g in self.glyphs)


@dataclass
class Page:
    """A transcribed page: the image's name and size, its lines in reading order, notes on best efforts."""

    image: str
    size: tuple[int, int]
    lines: list[TranscribedLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def glyphs(self) -> list[TranscribedGlyph]:
        """Return every glyph in reading order."""
        return [g for line in self.lines for g in line.glyphs]

    @property
    def text(self) -> str:
        """Return the text, one line per text line."""
        return "\n".join(line.text for line in self.lines)


def _score(value: float) -> float:
    return round(float(value), SCORE_DIGITS)


def glyph_json(g: TranscribedGlyph) -> dict:
    """Return one glyph as the JSON schema's object (module docstring), with "best_effort" where it is one."""
    out = {"box": list(g.box), "name": g.name, "char": g.char,
           "score": _score(g.score) if g.score is not None else None, "confident": g.confident,
           "alternatives": [{"name": a.name, "score": _score(a.score)} for a in g.alternatives]}
    if g.split or g.wide:
        out["best_effort"] = "split" if g.split else "wide"
    return out


def page_json(page: Page, image: str | None = None) -> dict:
    """Return a page as the JSON schema's object; `image` overrides the path reported."""
    return {"image": image if image is not None else page.image,
            "lines": [{"box": list(line.box), "glyphs": [glyph_json(g) for g in line.glyphs]} for line in page.lines],
            "text": page.text}


CSV_FIELDS = ("line", "position", "x0", "y0", "x1", "y1", "name", "char", "score", "confident")


def page_csv(page: Page) -> str:
    """Return the page as CSV: one row per glyph in reading order (line and position from 1, box, best match)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for n, line in enumerate(page.lines, start=1):
        for k, g in enumerate(line.glyphs, start=1):
            writer.writerow([n, k, *g.box, g.name or "", g.char or "",
                             f"{g.score:.{SCORE_DIGITS}f}" if g.score is not None else "", int(g.confident)])
    return out.getvalue()


def read_page_json(data: dict) -> list[list[dict]]:
    """Return the glyphs of a page's JSON (`page_json`) line by line as plain dicts, checking the schema.

    Raises ValueError naming what is missing, so an export that does not read back says so.
    """
    lines = data.get("lines")
    if not isinstance(lines, list) or not isinstance(data.get("text"), str):
        raise ValueError("not a transcription: it needs \"lines\" (a list) and \"text\"")
    out = []
    for line in lines:
        glyphs = line.get("glyphs") if isinstance(line, dict) else None
        if not isinstance(glyphs, list) or len(line.get("box", ())) != 4:
            raise ValueError("each line needs a \"box\" of 4 numbers and \"glyphs\"")
        for g in glyphs:
            missing = {"box", "name", "char", "score", "confident", "alternatives"} - set(g)
            if missing:
                raise ValueError(f"a glyph lacks {', '.join(sorted(missing))}")
        out.append(glyphs)
    return out
