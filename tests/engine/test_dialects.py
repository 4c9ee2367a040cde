"""Golden SQL per engine: one filter tree, the text each dialect gets (as sqlglot's own
dialect tests read: `validate_all(input, write={dialect: sql})`).

A dialect left out of `write` is checked elsewhere: trino's text is athena's unless both are
given (Athena's engine is Trino's)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlglot

from trailhound.engine.dialects import DIALECTS, Unexpressible, render, udfs_needed
from trailhound.engine.exceptions import exception_predicate
from trailhound.engine.filtering import FilterPlan
from trailhound.engine.predicates import compile_predicate
from trailhound.engine.prefilter import filter_asts
from trailhound.rules import kql_ast as k
from trailhound.rules.kql import parse
from trailhound.rules.loader import load_rules
from trailhound.rules.model import Condition, RuleException

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PACK = Path(__file__).resolve().parents[2] / "src" / "trailhound" / "rules" / "pack"


def validate_all(query: str | k.Node, *, write: dict[str, str]) -> None:
    node = parse(query) if isinstance(query, str) else query
    tree = compile_predicate(node, now=NOW)
    if "trino" in write and "athena" not in write:
        write = {**write, "athena": write["trino"]}
    assert {d: render(tree, d) for d in write} == write


def test_match_is_an_equality_everywhere() -> None:
    validate_all(
        "event.action: Scan",
        write={
            "duckdb": "COALESCE(\"event.action\" = 'Scan', FALSE)",
            "spark": "COALESCE(`event.action` = 'Scan', FALSE)",
            "trino": "COALESCE(\"event.action\" = 'Scan', FALSE)",
        },
    )


def test_wildcard_is_like_with_the_escape_each_dialect_spells() -> None:
    # Spark reads backslashes in a literal as escapes, so its one escape character is '\\'
    validate_all(
        "event.action: Get*",
        write={
            "duckdb": "COALESCE(\"event.action\" LIKE 'Get%' ESCAPE '\\', FALSE)",
            "spark": "COALESCE(`event.action` LIKE 'Get%' ESCAPE '\\\\', FALSE)",
            "trino": "COALESCE(\"event.action\" LIKE 'Get%' ESCAPE '\\', FALSE)",
        },
    )


def test_date_range_is_a_timestamp_every_dialect_reads() -> None:
    validate_all(
        '@timestamp >= "2025-12-01"',
        write={
            "duckdb": 'COALESCE("@timestamp" >= '
            "CAST('2025-12-01 00:00:00+00:00' AS TIMESTAMPTZ), FALSE)",
            "spark": "COALESCE(`@timestamp` >= "
            "CAST('2025-12-01 00:00:00+00:00' AS TIMESTAMP), FALSE)",
            "trino": 'COALESCE("@timestamp" >= '
            "CAST('2025-12-01 00:00:00+00:00' AS TIMESTAMP WITH TIME ZONE), FALSE)",
        },
    )


def test_number_range() -> None:
    validate_all(
        "source.as.number > 1024",
        write={
            "duckdb": 'COALESCE("source.as.number" > 1024, FALSE)',
            "spark": "COALESCE(`source.as.number` > 1024, FALSE)",
            "trino": 'COALESCE("source.as.number" > 1024, FALSE)',
        },
    )


def test_exists_and_not() -> None:
    validate_all(
        "not user.name: * or user.name: alice",
        write={
            "duckdb": '(NOT (COALESCE(NOT "user.name" IS NULL, FALSE))) '
            "OR (COALESCE(\"user.name\" = 'alice', FALSE))",
            "spark": "(NOT (COALESCE(NOT `user.name` IS NULL, FALSE))) "
            "OR (COALESCE(`user.name` = 'alice', FALSE))",
            "trino": '(NOT (COALESCE(NOT "user.name" IS NULL, FALSE))) '
            "OR (COALESCE(\"user.name\" = 'alice', FALSE))",
        },
    )


def test_ip_compares_addresses_through_th_ip_key_or_trinos_ipaddress() -> None:
    validate_all(
        "source.ip: 10.1.2.3",
        write={
            "duckdb": 'COALESCE(TH_IP_KEY("source.ip") = '
            "'00000000000000000000ffff0a010203', FALSE)",
            "spark": "COALESCE(TH_IP_KEY(`source.ip`) = '00000000000000000000ffff0a010203', FALSE)",
            "trino": 'COALESCE(TRY_CAST("source.ip" AS IPADDRESS) = '
            "CAST('10.1.2.3' AS IPADDRESS), FALSE)",
        },
    )
    validate_all(
        'source.ip < "2001:db8::9"',
        write={
            "spark": "COALESCE(TH_IP_KEY(`source.ip`) < '20010db8000000000000000000000009', FALSE)",
            "trino": 'COALESCE(TRY_CAST("source.ip" AS IPADDRESS) < '
            "CAST('2001:db8::9' AS IPADDRESS), FALSE)",
        },
    )


def test_cidr() -> None:
    validate_all(
        "source.ip: 10.0.0.0/8",
        write={
            "duckdb": "COALESCE(TH_IN_CIDR(\"source.ip\", '10.0.0.0/8'), FALSE)",
            "spark": "COALESCE(TH_IN_CIDR(`source.ip`, '10.0.0.0/8'), FALSE)",
            "trino": "COALESCE(CONTAINS('10.0.0.0/8', "
            'TRY_CAST("source.ip" AS IPADDRESS)), FALSE)',
        },
    )


def test_flattened_field_reads_the_json_through_arrays() -> None:
    validate_all(
        "aws.cloudtrail.flattened.request_parameters.replicaUpdates.create.regionName: eu-west-1",
        write={
            "duckdb": "COALESCE(ARRAY_CONTAINS(TH_FLAT("
            '"aws.cloudtrail.flattened.request_parameters",'
            " 'replicaUpdates.create.regionName'), 'eu-west-1'), FALSE)",
            "spark": "COALESCE(ARRAY_CONTAINS(TH_FLAT("
            "`aws.cloudtrail.flattened.request_parameters`,"
            " 'replicaUpdates.create.regionName'), 'eu-west-1'), FALSE)",
            "trino": "COALESCE(CONTAINS(TRY_CAST(JSON_PARSE(JSON_QUERY("
            '"aws.cloudtrail.flattened.request_parameters", '
            '\'lax $."replicaUpdates"."create"."regionName"[*]\' WITH ARRAY WRAPPER))'
            " AS ARRAY(VARCHAR)), 'eu-west-1'), FALSE)",
        },
    )


def test_wildcard_on_a_list_filters_its_elements() -> None:
    validate_all(
        "aws.dynamodb.table_name: ord*",
        write={
            "duckdb": 'COALESCE(ARRAY_LENGTH(LIST_FILTER("aws.dynamodb.table_name", '
            "LAMBDA x : x LIKE 'ord%' ESCAPE '\\')) > 0, FALSE)",
            "spark": "COALESCE(SIZE(FILTER(`aws.dynamodb.table_name`, "
            "x -> x LIKE 'ord%' ESCAPE '\\\\')) > 0, FALSE)",
            "trino": 'COALESCE(CARDINALITY(FILTER("aws.dynamodb.table_name", '
            "x -> x LIKE 'ord%' ESCAPE '\\')) > 0, FALSE)",
        },
    )
    validate_all(
        "aws.dynamodb.table_name: users",
        write={
            "duckdb": "COALESCE(ARRAY_CONTAINS(\"aws.dynamodb.table_name\", 'users'), FALSE)",
            "spark": "COALESCE(ARRAY_CONTAINS(`aws.dynamodb.table_name`, 'users'), FALSE)",
            "trino": "COALESCE(CONTAINS(\"aws.dynamodb.table_name\", 'users'), FALSE)",
        },
    )


def test_regex_flags_move_into_the_pattern_where_the_dialect_takes_none() -> None:
    validate_all(
        k.Regex("user.name", "adm.n", case_insensitive=True, anchored=True),
        write={
            "duckdb": "COALESCE(REGEXP_FULL_MATCH(\"user.name\", 'adm.n', 'i'), FALSE)",
            "spark": "COALESCE(`user.name` RLIKE '(?i)^(?:adm.n)\\\\z', FALSE)",
            "trino": "COALESCE(REGEXP_LIKE(\"user.name\", '(?i)^(?:adm.n)\\z'), FALSE)",
        },
    )
    validate_all(
        k.Regex("user.name", "adm.n", case_insensitive=False, anchored=False),
        write={
            "duckdb": "COALESCE(REGEXP_MATCHES(\"user.name\", 'adm.n', 'c'), FALSE)",
            "spark": "COALESCE(`user.name` RLIKE 'adm.n', FALSE)",
            "trino": "COALESCE(REGEXP_LIKE(\"user.name\", 'adm.n'), FALSE)",
        },
    )


def test_length() -> None:
    validate_all(
        k.Length("user.name", ">", 3),
        write={
            "duckdb": 'COALESCE(LENGTH("user.name") > 3, FALSE)',
            "spark": "COALESCE(LENGTH(`user.name`) > 3, FALSE)",
            "trino": 'COALESCE(LENGTH("user.name") > 3, FALSE)',
        },
    )


def test_field_compare_uses_the_string_tests_each_dialect_has() -> None:
    validate_all(
        k.FieldCompare("user.name", "contains", "event.action"),
        write={
            "duckdb": 'COALESCE(CONTAINS("user.name", "event.action"), FALSE)',
            "spark": "COALESCE(CONTAINS(`user.name`, `event.action`), FALSE)",
            "trino": 'COALESCE(STRPOS("user.name", "event.action") > 0, FALSE)',
        },
    )
    validate_all(
        k.FieldCompare("user.name", "endswith", "event.action", case_insensitive=True),
        write={
            "duckdb": 'COALESCE(ENDS_WITH(LOWER("user.name"), LOWER("event.action")), FALSE)',
            "spark": "COALESCE(ENDSWITH(LOWER(`user.name`), LOWER(`event.action`)), FALSE)",
            "trino": 'COALESCE(STARTS_WITH(REVERSE(LOWER("user.name")), '
            'REVERSE(LOWER("event.action"))), FALSE)',
        },
    )


def test_case_insensitive_eql_forms() -> None:
    validate_all(
        k.Glob("user.name", ("Admin",), case_insensitive=True),
        write={
            "duckdb": "COALESCE(LOWER(\"user.name\") = 'admin', FALSE)",
            "spark": "COALESCE(LOWER(`user.name`) = 'admin', FALSE)",
            "trino": "COALESCE(LOWER(\"user.name\") = 'admin', FALSE)",
        },
    )
    validate_all(
        k.Glob("user.name", ("ad", k.Wild.ONE, "in", k.Wild.ANY), case_insensitive=True),
        write={
            "duckdb": "COALESCE(\"user.name\" ILIKE 'ad_in%' ESCAPE '\\', FALSE)",
            "spark": "COALESCE(`user.name` ILIKE 'ad_in%' ESCAPE '\\\\', FALSE)",
            "trino": "COALESCE(LOWER(\"user.name\") LIKE LOWER('ad_in%') ESCAPE '\\', FALSE)",
        },
    )


def test_quotes_in_values_stay_inside_the_literal() -> None:
    validate_all(
        k.Glob("user.name", ("x' OR '1'='1",)),
        write={
            "duckdb": "COALESCE(\"user.name\" = 'x'' OR ''1''=''1', FALSE)",
            "spark": "COALESCE(`user.name` = 'x\\' OR \\'1\\'=\\'1', FALSE)",
            "trino": "COALESCE(\"user.name\" = 'x'' OR ''1''=''1', FALSE)",
        },
    )


def test_exceptions_render_for_every_dialect() -> None:
    excused = RuleException(conditions=(Condition("source.ip", ("192.168.0.0/16",), "cidr"),))
    tree = exception_predicate(excused)
    assert render(tree, "spark") == ("(COALESCE(TH_IN_CIDR(`source.ip`, '192.168.0.0/16'), FALSE))")
    assert render(tree, "athena") == (
        "(COALESCE(CONTAINS('192.168.0.0/16', TRY_CAST(\"source.ip\" AS IPADDRESS)), FALSE))"
    )


def test_a_whole_flattened_object_is_named_unexpressible_for_trino() -> None:
    tree = compile_predicate(parse("aws.cloudtrail.flattened.request_parameters: x"), now=NOW)
    assert "TH_FLAT" in render(tree, "spark")
    with pytest.raises(Unexpressible, match="flattened object"):
        render(tree, "trino")


def test_udfs_needed_names_what_an_engine_must_register() -> None:
    tree = compile_predicate(
        parse("source.ip: 10.0.0.0/8 and aws.cloudtrail.flattened.request_parameters.a: b"),
        now=NOW,
    )
    assert udfs_needed(tree) == {"th_in_cidr", "th_flat"}
    assert udfs_needed(compile_predicate(parse("event.action: Scan"), now=NOW)) == frozenset()


def test_unknown_dialect_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="no SQL dialect 'mysql'"):
        render(compile_predicate(parse("event.action: Scan"), now=NOW), "mysql")


def test_every_pack_rule_renders_for_every_dialect_and_parses_back() -> None:
    rules = load_rules([PACK]).rules
    assert len(rules) == 32
    rendered = 0
    for rule in rules:
        for ast in filter_asts(rule):
            if not rule.runs:
                continue
            tree = compile_predicate(ast, now=NOW)
            for dialect in DIALECTS:
                sql = render(tree, dialect)
                back = sqlglot.parse_one(sql, read=DIALECTS[dialect].sqlglot)
                assert back.sql(DIALECTS[dialect].sqlglot) == sql, (rule.name, dialect)
                rendered += 1
    assert rendered >= 4 * 32


def test_rule_filter_ships_its_tree_and_renders_per_dialect() -> None:
    rules = load_rules([PACK]).rules
    plan = FilterPlan.build(rules, now=NOW)
    shipped = pickle.loads(pickle.dumps(plan))
    for sent, received in zip(plan.filters, shipped.filters, strict=True):
        assert received.sql("duckdb") == sent.where
        assert received.sql("spark") == render(sent.tree, "spark")


def test_a_replaced_filter_renders_its_own_tree_not_the_cached_text() -> None:
    plan = FilterPlan.build(load_rules([PACK]).rules, now=NOW)
    original = plan.filters[0]
    before = original.sql("spark")
    changed = original.with_tree(compile_predicate(parse("x: y"), now=NOW))
    assert changed.sql("spark") == "FALSE" and original.sql("spark") == before
