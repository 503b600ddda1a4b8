"""Transcribing pages: character error rate, glyph-box recall/precision and speed, beside isolated-glyph accuracy.

    python benchmarks/bench_transcribe.py [--split evaluation|validation|training] [--pages N] [--json] [--choose]
                                          [--boxes-only] [--speed] [--gaps LO HI] [--set FIELD=VALUE...]

Pages are composed from Omniglot drawings with their truth (`engine.transcribe.compose`): for each alphabet
and page, one drawer writes the page (lines of 8-20 of the alphabet's characters, each scaled so its longer
side is 35-60 px, random gaps of 0.3-0.7 glyph sizes, baseline jitter) and another drawer's drawings are the
one-shot gallery (one reference per character, as Omniglot stores them). Each page is transcribed clean
(black on white) and scan-like (grey paper, grey ink, blur, noise).

Reported per condition: character error rate (edit distance between each truth line and the transcribed
line it overlaps most, over the truth's length; transcribed lines matching no truth line count as
insertions), glyph-box recall and precision (a box is found when a transcribed box has IoU >= 0.5 with it,
one to one), glyphs per second (segmentation, cut-out and ranking, model and gallery embeddings ready), and
the isolated-glyph one-shot error of the same drawings ranked as Omniglot stores them against the same
gallery, so what segmentation and cut-out cost is visible: CER minus the isolated error; and the error of
each glyph as it lies on the page (scaled) given alone to `rank`'s image path, which separates what the
page's scale costs from what segmentation costs.

`--split validation` uses the model card's held-out background alphabets (rules are chosen there, with
`--choose`, which sweeps the segmentation and cut-out parameters); the default, `evaluation`, is only reported.
`--gaps -0.1 0.1` writes pages whose glyphs often touch (the best-effort split of touching glyphs is measured
there, `--set split_touching=true`); `--set` changes any SegmentConfig/TranscribeConfig field for the run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import load_omniglot, validation_split_of  # noqa: E402
from engine.data.splits import split_background  # noqa: E402
from engine.gallery import Character, Gallery, Reference  # noqa: E402
from engine.glyph import Glyph, glyph_from_image  # noqa: E402
from engine.glyph.normalise import Normalisation  # noqa: E402
from engine.recognition.recognize import Recognizer  # noqa: E402
from engine.transcribe import SegmentConfig, TranscribeConfig, read_page, segment_mask, transcribe  # noqa: E402
from engine.transcribe.regroup import RegroupConfig  # noqa: E402
from engine.transcribe.compose import ComposedPage, PageLayout, compose_page, scan_like  # noqa: E402
from engine.weights import load_weights  # noqa: E402

IOU_MATCH = 0.5


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr if ARGS.json else sys.stdout, flush=True)


# ----------------------------------------------------------------------------------------------- pages


LAYOUT = PageLayout()  # how pages are written; --gaps changes the gaps between glyphs (negative: touching)


def alphabet_pages(data, alphabet: int, rng: np.random.Generator, pages: int, lines: int):
    """Yield (gallery, composed page, isolated drawings with labels) for pages of one alphabet."""
    chars = data.alphabet_characters(alphabet)
    for _ in range(pages):
        writer, ref_drawer = rng.choice(np.arange(1, 21), size=2, replace=False)
        refs = {}
        for c in chars:
            idx = np.flatnonzero((data.char == c) & (data.drawer == ref_drawer))
            refs[data.char_names[c]] = data.pixels(idx[:1])[0].astype(np.float32)
        gallery = Gallery.in_memory(data.alphabets[alphabet], [
            Character(name, [Reference(f"{name}.png", "", px)]) for name, px in refs.items()])
        text = []
        for _ in range(lines):
            n = int(rng.integers(8, 21))
            line = []
            for c in rng.choice(chars, size=n, replace=True):
                idx = np.flatnonzero((data.char == c) & (data.drawer == writer))
                line.append((data.char_names[c], data.pixels(idx[:1])[0]))
            text.append(line)
        yield gallery, compose_page(text, rng, LAYOUT), text


# ---------------------------------------------------------------------------------------------- scores


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def edit_distance(a: list, b: list) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def match_boxes(true_boxes: list, pred_boxes: list) -> tuple[int, int, int, int]:
    """Return (truth boxes, truth boxes found, boxes given, boxes given that are right): IoU >= 0.5, one to one."""
    pairs = sorted(((iou(t, p), i, j) for i, t in enumerate(true_boxes) for j, p in enumerate(pred_boxes)
                    if t[0] < p[2] and p[0] < t[2] and t[1] < p[3] and p[1] < t[3]), reverse=True)
    used_t, used_p = set(), set()
    for v, i, j in pairs:
        if v >= IOU_MATCH and i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
    return len(true_boxes), len(used_t), len(pred_boxes), len(used_p)


def score_page(truth: ComposedPage, page) -> dict:
    """Return edits, truth length, found boxes, truth boxes and transcribed boxes of one page."""
    n_true, n_found, n_pred, n_correct = match_boxes([b for line in truth.lines for _, b in line],
                                                     [g.box for g in page.glyphs])
    # Each transcribed line goes to the truth line its glyph boxes overlap most.
    assigned: dict[int, list[int]] = {}
    for j, line in enumerate(page.lines):
        best, best_v = None, 0.0
        for i, tline in enumerate(truth.lines):
            v = sum(iou(g.box, b) for g in line.glyphs for _, b in tline)
            if v > best_v:
                best, best_v = i, v
        if best is not None:
            assigned.setdefault(best, []).append(j)
    edits, length = 0, 0
    matched_lines = set()
    for i, tline in enumerate(truth.lines):
        names = [name for name, _ in tline]
        pred = []
        for j in sorted(assigned.get(i, []), key=lambda j: page.lines[j].box[0]):
            pred.extend(g.name for g in page.lines[j].glyphs)
            matched_lines.add(j)
        edits += edit_distance(names, pred)
        length += len(names)
    edits += sum(len(line.glyphs) for j, line in enumerate(page.lines) if j not in matched_lines)
    return {"edits": edits, "length": length, "found": n_found, "truth": n_true, "predicted": n_pred,
            "correct_boxes": n_correct}


# ----------------------------------------------------------------------------------------------- run


def run_split(data, alphabets: list[int], loaded, config: TranscribeConfig, seed: int, pages: int, lines: int,
              conditions=("clean", "scan-like")) -> dict:
    totals = {c: {"edits": 0, "length": 0, "found": 0, "truth": 0, "predicted": 0, "correct_boxes": 0,
                  "seconds": 0.0, "glyphs": 0} for c in conditions}
    iso_wrong = iso_total = page_wrong = 0
    for a in alphabets:
        rng = np.random.default_rng([seed, a])
        for gallery, composed, text in alphabet_pages(data, a, rng, pages, lines):
            recognizer = Recognizer(loaded, gallery)
            recognizer.refresh()
            drawings = [px for line in text for _, px in line]
            truth = [name for line in text for name, _ in line]
            ranked = recognizer.rank_many([Glyph(px.astype(np.float32), False) for px in drawings], k=1)
            iso_wrong += sum(r.best is None or r.best.name != t for r, t in zip(ranked, truth))
            iso_total += len(truth)
            # The same glyphs as they lie on the page, each given alone to rank's image path (cut out by hand).
            alone = [glyph_from_image(1.0 - g) for line in composed.glyphs for g in line]
            ranked = recognizer.rank_many(alone, k=1)
            page_wrong += sum(r.best is None or r.best.name != t for r, t in zip(ranked, truth))
            for cond in conditions:
                image = composed.luminance() if cond == "clean" else scan_like(composed, rng)
                t0 = time.perf_counter()
                page = transcribe(image, recognizer, config)
                dt = time.perf_counter() - t0
                s = score_page(composed, page)
                tot = totals[cond]
                for k, v in s.items():
                    tot[k] += v
                tot["seconds"] += dt
                tot["glyphs"] += len(page.glyphs)
        log(f"  {data.alphabets[a]}: " + ", ".join(
            f"{c} CER {100 * totals[c]['edits'] / max(1, totals[c]['length']):.1f}%" for c in conditions)
            + f", isolated error {100 * iso_wrong / max(1, iso_total):.1f}% (cumulative)")
    out = {"isolated_error": iso_wrong / max(1, iso_total), "isolated_page_scale_error": page_wrong / max(1, iso_total),
           "glyphs": iso_total}
    for c, t in totals.items():
        out[c] = {"cer": t["edits"] / max(1, t["length"]), "box_recall": t["found"] / max(1, t["truth"]),
                  "box_precision": t["correct_boxes"] / max(1, t["predicted"]),
                  "glyphs_per_s": t["glyphs"] / max(t["seconds"], 1e-9), "truth_glyphs": t["truth"]}
    return out


def boxes_only(data, alphabets: list[int], config: TranscribeConfig, seed: int, pages: int, lines: int) -> dict:
    """Return box recall and precision of segmentation alone (no model), clean and scan-like."""
    found = truth = correct = predicted = 0
    for a in alphabets:
        rng = np.random.default_rng([seed, a])
        for _gallery, composed, _text in alphabet_pages(data, a, rng, pages, lines):
            for image in (composed.luminance(), scan_like(composed, rng)):
                page = read_page(image)
                boxes = [page.to_original(g.box) for g in segment_mask(page.mask, config.segment).glyphs]
                t, f, pr, c = match_boxes([b for line in composed.lines for _, b in line], boxes)
                found, truth, predicted, correct = found + f, truth + t, predicted + pr, correct + c
    return {"box_recall": found / max(1, truth), "box_precision": correct / max(1, predicted), "truth_glyphs": truth}


def speed(data, alphabet: int, loaded, config: TranscribeConfig, seed: int, lines: int, repeats: int = 3) -> dict:
    """Return glyphs per second transcribing one clean page (model and gallery ready), best and median of runs."""
    gallery, composed, _text = next(alphabet_pages(data, alphabet, np.random.default_rng([seed, alphabet]), 1, lines))
    recognizer = Recognizer(loaded, gallery)
    recognizer.refresh()
    image = composed.luminance()
    transcribe(image, recognizer, config)  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        page = transcribe(image, recognizer, config)
        rates.append(len(page.glyphs) / (time.perf_counter() - t0))
    return {"glyphs": len(page.glyphs), "glyphs_per_s_best": max(rates), "glyphs_per_s_median": float(np.median(rates))}


def describe(res: dict) -> str:
    lines = [f"isolated-glyph one-shot error of the same drawings: {100 * res['isolated_error']:.2f}% "
             f"({res['glyphs']} glyphs); each glyph at its page scale, alone: "
             f"{100 * res['isolated_page_scale_error']:.2f}%"]
    for c in ("clean", "scan-like"):
        if c in res:
            r = res[c]
            lines.append(f"{c:>9}: CER {100 * r['cer']:.2f}% (isolated + {100 * (r['cer'] - res['isolated_error']):.2f}"
                         f" points), box recall {100 * r['box_recall']:.2f}%, "
                         f"precision {100 * r['box_precision']:.2f}%,"
                         f" {r['glyphs_per_s']:.1f} glyphs/s")
    return "\n".join(lines)


# What --choose compares: the cut-out's context (with recognition, --split validation) and the segmentation rules
# (boxes alone, --split training --boxes-only: more alphabets, and no model involved).
CHOICES = {
    "default (context 1.3, gap 0.25)": {},
    "context tight": {"context": 0.0},
    "context 1.15": {"context": 1.15},
    "context 1.54": {"context": 1.54},
    "context 1.8": {"context": 1.8},
    "gap 0.12": {"gap_fraction": 0.12},
    "gap 0.2": {"gap_fraction": 0.2},
    "gap 0.35": {"gap_fraction": 0.35},
    "overlap 0.3": {"overlap_fraction": 0.3},
    "dot gap 0.7": {"dot_gap": 0.7},
    "minor 0.5": {"minor_fraction": 0.5},
    "max width 1.8": {"max_width": 1.8},
    "cut-out 38-91 px, redraw out-of-range widths": {"normalisation": Normalisation(extent=(38, 91), redraw=False)},
    "cut-out 58-91 px, redraw out-of-range widths": {"normalisation": Normalisation(extent=(58, 91), redraw=False)},
    "cut-out 38-91 px, always redraw": {"normalisation": Normalisation(extent=(38, 91), redraw=True)},
    "regroup off": {"regroup": RegroupConfig(enabled=False)},
    "page reference views off": {"reference_views": 0},
    "regroup gap 0.4": {"regroup": RegroupConfig(gap=0.4)},
    "regroup gap 0.9": {"regroup": RegroupConfig(gap=0.9)},
}


def config_for(change: dict) -> TranscribeConfig:
    seg_fields = set(SegmentConfig.__dataclass_fields__)
    seg = replace(SegmentConfig(), **{k: v for k, v in change.items() if k in seg_fields})
    return replace(TranscribeConfig(segment=seg), **{k: v for k, v in change.items() if k not in seg_fields})


def parse_setting(item: str) -> tuple[str, object]:
    """Return (field, value) of a FIELD=VALUE setting, the value typed like the field's default."""
    name, sep, text = item.partition("=")
    defaults = {**vars(SegmentConfig()), **{k: v for k, v in vars(TranscribeConfig()).items() if k != "segment"}}
    if not sep or name not in defaults:
        raise ValueError(f"{item!r}: give FIELD=VALUE with one of {', '.join(sorted(defaults))}")
    kind = type(defaults[name])
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{name} is true or false")
        return name, text.lower() == "true"
    return name, kind(text)


def main() -> int:
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("evaluation", "validation", "training"), default="evaluation",
                   help="training: the model's training alphabets, for --boxes-only sweeps of segmentation rules")
    p.add_argument("--boxes-only", action="store_true", help="segmentation alone: box recall and precision")
    p.add_argument("--speed", action="store_true", help="only time transcribing one page of 10 lines (first alphabet)")
    p.add_argument("--alphabets", nargs="+", metavar="NAME", help="only these alphabets of the split")
    p.add_argument("--pages", type=int, default=1, help="pages per alphabet (default 1)")
    p.add_argument("--lines", type=int, default=5, help="lines per page (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--conditions", nargs="+", choices=("clean", "scan-like"), default=["clean", "scan-like"])
    p.add_argument("--choose", action="store_true", help="sweep the rules' parameters (validation split only)")
    p.add_argument("--only", nargs="+", metavar="CHOICE", help="with --choose: only these choices (by name)")
    p.add_argument("--weights", default=None)
    p.add_argument("--data-dir", default=os.environ.get("OMNIGLOT_DIR"))
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--gaps", nargs=2, type=float, metavar=("LO", "HI"), default=None,
                   help="gaps between glyphs, x the line's glyph size (default 0.3 0.7; negative: touching glyphs)")
    p.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                   help="run with SegmentConfig/TranscribeConfig fields changed, e.g. split_touching=false")
    ARGS = p.parse_args()
    global LAYOUT
    if ARGS.gaps:
        LAYOUT = replace(PageLayout(), gap_range=tuple(ARGS.gaps))
    try:
        overrides = dict(parse_setting(item) for item in ARGS.set)
        config_for(overrides)
    except (ValueError, TypeError) as exc:
        p.error(f"--set: {exc}")
    if ARGS.choose and ARGS.split == "evaluation":
        p.error("--choose sweeps on background alphabets only: add --split validation (or training with --boxes-only)")
    loaded = load_weights(ARGS.weights)
    data = load_omniglot(ARGS.data_dir, with_evaluation=ARGS.split == "evaluation")
    if ARGS.split != "evaluation":
        split = split_background(data.background, validation_split_of(loaded.card))
        dataset = data.background
        names = split.val_alphabets if ARGS.split == "validation" else split.train_alphabets
    else:
        dataset, names = data.evaluation, list(data.evaluation.alphabets)
    if ARGS.alphabets:
        unknown = sorted(set(ARGS.alphabets) - set(names))
        if unknown:
            p.error(f"--alphabets: not in the {ARGS.split} split: {', '.join(unknown)}")
        names = [n for n in names if n in ARGS.alphabets]
    alphabets = [dataset.alphabets.index(n) for n in names]
    load = os.getloadavg()[0]
    log(f"{ARGS.split} alphabets ({len(alphabets)}): {', '.join(names)}; {ARGS.pages} page(s) of {ARGS.lines} lines "
        f"each; load average {load:.1f} on {os.cpu_count()} CPUs")
    results = {}
    if ARGS.speed:
        res = speed(dataset, alphabets[0], loaded, TranscribeConfig(), ARGS.seed, 10)
        log(f"{res['glyphs']} glyphs: {res['glyphs_per_s_median']:.1f} glyphs/s (median of 3; best "
            f"{res['glyphs_per_s_best']:.1f}); load average {os.getloadavg()[0]:.1f}")
        results["speed"] = res
    choices = {k: v for k, v in CHOICES.items() if not ARGS.only or k in ARGS.only}
    if ARGS.only and len(choices) != len(set(ARGS.only)):
        p.error(f"--only: unknown choice; known: {'; '.join(CHOICES)}")
    runs = choices.items() if ARGS.choose else [] if ARGS.speed else [("default", {})]
    for label, change in ((label, {**change, **overrides}) for label, change in runs):
        log(f"== {label} {change or ''}")
        if ARGS.boxes_only:
            res = boxes_only(dataset, alphabets, config_for(change), ARGS.seed, ARGS.pages, ARGS.lines)
            log(f"box recall {100 * res['box_recall']:.2f}%, precision {100 * res['box_precision']:.2f}% "
                f"({res['truth_glyphs']} glyphs, clean and scan-like)")
        else:
            res = run_split(dataset, alphabets, loaded, config_for(change), ARGS.seed, ARGS.pages, ARGS.lines,
                            tuple(ARGS.conditions))
            log(describe(res))
        results[label] = res
    if ARGS.json:
        print(json.dumps({"split": ARGS.split, "gaps": list(LAYOUT.gap_range), "settings": ARGS.set,
                          "alphabets": names, "pages_per_alphabet": ARGS.pages,
                          "lines_per_page": ARGS.lines, "load_average": load, "cpus": os.cpu_count(),
                          "results": results}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
