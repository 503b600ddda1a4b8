"""Finding the Omniglot files: explicit folder > $OMNIGLOT_DIR > the per-user data folder; downloading them."""

from __future__ import annotations

import hashlib
import os
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_path
from ..paths import user_data_dir

ENV_VAR = "OMNIGLOT_DIR"
SET_NAMES = ("background", "evaluation")
RUNS_STEM = "all_runs"  # Lake's official one-shot runs: all_runs.zip, or the extracted all_runs/ folder
RUNS_PATH = "one-shot-classification/all_runs.zip"  # inside the upstream repository's python/ folder
RUNS_MD5 = "e8996daecdf12afeeb4a53a179f06b19"  # of the upstream file; checked on download only


class DatasetMissing(FileNotFoundError):
    """The Omniglot files are not where they were looked for."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the folder to look in: the explicit argument, else $OMNIGLOT_DIR, else the user data folder."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return user_data_dir() / "omniglot"


def find_sources(data_dir: str | os.PathLike | None = None, sets: tuple[str, ...] = SET_NAMES) -> dict[str, Path]:
    """Return {set name: archive or folder} for each requested set, or raise DatasetMissing saying what to put where.

    For each set, `images_<set>.zip` or an extracted `images_<set>/` folder is accepted; the folder may also be
    the set folder itself. Local archives are not checksummed (repacked copies are fine).
    """
    root = resolve_data_dir(data_dir)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in sets:
        source = _find_one(root, name)
        if source is None:
            missing.append(name)
        else:
            found[name] = source
    if missing:
        wanted = ", ".join(f"images_{m}.zip (or the extracted images_{m}/ folder)" for m in missing)
        raise DatasetMissing(
            f"Omniglot not found in {root}: missing {wanted}. Download it with "
            f"`python -m engine data download --data-dir {root}`, or put the official archives from "
            f"https://github.com/brendenlake/omniglot (python/ folder) there, or point --data-dir or "
            f"${ENV_VAR} at the folder that holds them."
        )
    return found


def find_runs(data_dir: str | os.PathLike | None = None) -> Path | None:
    """Return Lake's official one-shot runs in the Omniglot folder (`all_runs.zip` or an extracted `all_runs/`
    folder, beside the image archives), or None when they are not there. Local copies are not checksummed."""
    return _find_file(resolve_data_dir(data_dir), RUNS_STEM)


def _find_one(root: Path, name: str) -> Path | None:
    return _find_file(root, f"images_{name}")


def _find_file(root: Path, stem: str) -> Path | None:
    if root.name == stem and root.is_dir():
        return root
    for candidate in (root / f"{stem}.zip", root / stem, root / "omniglot" / f"{stem}.zip", root / "omniglot" / stem):
        if candidate.is_file() and candidate.suffix == ".zip":
            return candidate
        if candidate.is_dir():
            return candidate
    return None


def official_archives() -> dict[str, tuple[str, str]]:
    """Return {set name: (url, md5)} of the official Omniglot archives, as torchvision knows them."""
    from torchvision.datasets import Omniglot as TVOmniglot  # slow import: only when downloading

    prefix = TVOmniglot.download_url_prefix
    return {n: (f"{prefix}/images_{n}.zip", TVOmniglot.zips_md5[f"images_{n}"]) for n in SET_NAMES}


def official_runs_archive() -> tuple[str, str]:
    """Return (url, md5) of Lake's official one-shot runs, from the same repository as the image archives."""
    from torchvision.datasets import Omniglot as TVOmniglot  # slow import: only when downloading

    return f"{TVOmniglot.download_url_prefix}/{RUNS_PATH}", RUNS_MD5


class DownloadCancelled(RuntimeError):
    """The user cancelled a download; nothing was kept."""


ProgressFn = Callable[[str, int, int], None]


def download_omniglot(
    data_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 10.0,
) -> dict[str, Path]:
    """Download the official archives that are missing, checking their md5; return {set name: archive path},
    with "runs" for Lake's official one-shot runs (`all_runs.zip`), fetched after the image archives.

    `progress(file_name, bytes_done, bytes_total)` is called as data arrives; setting `cancel` stops the download
    and keeps nothing. A network failure raises OSError with a readable message within about `timeout` seconds.
    """
    root = resolve_data_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    result: dict[str, Path] = {}
    for name, (url, md5) in official_archives().items():
        existing = _find_one(root, name)
        if existing is not None:
            result[name] = existing
            continue
        target = root / f"images_{name}.zip"
        _download_file(url, md5, target, progress, cancel, timeout)
        result[name] = target
    runs = _find_file(root, RUNS_STEM)
    if runs is None:
        url, md5 = official_runs_archive()
        runs = root / f"{RUNS_STEM}.zip"
        _download_file(url, md5, runs, progress, cancel, timeout)
    result["runs"] = runs
    return result


def _download_file(url: str, md5: str, target: Path, progress: ProgressFn | None,
                   cancel: threading.Event | None, timeout: float) -> None:
    digest = hashlib.md5()
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except OSError as exc:
        raise OSError(f"Could not download {url}: {exc}. Are you online? You can also copy the archive to {target}.") from exc
    total = int(response.headers.get("Content-Length") or 0)
    done = 0
    with response, atomic_path(target) as tmp, open(tmp, "wb") as out:
        while chunk := response.read(1 << 16):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled(f"Download of {target.name} cancelled")
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(target.name, done, total)
        out.flush()
        if digest.hexdigest() != md5:
            raise OSError(f"{url} arrived damaged (md5 {digest.hexdigest()}, expected {md5}); nothing was kept.")
