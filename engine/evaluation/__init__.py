"""Evaluation: one-shot accuracy of a model, never used to train it.

`evaluate` draws seeded N-way k-shot tasks (the evaluation alphabets, or a model's validation alphabets for
model selection) and scores them through the recognition pipeline; `official_runs` reads Lake's 20 official
one-shot runs (all_runs.zip), the protocol of the published figures."""

from __future__ import annotations

import importlib

# Public names, each from its module; imported on first use so that importing the package stays cheap.
_HOMES = {
    "PUBLISHED": "evaluate",
    "OneShotConfig": "evaluate",
    "OneShotResult": "evaluate",
    "evaluate_one_shot": "evaluate",
    "evaluate_runs": "evaluate",
    "validate_one_shot": "evaluate",
    "RunsError": "official_runs",
    "RunsSet": "official_runs",
    "RunsSummary": "official_runs",
    "read_runs": "official_runs",
    "resolve_runs_source": "official_runs",
}


def __getattr__(name: str):
    """Return the public name `name` from the module that defines it."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = sorted(_HOMES)
