"""Property tests over generated CloudTrail-like records, odd types included: decoding and
conversion fail only in their documented ways, normalization never fails, and every column
it produces holds values of the type the schema declares."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import Record, RecordRejected, decode_record, record_from_object
from trailhound.cloudtrail.schema import arrow_schema

TEXT = st.sampled_from(
    ["", "-", "none", "x", "AccessDenied", "é@ü", "arn:aws:iam::1:user/a"]
) | st.text(max_size=12)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
# Mostly the right type, sometimes anything.
ODD = st.one_of(TEXT, TEXT, JSON)
TIMES = st.sampled_from(
    [
        "2024-03-12T06:22:01Z",
        "2017-10-10T23:01:45+0000",
        "2023-01-09 16:01:21",
        "2021-01-24 04:55:45.000",
        "2024-02-30T00:00:00Z",
        "redacted",
    ]
) | st.text(max_size=25)
ADDRESSES = st.sampled_from(["81.2.69.144", "2001:db8::1", "AWS Internal", "035.1.2.3"]) | TEXT
IDENTITY = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["IAMUser", "AssumedRole", "AWSService", "Root"]) | ODD,
        "principalId": ODD,
        "arn": st.sampled_from(["arn:aws:sts::1:assumed-role/R/s@x.io", "arn:aws:iam::1:user/u"])
        | ODD,
        "accountId": ODD,
        "userName": ODD,
        "invokedBy": ODD,
        "sessionContext": st.fixed_dictionaries(
            {},
            optional={
                "sessionIssuer": st.dictionaries(
                    st.sampled_from(["type", "userName", "arn", "accountId"]), ODD
                )
                | ODD,
                "attributes": st.dictionaries(
                    st.sampled_from(["creationDate", "mfaAuthenticated"]), ODD
                ),
            },
        )
        | ODD,
    },
)
RECORD = st.fixed_dictionaries(
    {
        "eventTime": TIMES,
        "eventName": st.sampled_from(["ConsoleLogin", "Scan", "UserAuthentication"]) | ODD,
    },
    optional={
        "eventSource": st.sampled_from(["dynamodb.amazonaws.com", "kms.amazonaws.com"]) | ODD,
        "eventID": ODD,
        "awsRegion": ODD,
        "sourceIPAddress": ADDRESSES,
        "userAgent": ODD,
        "errorCode": ODD,
        "errorMessage": ODD,
        "readOnly": st.sampled_from([True, False, "true", "false"]) | ODD,
        "managementEvent": st.booleans() | ODD,
        "sessionCredentialFromConsole": ODD,
        "recipientAccountId": ODD,
        "userIdentity": IDENTITY | ODD,
        "requestParameters": JSON,
        "responseElements": JSON,
        "additionalEventData": JSON,
        "serviceEventDetails": JSON,
        "resources": st.lists(
            st.dictionaries(st.sampled_from(["ARN", "accountId", "type"]), ODD), max_size=3
        )
        | JSON,
        "tlsDetails": st.dictionaries(
            st.sampled_from(["tlsVersion", "cipherSuite", "clientProvidedHostHeader"]), ODD
        )
        | JSON,
    },
)


def _records(values: list[dict[str, Any]]) -> list[Record]:
    records = []
    for value in values:
        with contextlib.suppress(RecordRejected):
            records.append(record_from_object(value))
        with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
            records.append(decode_record(msgspec.json.encode(value)))
    return records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORD, min_size=1, max_size=6))
def test_normalize_never_fails_and_columns_keep_their_types(values: list[dict[str, Any]]) -> None:
    records = _records(values)
    result = normalize(records, ingested=datetime.now(UTC), enricher=Enricher.create())
    batch = result.batch
    assert batch.schema == arrow_schema()
    batch.validate(full=True)
    assert batch.num_rows + len(result.rejected) == len(records)
    assert all(0 <= i < len(records) and reason for i, reason in result.rejected)
    for document in to_documents(batch):
        assert document["event"]["kind"] == "event"


@settings(max_examples=200, deadline=None)
@given(JSON | RECORD)
def test_conversion_fails_only_by_rejecting(value: Any) -> None:
    try:
        record = record_from_object(value)
    except RecordRejected as exc:
        assert exc.message
    else:
        assert isinstance(record.eventTime, str) and isinstance(record.eventName, str)
