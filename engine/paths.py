"""Where Glyphs keeps things: user data, caches and the shipped resources."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Glyphs"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = REPO_ROOT / "resources"
SHIPPED_WEIGHTS = RESOURCES / "models" / "glyphs-default.safetensors"
# The full-resolution (105 px) model the 88 px models were distilled from: the default teacher of `engine distill`.
SHIPPED_TEACHER = RESOURCES / "models" / "glyphs-compact-v1.safetensors"
# v1 distilled to 88 px, with the paper's signed head: the shipped model's starting point (its card says how).
SHIPPED_V2 = RESOURCES / "models" / "glyphs-compact-v2.safetensors"


def user_data_dir() -> Path:
    """Return the per-user data folder (overridable with GLYPHS_DATA_HOME, e.g. for tests)."""
    override = os.environ.get("GLYPHS_DATA_HOME")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """Return the per-user cache folder (overridable with GLYPHS_CACHE_HOME)."""
    override = os.environ.get("GLYPHS_CACHE_HOME")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
