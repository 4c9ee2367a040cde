"""A baseline rule matches every read, and a batch keeps the whole record only of the reads
that can be shown as an alert's evidence (the first ones of their group and window). The
alerts, their counts and their evidence must be those of keeping every record, whatever the
batches and however often an event is delivered."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.test_scan_cmd import record
from engine.test_scan_paths import alerts, run
from support.events import batch, detector, event
from trailhound.engine import eligibility
from trailhound.engine.eligibility import Eligibility
from trailhound.engine.prefilter import stored_columns
from trailhound.pipeline import scan as scanning
from trailhound.pipeline.stage import StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir

RULE = "AWS DynamoDB Unusual Read Volume"
START = datetime(2025, 3, 1, tzinfo=UTC)


def _reads(folder: Path) -> Path:
    """Two identities read a few keys an hour for two days, then 150 in one hour; the burst
    is delivered in several files, part of it twice, with ties in event time."""
    times = [(START + timedelta(hours=hour, minutes=m), user)
             for hour in range(48) for user in ("reporting", "etl") for m in (5, 25, 45)]
    burst = START + timedelta(hours=49)
    times += [(burst + timedelta(seconds=i // 2), user)
              for user in ("reporting", "etl") for i in range(150)]
    reads = [_read(n, at, user) for n, (at, user) in enumerate(times)]
    for n, start in enumerate(range(0, len(reads), 97)):
        part = reads[start : start + 97]
        _write(folder / f"part-{n}.json.gz", part)
        if n % 3 == 2:  # delivered again, by another trail
            _write(folder / f"again-{n}.json.gz", part[::-1])
    return folder


def _read(n: int, at: datetime, user: str) -> dict[str, Any]:
    found = record(n, at, "GetItem", user)
    found["requestParameters"] = {"tableName": "customers", "key": {"id": f"C-{n}"}}
    return found


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _reads(tmp_path_factory.mktemp("reads"))


def _rules() -> list[Any]:
    return [r for r in load_rules([shipped_pack_dir()]).rules if r.name == RULE]


@pytest.mark.parametrize(("batch_size", "workers"), [(64, 1), (1000, 2), (1 << 16, 1)])
def test_reads_left_out_of_evidence_change_no_alert(
    folder: Path, batch_size: int, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Batches(StagePlan):
        @classmethod
        def build(cls, rules: Any, **options: Any) -> StagePlan:
            return StagePlan.build(rules, **{**options, "batch_size": batch_size})

    monkeypatch.setattr(scanning, "StagePlan", Batches)
    thinned = run(folder, workers, _rules())
    with monkeypatch.context() as every:
        every.setattr(Eligibility, "build", classmethod(lambda cls, rules: cls({}, {})))
        kept = run(folder, workers, _rules())
    assert len(thinned.alerts) == 2
    assert alerts(thinned) == alerts(kept)
    assert all(len(a.evidence) == eligibility.LIMIT for a in thinned.alerts)


def test_a_batch_keeps_the_records_of_the_first_reads_only() -> None:
    """Of 150 reads of one identity in one hour, the first ten distinct events keep their
    records (the third, delivered twice, keeps both rows); every read is still stored, since
    every one counts."""
    rules = _rules()
    rows = [
        event(n, timedelta(seconds=n), "GetItem", event__dataset="aws.cloudtrail",
              aws__dynamodb__operations=["get"])
        for n in range(150)
    ]  # fmt: skip
    rows.insert(3, dict(rows[2]))
    table = detector(rules).matcher.match(batch(rows), keep=stored_columns(rules))
    assert table is not None and table.num_rows == 151
    masks = Eligibility.build(rules).masks(table)
    assert masks.store.all()
    ids = table.column("event.id").to_pylist()
    shown = [i for i, e in zip(ids, masks.evidence, strict=True) if e]
    assert sorted(shown) == sorted([f"ev-{n:04d}" for n in range(10)] + ["ev-0002"])
