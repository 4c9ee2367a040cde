"""Every real record under ../shared/data converts and normalizes without a crash; the ones
that are not usable CloudTrail are set aside with a reason, the rest come out as rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import Record, RecordRejected, record_from_object
from trailhound.cloudtrail.schema import arrow_schema


def _stratus(root: Path) -> list[Any]:
    return [
        r
        for f in sorted((root / "negative/stratus-red-team").glob("*.json"))
        for r in json.loads(f.read_text())
    ]


def _ndjson(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _otrf(root: Path) -> list[Any]:
    return [r for f in sorted((root / "negative/otrf").glob("*.json")) for r in _ndjson(f)]


def _panther(root: Path) -> list[Any]:
    return [
        row["log"]
        for row in _ndjson(root / "negative/panther/panther_cloudtrail_rule_tests.ndjson")
    ]


def _eventbridge(root: Path) -> list[Any]:
    return [event["detail"] for event in _ndjson(root / "dynamodb-real/eventbridge_events.ndjson")]


SOURCES = {"stratus": _stratus, "otrf": _otrf, "panther": _panther, "eventbridge": _eventbridge}


def _convert(values: list[Any]) -> tuple[list[Record], list[str]]:
    records: list[Record] = []
    reasons: list[str] = []
    for value in values:
        try:
            records.append(record_from_object(value))
        except RecordRejected as exc:
            reasons.append(exc.message)
    return records, reasons


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_real_records_normalize(source: str, shared_data: Path) -> None:
    values = SOURCES[source](shared_data)
    records, reasons = _convert(values)
    result = normalize(records, ingested=datetime.now(UTC), enricher=Enricher.create())
    assert result.batch.schema == arrow_schema()
    assert result.batch.num_rows + len(result.rejected) == len(records)
    assert all(doc["event"]["kind"] == "event" for doc in to_documents(result.batch))
    if source != "panther":  # Panther's test events include non-CloudTrail and redacted rows
        assert reasons == [] and result.rejected == []


def test_panther_rows_set_aside_only_for_clear_reasons(shared_data: Path) -> None:
    records, reasons = _convert(_panther(shared_data))
    assert records, "most Panther test events are CloudTrail records"
    allowed = ("missing eventTime", "missing eventName", "eventTime ", "the value is ")
    assert all(reason.startswith(allowed) for reason in reasons), set(reasons)


def test_stratus_records_keep_their_odd_addresses_as_text(shared_data: Path) -> None:
    records, _ = _convert(_stratus(shared_data))
    batch = normalize(records, ingested=datetime.now(UTC), enricher=Enricher.create()).batch
    addresses = batch.column("source.address").to_pylist()
    ips = batch.column("source.ip").to_pylist()
    odd = [i for i, a in enumerate(addresses) if a and a.startswith("0") and a[:3].isdigit()]
    assert odd, "the anonymised Stratus logs hold addresses with leading zeros"
    assert all(ips[i] is None for i in odd)
