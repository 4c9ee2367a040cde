"""The record type: strict decoding for clean deliveries, lenient conversion for the rest."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from trailhound.cloudtrail.record import (
    Record,
    RecordRejected,
    decode_identity,
    decode_record,
    decode_records_file,
    parse_event_time,
    parse_iso8601,
    record_from_object,
)
from trailhound.errors import InputError

MINIMAL = {"eventTime": "2024-03-12T06:22:01Z", "eventName": "Scan"}


def test_s3_delivery_file_decodes_to_records(shared_data: Path) -> None:
    data = gzip.decompress((shared_data / "dynamodb-real/s3_delivery_Records.json.gz").read_bytes())
    records = decode_records_file(data)
    assert [r.eventName for r in records] == ["Scan", "PutItem", "GetItem"]
    assert all(r.eventSource == "dynamodb.amazonaws.com" for r in records)


def test_free_form_members_keep_their_raw_json() -> None:
    record = decode_record(
        b'{"eventTime":"2024-03-12T06:22:01Z","eventName":"Scan",'
        b'"requestParameters":{"tableName":"T","limit":5}}'
    )
    assert json.loads(bytes(record.requestParameters)) == {"tableName": "T", "limit": 5}
    assert bytes(record.responseElements) == b""  # absent


def test_strict_decoding_raises_on_a_wrong_type() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_records_file(
            b'{"Records":[{"eventTime":"2024-03-12T06:22:01Z","eventName":["Scan"]}]}'
        )
    with pytest.raises(msgspec.ValidationError):
        decode_record(b'{"eventName":"Scan"}')


def test_boolean_members_accept_strings() -> None:
    record = decode_record(
        b'{"eventTime":"2024-03-12T06:22:01Z","eventName":"Scan","readOnly":"true","managementEvent":false}'
    )
    assert record.readOnly == "true"
    assert record.managementEvent is False


def test_a_real_record_converts_as_it_decodes(shared_data: Path) -> None:
    for line in (shared_data / "dynamodb-real/dynamodb_records.ndjson").read_text().splitlines():
        converted = json.loads(msgspec.json.encode(record_from_object(json.loads(line))))
        decoded = json.loads(msgspec.json.encode(decode_record(line.encode())))
        assert converted == {key: value for key, value in decoded.items() if value is not None}


def test_plus_0000_offsets_are_read(shared_data: Path) -> None:
    pretty = json.loads(
        (shared_data / "dynamodb-real/single_record_describe_table.json").read_text()
    )
    record = record_from_object(pretty)
    assert record.eventTime == "2017-10-10T23:01:45+0000"
    assert parse_event_time(record.eventTime) == datetime(2017, 10, 10, 23, 1, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-10-10T15:07:03Z", datetime(2024, 10, 10, 15, 7, 3, tzinfo=UTC)),
        ("2024-10-10T17:07:03+02:00", datetime(2024, 10, 10, 15, 7, 3, tzinfo=UTC)),
        ("2023-01-09 16:01:21", datetime(2023, 1, 9, 16, 1, 21, tzinfo=UTC)),
        ("2021-01-24 04:55:45.000", datetime(2021, 1, 24, 4, 55, 45, tzinfo=UTC)),
        ("2025-01-21 17:49:47.123456789", datetime(2025, 1, 21, 17, 49, 47, 123456, tzinfo=UTC)),
        ("redacted", None),
        ("2024-13-10T15:07:03Z", None),
        ("2024-10-10T15:07:03+99:00", None),  # no clock is 99 hours off: no time, no crash
        ("2024-10-10T15:07:03-24:00", None),
        ("2024-10-10T15:07:03+23:59", datetime(2024, 10, 9, 15, 8, 3, tzinfo=UTC)),
        ("", None),
    ],
)
def test_event_time_forms(text: str, expected: datetime | None) -> None:
    assert parse_event_time(text) == expected


def test_panther_rows_with_lower_case_keys(shared_data: Path) -> None:
    """A Panther test event whose keys a collector lower-cased, with Panther's p_* fields."""
    rows = (shared_data / "negative/panther/panther_cloudtrail_rule_tests.ndjson").read_text()
    lowered = [
        log
        for row in rows.splitlines()
        if isinstance(log := json.loads(row)["log"], dict) and "eventname" in log
    ]
    assert lowered, "the Panther file holds lower-cased rows"
    record = record_from_object({**lowered[0], "p_log_type": "AWS.CloudTrail"})
    assert record.eventName == lowered[0]["eventname"]
    assert record.eventTime == lowered[0]["eventtime"]
    identity = decode_identity(record.userIdentity)
    assert identity.arn == lowered[0]["useridentity"]["arn"]


def test_camel_case_identity_keys_are_restored() -> None:
    record = record_from_object(
        {
            **MINIMAL,
            "useridentity": {
                "accountid": "123456789012",
                "sessioncontext": {"sessionissuer": {"username": "r"}},
            },
        }
    )
    identity = decode_identity(record.userIdentity)
    assert identity.accountId == "123456789012"
    assert identity.sessionContext is not None and identity.sessionContext.sessionIssuer is not None
    assert identity.sessionContext.sessionIssuer.userName == "r"


def test_logstash_timestamp_stands_in_for_a_missing_event_time() -> None:
    record = record_from_object(
        {"eventName": "GetObject", "@timestamp": "2020-09-14T00:44:23.000Z"}
    )
    assert record.eventTime == "2020-09-14T00:44:23.000Z"


def test_numbers_where_cloudtrail_writes_strings_are_read_as_text() -> None:
    record = record_from_object(
        {**MINIMAL, "recipientAccountId": 123456789012, "eventVersion": 1.08}
    )
    assert record.recipientAccountId == "123456789012"
    assert record.eventVersion == "1.08"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([MINIMAL], "the value is a list, expected an object"),
        ("text", "the value is a string, expected an object"),
        ({"eventName": "Scan"}, "missing eventTime"),
        ({"eventTime": "2024-03-12T06:22:01Z"}, "missing eventName"),
        ({**MINIMAL, "eventName": ""}, "missing eventName"),
        ({**MINIMAL, "eventTime": 1710224521}, "eventTime is a number, expected a string"),
        ({**MINIMAL, "eventTime": "..."}, "eventTime '...' is not a date and time"),
        ({**MINIMAL, "eventName": ["Scan"]}, "eventName is a list, expected a string"),
        ({**MINIMAL, "eventSource": {"x": 1}}, "eventSource is an object, expected a string"),
        ({**MINIMAL, "readOnly": [True]}, "readOnly is a list, expected a boolean"),
        ({**MINIMAL, "userIdentity": "bob"}, "userIdentity is a string, expected an object"),
        (
            {**MINIMAL, "userIdentity": {"accountId": ["1", "2"]}},
            "userIdentity.accountId is a list, expected a string",
        ),
        (
            {**MINIMAL, "userIdentity": {"sessionContext": {"sessionIssuer": {"userName": {}}}}},
            "userIdentity.sessionContext.sessionIssuer.userName is an object, expected a string",
        ),
    ],
)
def test_rejections_say_why(value: object, reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        record_from_object(value)
    assert caught.value.message == reason
    assert isinstance(caught.value, InputError)


def test_identity_decoding_names_the_member_that_is_off() -> None:
    record = decode_record(
        b'{"eventTime":"2024-03-12T06:22:01Z","eventName":"Scan","userIdentity":{"arn":7.5}}'
    )
    with pytest.raises(RecordRejected, match=r"^userIdentity.arn is a number, expected a string$"):
        decode_identity(record.userIdentity)


def test_records_are_structs_named_as_cloudtrail_names_them() -> None:
    assert {"eventTime", "eventName", "userIdentity", "requestParameters", "tlsDetails"} <= set(
        Record.__struct_fields__
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-10-02T21:50:54Z", datetime(2019, 10, 2, 21, 50, 54, tzinfo=UTC)),
        ("2017-10-10T23:01:45+0000", datetime(2017, 10, 10, 23, 1, 45, tzinfo=UTC)),
        ("2019-10-02", datetime(2019, 10, 2, tzinfo=UTC)),
        ("20131102T010628Z", None),  # ISO 8601's basic form: Elastic's parser refuses it
        ("2019-10-02 21:50:54", None),
        ("2019-10-02T21:50:54+99:00", None),
        ("\u0662\u0660\u0661\u0669-\u0661\u0660-\u0660\u0662", None),  # Arabic-Indic digits
        ("2019-02-29", None),
        (None, None),
    ],
)
def test_iso8601_as_elasticsearch_reads_it(text: str | None, expected: datetime | None) -> None:
    assert parse_iso8601(text) == expected
