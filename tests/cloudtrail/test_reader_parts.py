"""A batch with much free-form JSON is normalized in parts; what comes out must not show it."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import msgspec
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.profiles import fuzz
from trailhound.cloudtrail import reader
from trailhound.cloudtrail.ecs import Normalized
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.partial import PartialNormalizer
from trailhound.cloudtrail.reader import Normalize, Selected, Skim, blobs_of, read_selected
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.schema import BY_NAME
from trailhound.cloudtrail.skim import compiled_skimmer
from trailhound.cloudtrail.skim_rows import SkimNormalizer, SkimRows
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



def _skimmed_bucket(root: Path) -> None:
    """Records files of a few records each, every third record with a large payload."""
    n = 0
    for k in range(12):
        records = []
        for _ in range(k % 4 + 1):
            pad = {"pad": "x" * 5000} if n % 3 == 0 else {}
            records.append({
                "eventVersion": "1.08", "eventTime": f"2026-03-01T10:{n:02d}:00Z",
                "eventSource": "dynamodb.amazonaws.com", "eventName": "PutItem",
                "awsRegion": "us-east-1", "eventID": f"id-{n}", "recipientAccountId": "1",
                "userIdentity": {"type": "IAMUser"}, "requestParameters": pad,
            })  # fmt: skip
            n += 1
        text = json.dumps({"Records": records}).encode()
        (root / f"{k:03d}.json.gz").write_bytes(gzip.compress(text))


class _CountedNormalizer(SkimNormalizer):
    """A skimmed rows' normalizer that counts its calls."""

    def __init__(self) -> None:
        super().__init__(lambda source, action: frozenset({"event.id", "@timestamp"}))
        self.calls = 0

    def __call__(self, rows: SkimRows, ingested: datetime, enricher: Enricher) -> Normalized:
        self.calls += 1
        return super().__call__(rows, ingested, enricher)


def _read_skimmed(root: Path) -> tuple[list[Selected], int]:
    skimmer = compiled_skimmer(["eventID", "eventName", "eventSource", "eventTime"])
    if skimmer is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    normalizer = _CountedNormalizer()
    # every other row of each group of files skimmed together is kept
    skim = Skim(skimmer, lambda skimmed: list(range(0, len(skimmed), 2)), normalizer)
    report = Report()
    blobs = blobs_of([open_local(str(root))], report)
    parts = list(
        read_selected(blobs, enricher=Enricher.create(), report=report, clock=lambda: _MOMENT,
                      skim=skim)
    )  # fmt: skip
    return parts, normalizer.calls


def test_skimmed_large_records_cut_a_batch_into_parts_and_keep_their_own_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skimmed_bucket(tmp_path)
    whole, whole_calls = _read_skimmed(tmp_path)
    monkeypatch.setattr(reader, "SKIMMED_NORMALIZE_BYTES", 9000)  # two large records: a part
    cut, cut_calls = _read_skimmed(tmp_path)

    assert whole_calls == 1 and cut_calls == 3  # five large records kept of 30
    assert _table(cut).to_pylist() == _table(whole).to_pylist()
    for part in cut:
        texts = [json.loads(bytes(cast(msgspec.Raw, r))) for r in part.records]
        assert part.batch.column("event.id").to_pylist() == [t["eventID"] for t in texts]
        assert all(t["eventSource"] == "dynamodb.amazonaws.com" for t in texts)
    assert sum(len(p.records) for p in cut) == 15


def test_skimmed_rows_are_not_cut_by_the_decoded_records_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # skimmed rows' large members are read by compiled code, not parsed into Python values:
    # the decoded records' tight bound would only add normalizer calls, each with its fixed cost
    _skimmed_bucket(tmp_path)
    monkeypatch.setattr(reader, "NORMALIZE_BYTES", 1)
    parts, calls = _read_skimmed(tmp_path)

    assert calls == 1
    assert sum(len(p.records) for p in parts) == 15
