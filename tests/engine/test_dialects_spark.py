"""The Spark SQL a filter renders to matches, in Spark itself, exactly the rows its DuckDB SQL
matches: every rule of the shipped pack and Elastic's 70, over real records.

Runs where pyspark and Java are installed (`pip install 'trailhound[spark]'`), else skips.
Spark's session here registers trailhound's functions (engine/udfs.py) under their own
names, as the Spark engine must, taking the names from `udfs_needed`.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.schema import arrow_schema
from trailhound.engine.dialects import render, udfs_needed
from trailhound.engine.filtering import FilterPlan
from trailhound.engine.predicates import compile_predicate
from trailhound.engine.udfs import (
    CIDR_UDF,
    FLAT_UDF,
    IP_UDF,
    flattened_values,
    in_cidr,
    ip_key,
    register,
)
from trailhound.rules import kql_ast as k
from trailhound.rules.kql import parse
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources.files import open_local

pytestmark = pytest.mark.spark
pyspark_sql = pytest.importorskip("pyspark.sql")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java", allow_module_level=True)

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as env:
        # Spark's Python workers must import trailhound's functions: run them in this Python
        env.setenv("PYSPARK_PYTHON", sys.executable)
        yield from _session()


def _session() -> Iterator[Any]:
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("trailhound-dialect-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    types = pyspark_sql.types
    session.udf.register(FLAT_UDF, flattened_values, types.ArrayType(types.StringType()))
    session.udf.register(CIDR_UDF, in_cidr, types.BooleanType())
    session.udf.register(IP_UDF, ip_key, types.StringType())
    yield session
    session.stop()


def events(shared_data: Path) -> pa.Table:
    folders = [
        shared_data / "dynamodb-real" / "dynamodb_records.ndjson",
        shared_data / "ecs-conformance",
        shared_data / "negative" / "stratus-red-team",
    ]
    sources = [open_local(str(f)) for f in folders]
    batches = read_events(sources, enricher=Enricher.create(), report=Report())
    table = pa.Table.from_batches(list(batches))
    return table.append_column("__n", pa.array(range(table.num_rows), pa.int64()))


def union(plan: FilterPlan, dialect: str) -> str:
    return " UNION ALL ".join(
        f"SELECT {i} AS f, __n FROM events WHERE {f.sql(dialect)}"
        for i, f in enumerate(plan.filters)
    )


def test_spark_sql_matches_what_duckdb_sql_matches(spark: Any, shared_data: Path) -> None:
    rules = load_rules([shipped_pack_dir(), shared_data / "elastic-rules"]).rules
    plan = FilterPlan.build(rules, now=NOW)
    table = events(shared_data)

    con = duckdb.connect()
    register(con)
    con.register("events", table)
    expected = set(con.execute(union(plan, "duckdb")).fetchall())

    spark.createDataFrame(table).createOrReplaceTempView("events")
    found = {(r["f"], r["__n"]) for r in spark.sql(union(plan, "spark")).collect()}

    assert found == expected
    assert len({f for f, _ in expected}) >= 20  # many filters match something, not a few
    # the functions were exercised: the pack reads flattened fields through th_flat
    assert FLAT_UDF in set().union(*(udfs_needed(f.tree) for f in plan.filters))


FORMS: list[k.Node] = [
    parse("user.name: admin"),
    parse("user.name: adm*"),
    parse("not user.name: *"),
    parse("source.ip: 10.0.0.0/8"),
    parse('source.ip: "2001:db8::/32"'),
    parse("source.ip: 10.0.0.1"),
    parse("source.ip < 10.0.0.100"),
    parse("aws.dynamodb.table_name: ord*"),
    parse("aws.dynamodb.table_name: users"),
    parse("aws.cloudtrail.flattened.request_parameters.replicaUpdates.create.regionName: eu-*"),
    parse("aws.cloudtrail.flattened.request_parameters.count: 25"),
    parse('@timestamp >= "2026-01-01T00:00:01Z"'),
    parse("aws.cloudtrail.read_only: false"),
    k.Regex("user.name", "adm.n", case_insensitive=True, anchored=True),
    k.Regex("user.name", "adm.n", case_insensitive=False, anchored=True),
    k.Regex("user.name", "dm", case_insensitive=False, anchored=False),
    k.Regex("aws.dynamodb.table_name", "ord.*", case_insensitive=True, anchored=True),
    k.Length("user.name", ">=", 6),
    k.FieldCompare("user.name", "contains", "event.action"),
    k.FieldCompare("user.name", "endswith", "event.action", case_insensitive=True),
    k.FieldCompare("user.name", "startswith", "event.action", case_insensitive=True),
    k.Glob("user.name", ("ADMIN",), case_insensitive=True),
    k.Glob("user.name", ("a", k.Wild.ONE, "min", k.Wild.ANY), case_insensitive=True),
    k.Glob("user.name", ("50%_", k.Wild.ANY)),  # `%` and `_` in values are literal
    parse("user.name: 50%_*"),
]


def form_rows() -> pa.Table:
    """A few events whose values sit on each form's edges."""
    rows: list[dict[str, Any]] = [
        {"user.name": "admin", "event.action": "min", "source.ip": "10.0.0.1",
         "aws.dynamodb.table_name": ["orders"], "aws.cloudtrail.read_only": False,
         "aws.cloudtrail.flattened.request_parameters":
             '{"replicaUpdates": [{"create": {"regionName": "eu-west-1"}}], "count": 25}',
         "@timestamp": datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)},
        {"user.name": "ADMIN\n", "event.action": "ADM", "source.ip": "10.0.0.99",
         "aws.dynamodb.table_name": ["Orders", "users"], "aws.cloudtrail.read_only": True,
         "@timestamp": datetime(2026, 1, 1, tzinfo=UTC)},
        {"user.name": "xadminx", "event.action": "X", "source.ip": "::ffff:10.0.0.200",
         "aws.dynamodb.table_name": []},
        {"user.name": "50%_off", "source.ip": "2001:db8::7", "event.action": "50%"},
        {"user.name": "500 off", "source.ip": "dynamodb.amazonaws.com"},
        {},
    ]  # fmt: skip
    schema = arrow_schema()
    columns = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}
    return pa.table(columns).append_column("__n", pa.array(range(len(rows)), pa.int64()))


def test_every_golden_form_means_the_same_in_spark_and_duckdb(spark: Any) -> None:
    table = form_rows()
    con = duckdb.connect()
    register(con)
    con.register("events", table)
    spark.createDataFrame(table).createOrReplaceTempView("events")
    for form in FORMS:
        tree = compile_predicate(form, now=NOW)
        where = "SELECT __n FROM events WHERE {} ORDER BY __n"
        in_duckdb = [n for (n,) in con.execute(where.format(render(tree, "duckdb"))).fetchall()]
        in_spark = [r["__n"] for r in spark.sql(where.format(render(tree, "spark"))).collect()]
        assert in_spark == in_duckdb, (form, render(tree, "spark"))
        assert in_duckdb != list(range(table.num_rows)) or isinstance(form, k.Not), form
