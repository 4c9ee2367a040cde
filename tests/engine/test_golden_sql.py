"""Golden rule -> SQL files: what each of Elastic's rules compiles to, reviewed once, kept.

Regenerate after a deliberate change with TRAILHOUND_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailhound.engine.predicates import compile_predicate
from trailhound.rules.loader import load_rules

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "sql"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def compiled(shared_data: Path) -> dict[str, str]:
    result = load_rules([shared_data / "elastic-rules"])
    return {
        Path(r.source).stem: compile_predicate(r.ast, now=NOW).sql("duckdb", pretty=True) + "\n"
        for r in result.rules
    }


def test_every_elastic_rule_compiles_to_its_golden_sql(shared_data: Path) -> None:
    sql = compiled(shared_data)
    assert len(sql) == 70
    if os.environ.get("TRAILHOUND_REGEN_GOLDEN"):
        for name, text in sql.items():
            (GOLDEN / f"{name}.sql").write_text(text)
    mismatched = [n for n, text in sql.items() if (GOLDEN / f"{n}.sql").read_text() != text]
    assert mismatched == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        # keyword values are exact and case-sensitive
        ("exfiltration_dynamodb_scan_by_unusual_user", "\"event.action\" = 'Scan'"),
        # Elastic's Map.toString text, matched with a wildcard
        (
            "defense_evasion_cloudtrail_management_events_disabled_via_eventselectors",
            "LIKE '%includeManagementEvents%false%'",
        ),
        # flattened fields read inside the JSON object
        (
            "defense_evasion_ec2_nacl_all_traffic_allowed_new_identity",
            "ARRAY_CONTAINS(TH_FLAT(\"aws.cloudtrail.flattened.request_parameters\", "
            "'aclProtocol'), '-1')",
        ),
    ],
)
def test_golden_sql_reads_as_the_semantics_say(shared_data: Path, name: str, fragment: str) -> None:
    assert fragment in compiled(shared_data)[name]
