"""An alert: what happened, who, where, which rule, and the evidence, as plain data."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from msgspec import Struct

from trailhound.rules.model import Rule, Threat


def alert_id(rule: Rule, key: Sequence[tuple[str, str | None]], event_ids: Sequence[str]) -> str:
    """Deterministic: the same rule version, group or term and evidence give the same id."""
    payload = orjson.dumps(
        [rule.rule_id, rule.version, [list(kv) for kv in key], sorted(event_ids)]
    )
    return hashlib.sha256(payload).hexdigest()[:32]


def iso_time(epoch_us: int) -> str:
    moment = datetime.fromtimestamp(epoch_us / 1_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Alert(Struct, frozen=True):
    id: str
    rule: Rule
    time: int  # epoch microseconds: the event time at which the condition was met
    first_time: int
    key: tuple[tuple[str, str | None], ...]
    event_ids: tuple[str, ...]
    count: int  # evidence events plus what suppression folded in
    evidence: tuple[Mapping[str, Any], ...]  # ECS documents, the first few of the evidence
    investigation: Mapping[str, tuple[str, ...]]  # field -> distinct values in the evidence

    def to_dict(self) -> dict[str, Any]:
        rule = self.rule
        end = iso_time(self.time)  # printed once for both places: a datetime each is 4 µs
        return {
            "id": self.id,
            "@timestamp": end,
            "kind": "alert",
            "rule": {
                "id": rule.rule_id,
                "name": rule.name,
                "type": rule.type,
                "version": rule.version,
                "severity": rule.severity,
                "risk_score": rule.risk_score,
                "threat": [_threat(t) for t in rule.threat],
            },
            "key": {field: value for field, value in self.key},
            "count": self.count,
            "event": {
                "ids": list(self.event_ids),
                "start": iso_time(self.first_time),
                "end": end,
            },
            "investigation_fields": {f: list(v) for f, v in self.investigation.items()},
            "evidence": list(self.evidence),
            "guide": rule.note,
        }


def _threat(threat: Threat) -> dict[str, Any]:
    return {
        "framework": threat.framework,
        "tactic": {"id": threat.tactic_id, "name": threat.tactic_name},
        "technique": [
            {
                "id": t.id,
                "name": t.name,
                "subtechnique": [{"id": s.id, "name": s.name} for s in t.subtechniques],
            }
            for t in threat.techniques
        ],
    }
