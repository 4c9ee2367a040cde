"""The member columns a skimmer (`trailhound.cloudtrail.skim`) gives, by their definition: the
value at each path of `json.loads` of each record, None where a member on the way is absent or
null. None for records a skimmer refuses over these paths: a path's value that is not a string
or null, a member on the way that is not an object or null."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

_REFUSED = object()


def path_columns(records: Sequence[bytes], paths: Sequence[str]) -> dict[str, pa.Array] | None:
    values = [json.loads(record) for record in records]
    columns: dict[str, pa.Array] = {}
    for path in paths:
        found = [_at(value, path.split(".")) for value in values]
        if any(v is _REFUSED for v in found):
            return None
        columns[path] = pa.array(found, type=pa.string())
    return columns


def accepted(record: bytes, paths: Sequence[str]) -> bool:
    """Whether a skimmer over these paths takes the record."""
    return path_columns([record], paths) is not None


def _at(value: Any, names: list[str]) -> Any:
    for name in names:
        if value is None:
            return None
        if not isinstance(value, dict):
            return _REFUSED
        value = value.get(name)
    return value if value is None or isinstance(value, str) else _REFUSED
