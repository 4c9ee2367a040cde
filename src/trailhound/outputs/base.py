"""Where alerts go: the output seam.

An output delivers alerts that the state's outbox holds for it. Alerts reach it as the JSON
objects the ledger stored (`Alert.to_dict()`), never as live objects: an alert left pending by
an earlier run is delivered exactly like a new one. An output reports each alert as soon as its
fate is known, and says "delivered" only once the alert is safe at the destination (a file
flushed and fsynced, an HTTP 2xx); everything else stays pending for the next run.

Each type is one module with a `build(name, options)` function, named by one line of
`TYPES` below; it is imported only when a configuration uses it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from trailhound.errors import ConfigError
from trailhound.escaping import json_bytes

SEVERITIES = ("low", "medium", "high", "critical")

# type name -> "module:function" building it from a name and its options
TYPES: dict[str, str] = {
    "stdout": "trailhound.outputs.stream:build",
    "jsonl": "trailhound.outputs.files:build_jsonl",
    "json": "trailhound.outputs.files:build_json",
    "slack": "trailhound.outputs.slack:build",
    "pagerduty": "trailhound.outputs.pagerduty:build",
    "webhook": "trailhound.outputs.webhook:build",
}


class Pending:
    """An alert waiting in the outbox for one output: its `alert` (as `Alert.to_dict()` made
    it) or its JSON `text` as the ledger stored it, each made from the other only when asked
    for. Outputs that write JSON write the text as it is; parsing thousands of alerts with
    their evidence only to serialize them again cost as much as the rest of delivering."""

    __slots__ = ("_alert", "_text", "alert_id", "attempts")

    def __init__(
        self,
        alert_id: str,
        alert: Mapping[str, Any] | None = None,
        attempts: int = 0,  # deliveries tried by earlier runs
        *,
        text: bytes | None = None,
    ) -> None:
        if alert is None and text is None:
            raise TypeError("Pending needs the alert or its JSON text")
        self.alert_id = alert_id
        self.attempts = attempts
        self._alert = alert
        self._text = text

    @property
    def alert(self) -> Mapping[str, Any]:
        if self._alert is None:
            assert self._text is not None
            self._alert = orjson.loads(self._text)
        return self._alert

    @property
    def text(self) -> bytes:
        """The alert as compact JSON, safe to show (`trailhound.escaping.json_bytes`)."""
        if self._text is None:
            assert self._alert is not None
            self._text = json_bytes(self._alert)
        return self._text

    def __repr__(self) -> str:
        return f"Pending({self.alert_id!r}, attempts={self.attempts})"


# Called once per alert as soon as its fate is known: None when delivered, else the reason it
# stays pending (a short text safe to show; never a secret). Safe to call from any thread.
Report = Callable[[str, str | None], None]


class Output(Protocol):
    """A destination. `deliver` may block (network, retries) but must return by itself."""

    @property
    def name(self) -> str:
        """Its name in the configuration, which is also its key in the outbox."""
        ...

    def wants(self, alert: Mapping[str, Any]) -> bool:
        """Whether this alert is for this output at all (e.g. its minimum severity)."""
        ...

    def deliver(self, pending: Sequence[Pending], report: Report) -> None: ...


def build_output(name: str, options: Mapping[str, Any]) -> Output:
    """The output `name` of type `options["type"]`; a bad option raises ConfigError whose
    `where` is the dotted option (`outputs.NAME.KEY`)."""
    kind = options.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        known = ", ".join(sorted(TYPES))
        raise ConfigError(f"unknown output type {kind!r} (known: {known})",
                          where=f"outputs.{name}.type")  # fmt: skip
    module_name, function = TYPES[kind].split(":")
    factory = getattr(importlib.import_module(module_name), function)
    output: Output = factory(name, options)
    return output


def min_severity(name: str, options: Mapping[str, Any]) -> int:
    """The rank (index into SEVERITIES) of the option `min_severity`; 0 when absent."""
    value = options.get("min_severity", "low")
    if value not in SEVERITIES:
        raise ConfigError(f"min_severity must be one of {', '.join(SEVERITIES)}",
                          where=f"outputs.{name}.min_severity")  # fmt: skip
    return SEVERITIES.index(value)


def severity_rank(alert: Mapping[str, Any]) -> int:
    severity = alert.get("rule", {}).get("severity")
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def secret(name: str, options: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    """A secret option given as `KEY` (inline), `KEY_env` (an environment variable's name) or
    `KEY_file` (a file holding it). Error messages name the option, never the value."""
    where = f"outputs.{name}.{key}"
    given = [k for k in (key, f"{key}_env", f"{key}_file") if k in options]
    if len(given) > 1:
        raise ConfigError(f"give only one of {', '.join(given)}", where=where)
    if not given:
        if required:
            raise ConfigError(f"missing: set {key}_env (or {key}_file, or {key})", where=where)
        return None
    (chosen,) = given
    value = options[chosen]
    if not isinstance(value, str) or not value:
        raise ConfigError("must be a non-empty string", where=f"outputs.{name}.{chosen}")
    if chosen.endswith("_env"):
        found = os.environ.get(value)
        if not found:
            raise ConfigError(f"environment variable {value} is not set or empty",
                              where=f"outputs.{name}.{chosen}")  # fmt: skip
        return found
    if chosen.endswith("_file"):
        try:
            text = Path(value).expanduser().read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(f"cannot read the file: {err.strerror}",
                              where=f"outputs.{name}.{chosen}") from None  # fmt: skip
        if not text:
            raise ConfigError("the file is empty", where=f"outputs.{name}.{chosen}")
        return text
    return value
