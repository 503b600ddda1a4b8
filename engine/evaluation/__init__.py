"""Evaluation: one-shot accuracy of a model, never used to train it.

`evaluate` draws seeded N-way k-shot tasks (the evaluation alphabets, or a model's validation alphabets for
model selection) and scores them through the recognition pipeline; `official_runs` reads Lake's 20 official
one-shot runs (all_runs.zip), the protocol of the published figures."""

from __future__ import annotations

from ..lazy import lazy_exports

# Public names, each from its module (imported on first use).
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


__getattr__, __all__ = lazy_exports(__name__, _HOMES)
