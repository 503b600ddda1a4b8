"""Progress bars for long work on the command line (tqdm: rate and ETA included)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


def bar(total: int, desc: str, unit: str = "it", quiet: bool = False) -> tqdm:
    """Return a tqdm bar on stderr; disabled when `quiet`."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=quiet, dynamic_ncols=True,
                smoothing=0.1)


def callback_for(bar_: tqdm):
    """Return a `progress(done, total)` callback that moves `bar_`."""
    def progress(done: int, total: int, *_text) -> None:
        bar_.total = total
        bar_.n = done
        bar_.refresh()
    return progress


@contextmanager
def lazy_bar(desc: str, unit: str = "it", quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """Yield a `progress(done, total)` callback whose bar appears at its first call, and close the bar after.

    Work that fails before it starts (a bad argument, a folder in the way) prints only its error, no empty bar."""
    shown: list[tqdm] = []

    def progress(done: int, total: int, *_text) -> None:
        if not shown:
            shown.append(bar(total, desc, unit, quiet))
        callback_for(shown[0])(done, total)

    try:
        yield progress
    finally:
        for b in shown:
            b.close()
