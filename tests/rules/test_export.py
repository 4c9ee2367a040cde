"""`trailhound rules export`: every rule as SQL for another engine, over a documented table."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlglot

from support.events import T0, batch
from support.events import event as bare_event
from trailhound.cloudtrail.schema import COLUMNS
from trailhound.engine.dialects import DIALECTS
from trailhound.engine.udfs import register
from trailhound.rules.athena_view import IN_VIEW, NOT_IN_VIEW
from trailhound.rules.export import export_rules, export_text
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.rules.table_doc import markdown

NOW = datetime(2026, 3, 1, tzinfo=UTC)
DOC = Path(__file__).resolve().parents[2] / "docs" / "normalized-table.md"


def test_the_table_doc_is_the_schema() -> None:
    # regenerate: write trailhound.rules.table_doc.markdown() to the file
    assert DOC.read_text() == markdown()


def test_the_athena_view_accounts_for_every_column_once() -> None:
    names = {c.name for c in COLUMNS}
    assert set(IN_VIEW) | set(NOT_IN_VIEW) == names
    assert set(IN_VIEW) & set(NOT_IN_VIEW) == set()


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_pack_rule_is_exported_or_named_with_its_reason(dialect: str) -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    exported = export_rules(rules, dialect=dialect, now=NOW)
    assert [e.rule for e in exported] == list(rules)
    text = export_text(exported, dialect=dialect)
    for e in exported:
        assert f"-- {e.rule.name} ({e.rule.type}, {e.rule.rule_id})" in text
        if e.sql is None:
            assert e.reason and f"-- not exported: {e.reason}" in text
        else:
            sqlglot.parse_one(e.sql, read=DIALECTS[dialect].sqlglot)
            assert (e.beyond == "") == (e.rule.type == "query")
    decoy = next(e for e in exported if e.rule.name == "AWS DynamoDB Decoy Table Accessed")
    assert decoy.sql is None and "decoy_tables" in decoy.reason


def test_threshold_is_a_grouped_count_with_what_trailhound_adds() -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    deleted = [r for r in rules if r.name == "AWS DynamoDB Multiple Tables Deleted"]
    (e,) = export_rules(deleted, dialect="spark", now=NOW)
    assert e.sql is not None
    assert "GROUP BY `cloud.account.id` HAVING COUNT(*) >= 6" in e.sql
    assert "sliding window of 10m" in e.beyond


def test_spark_export_says_which_functions_it_needs() -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    text = export_text(export_rules(rules, dialect="spark", now=NOW), dialect="spark")
    assert "-- needs trailhound's functions: th_flat\n" in text
    athena = export_text(export_rules(rules, dialect="athena", now=NOW), dialect="athena")
    assert "needs trailhound's functions" not in athena and "TH_FLAT" not in athena


def test_a_rule_name_cannot_break_out_of_its_comment() -> None:
    rule = load_rules([shipped_pack_dir()]).rules[0]
    hostile = dataclasses.replace(rule, name="x\nDROP TABLE t; --\r\u202e")
    text = export_text(export_rules([hostile], dialect="duckdb", now=NOW), dialect="duckdb")
    assert not any(line.startswith("DROP") for line in text.splitlines())
    assert "x\\x0aDROP TABLE t; --\\x0d\\u202e" in text


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trailhound", "rules", "export", *args],
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_cli_exports_the_rules_asked_for() -> None:
    done = run("--dialect", "trino", "AWS DynamoDB Table Scanned")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("SELECT") == 1
    assert "\"event.action\" = 'Scan'" in done.stdout


def test_cli_athena_view_comes_first_and_reads_the_documented_table() -> None:
    done = run("--dialect", "athena", "--view", "AWS DynamoDB Table Scanned")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CREATE OR REPLACE VIEW trailhound_events AS")
    assert "FROM cloudtrail_logs;" in done.stdout


def test_cli_names_what_it_left_out_and_refuses_unknown_rules() -> None:
    done = run("--dialect", "duckdb")
    assert "not exported: AWS DynamoDB Decoy Table Accessed" in done.stderr
    missing = run("--dialect", "duckdb", "no such rule")
    assert missing.returncode == 1 and "no rule with id or name 'no such rule'" in missing.stderr
    wrong = run("--dialect", "spark", "--view")
    assert wrong.returncode == 2 and "--view" in wrong.stderr


def _pack_rule(name: str) -> Rule:
    return next(r for r in load_rules([shipped_pack_dir()]).rules if r.name == name)


def event(
    n: int, at: timedelta, action: str = "DeleteTable", **fields: object
) -> dict[str, object]:
    return bare_event(n, at, action, event__dataset="aws.cloudtrail", **fields)


def _run_duckdb(sql: str, rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    register(con)
    con.register("trailhound_events", batch(rows))
    return con.execute(sql).fetchall()


def test_exported_threshold_counts_groups_at_the_rules_value() -> None:
    deleted = _pack_rule("AWS DynamoDB Multiple Tables Deleted")  # 6 in 10 minutes
    (e,) = export_rules([deleted], dialect="duckdb", now=NOW)
    assert e.sql is not None
    six = [event(n, timedelta(minutes=n)) for n in range(6)]
    assert _run_duckdb(e.sql, six) == [("111122223333", 6)]
    assert _run_duckdb(e.sql, six[:5]) == []
    # an event with no account is in no group, as trailhound counts it
    alone = [event(n, timedelta(minutes=n), cloud__account__id=None) for n in range(6)]
    assert _run_duckdb(e.sql, alone) == []
    # what the SQL cannot say is said beside it
    assert "sliding window of 10m" in e.beyond


def test_exported_new_terms_gives_each_terms_first_time() -> None:
    scan = _pack_rule("AWS DynamoDB Scan by Unusual User")
    (e,) = export_rules([scan], dialect="duckdb", now=NOW)
    assert e.sql is not None
    rows = [
        event(0, timedelta(minutes=5), "Scan", user__name="bob"),
        event(1, timedelta(minutes=1), "Scan", user__name="bob"),
        event(2, timedelta(minutes=3), "Scan", user__name="carol"),
        event(3, timedelta(minutes=0), "Query", user__name="dave"),
    ]
    got = sorted((user, seen) for _, user, seen in _run_duckdb(e.sql, rows))
    assert got == [("bob", T0 + timedelta(minutes=1)), ("carol", T0 + timedelta(minutes=3))]
    assert "14d" in e.beyond
