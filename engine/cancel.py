"""The one exception for work the user cancelled (no torch here: the app checks for it before torch is loaded)."""

from __future__ import annotations


class Cancelled(RuntimeError):
    """Long work was cancelled by the user."""
