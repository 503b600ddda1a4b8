"""Glyphs desktop app (PySide6): draw a character, see it ranked, enrol new characters and alphabets.

Widgets and the threads that call the engine live here; no model maths. Nothing in this package imports
torch at import time: the engine's heavy modules are imported inside worker threads, so the window shows
at once and "Loading model…" is visible while torch starts.
"""

from .pyside_guard import guard_pyside_refcounts

guard_pyside_refcounts()  # before any widget exists: see pyside_guard.py
