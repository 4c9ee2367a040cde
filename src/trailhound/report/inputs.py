"""Alerts a report can be drawn from without scanning: a file that `trailhound scan -o` or
`trailhound alerts list --format jsonl` wrote, or the state file's ledger.

Bad input stops with an `InputError` that names the file and the line, never half a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from trailhound.errors import InputError, StateError
from trailhound.state.ledger import stored
from trailhound.state.store import Store


def alerts_from_file(path: Path) -> list[dict[str, Any]]:
    """The alerts in a JSON-lines file (one alert a line, or one `alerts list` entry a line)
    or in a JSON array (`scan --format json`)."""
    try:
        text = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read it: {err.strerror or err}", where=str(path)) from None
    if text.lstrip()[:1] == b"[":
        return _whole_array(text, path)
    alerts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            raise InputError(f"not JSON: {err.msg}", where=str(path), line=number,
                             column=err.colno) from None  # fmt: skip
        alerts.append(_alert(value, path, number))
    return alerts


def alerts_from_state(
    path: Path, *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Every alert the state's ledger holds whose time is in [since, until)."""
    if not path.is_file():
        raise StateError("no state file here", where=str(path))
    store = Store.open(path)
    try:
        found = stored(store, since=_us(since), until=_us(until))
    finally:
        store.close()
    return [item.alert for item in found]


def _whole_array(text: bytes, path: Path) -> list[dict[str, Any]]:
    try:
        values = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise InputError(f"not JSON: {err.msg}", where=str(path), line=err.lineno,
                         column=err.colno) from None  # fmt: skip
    # a JSON array gives no line per alert: the position in the array stands in for it
    return [_alert(value, path, None, n) for n, value in enumerate(values, start=1)]


def _alert(value: Any, path: Path, line: int | None, position: int | None = None) -> dict[str, Any]:
    if isinstance(value, dict) and isinstance(value.get("alert"), dict) and "rule" not in value:
        value = value["alert"]  # an `alerts list` entry: the alert and its delivery state
    where = f"item {position}: " if position is not None else ""
    if not isinstance(value, dict):
        raise InputError(f"{where}not an alert: expected a JSON object", where=str(path),
                         line=line)  # fmt: skip
    if "eventName" in value or "Records" in value:
        raise InputError(
            f"{where}this is CloudTrail, not alerts: `trailhound scan {path} --report FILE` "
            "makes a report from CloudTrail",
            where=str(path),
            line=line,
        )
    missing = [k for k in ("id", "@timestamp", "rule") if k not in value]
    if missing or not isinstance(value.get("rule"), Mapping):
        what = ", ".join(missing) if missing else "rule as an object"
        raise InputError(f"{where}not an alert: it lacks {what}", where=str(path), line=line)
    return value


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1_000_000)
