"""Config dataclasses as JSON-ready data and back, and reading or replacing one field by its dotted path.

`from_data` rebuilds nested dataclasses (and optional ones) from dicts by their type hints, turns lists back into
tuples where a tuple is declared, ignores keys it does not know and leaves missing ones at their defaults, so a
new field needs no code here: old files load with the new field's default.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")


def from_data(cls: type[T], data: dict) -> T:
    """Return a `cls` dataclass built from `data` (as `dataclasses.asdict` writes it); unknown keys are ignored."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _convert(hints[f.name], data[f.name]) for f in fields(cls) if f.init and f.name in data})


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        for option in options:
            if (is_dataclass(option) and isinstance(value, dict)) or _is_tuple(option):
                return _convert(option, value)
        return value
    if is_dataclass(hint) and isinstance(value, dict):
        return from_data(hint, value)
    if _is_tuple(hint) and isinstance(value, (list, tuple)):
        return tuple(value)
    return value


def _is_tuple(hint: Any) -> bool:
    return hint is tuple or typing.get_origin(hint) is tuple


def get_path(obj: Any, path: str) -> Any:
    """Return the value at a dotted attribute path, e.g. "batch.alphabets"."""
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def replace_path(obj: T, path: str, value: Any) -> T:
    """Return a copy of dataclass `obj` with the field at dotted `path` replaced (nested dataclasses are copied)."""
    head, _, rest = path.partition(".")
    if not rest:
        return replace(obj, **{head: value})
    return replace(obj, **{head: replace_path(getattr(obj, head), rest, value)})
