"""Elastic conformance: each raw record of elastic_cloudtrail_pairs.ndjson, normalized with the
MaxMind test databases, must carry every field of the document Elastic's pipeline made of it.

Rows come from different versions of Elastic's pipeline. Where versions disagree trailhound
follows the newest, and the one field where that shows here is compared accordingly (see
docs/ecs.md, "Where trailhound differs").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import record_from_object

PAIRS = "ecs-conformance/elastic_cloudtrail_pairs.ndjson"
ROW_COUNT = 8
# Older pipelines put only userIdentity.userName in related.user; the newest also adds user.id
# and the role session name. Elastic's values must all be there.
SUPERSET_FIELDS = frozenset({"related.user"})


@pytest.fixture(scope="module")
def pairs(shared_data: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (shared_data / PAIRS).read_text().splitlines() if line]


@pytest.fixture(scope="module")
def documents(shared_data: Path, pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    enricher = Enricher.create(sorted((shared_data / "geo").glob("*.mmdb")))
    records = [record_from_object(pair["raw"]) for pair in pairs]
    result = normalize(records, ingested=datetime.now(UTC), enricher=enricher)
    assert result.rejected == []
    return [dict(_dotted(document)) for document in to_documents(result.batch)]


def _dotted(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in document.items():
        if isinstance(value, dict) and key != "flattened":
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def test_the_file_holds_the_rows_these_tests_expect(pairs: list[dict[str, Any]]) -> None:
    assert len(pairs) == ROW_COUNT


@pytest.mark.parametrize("row", range(ROW_COUNT))
def test_row_matches_elastic(
    row: int, pairs: list[dict[str, Any]], documents: list[dict[str, Any]]
) -> None:
    expected = {k: v for k, v in pairs[row]["expected"].items() if not k.startswith("_")}
    produced = documents[row]
    wrong = {}
    for field, value in expected.items():
        got = produced.get(field)
        if field in SUPERSET_FIELDS:
            if not set(value) <= set(got or ()):
                wrong[field] = (value, got)
        elif got != value:
            wrong[field] = (value, got)
    assert not wrong, f"{pairs[row]['elastic_file']}: field: (Elastic, trailhound) {wrong}"


def test_free_form_texts_as_elastic_renders_them(documents: list[dict[str, Any]]) -> None:
    """Java Map.toString() in HashMap order, as in Elastic's full expected documents for the
    add-permission and AWS-service AssumeRole inputs (rows 0 and 2 of the pairs file)."""
    assert documents[0]["aws.cloudtrail.request_parameters"] == (
        "{principal=sns.amazonaws.com, functionName=cloudtrail-events-test, statementId=sns, "
        "action=lambda:InvokeFunction}"
    )
    assert documents[2]["aws.cloudtrail.request_parameters"] == (
        "{roleArn=arn:aws:iam::111111111111:role/ec2-instance-role, "
        "roleSessionName=i-0123456789abcdef0}"
    )
    assert documents[2]["aws.cloudtrail.response_elements"] == (
        "{assumedRoleUser={assumedRoleId=AROAEXAMPLEEXAMPLE01:i-0123456789abcdef0, "
        "arn=arn:aws:sts::111111111111:assumed-role/ec2-instance-role/i-0123456789abcdef0}, "
        "credentials={accessKeyId=ASIAEXAMPLEEXAMPLE01, "
        "sessionToken=HIDDEN_DUE_TO_SECURITY_REASONS, expiration=Oct 8, 2024, 4:15:32 PM}}"
    )


def test_flattened_members_come_back_as_objects(
    pairs: list[dict[str, Any]], documents: list[dict[str, Any]]
) -> None:
    flattened = documents[0]["aws.cloudtrail.flattened"]
    assert flattened["request_parameters"] == pairs[0]["raw"]["requestParameters"]
    assert flattened["response_elements"] == pairs[0]["raw"]["responseElements"]
