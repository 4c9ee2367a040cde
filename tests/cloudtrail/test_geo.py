"""`--geoip` with a City database that knows only some addresses: the database answers first,
the built-in country lookup (iptocc) where the database knows nothing, so rules that read the
country keep firing. The database is a real .mmdb, written here with mmdb-writer."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import iptocc
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from trailhound.cloudtrail.geo import Enricher

KNOWN = "203.0.113.7"  # in the database only: a documentation network, in no registry
UNKNOWN = "8.8.8.8"  # in the registries (iptocc), not in the database


@pytest.fixture
def partial_city_db(tmp_path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City",
                        languages=["en"])  # fmt: skip
    writer.insert_network(IPSet(["203.0.113.0/24"]), {
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "city": {"names": {"en": "London"}},
    })  # fmt: skip
    path = tmp_path / "partial-city.mmdb"
    writer.to_db_file(str(path))
    return path


def test_the_database_answers_first_and_the_built_in_lookup_fills_its_gaps(
    partial_city_db: Path,
) -> None:
    assert iptocc.country_code(KNOWN) is None and iptocc.country_code(UNKNOWN) == "US"
    enricher = Enricher.create([partial_city_db])
    known = enricher.address(KNOWN)
    assert (known.country_iso_code, known.country_name, known.city_name) == (
        "GB", "United Kingdom", "London",
    )  # fmt: skip
    unknown = enricher.address(UNKNOWN)
    assert (unknown.country_iso_code, unknown.country_name, unknown.city_name) == (
        "US", None, None,
    )  # fmt: skip


def record(n: int, at: datetime, address: str) -> dict[str, Any]:
    """A synthetic DynamoDB call in the shape of the real ones."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                         "accountId": "111122223333", "userName": "alice",
                         "arn": "arn:aws:iam::111122223333:user/alice"},
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DescribeTable", "awsRegion": "us-east-1", "sourceIPAddress": address,
        "userAgent": "aws-cli/2.15.0", "requestParameters": {"tableName": "orders"},
        "responseElements": None, "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
    }  # fmt: skip


def test_the_new_country_rule_fires_for_an_address_the_database_does_not_know(
    partial_city_db: Path, tmp_path: Path
) -> None:
    """alice works from London for four days (the rule learns for 72 hours), then calls from
    an address only the built-in lookup places."""
    start = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    days = [record(n, start + timedelta(days=n), KNOWN) for n in range(4)]
    logs = tmp_path / "calls.ndjson"
    lines = [*days, record(9, start + timedelta(days=4), UNKNOWN)]
    logs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    done = subprocess.run(
        [sys.executable, "-m", "trailhound", "scan", str(logs), "--no-state", "-q",
         "--format", "jsonl", "--geoip", str(partial_city_db)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    alerts = [json.loads(line) for line in done.stdout.splitlines()]
    new_country = [a for a in alerts if a["rule"]["name"].endswith("From New Country")]
    assert [a["key"]["source.geo.country_iso_code"] for a in new_country] == ["US"]
    assert new_country[0]["event"]["ids"] == ["00000000-0000-4000-8000-000000000009"]
