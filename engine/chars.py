"""Naming Unicode characters for people (light: the app imports it on the UI thread)."""

from __future__ import annotations

import unicodedata


def describe_char(char: str) -> str:
    """Return "U+0416 CYRILLIC SMALL LETTER ZHE" (code point and Unicode name; the name left out when none)."""
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".strip()


__all__ = ["describe_char"]
