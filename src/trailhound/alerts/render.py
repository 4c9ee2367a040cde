"""Alerts for people: a terminal table and one-line summaries.

Alerts are read as the JSON objects the ledger keeps (`Alert.to_dict()`), so an alert that an
earlier run left pending is shown exactly like a new one. Everything shown here may come from
an attacker (user agents, table names, user names), so it is data: control characters are made
visible and rich never reads it as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trailhound.alerts.summary import lookup
from trailhound.escaping import printable

if TYPE_CHECKING:
    from rich.table import Table

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def field_values(alert: Mapping[str, Any], name: str) -> list[str]:
    """Distinct values of a dotted ECS field across the alert's evidence and key."""
    found: dict[str, None] = {}
    value = alert.get("key", {}).get(name)
    if value is not None:
        found[str(value)] = None
    for doc in alert.get("evidence", ()):
        found.update(dict.fromkeys(lookup(doc, name.split("."))))
    return list(found)


def _joined(values: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(printable(v, 60) for v in values[:most])
    return shown + (f" (+{len(values) - most})" if len(values) > most else "")


def describe(alert: Mapping[str, Any]) -> str:
    """One line: who did what to which table, from where."""
    who = _joined(field_values(alert, "user.name")) or "unknown principal"
    what = _joined(field_values(alert, "event.action")) or "?"
    tables = _joined(field_values(alert, "aws.dynamodb.table_name"))
    source = _joined(field_values(alert, "source.address"))
    country = _joined(field_values(alert, "source.geo.country_iso_code"))
    line = f"{who} called {what}"
    if tables:
        line += f" on {tables}"
    if source:
        line += f" from {source}" + (f" ({country})" if country else "")
    count = alert.get("count", 1)
    if isinstance(count, int) and count > 1:
        line += f"; {count} events"
    return line


def techniques(alert: Mapping[str, Any]) -> str:
    ids = [
        sub["id"] if sub else t["id"]
        for threat in alert.get("rule", {}).get("threat", ())
        for t in threat.get("technique", ())
        for sub in (t.get("subtechnique") or (None,))
    ]
    return ", ".join(ids)


def alerts_table(
    alerts: Iterable[Mapping[str, Any]], extra: Mapping[str, Sequence[str]] | None = None
) -> Table:
    """One row per alert; `extra` adds columns, each a value per alert."""
    # rich loads only when a table is drawn: a scan writing JSON never draws one
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, header_style="bold")
    extra = extra or {}
    for name in ("time (UTC)", "severity", "rule", "what happened", "ATT&CK", "id", *extra):
        table.add_column(name, overflow="fold")
    for i, alert in enumerate(alerts):
        rule = alert.get("rule", {})
        severity = str(rule.get("severity", ""))
        table.add_row(
            Text(printable(alert.get("@timestamp", ""))[:19].replace("T", " ")),
            Text(severity, style=_SEVERITY_STYLE.get(severity, "")),
            Text(printable(rule.get("name", ""))),
            Text(printable(describe(alert), 400)),
            Text(printable(techniques(alert))),
            Text(printable(alert.get("id", ""))[:12]),
            *(Text(printable(values[i])) for values in extra.values()),
        )
    return table
