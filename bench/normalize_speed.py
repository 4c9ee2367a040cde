"""How fast `normalize` maps decoded CloudTrail records to ECS columns, alone, on one core.

Usage: python bench/normalize_speed.py [--events 100000] [--repeat 3]

The records are synthetic, labelled as such, and shaped after the real samples in
../shared/data: about 30% DynamoDB data events (keys differ per call), AssumeRole and other
management calls, S3 object reads, a few console logins and failures; a few dozen identities,
addresses and user agents, as a real account has. Decoding is timed separately (it belongs to
the reader) so that the figure printed for `normalize` is the mapping alone.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import decode_records_file
from trailhound.cloudtrail.schema import COLUMNS

GEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "geo"
USER_AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.5.0 exe/x86_64 prompt/off command/dynamodb.scan",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.210 md/arch#x86_64 lang/python#3.12.2",
    "aws-sdk-java/2.25.16 Linux/5.10.213 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 "
    "api/dynamodb#1.31.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "console.amazonaws.com",
    "dynamodb.amazonaws.com",
    "AWS Internal",
]
SERVICE_ADDRESSES = ["dynamodb.amazonaws.com", "AWS Internal", "ec2.amazonaws.com"]


def _identity(rng: random.Random, n: int) -> dict[str, Any]:
    account = f"{rng.randrange(10**11, 10**12)}"
    if n % 3 == 0:
        return {
            "type": "IAMUser",
            "principalId": f"AIDA{n:016d}",
            "arn": f"arn:aws:iam::{account}:user/user{n}",
            "accountId": account,
            "accessKeyId": f"AKIA{n:016d}",
            "userName": f"user{n}@example.com" if n % 2 else f"user{n}",
        }
    role = f"role-{n}"
    return {
        "type": "AssumedRole",
        "principalId": f"AROA{n:016d}:session-{n}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session-{n}",
        "accountId": account,
        "accessKeyId": f"ASIA{n:016d}",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROA{n:016d}",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2024-03-12T05:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _dynamodb_call(rng: random.Random, account: str) -> dict[str, Any]:
    table = rng.choice(["Music", "Orders", "Sessions", "Users"])
    name = rng.choice(["GetItem", "PutItem", "Query", "UpdateItem", "DeleteItem", "Scan"])
    key = {"pk": f"item-{rng.randrange(10**6)}", "sk": str(rng.randrange(100))}
    request: dict[str, Any] = {"tableName": table, "key": key}
    if name == "PutItem":
        request["items"] = ["pk", "sk", "payload"]
    if name == "Query":
        request = {"tableName": table, "keyConditionExpression": "#p = :p", "key": key}
    if name == "Scan":
        request = {"tableName": table, "limit": 50, "consistentRead": False}
    return {
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": name,
        "requestParameters": request,
        "responseElements": None,
        "readOnly": name in ("GetItem", "Query", "Scan"),
        "resources": [
            {
                "accountId": account,
                "type": "AWS::DynamoDB::Table",
                "ARN": f"arn:aws:dynamodb:us-east-1:{account}:table/{table}",
            }
        ],
        "eventCategory": "Data",
        "managementEvent": False,
        "apiVersion": "2012-08-10",
    }


def _management_call(rng: random.Random, account: str) -> dict[str, Any]:
    kind = rng.randrange(4)
    if kind == 0:
        session = f"s-{rng.randrange(10**6)}"
        return {
            "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRole",
            "requestParameters": {
                "roleArn": f"arn:aws:iam::{account}:role/app",
                "roleSessionName": session,
                "durationSeconds": 3600,
            },
            "responseElements": {
                "credentials": {
                    "accessKeyId": f"ASIA{rng.randrange(10**12)}",
                    "sessionToken": "HIDDEN",
                    "expiration": "Mar 12, 2024, 7:00:00 AM",
                },
                "assumedRoleUser": {
                    "assumedRoleId": f"AROAEXAMPLE:{session}",
                    "arn": f"arn:aws:sts::{account}:assumed-role/app/{session}",
                },
            },
        }
    if kind == 1:
        bucket = rng.choice(["logs", "data", "backups"])
        return {
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "requestParameters": {
                "bucketName": bucket,
                "Host": f"{bucket}.s3.amazonaws.com",
                "key": f"obj/{rng.randrange(10**6)}.json",
            },
            "additionalEventData": {
                "SignatureVersion": "SigV4",
                "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": 0,
                "bytesTransferredOut": rng.randrange(10**6),
                "AuthenticationMethod": "AuthHeader",
            },
            "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/obj"}],
            "eventCategory": "Data",
        }
    if kind == 2:
        return {
            "eventSource": "dynamodb.amazonaws.com",
            "eventName": rng.choice(["DescribeTable", "ListTables", "UpdateTable"]),
            "requestParameters": {"tableName": rng.choice(["Music", "Orders"])},
            "responseElements": None,
            "managementEvent": True,
            "eventCategory": "Management",
        }
    return {
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": rng.choice(["Success", "Failure"])},
        "additionalEventData": {
            "LoginTo": "https://console.aws.amazon.com/",
            "MobileVersion": "No",
            "MFAUsed": "No",
        },
    }


def synthetic_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Synthetic CloudTrail records (not real events), shaped after real samples."""
    rng = random.Random(seed)
    identities = [_identity(rng, n) for n in range(40)]
    addresses = [
        f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(150)
    ]
    start = datetime(2024, 3, 12, tzinfo=UTC)
    records = []
    for i in range(count):
        identity = rng.choice(identities)
        account = identity["accountId"]
        call = (
            _dynamodb_call(rng, account) if rng.random() < 0.3 else _management_call(rng, account)
        )
        record: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": (start + timedelta(seconds=i // 10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "awsRegion": "us-east-1",
            "sourceIPAddress": rng.choice(SERVICE_ADDRESSES)
            if rng.random() < 0.1
            else rng.choice(addresses),
            "userAgent": rng.choice(USER_AGENTS),
            "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventType": "AwsApiCall",
            "recipientAccountId": account,
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": call["eventSource"].replace(".", ".us-east-1.", 1),
            },
            **call,
        }
        if rng.random() < 0.03:
            record["errorCode"] = "AccessDenied"
            record["errorMessage"] = "User is not authorized to perform this action"
        records.append(record)
    return records


def _calibration() -> float:
    """Nanoseconds per element of a plain attribute-reading list comprehension: a yardstick for
    how fast this machine runs Python right now (shared machines vary by 2-3x)."""
    items = [uuid.UUID(int=i) for i in range(200_000)]
    began = time.process_time()
    _ = [item.int for item in items]
    return (time.process_time() - began) / len(items) * 1e9


def _run(records: list[Any], enricher: Enricher, batch: int, fields: list[str] | None) -> float:
    began = time.process_time()
    for start in range(0, len(records), batch):
        normalize(
            records[start : start + batch],
            ingested=datetime.now(UTC),
            enricher=enricher,
            fields=fields,
        )
    return len(records) / (time.process_time() - began)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16_384, help="records per normalize call")
    args = parser.parse_args()

    data = msgspec.json.encode({"Records": synthetic_records(args.events)})
    enricher = Enricher.create(sorted(GEO.glob("*.mmdb")) if GEO.is_dir() else ())
    texts = (
        "request_parameters",
        "response_elements",
        "additional_eventdata",
        "service_event_details",
    )
    without_texts = [c.name for c in COLUMNS if not any(t in c.name for t in texts)]
    print(f"calibration: {_calibration():.0f} ns per element of a list comprehension")
    for attempt in range(1, args.repeat + 1):
        began = time.process_time()
        records = decode_records_file(data)
        decode_rate = len(records) / (time.process_time() - began)
        full = _run(records, enricher, args.batch, None)
        light = _run(records, enricher, args.batch, without_texts)
        print(
            f"run {attempt}: decode {decode_rate:,.0f} events/s; normalize, CPU time: "
            f"all fields {full:,.0f} events/s, without the free-form texts {light:,.0f} events/s"
        )


if __name__ == "__main__":
    main()
