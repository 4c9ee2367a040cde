"""The reader over the real data: every file reads, every record comes out, once, in order."""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.schema import arrow_schema
from trailhound.sources import Source
from trailhound.sources.files import open_local


def read(*specs: str | Path, **options: Any) -> tuple[pa.Table, Report]:
    report = Report()
    sources: list[Source] = [open_local(str(s)) for s in specs]
    batches = list(read_events(sources, enricher=Enricher.create(), report=report, **options))
    return pa.Table.from_batches(batches, schema=arrow_schema()), report


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


# Expected records, counted from the files with json alone.
def _dynamodb_real(root: Path) -> dict[str, list[dict[str, Any]]]:
    d = root / "dynamodb-real"
    eventbridge = [
        e["detail"]
        for e in _lines(d / "eventbridge_events.ndjson")
        if e.get("detail-type") == "AWS API Call via CloudTrail"
    ]
    sqs = json.loads((d / "sqs_eventbridge_message.json").read_text())["Records"]
    return {
        "dynamodb_records.ndjson": _lines(d / "dynamodb_records.ndjson"),
        "eventbridge_events.ndjson": eventbridge,
        "s3_delivery_Records.json.gz": json.loads(
            gzip.decompress((d / "s3_delivery_Records.json.gz").read_bytes())
        )["Records"],
        "sqs_eventbridge_message.json": [json.loads(m["body"])["detail"] for m in sqs],
        "single_record_describe_table.json": [
            json.loads((d / "single_record_describe_table.json").read_text())
        ],
    }


def test_every_real_dynamodb_file_reads_whole(shared_data: Path) -> None:
    expected = _dynamodb_real(shared_data)
    assert sum(map(len, expected.values())) == 40
    for name, records in expected.items():
        table, report = read(shared_data / "dynamodb-real" / name)
        assert report.clean, report.problems
        assert table.column("event.id").to_pylist() == [r.get("eventID") for r in records]
        assert table.column("event.action").to_pylist() == [r["eventName"] for r in records]


def test_the_whole_dynamodb_folder_reads_in_one_pass(shared_data: Path) -> None:
    table, report = read(shared_data / "dynamodb-real")
    assert (report.files_read, report.records_normalized, table.num_rows) == (5, 40, 40)
    assert report.clean


def test_stratus_red_team_detonation_logs(shared_data: Path) -> None:
    folder = shared_data / "negative" / "stratus-red-team"
    expected = [r for f in sorted(folder.glob("*.json")) for r in json.loads(f.read_text())]
    table, report = read(folder)
    assert report.clean, report.problems
    assert len(expected) == 310
    assert table.column("event.id").to_pylist() == [r["eventID"] for r in expected]


def test_otrf_logstash_rows(shared_data: Path) -> None:
    (path,) = (shared_data / "negative" / "otrf").glob("*.json")
    rows = _lines(path)
    table, report = read(path)
    assert report.clean, report.problems
    assert table.column("event.id").to_pylist() == [r["eventID"] for r in rows]


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _member(log: dict[str, Any], name: str) -> Any:
    exact = log.get(name)
    if exact is not None:
        return exact
    return next((v for k, v in log.items() if k.lower() == name.lower()), None)


def _is_usable(log: dict[str, Any]) -> bool:
    name, moment = _member(log, "eventName"), _member(log, "eventTime")
    return bool(name) and isinstance(moment, str) and bool(_DATE_TIME.match(moment))


def test_panther_rows_under_their_log_key(shared_data: Path, tmp_path: Path) -> None:
    logs = [
        row["log"]
        for row in _lines(shared_data / "negative/panther/panther_cloudtrail_rule_tests.ndjson")
    ]
    unwrapped = tmp_path / "panther_logs.ndjson"
    unwrapped.write_text("".join(json.dumps(log) + "\n" for log in logs))
    usable = [log for log in logs if _is_usable(log)]
    table, report = read(unwrapped)
    assert table.num_rows == len(usable) == report.records_normalized
    assert table.column("event.action").to_pylist() == [_member(r, "eventName") for r in usable]
    assert sum(report.records_set_aside.values()) == len(logs) - len(usable)
    # Panther's tests also hold other services' logs (Okta, GSuite, ...): those are not CloudTrail
    reasons = {"missing eventTime", "eventTime is not a date and time", "not CloudTrail"}
    assert set(report.records_set_aside) <= reasons


def test_every_file_of_the_shared_data_reads_without_an_exception(shared_data: Path) -> None:
    table, report = read(shared_data)
    files = [p for p in shared_data.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert report.files_read == len(files)
    # at least the CloudTrail of dynamodb-real, Stratus and OTRF; the rest is set aside or skipped
    assert table.num_rows >= 40 + 310 + 103
    assert all(p.where for p in report.problems)


def test_batches_follow_batch_size_and_carry_the_read_time(shared_data: Path) -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    report = Report()
    batches = list(
        read_events(
            [open_local(str(shared_data / "negative" / "stratus-red-team"))],
            enricher=Enricher.create(),
            report=report,
            batch_size=100,
            clock=lambda: moment,
        )
    )
    assert [b.num_rows for b in batches[:-1]] and all(b.num_rows >= 100 for b in batches[:-1])
    assert sum(b.num_rows for b in batches) == 310
    assert all(b.schema == arrow_schema() for b in batches)
    ingested = pa.Table.from_batches(batches).column("event.ingested").to_pylist()
    assert set(ingested) == {moment}


def test_stdin_and_files_mix(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    text = (shared_data / "dynamodb-real" / "eventbridge_events.ndjson").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    table, report = read("-", shared_data / "dynamodb-real" / "single_record_describe_table.json")
    assert table.num_rows == 4 and report.files_read == 2


LAKE_CSV = (
    "eventid,eventtime,eventname,eventsource,useridentity,sourceipaddress,requestparameters\n"
    'lake-1,2024-05-01 10:00:00.000,DeleteTable,dynamodb.amazonaws.com,"{type=AssumedRole, '
    "principalid=AROAEXAMPLE:s, arn=arn:aws:sts::111122223333:assumed-role/admin/s, "
    "accountid=111122223333, sessioncontext={sessionissuer={type=Role, principalid=AROAEXAMPLE, "
    "arn=arn:aws:iam::111122223333:role/admin, accountid=111122223333, username=admin}, "
    'attributes={creationdate=2024-05-01 09:00:00.000, mfaauthenticated=false}}}",'
    "198.51.100.7,{tableName=Music}\n"
)


def test_cloudtrail_lake_rows_normalize_like_any_record(tmp_path: Path) -> None:
    path = tmp_path / "result_1.csv.gz"
    path.write_bytes(gzip.compress(LAKE_CSV.encode()))
    table, report = read(path)
    assert report.clean, report.problems
    (row,) = table.to_pylist()
    assert row["@timestamp"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert row["event.action"] == "DeleteTable"
    assert row["user.name"] == "admin"
    assert row["cloud.account.id"] == "111122223333"
    assert row["aws.dynamodb.table_name"] == ["Music"]


def test_digest_and_insights_files_are_noted_not_counted_as_problems(tmp_path: Path) -> None:
    digest = {"digestStartTime": "2024-05-01T10:00:00Z", "digestEndTime": "x", "logFiles": []}
    (tmp_path / "digest.json.gz").write_bytes(gzip.compress(json.dumps(digest).encode()))
    insight = {"eventTime": "2024-05-01T10:00:00Z", "eventType": "AwsCloudTrailInsight"}
    insights = {"Records": [insight]}
    (tmp_path / "insight.json.gz").write_bytes(gzip.compress(json.dumps(insights).encode()))
    table, report = read(tmp_path)
    assert table.num_rows == 0 and report.clean
    assert report.files_skipped == {"CloudTrail digest file": 1, "CloudTrail Insights events": 1}
