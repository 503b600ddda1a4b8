"""Progress bars for long work on the command line (tqdm: rate and ETA included)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int, desc: str, unit: str = "it", quiet: bool = False) -> tqdm:
    """Return a tqdm bar on stderr; disabled when `quiet`."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=quiet, dynamic_ncols=True,
                smoothing=0.1)


def callback_for(bar_: tqdm):
    """Return a `progress(done, total)` callback that moves `bar_`."""
    def progress(done: int, total: int) -> None:
        bar_.total = total
        bar_.n = done
        bar_.refresh()
    return progress
