"""The background looks like a real organisation's trail, and its records like real records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import iptocc
import pytest

from trailhound.simulate.attacks import HOSTING_IP, VPN_IP
from trailhound.simulate.world import ACCOUNTS, PRINCIPALS, principal

Records = list[dict[str, Any]]


def test_most_of_the_trail_is_not_dynamodb(small_records: Records) -> None:
    share = sum(r["eventSource"] == "dynamodb.amazonaws.com" for r in small_records) / len(
        small_records
    )
    assert 0.2 <= share <= 0.4


def test_several_accounts_regions_and_services(small_records: Records) -> None:
    assert {r["recipientAccountId"] for r in small_records} == {a.id for a in ACCOUNTS}
    assert len({r["awsRegion"] for r in small_records}) >= 3
    assert len({r["eventSource"] for r in small_records}) >= 12


def test_data_and_management_events_both_present(small_records: Records) -> None:
    categories = Counter(
        (r["eventSource"], r["eventCategory"]) for r in small_records
        if r["eventSource"] == "dynamodb.amazonaws.com"
    )
    assert categories[("dynamodb.amazonaws.com", "Data")] > 0
    assert categories[("dynamodb.amazonaws.com", "Management")] > 0
    names = {r["eventName"] for r in small_records if r["eventCategory"] == "Data"}
    assert {"GetItem", "PutItem", "Query", "UpdateItem", "BatchWriteItem", "Scan"} <= names


def test_aws_services_call_on_behalf_of_principals(small_records: Records) -> None:
    by_service = [r for r in small_records if r["sourceIPAddress"].endswith(".amazonaws.com")]
    assert any(r["userIdentity"]["type"] == "AWSService" for r in by_service)
    assert any(
        r["userIdentity"]["type"] == "AssumedRole"
        and r["userIdentity"].get("invokedBy") == r["sourceIPAddress"]
        and r["eventSource"] == "dynamodb.amazonaws.com"
        for r in by_service
    )
    assert any(r["sourceIPAddress"] == r["userAgent"] == "AWS Internal" for r in small_records)


def test_assumed_roles_carry_their_session_issuer(small_records: Records) -> None:
    roles = [r for r in small_records if r["userIdentity"]["type"] == "AssumedRole"]
    assert roles
    for rec in roles[:2000]:
        issuer = rec["userIdentity"]["sessionContext"]["sessionIssuer"]
        assert issuer["type"] == "Role"
        assert rec["userIdentity"]["arn"].split("/")[1] == issuer["userName"]


@pytest.mark.parametrize("who", [p for p in PRINCIPALS if p.ips], ids=lambda p: p.key)
def test_each_principal_calls_from_one_country(who: Any) -> None:
    assert {iptocc.country_code(ip) for ip in who.ips} == {who.country}


def test_attackers_call_from_countries_their_victims_never_use() -> None:
    assert iptocc.country_code(VPN_IP) not in (None, principal("reporting").country)
    assert iptocc.country_code(HOSTING_IP) not in (None, principal("alice").country)


def test_people_call_from_where_they_live(small_records: Records) -> None:
    seen: dict[str, set[str | None]] = {}
    for rec in small_records:
        issuer = rec["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {})
        if issuer.get("userName", "").startswith("AWSReservedSSO_") and rec.get("tlsDetails"):
            country = iptocc.country_code(rec["sourceIPAddress"])
            seen.setdefault(issuer["userName"], set()).add(country)
    attacked = principal("alice").name
    for name, countries in seen.items():
        expected = 2 if name == attacked else 1  # the stolen session adds one country
        assert len(countries) == expected, (name, countries)


def _real_records(shared_data: Path) -> Records:
    lines = (shared_data / "dynamodb-real" / "dynamodb_records.ndjson").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_dynamodb_records_have_the_members_real_ones_have(
    shared_data: Path, small_records: Records
) -> None:
    ours: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in small_records:
        if rec["eventSource"] == "dynamodb.amazonaws.com" and "errorCode" not in rec:
            ours.setdefault((rec["eventName"], rec["userIdentity"]["type"]), rec)
    compared = 0
    for real in _real_records(shared_data):
        if real.get("eventVersion", "0") < "1.08" or "errorCode" in real:
            continue  # older formats lack members every current record has
        mine = ours.get((real["eventName"], real.get("userIdentity", {}).get("type", "")))
        if mine is None:
            continue
        optional = {"sessionCredentialFromConsole", "sharedEventID", "vpcEndpointId"}
        assert set(real) - optional <= set(mine), real["eventName"]
        assert set(real["userIdentity"]) <= set(mine["userIdentity"])
        compared += 1
    assert compared >= 5
