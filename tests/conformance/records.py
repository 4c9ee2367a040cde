"""CloudTrail records for the conformance suite (synthetic, in the shape CloudTrail delivers
them), written as S3 delivery files: every engine reads them from files."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111122223333"


def record(
    n: int, at: timedelta, action: str = "DeleteTable", *, user: str = "alice",
    error: str | None = None, ip: str = "203.0.113.9", table: str = "orders",
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser", "principalId": f"AIDA{user.upper()}", "accountId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "userName": user,
        },
        "eventTime": (T0 + at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": action,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": {"tableName": table, **(request or {})},
        "responseElements": None,
        "requestID": f"req-{n:04d}",
        "eventID": f"ev-{n:04d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }  # fmt: skip
    if error is not None:
        out["errorCode"] = error
        out["errorMessage"] = "not allowed"
    return out


def delivery(folder: Path, name: str, records: Sequence[dict[str, Any]]) -> Path:
    """One `.json.gz` file as a trail delivers it to S3."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps({"Records": list(records)})))
    return path
