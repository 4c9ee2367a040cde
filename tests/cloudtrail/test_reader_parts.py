"""A batch with much free-form JSON is normalized in parts; what comes out must not show it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.profiles import fuzz
from trailhound.cloudtrail import reader
from trailhound.cloudtrail.ecs import Normalized
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.partial import PartialNormalizer
from trailhound.cloudtrail.reader import Normalize, Selected, blobs_of, read_selected
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.schema import BY_NAME
from trailhound.sources.files import open_local

_MOMENT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _few_columns(source: str | None, action: str | None) -> frozenset[str]:
    # different columns for different actions: the partial normalizer then reorders rows
    if action == "GetItem":
        return frozenset(BY_NAME)
    return frozenset({"@timestamp", "event.id", "event.action", "cloud.region"})


def _read(root: Path, normalizer: Normalize) -> tuple[list[Selected], Report, int]:
    calls = 0

    def counted(records: Sequence[Record], ingested: datetime, enricher: Enricher) -> Normalized:
        nonlocal calls
        calls += 1
        return normalizer(records, ingested, enricher)

    report = Report()
    parts = list(
        read_selected(
            blobs_of([open_local(str(root))], report),
            enricher=Enricher.create(),
            report=report,
            normalizer=counted,
            clock=lambda: _MOMENT,
        )
    )
    return parts, report, calls


def _normalize_all(records: Sequence[Record], ingested: datetime, enricher: Enricher) -> Normalized:
    return reader._normalize_all(records, ingested, enricher)


@pytest.mark.parametrize(
    "normalizer", [_normalize_all, PartialNormalizer(_few_columns)], ids=["all", "partial"]
)
def test_normalizing_in_parts_changes_nothing(
    shared_data: Path, normalizer: Normalize, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, whole_report, whole_calls = _read(shared_data, normalizer)
    # every record with any payload now ends a part
    monkeypatch.setattr(reader, "NORMALIZE_BYTES", 1)
    monkeypatch.setattr(reader, "_LARGE_MEMBER", 0)
    cut, cut_report, cut_calls = _read(shared_data, normalizer)

    assert cut_calls > whole_calls
    assert _table(cut).schema == _table(whole).schema
    # a partial normalizer groups rows per call, so only the rows themselves must agree
    assert sorted(map(repr, _table(cut).to_pylist())) == sorted(
        map(repr, _table(whole).to_pylist())
    )
    assert _problems(cut_report) == _problems(whole_report)
    assert cut_report.records_normalized == whole_report.records_normalized


def test_each_row_comes_with_its_own_record(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "NORMALIZE_BYTES", 1)
    monkeypatch.setattr(reader, "_LARGE_MEMBER", 0)
    parts, _, _ = _read(shared_data / "dynamodb-real", PartialNormalizer(_few_columns))
    for part in parts:
        assert part.batch.column("event.id").to_pylist() == [r.eventID for r in part.records]
    assert sum(len(p.records) for p in parts) >= 40


def _problems(report: Report) -> list[tuple[str, str | None, str | None, str]]:
    return [(p.reason, p.where, p.position, p.detail) for p in report.problems]


def _table(parts: list[Selected]) -> pa.Table:
    return pa.Table.from_batches([p.batch for p in parts])


@fuzz()
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from(["X", "Y", "Z"]))))
def test_records_are_grouped_by_their_columns_in_order_of_first_appearance(
    pairs: list[tuple[str | None, str]],
) -> None:
    def columns_for(source: str | None, action: str | None) -> frozenset[str]:
        return frozenset({"event.id"} if source == "a" or action == "Z" else {"user.name"})

    records = [Record(eventTime="t", eventSource=s, eventName=a) for s, a in pairs]
    expected: dict[frozenset[str], list[int]] = {}
    for i, (source, action) in enumerate(pairs):
        expected.setdefault(columns_for(source, action), []).append(i)
    groups = PartialNormalizer(columns_for)._groups(records)
    assert list(groups.items()) == list(expected.items())
