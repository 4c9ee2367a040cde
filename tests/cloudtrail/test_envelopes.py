"""Every form CloudTrail arrives in, taken apart into records (before normalization)."""

from __future__ import annotations

import codecs
import gzip
import io
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.cloudtrail.envelopes import (
    Bad,
    Found,
    Limits,
    Skip,
    parse_lake_value,
    split,
    split_array,
)
from trailhound.cloudtrail.record import Record
from trailhound.sources import Blob


def record(n: int = 1, **extra: Any) -> dict[str, Any]:
    """A small well-formed CloudTrail record (synthetic, in the shape of the real ones)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        "eventTime": f"2024-05-01T10:00:{n % 60:02d}Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DeleteTable",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"tableName": "Music"},
        "eventID": f"id-{n}",
        **extra,
    }


def dumps(value: Any, *, indent: int | None = None) -> bytes:
    return json.dumps(value, indent=indent).encode()


def ndjson(*values: Any) -> bytes:
    return b"".join(dumps(v) + b"\n" for v in values)


def blob(data: bytes) -> Blob:
    return Blob("test.json", lambda: nullcontext(io.BytesIO(data)))


class Parts:
    def __init__(self, data: bytes, limits: Limits | None = None) -> None:
        self.records: list[Record] = []
        self.positions: list[str] = []
        self.bad: list[Bad] = []
        self.skips: list[Skip] = []
        for item in split(blob(data).chunks(), limits=limits):
            if isinstance(item, Found):
                self.records += item.records
                self.positions += list(item.positions)
            elif isinstance(item, Bad):
                self.bad.append(item)
            else:
                self.skips.append(item)

    @property
    def ids(self) -> list[str | None]:
        return [r.eventID for r in self.records]


def test_s3_delivery_file_gives_its_records_numbered() -> None:
    data = gzip.compress(dumps({"Records": [record(1), record(2), record(3)]}))
    parts = Parts(data)
    assert parts.ids == ["id-1", "id-2", "id-3"]
    assert parts.positions == ["record 1", "record 2", "record 3"]
    assert not parts.bad and not parts.skips


def test_one_ill_typed_record_is_set_aside_and_its_neighbours_kept() -> None:
    bad = record(2, eventName=["DeleteTable"])
    parts = Parts(dumps({"Records": [record(1), bad, record(3)]}))
    assert parts.ids == ["id-1", "id-3"]
    assert parts.positions == ["record 1", "record 3"]
    assert [(b.reason, b.position) for b in parts.bad] == [
        ("eventName is a list, expected a string", "record 2")
    ]


def test_ndjson_lines_are_numbered_as_in_the_file() -> None:
    data = b"\n\n" + ndjson(record(1)) + b"\n" + ndjson(record(2))
    parts = Parts(data)
    assert parts.ids == ["id-1", "id-2"]
    assert parts.positions == ["line 3", "line 5"]


def test_a_byte_order_mark_and_blank_lines_before_the_first_record() -> None:
    parts = Parts(codecs.BOM_UTF8 + b"\r\n \n" + ndjson(record(1), record(2)))
    assert parts.positions == ["line 3", "line 4"]


def test_ndjson_with_crlf_line_ends() -> None:
    assert Parts(ndjson(record(1), record(2)).replace(b"\n", b"\r\n")).ids == ["id-1", "id-2"]


def test_a_json_array_of_records() -> None:
    parts = Parts(dumps([record(1), record(2)], indent=2))
    assert parts.ids == ["id-1", "id-2"]
    assert parts.positions == ["record 1", "record 2"]


def test_one_pretty_printed_record() -> None:
    assert Parts(dumps(record(7), indent=4)).ids == ["id-7"]


def test_one_record_on_one_line_without_a_newline() -> None:
    assert Parts(dumps(record(7))).ids == ["id-7"]


def eventbridge(
    detail: dict[str, Any], kind: str = "AWS API Call via CloudTrail"
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "9e1c5b10-0000-0000-0000-000000000000",
        "detail-type": kind,
        "source": "aws.dynamodb",
        "account": "111122223333",
        "time": detail["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def test_eventbridge_events_alone_and_as_ndjson_give_their_detail() -> None:
    assert Parts(dumps(eventbridge(record(1)), indent=2)).ids == ["id-1"]
    assert Parts(ndjson(eventbridge(record(1)), eventbridge(record(2)))).ids == ["id-1", "id-2"]


def test_eventbridge_events_that_are_not_cloudtrail_are_set_aside() -> None:
    other = eventbridge(record(2), kind="EC2 Instance State-change Notification")
    parts = Parts(ndjson(eventbridge(record(1)), other))
    assert parts.ids == ["id-1"]
    assert [(b.reason, b.position) for b in parts.bad] == [("not CloudTrail", "line 2")]
    assert "EC2 Instance State-change Notification" in parts.bad[0].detail


def sqs_batch(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": "AQEB",
                "body": body,
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies, 1)
        ]
    }


def test_sqs_batches_of_eventbridge_events() -> None:
    batch = sqs_batch(json.dumps(eventbridge(record(1))), "{not json", json.dumps(record(3)))
    parts = Parts(dumps(batch, indent=2))
    assert parts.ids == ["id-1", "id-3"]
    assert [(b.reason, b.position) for b in parts.bad] == [("invalid JSON", "record 2")]


def test_digest_insights_sign_files_and_notifications_are_skipped_with_a_note() -> None:
    digest = {
        "awsAccountId": "111122223333",
        "digestStartTime": "2024-05-01T10:00:00Z",
        "digestEndTime": "2024-05-01T11:00:00Z",
        "digestS3Bucket": "trail-bucket",
        "logFiles": [],
    }
    insight = {
        "eventVersion": "1.08",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventType": "AwsCloudTrailInsight",
        "eventCategory": "Insight",
        "insightDetails": {"state": "Start", "eventName": "DeleteTable"},
    }
    sign = {
        "version": "1.0",
        "files": [{"fileName": "result_1.csv.gz"}],
        "hashSignature": "ab",
        "queryCompleteTime": "2024-05-01T10:00:00Z",
    }
    s3_note = {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]}
    cases = {
        "CloudTrail digest file": gzip.compress(dumps(digest)),
        "CloudTrail Insights events": gzip.compress(dumps({"Records": [insight, insight]})),
        "CloudTrail Lake sign file": dumps(sign, indent=2),
        "S3 event notification": dumps(s3_note),
    }
    for note, data in cases.items():
        parts = Parts(data)
        assert [s.note for s in parts.skips] == [note]
        assert not parts.records and not parts.bad
    skipped = Parts(dumps(eventbridge(insight, kind="AWS Insight via CloudTrail")))
    assert [s.note for s in skipped.skips] == ["CloudTrail Insights events"]


LAKE_CSV = (
    "eventid,eventtime,eventname,eventsource,useridentity,sourceipaddress,"
    "requestparameters,readonly,resources\n"
    'lake-1,2024-05-01 10:00:00.000,DeleteTable,dynamodb.amazonaws.com,"{type=IAMUser, '
    "principalid=AIDAEXAMPLE, arn=arn:aws:iam::111122223333:user/alice, accountid=111122223333, "
    'username=alice, sessioncontext=null}",198.51.100.7,{tableName=Music},false,'
    '"[{accountid=111122223333, type=AWS::DynamoDB::Table, '
    'arn=arn:aws:dynamodb:us-east-1:111122223333:table/Music, arnprefix=null}]"\n'
    "lake-2,,ListTables,dynamodb.amazonaws.com,,198.51.100.7,,true,\n"
)


def test_cloudtrail_lake_result_csv_rows_become_records() -> None:
    parts = Parts(gzip.compress(LAKE_CSV.encode()))
    (first,) = parts.records
    assert (first.eventID, first.eventName, first.readOnly) == ("lake-1", "DeleteTable", False)
    identity = msgspec.json.decode(first.userIdentity)
    assert identity["userName"] == "alice" and identity["accountId"] == "111122223333"
    assert msgspec.json.decode(first.requestParameters) == {"tableName": "Music"}
    resources = msgspec.json.decode(first.resources)
    assert resources[0]["ARN"].endswith(":table/Music")
    assert [(b.reason, b.position) for b in parts.bad] == [("missing eventTime", "line 3")]


def test_cloudtrail_lake_get_query_results_json() -> None:
    rows = [
        [{"eventID": "lake-1"}, {"eventTime": "2024-05-01 10:00:00.000"}, {"eventName": "Scan"}],
        [{"eventID": "lake-2"}, {"eventName": "Query"}],
    ]
    result = {"QueryStatus": "FINISHED", "QueryResultRows": rows}
    parts = Parts(dumps(result, indent=4))
    assert parts.ids == ["lake-1"]
    assert parts.positions == ["row 1"]
    assert [(b.reason, b.position) for b in parts.bad] == [("missing eventTime", "row 2")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{a=1, b=x y}", {"a": "1", "b": "x y"}),
        ("{a={b=c, d=null}, e=[1, 2]}", {"a": {"b": "c", "d": None}, "e": ["1", "2"]}),
        (
            "[{arn=arn:aws:s3:::b, type=AWS::S3::Bucket}]",
            [{"arn": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}],
        ),
        (
            '{filter={"k": [1, 2], "s": "a, b"}, n=1}',
            {"filter": {"k": [1, 2], "s": "a, b"}, "n": "1"},
        ),
        ("{}", {}),
        ("{not a map", "{not a map"),
        ("plain text", "plain text"),
    ],
)
def test_lake_struct_and_map_text(text: str, value: Any) -> None:
    assert parse_lake_value(text) == value


def test_split_array_keeps_whole_elements_of_a_cut_or_broken_array() -> None:
    whole = b'{"Records": [{"a": "]"}, {"b": [1, {}]}]}'
    after_array = whole.rindex(b"]") + 1
    assert split_array(whole) == ([b'{"a": "]"}', b'{"b": [1, {}]}'], after_array, True)
    elements, _, closed = split_array(b'{"Records": [{"a": 1}, {"b": "x\\"y"}, {"c": ')
    assert (elements, closed) == ([b'{"a": 1}', b'{"b": "x\\"y"}'], False)
    elements, _, closed = split_array(b'[{"a": tru}, {"b": 2}]')
    assert (elements, closed) == ([b'{"a": tru}', b'{"b": 2}'], True)


def test_shared_sqs_message_holds_one_eventbridge_record(shared_data: Path) -> None:
    raw = (shared_data / "dynamodb-real" / "sqs_eventbridge_message.json").read_bytes()
    body = json.loads(json.loads(raw)["Records"][0]["body"])
    parts = Parts(raw)
    assert parts.ids == [body["detail"]["eventID"]]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_items_never_an_exception(data: bytes) -> None:
    items = list(split([data], limits=Limits(record=500, document=1500)))
    assert all(isinstance(i, Found | Bad | Skip) for i in items)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.booleans())
def test_gzip_cut_anywhere_keeps_only_whole_records(cut: int, as_array: bool) -> None:
    records = [record(i) for i in range(40)]
    text = dumps({"Records": records}) if as_array else ndjson(*records)
    packed = gzip.compress(text)[:cut]
    items = list(split(blob(packed).chunks()))
    kept = [r.eventID for i in items if isinstance(i, Found) for r in i.records]
    assert kept == [f"id-{n}" for n in range(len(kept))]
    if cut < len(gzip.compress(text)):
        assert any(isinstance(i, Bad) and i.records is None for i in items)
