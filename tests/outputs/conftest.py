"""Fixtures for output tests: the local receiver (a real HTTP server in its own process on
loopback, stopped by its pid when the test ends) and alerts as the outputs receive them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support import receiver_fixture
from support.receiver_fixture import Receiver
from trailhound.alerts.model import Alert, alert_id, iso_time
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule

T0 = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


@pytest.fixture
def start_receiver(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """Starts receivers (`start_receiver(secret=...)`); all are stopped after the test."""
    started: list[Receiver] = []

    def start(secret: str | None = None) -> Receiver:
        receiver = receiver_fixture.start(tmp_path / f"receiver-{len(started)}.jsonl", secret)
        started.append(receiver)
        return receiver

    try:
        yield start
    finally:
        for receiver in started:
            receiver.stop()


@pytest.fixture
def receiver(start_receiver: Callable[..., Receiver]) -> Receiver:
    """One receiver without a webhook secret."""
    return start_receiver()


# --- alerts as the outputs receive them: `Alert.to_dict()` of a shipped rule ---


@functools.cache
def _pack() -> dict[str, Rule]:
    loaded = load_rules([shipped_pack_dir()])
    assert loaded.ok, loaded.errors
    return {rule.name: rule for rule in loaded.rules}


def evidence_document(n: int, **values: Any) -> dict[str, Any]:
    """An ECS document shaped as the normalizer makes them (nested objects)."""
    at = T0 + timedelta(seconds=30 * n)
    return {
        "@timestamp": iso_time(int(at.timestamp() * 1_000_000)),
        "event": {"id": f"ev-{n:04d}", "action": values.get("action", "DeleteTable"),
                  "provider": "dynamodb.amazonaws.com", "outcome": "success"},
        "cloud": {"provider": "aws", "account": {"id": values.get("account", "123456789012")},
                  "region": values.get("region", "us-east-1")},
        "user": {"name": values.get("user", "dba-admin")},
        "source": {"ip": values.get("ip", "72.21.198.66"),
                   "address": values.get("ip", "72.21.198.66"),
                   "geo": {"country_iso_code": values.get("country", "US")}},
        "user_agent": {"original": values.get("agent", "aws-cli/2.24.5")},
        "aws": {"dynamodb": {"table_name": [values.get("table", "Orders")]}},
    }  # fmt: skip


def make_pack_alert(
    rule_name: str = "AWS DynamoDB Multiple Tables Deleted", *, events: int = 1, **values: Any
) -> dict[str, Any]:
    """The alert dict a shipped rule makes for `events` events with these field values
    (user, table, ip, country, account, region, action, agent)."""
    rule = _pack()[rule_name]
    documents = tuple(evidence_document(n, **values) for n in range(events))
    event_ids = tuple(d["event"]["id"] for d in documents)
    key = (("user.name", values.get("user", "dba-admin")),) if rule.type == "threshold" else ()
    first, last = T0, T0 + timedelta(seconds=30 * (events - 1))
    alert = Alert(
        id=alert_id(rule, key, event_ids),
        rule=rule,
        time=int(last.timestamp() * 1_000_000),
        first_time=int(first.timestamp() * 1_000_000),
        key=key,
        event_ids=event_ids,
        count=events,
        evidence=documents,
        investigation={},
    )
    return alert.to_dict()


@pytest.fixture
def pack_alert() -> Callable[..., dict[str, Any]]:
    """`pack_alert(rule_name, events=N, user=..., table=..., ...)`: see make_pack_alert."""
    return make_pack_alert


@pytest.fixture(scope="session")
def pack_rule_names() -> list[str]:
    return sorted(_pack())
