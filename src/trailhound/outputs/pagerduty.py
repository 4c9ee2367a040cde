"""PagerDuty: one Events API v2 `trigger` per alert.

Options: `routing_key` / `routing_key_env` / `routing_key_file` (the integration key, a
secret), `url` (the US endpoint by default; `https://events.eu.pagerduty.com/v2/enqueue` for
the EU service region), `min_severity`, and the retry options of `trailhound.outputs.http`.

The alert id is the dedup key, so an alert sent twice (a retry after a lost answer, or a run
that did not learn of its delivery) opens one incident, not two. PagerDuty shows text as text,
so values are only made printable (control and bidi characters as escapes) and cut to fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from trailhound.alerts.summary import AlertSummary, headline, summarize
from trailhound.errors import ConfigError
from trailhound.escaping import printable
from trailhound.outputs.base import min_severity, secret
from trailhound.outputs.http import HttpOutput, Request, RetryPolicy, check_url

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
ROUTING_KEY_LENGTH = 32
SUMMARY_TEXT = 1024
DEDUP_KEY = 255
FIELD_TEXT = 255  # source, component, group, class: short labels in PagerDuty's views
DETAIL_TEXT = 1024
DETAIL_VALUES = 20
SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}


class PagerDutyOutput(HttpOutput):
    """Triggers a PagerDuty event for each alert."""

    def __init__(
        self, name: str, routing_key: str, url: str, policy: RetryPolicy, min_rank: int
    ) -> None:
        super().__init__(name, policy, min_rank)
        self._routing_key = routing_key  # a secret: never in a reason or an error
        self._url = url

    def request(self, alert: Mapping[str, Any]) -> Request:
        body = orjson.dumps(event(alert, self._routing_key))
        return self._url, body, {"Content-Type": "application/json"}


def build(name: str, options: Mapping[str, Any]) -> PagerDutyOutput:
    """The PagerDuty output `name` from its options; ConfigError names a bad option."""
    routing_key = secret(name, options, "routing_key", required=True)
    assert routing_key is not None  # required=True either returns a value or raises
    if len(routing_key) != ROUTING_KEY_LENGTH or not routing_key.isascii():
        raise ConfigError(f"must be a {ROUTING_KEY_LENGTH}-character Events API v2 "
                          "integration key", where=f"outputs.{name}.routing_key")  # fmt: skip
    url = options.get("url", DEFAULT_URL)
    if not isinstance(url, str):
        raise ConfigError("must be a string", where=f"outputs.{name}.url")
    check_url(name, "url", url)
    return PagerDutyOutput(name, routing_key, url, RetryPolicy.from_options(name, options),
                           min_severity(name, options))  # fmt: skip


def event(alert: Mapping[str, Any], routing_key: str) -> dict[str, Any]:
    """The Events API v2 body that triggers an incident for this alert."""
    summary = summarize(alert)
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": _payload(summary),
        "client": "trailhound",
    }
    if summary.alert_id:
        body["dedup_key"] = printable(summary.alert_id, DEDUP_KEY)
    links = [{"href": t.reference, "text": _text(f"ATT&CK {t.id}: {t.name}", FIELD_TEXT)}
             for t in summary.techniques if t.reference]  # fmt: skip
    if links:
        body["links"] = links
    return body


def _payload(summary: AlertSummary) -> dict[str, Any]:
    title = f"{summary.rule_name or 'trailhound alert'}: {headline(summary)}"
    payload: dict[str, Any] = {
        "summary": _text(title, SUMMARY_TEXT),
        "source": _text(_source(summary), FIELD_TEXT),
        "severity": SEVERITY.get(summary.severity, "info"),
        "class": _text(summary.rule_name, FIELD_TEXT),
        "custom_details": _details(summary),
    }
    if _is_iso_time(summary.timestamp):
        payload["timestamp"] = summary.timestamp
    if summary.tables:
        payload["component"] = _text(", ".join(summary.tables), FIELD_TEXT)
    if summary.accounts:
        payload["group"] = _text(", ".join(summary.accounts), FIELD_TEXT)
    return {k: v for k, v in payload.items() if v != ""}


def _is_iso_time(text: str) -> bool:
    """Whether PagerDuty will take it as a timestamp; one it would refuse is left out rather
    than have the whole event refused."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _source(summary: AlertSummary) -> str:
    if not summary.accounts:
        return "trailhound"
    return "trailhound: AWS account " + ", ".join(summary.accounts)


def _details(summary: AlertSummary) -> dict[str, Any]:
    details: dict[str, Any] = {
        "rule": _text(summary.rule_name, DETAIL_TEXT),
        "rule_id": _text(summary.rule_id, DETAIL_TEXT),
        "severity": _text(summary.severity, DETAIL_TEXT),
        "risk_score": summary.risk_score,
        "techniques": _texts([f"{t.id} {t.name}".strip() for t in summary.techniques]),
        "actors": _texts(summary.actors),
        "actions": _texts(summary.actions),
        "source_ips": _texts(summary.sources),
        "countries": _texts(summary.countries),
        "tables": _texts(summary.tables),
        "accounts": _texts(summary.accounts),
        "regions": _texts(summary.regions),
        "count": summary.count,
        "first": summary.first,
        "last": summary.last,
        "first_triage_step": _text(summary.first_step or "", DETAIL_TEXT) or None,
        "alert_id": summary.alert_id,
    }
    return {k: v for k, v in details.items() if v not in (None, [], "")}


def _text(value: str, limit: int) -> str:
    return printable(value, limit)


def _texts(values: Sequence[str]) -> list[str]:
    shown = [_text(v, DETAIL_TEXT) for v in values[:DETAIL_VALUES]]
    if len(values) > DETAIL_VALUES:
        shown.append(f"(+{len(values) - DETAIL_VALUES} more)")
    return shown
