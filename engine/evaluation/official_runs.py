"""Lake et al.'s official one-shot runs (`all_runs.zip`): read from the zip, in memory, or from its extracted folder.

What the runs are, checked against the files themselves (each of their 800 images is an image of the evaluation
set): 20 runs, two from each of 10 of the 20 evaluation alphabets (Atlantean, Ge'ez, Glagolitic, Gurmukhi,
Kannada, Malayalam, Manipuri, Old Church Slavonic, Tengwar, Tibetan). A run is one 20-way 1-shot within-alphabet
task: 20 characters of its alphabet, one reference each by one drawer (`runNN/training/classNN.png`) and one test
item each by another drawer (`runNN/test/itemNN.png`); `runNN/class_labels.txt` pairs each test item with its
class. All the drawers are among drawers 1-8 of the 20. 400 trials in all: the protocol behind the published
figures (people 95.5%, BPL 96.7%, Lake et al. 2015; Koch et al. 2015 report 92.0% on trials built this way).

Nothing is extracted: a zip is read in memory, member by member, within size bounds, and a run can only name
files inside its own folder, so no path in the archive or in a labels file reaches anything else.
"""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.locate import RUNS_STEM, find_runs
from ..glyph import GLYPH_SIZE, GlyphError, open_image

LABELS_FILE = "class_labels.txt"
# sha256 of the 20 labels files, normalised (run name, then one "TEST CLASS" line per item): it identifies Lake's
# runs whatever the zip bytes (repacked or extracted copies), so published numbers go beside those runs only.
OFFICIAL_LABELS_SHA256 = "3d61429907f339c1c7d4e2aa950323b3ed44f65ba2727c63410fb0c1cfbae3c8"
MAX_MEMBERS = 20_000  # Lake's zip holds 880
MAX_FILE_BYTES = 4 << 20  # one image or labels file (Lake's are under 1 KB)
MAX_TOTAL_BYTES = 256 << 20  # all that is read from one source
MAX_IMAGE_SIDE = 4096

PROTOCOL = ("Lake's 20 official one-shot runs: 20-way 1-shot within alphabet, 20 characters a run, two runs from "
            "each of 10 evaluation alphabets, reference and test drawers fixed by the runs (400 trials)")
SEEDED_PROTOCOL_NOTE = ("Seeded tasks are a different, harder protocol: random characters and random drawer pairs "
                        "(from all 20 drawers) over all 20 evaluation alphabets. Published figures were measured "
                        "on Lake's 20 official runs: compare them with a result on those runs.")


class RunsError(ValueError):
    """The runs are there but cannot be read: a damaged zip, a bad labels file, an unreadable image."""


class RunsImageError(RunsError, GlyphError):
    """An image of the runs cannot be read (refused or damaged): both a runs error and a glyph error."""


class RunsMissing(FileNotFoundError):
    """No runs where they were looked for."""


@dataclass
class OfficialRun:
    """One run: references (n_classes, 105, 105) and test glyphs (n_items, 105, 105) as float32 with 1 = ink;
    `answers[i]` is the index in `class_names` of test item i's class."""

    name: str
    class_names: list[str]
    test_names: list[str]
    references: np.ndarray
    tests: np.ndarray
    answers: np.ndarray


@dataclass
class RunsSet:
    """The runs read from `source`; `official` is True when their labels are Lake's (whatever the zip bytes)."""

    source: Path
    runs: list[OfficialRun]
    official: bool


@dataclass
class RunResult:
    """Error rate of one run (e.g. run01): fraction of its test items misclassified; `wrong` holds
    (test item, chosen class, right class) indices of each misclassified item."""

    name: str
    error: float
    n_items: int
    wrong: list[tuple[int, int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, run: OfficialRun, chosen: np.ndarray) -> RunResult:
        """Return the result of `run` when its test items were classified as `chosen` (class indices)."""
        wrong = [(int(i), int(chosen[i]), int(run.answers[i])) for i in np.flatnonzero(chosen != run.answers)]
        return cls(run.name, len(wrong) / len(run.answers), len(run.answers), wrong)


@dataclass
class RunsSummary:
    """Accuracy over all test items with a 95% interval (binomial, over trials), and each run's error."""

    accuracy: float
    ci95: float
    n_trials: int
    runs: list[RunResult]
    official: bool
    source: str
    way: int | None = None  # classes a run (None if the runs differ)

    @classmethod
    def of(cls, results: list[RunResult], runs: RunsSet) -> RunsSummary:
        """Return the summary of `results`, one per run of `runs`."""
        n = sum(r.n_items for r in results)
        hits = sum(r.n_items - round(r.error * r.n_items) for r in results)
        acc = hits / n if n else float("nan")
        ci = 1.96 * math.sqrt(acc * (1 - acc) / n) if n else float("nan")
        ways = {len(run.class_names) for run in runs.runs}
        return cls(acc, ci, n, results, runs.official, str(runs.source), ways.pop() if len(ways) == 1 else None)

    @property
    def mean_error(self) -> float:
        """Return the mean of the runs' error rates (Lake's figure of merit)."""
        return sum(r.error for r in self.runs) / len(self.runs) if self.runs else float("nan")

    def to_dict(self) -> dict:
        """Return a JSON-ready summary saying what was measured."""
        return {"protocol": "official_runs" if self.official else "runs_format", "official": self.official,
                "source": self.source, "accuracy": self.accuracy, "ci95": self.ci95,
                "ci95_method": "binomial over trials", "n_trials": self.n_trials, "n_runs": len(self.runs),
                "mean_error": self.mean_error, "way": self.way, "shot": 1,
                "runs": {r.name: r.error for r in self.runs}}


# --- finding and reading ------------------------------------------------------------------------------------------


def resolve_runs_source(path: str | Path) -> Path:
    """Return the runs at `path`: a zip, a folder of runNN/ folders, or a folder holding `all_runs.zip` or
    `all_runs/` (such as the Omniglot folder). Raises RunsMissing saying how to get them."""
    path = Path(path).expanduser()
    if not path.exists():
        raise RunsMissing(f"{path}: no such file or folder. Give Lake's {RUNS_STEM}.zip, its extracted folder, or "
                          f"the Omniglot folder holding either (`python -m engine data download` fetches it).")
    if path.is_file():
        return path
    if path.is_dir():
        if _run_dirs(path):
            return path
        found = find_runs(path)
        if found is not None:
            return found
    raise RunsMissing(f"No runNN/{LABELS_FILE} found in {path}: give Lake's {RUNS_STEM}.zip, its extracted folder, "
                      f"or the Omniglot folder holding either (`python -m engine data download` fetches it).")


def read_runs(path: str | Path) -> RunsSet:
    """Return every run at `path` (see resolve_runs_source), in name order, with its glyphs decoded."""
    source = resolve_runs_source(path)
    files = _zip_files(source) if source.is_file() else _folder_files(source)
    labels = sorted((k for k in files if k.endswith(f"/{LABELS_FILE}") and k.count("/") == 1), key=_natural_key)
    if not labels:
        raise RunsMissing(f"No runNN/{LABELS_FILE} found in {source}.")
    digest = hashlib.sha256()
    runs = []
    for key in labels:
        run, pairs = _read_labels(files, key, source)
        digest.update((run + "\n" + "".join(f"{t} {c}\n" for t, c in pairs)).encode())
        runs.append(_read_run(files, run, pairs, source))
    return RunsSet(source, runs, digest.hexdigest() == OFFICIAL_LABELS_SHA256)


def _run_dirs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir() and (p / LABELS_FILE).is_file()]


def _folder_files(folder: Path) -> dict[str, Path]:
    """Return {run-relative posix path: file} for the files inside each run folder (nothing outside them)."""
    files: dict[str, Path] = {}
    for run in _run_dirs(folder):
        for path in run.rglob("*"):
            if path.is_file():
                files[path.relative_to(folder).as_posix()] = path
                if len(files) > MAX_MEMBERS:
                    raise RunsError(f"{folder} holds more than {MAX_MEMBERS:,} files in its run folders.")
    return files


def _zip_files(source: Path) -> dict[str, bytes]:
    """Return {run-relative posix path: bytes} of the zip's files under its runs folder, read within bounds."""
    try:
        with zipfile.ZipFile(source) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > MAX_MEMBERS:
                raise RunsError(f"{source} holds {len(infos):,} files; runs hold fewer than {MAX_MEMBERS:,}.")
            prefix = _runs_prefix(source, [i.filename for i in infos])
            files: dict[str, bytes] = {}
            total = 0
            for info in infos:
                name = info.filename
                if not name.startswith(prefix) or not _safe(name[len(prefix):]):
                    continue
                with zf.open(info) as member:
                    data = member.read(MAX_FILE_BYTES + 1)
                total += len(data)
                if len(data) > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                    raise RunsError(f"{source}: {name} is too large for a one-shot runs file.")
                files[name[len(prefix):]] = data
            return files
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise RunsError(f"{source} is not a readable zip archive ({exc}); it may be truncated: download it "
                        f"again (`python -m engine data download`).") from exc


def _runs_prefix(source: Path, names: list[str]) -> str:
    """Return the folder inside the zip that holds the runNN/ folders ("" or e.g. "all_runs/")."""
    prefixes = {n[:-len(LABELS_FILE)].rstrip("/").rpartition("/")[0] for n in names
                if n.endswith(f"/{LABELS_FILE}") and _safe(n)}
    if not prefixes:
        raise RunsMissing(f"No runNN/{LABELS_FILE} found in {source}: is it Lake's {RUNS_STEM}.zip?")
    if len(prefixes) > 1:
        raise RunsError(f"{source} holds runs in more than one folder ({', '.join(sorted(prefixes))}).")
    prefix = prefixes.pop()
    return f"{prefix}/" if prefix else ""


def _safe(name: str) -> bool:
    parts = name.split("/")
    return not name.startswith("/") and "\\" not in name and ".." not in parts and "" not in parts[:-1]


def _read_labels(files: dict, key: str, source: Path) -> tuple[str, list[tuple[str, str]]]:
    run = key.split("/")[0]
    try:
        text = _bytes(files[key]).decode("utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        raise RunsError(f"{source}: {key} is not a text file ({exc}).") from exc
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 2 or not all(t.startswith(f"{run}/") and _safe(t) for t in tokens):
            raise RunsError(f"{source}: {key} line {number} should read '{run}/test/ITEM.png "
                            f"{run}/training/CLASS.png', not {line.strip()[:80]!r}.")
        pairs.append((tokens[0], tokens[1]))
    if not pairs:
        raise RunsError(f"{source}: {key} lists no test items.")
    return run, pairs


def _read_run(files: dict, run: str, pairs: list[tuple[str, str]], source: Path) -> OfficialRun:
    classes = sorted((k for k in files if k.startswith(f"{run}/training/") and k.lower().endswith(".png")),
                     key=_natural_key)
    index = {c: i for i, c in enumerate(classes)}
    for test, cls in pairs:
        if cls not in index:
            raise RunsError(f"{source}: {run}/{LABELS_FILE} names {cls}, which is not among {run}/training/*.png.")
        if test not in files:
            raise RunsError(f"{source}: {run}/{LABELS_FILE} names {test}, which is missing.")
    references = np.stack([decode_glyph(files[c], f"{source}:{c}") for c in classes])
    tests = np.stack([decode_glyph(files[t], f"{source}:{t}") for t, _ in pairs])
    answers = np.array([index[c] for _, c in pairs])
    return OfficialRun(run, classes, [t for t, _ in pairs], references, tests, answers)


def decode_glyph(payload: bytes | Path, label: str) -> np.ndarray:
    """Return an image (bytes or a file) as a 105x105 float32 glyph with 1 = ink, not re-framed: resized, and
    inverted when its background is dark. Raises RunsError naming `label` when it cannot be read."""
    try:
        img = open_image(payload, label, max_pixels=MAX_IMAGE_SIDE ** 2)
        small = img.convert("L").resize((GLYPH_SIZE, GLYPH_SIZE), Image.Resampling.BILINEAR)
        gray = np.asarray(small, dtype=np.float32) / 255
    except (OSError, ValueError) as exc:  # GlyphError is a ValueError
        raise RunsImageError(f"Cannot read image {label}: {exc}") from exc
    return 1.0 - gray if np.median(gray) > 0.5 else gray


def _bytes(payload: bytes | Path) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if payload.stat().st_size > MAX_FILE_BYTES:
        raise OSError(f"{payload} is larger than {MAX_FILE_BYTES >> 20} MB")
    return payload.read_bytes()


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
