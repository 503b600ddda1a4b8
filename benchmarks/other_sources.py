"""Checks of characters from other sources than Omniglot's own images, built from what the project has: Omniglot's
stroke files redrawn with other pens and at small sizes, typefaces as image folders, scan-like copies.

Every check ranks queries that went through the one normalisation (`engine.glyph.glyph_from_image`, with the
`Normalisation` under test) against Omniglot's images (taken as they are), through the shipped pipeline's
scoring (`engine.evaluation.evaluate.choose`, ink centred as the model card says). Only background-set alphabets are used:

- pens: the stroke files (`strokes_background_subset.zip`: Japanese (katakana), Sanskrit, Tagalog, which are
  training alphabets of the shipped model, so the absolute figures are optimistic; what counts is the
  difference between normalisations; Tagalog has 17 characters, so its tasks are 17-way) drawn into 320-px images with a thin (2 px, antialiased), a thick (30 px
  marker) and an uneven (3-20 px along each stroke) pen, and into 40-px images with a 1-px pen; 20-way tasks,
  the reference of each character another drawer's Omniglot image;
- typefaces: a-z of each DejaVu face drawn at 80 pt into a 160-px image (as a person would save them) and
  enrolled as images, ranking all 520 handwritten Latin drawings (Latin is a validation alphabet), 26-way;
- scans: the validation alphabets' images (20-way seeded tasks) printed onto grey paper at 300 px, turned by up
  to 5 degrees, blurred, with sensor noise and JPEG compression.

No handwritten-digit check can be built from the background set: none of its 30 alphabets holds digits.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from engine.evaluation.evaluate import OneShotConfig, choose, embed_for_views, make_episodes
from engine.glyph import glyph_from_image
from engine.glyph.normalise import Normalisation
from engine.glyph.pen import STROKE_OFFSET
from engine.strokes import parse_omniglot_strokes
from engine.recognition.views import ViewConfig

LETTERS = "abcdefghijklmnopqrstuvwxyz"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FACES = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-ExtraLight", "DejaVuSansCondensed", "DejaVuSansMono",
         "DejaVuSerif")
SUPER = 4  # supersampling of drawn pens (antialiased edges)


@dataclass(frozen=True)
class Pen:
    """How a stroke file is drawn: image side, pen width range (image px) and whether edges are antialiased."""

    size: int
    width: tuple[float, float]
    antialias: bool = True


PENS = {"thin pen": Pen(320, (2, 2)), "marker": Pen(320, (30, 30)), "uneven pen": Pen(320, (3, 20)),
        "small image": Pen(40, (1, 1), antialias=False)}


def draw_strokes(strokes, pen: Pen, rng: np.random.Generator) -> np.ndarray:
    """Return a drawing (uint8 (size, size), ink black on white) of Omniglot strokes (105-unit area) with `pen`."""
    k = SUPER if pen.antialias else 1
    side = pen.size * k
    im = Image.new("L", (side, side), 255)
    d = ImageDraw.Draw(im)
    f = side / 105.0
    for s in strokes:
        p = (np.asarray(s.points, np.float64) + STROKE_OFFSET) * f
        lo, hi = pen.width
        # An uneven pen: the width wanders smoothly along the stroke between lo and hi.
        w = lo + (hi - lo) * (0.5 + 0.5 * np.sin(np.linspace(0, rng.uniform(2, 6), len(p)) + rng.uniform(0, 6)))
        for i in range(len(p)):
            r = max(0.5, w[i] * k / 2)
            d.ellipse((p[i, 0] - r, p[i, 1] - r, p[i, 0] + r, p[i, 1] + r), fill=0)
            if i:
                d.line((*p[i - 1], *p[i]), fill=0, width=max(1, round(w[i] * k)))
    if k > 1:
        im = im.resize((pen.size, pen.size), Image.Resampling.BOX)
    return np.asarray(im)


def stroke_files(omniglot_dir: Path) -> dict[tuple[str, str], dict[int, list]]:
    """Return {(alphabet, character): {drawer: strokes}} of the background stroke files."""
    out: dict[tuple[str, str], dict[int, list]] = {}
    with zipfile.ZipFile(omniglot_dir / "strokes_background_subset.zip") as zs:
        for name in sorted(n for n in zs.namelist() if n.endswith(".txt")):
            _, alphabet, char, file = name.split("/")
            drawer = int(file[:-4].split("_")[1])
            out.setdefault((alphabet, char), {})[drawer] = parse_omniglot_strokes(zs.read(name).decode("ascii"), name)
    return out


class Checks:
    """The other-source checks of one model on the background set; each returns accuracy for a normalisation."""

    def __init__(self, model, background, val_alphabets: list[str], omniglot_dir: Path, tasks: int, seed: int = 0):
        self.model, self.bg, self.tasks, self.seed = model, background, tasks, seed
        self.views = ViewConfig(center=True)
        self.val_alphabets = val_alphabets
        self.strokes = stroke_files(omniglot_dir) if (omniglot_dir / "strokes_background_subset.zip").is_file() else {}
        self._pen_tasks = self._make_pen_tasks() if self.strokes else []
        self._drawings: dict[str, list[np.ndarray]] = {}
        self._scans: list[np.ndarray] | None = None
        self._omniglot: dict[str, object] = {}  # embeddings of the Omniglot side of a check, made once

    # -- shared
    def _embed(self, glyphs: np.ndarray):
        return embed_for_views(self.model, glyphs, self.views, batch_size=64)

    def _embed_once(self, key: str, indices: np.ndarray):
        """Return the embeddings of Omniglot images `indices` of the background set, computed once per check."""
        if key not in self._omniglot:
            self._omniglot[key] = self._embed(self.bg.pixels(indices))
        return self._omniglot[key]

    def _accuracy(self, key: str, refs: np.ndarray, queries: np.ndarray, groups: list[np.ndarray]) -> float:
        """Accuracy over tasks: each group indexes refs (Omniglot image indices) and queries (glyphs) of the same
        characters (truth = position)."""
        r, q = self._embed_once(key, refs), self._embed(queries)
        right = total = 0
        for g in groups:
            picked = choose(self.model, r[g][:, None], q[g], self.views).cpu().numpy()
            right += int((picked == np.arange(len(g))).sum())
            total += len(g)
        return right / total

    # -- pens
    def _make_pen_tasks(self) -> list[tuple[list[int], list[tuple]]]:
        """Seeded 20-way tasks: (reference image indices, query (character key, drawer)) per task."""
        bg = self.bg
        key_of = {(bg.alphabets[bg.char_alphabet[c]], bg.char_names[c]): c for c in range(bg.n_characters)}
        by_alphabet: dict[str, list[tuple[str, str]]] = {}
        for key in self.strokes:
            by_alphabet.setdefault(key[0], []).append(key)
        rng = np.random.default_rng(self.seed)
        tasks = []
        alphabets = sorted(by_alphabet)
        for _ in range(self.tasks):
            keys = by_alphabet[alphabets[rng.integers(len(alphabets))]]
            chosen = [keys[i] for i in rng.choice(len(keys), min(20, len(keys)), replace=False)]
            refs, queries = [], []
            for key in chosen:
                drawers = sorted(self.strokes[key])
                q_drawer, r_drawer = rng.choice(drawers, 2, replace=False)
                c = key_of[key]
                imgs = np.flatnonzero((bg.char == c) & (bg.drawer == r_drawer))
                refs.append(int(imgs[0]))
                queries.append((key, int(q_drawer)))
            tasks.append((refs, queries))
        return tasks

    def pen(self, name: str, normalisation: Normalisation) -> float | None:
        if not self._pen_tasks:
            return None
        if name not in self._drawings:
            rng = np.random.default_rng(self.seed + 1)
            self._drawings[name] = [draw_strokes(self.strokes[key][d], PENS[name], rng)
                                    for _, qs in self._pen_tasks for key, d in qs]
        queries = np.stack([glyph_from_image(im, normalisation).pixels for im in self._drawings[name]])
        refs = np.array([i for r, _ in self._pen_tasks for i in r])
        ends = np.cumsum([len(r) for r, _ in self._pen_tasks])
        groups = [np.arange(e - len(r), e) for e, (r, _) in zip(ends, self._pen_tasks)]
        return self._accuracy("pens", refs, queries, groups)

    # -- typefaces
    def typeface(self, face: str, normalisation: Normalisation) -> float | None:
        path = FONT_DIR / f"{face}.ttf"
        if "Latin" not in self.val_alphabets or not path.is_file():
            return None
        font = ImageFont.truetype(str(path), 80)
        refs = np.stack([glyph_from_image(_png(_typed(ch, font)), normalisation).pixels for ch in LETTERS])
        bg = self.bg
        chars = bg.alphabet_characters(bg.alphabets.index("Latin"))
        index = np.flatnonzero(np.isin(bg.char, chars))
        truth = np.searchsorted(chars, bg.char[index])
        r, q = self._embed(refs), self._embed_once("latin", index)
        return float((choose(self.model, r[:, None], q, self.views).cpu().numpy() == truth).mean())

    # -- scans
    def scan(self, normalisation: Normalisation) -> float:
        bg = self.bg
        val_chars = np.flatnonzero(np.isin(np.array(bg.alphabets)[bg.char_alphabet], self.val_alphabets))
        episodes = make_episodes(bg, OneShotConfig(way=20, shot=1, tasks=self.tasks, seed=self.seed), val_chars)
        if self._scans is None:
            rng = np.random.default_rng(self.seed + 2)
            self._scans = [scan_like(bg.pixels(np.array([i]))[0], rng) for e in episodes for i in e.query]
        queries = np.stack([glyph_from_image(s, normalisation).pixels for s in self._scans])
        refs = np.concatenate([e.support[:, 0] for e in episodes])
        groups = [np.arange(t * 20, t * 20 + 20) for t in range(len(episodes))]
        return self._accuracy("scans", refs, queries, groups)

    def columns(self) -> dict[str, Callable[[Normalisation], float | None]]:
        """Return {column name: check(normalisation)}."""
        cols: dict[str, Callable[[Normalisation], float | None]] = {}
        for name in PENS:
            cols[name] = lambda n, name=name: self.pen(name, n)
        cols["scan"] = self.scan
        for face in FACES:
            cols[face.replace("DejaVu", "")] = lambda n, face=face: self.typeface(face, n)
        return cols


def _typed(ch: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """Return a letter typed at 80 pt into a 160-px white image, centred on its ink box."""
    im = Image.new("L", (160, 160), 255)
    left, top, right, bottom = font.getbbox(ch)
    ImageDraw.Draw(im).text(((160 - (right - left)) / 2 - left, (160 - (bottom - top)) / 2 - top), ch, font=font,
                            fill=0)
    return im


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def scan_like(glyph: np.ndarray, rng: np.random.Generator, side: int = 300) -> np.ndarray:
    """Return an Omniglot glyph (1 = ink) as a scan: grey paper and ink, 300 px, turned, blurred, noisy, JPEG."""
    paper, ink = rng.uniform(0.75, 0.92), rng.uniform(0.1, 0.35)
    im = Image.fromarray(((1 - glyph) * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BILINEAR)
    im = im.rotate(rng.uniform(-5, 5), Image.Resampling.BILINEAR, fillcolor=255)
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.0)))
    a = np.asarray(im, np.float32) / 255
    a = ink + (paper - ink) * a + rng.normal(0, 0.04, a.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(a * 255, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))
