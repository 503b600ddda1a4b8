"""A guard against PySide6 6.12.0's reference leak on Python < 3.12 (see guard_pyside_refcounts).

pyproject.toml excludes that release on those Pythons; this covers installs made by other means.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def guard_pyside_refcounts() -> bool:
    """Work around a PySide6 6.12 reference leak on Python < 3.12; return True if the guard was applied.

    That release returns None from every void Qt call and True from every Signal.emit() without taking a
    reference. Python 3.12+ never frees these singletons (they are immortal), but on 3.10/3.11 each call drops
    one reference, and the interpreter aborts ("deallocating None") after some tens of thousands of calls:
    minutes of a live training display. The leak is measured, not assumed from version numbers; where present,
    the three singletons get a reference count that no run can exhaust, which is what 3.12 does natively.
    Idempotent and cheap; call it once at startup, before the UI runs.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(8):
        probe.setObjectName("probe")  # a void call
    if before - sys.getrefcount(None) < 8:
        return False  # a fixed PySide6: nothing to do
    import ctypes

    for singleton in (None, True, False):
        if sys.getrefcount(singleton) < 1 << 40:
            ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 48
    return True
