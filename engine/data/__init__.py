"""Omniglot: finding, reading, caching and splitting the dataset."""

from .locate import DatasetMissing, ENV_VAR, download_omniglot, find_runs, find_sources, resolve_data_dir
from .omniglot import DataError, Omniglot, OmniglotSet, load_omniglot, load_set
from .splits import Split, SplitConfig, split_background, validation_split_of

__all__ = [
    "DataError", "DatasetMissing", "ENV_VAR", "Omniglot", "OmniglotSet", "Split", "SplitConfig",
    "download_omniglot", "find_runs", "find_sources", "load_omniglot", "load_set", "resolve_data_dir",
    "split_background", "validation_split_of",
]
