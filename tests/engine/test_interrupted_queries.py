"""Ctrl-C that lands while DuckDB is calling our Python (a function used in a rule's SQL, an
Arrow table registered with it) comes back from DuckDB as an InvalidInputException. It must
still end the run as interrupted: taken for a failed rule, it would cost that rule the batch's
matches in a run that then commits, and the scan would end as "some input set aside"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from duckdb import func, sqltypes

from support.events import batch, event
from support.rules import action, match, rule
from trailhound.engine.filtering import FilterPlan, Matcher
from trailhound.engine.udfs import CIDR_UDF, register
from trailhound.errors import query_interrupted
from trailhound.rules import kql_ast as k


def raised(con: duckdb.DuckDBPyConnection, sql: str) -> Exception:
    with pytest.raises(duckdb.Error) as caught:
        con.execute(sql).fetchall()
    return caught.value


def udf_raising(exc: BaseException) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()

    def body(text: str | None) -> bool:
        raise exc

    con.create_function("odd", body, [sqltypes.VARCHAR], sqltypes.BOOLEAN)
    return con


class _StreamInterrupted:
    """An Arrow stream whose export is interrupted, as a pyarrow table's is when the signal
    arrives while DuckDB reads it."""

    def __arrow_c_schema__(self) -> Any:
        return pa.schema([("x", pa.int64())]).__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        raise KeyboardInterrupt


def test_ctrl_c_inside_a_function_called_from_sql_is_an_interruption() -> None:
    assert query_interrupted(raised(udf_raising(KeyboardInterrupt()), "SELECT odd('a')"))


def test_ctrl_c_while_duckdb_reads_a_registered_arrow_object_is_an_interruption() -> None:
    con = duckdb.connect()
    con.register("lent", _StreamInterrupted())
    assert query_interrupted(raised(con, "SELECT * FROM lent"))


@pytest.mark.parametrize(
    "text", ["KeyboardInterrupt: ", "failed: KeyboardInterrupt: ", "x' failed: KeyboardInterrupt"]
)
def test_a_value_that_spells_the_words_is_a_failure_not_an_interruption(text: str) -> None:
    """Record values reach these texts; none may make a data error pass for a Ctrl-C (the
    run would then never commit, whatever the user did)."""
    assert not query_interrupted(raised(udf_raising(ValueError(text)), "SELECT odd('a')"))
    quoted = text.replace("'", "''")
    assert not query_interrupted(raised(duckdb.connect(), f"SELECT CAST('{quoted}' AS INT)"))


def test_the_matcher_passes_ctrl_c_on_and_fails_no_rule() -> None:
    con = duckdb.connect()
    register(con)

    def interrupted(ip: str | None, cidr: str | None) -> bool:
        raise KeyboardInterrupt

    con.remove_function(CIDR_UDF)  # the signal lands in this function, as it can in ours
    con.create_function(CIDR_UDF, interrupted, [sqltypes.VARCHAR, sqltypes.VARCHAR],
                        sqltypes.BOOLEAN, null_handling=func.SPECIAL)  # fmt: skip
    inside = rule(k.And((action("Scan"), match("source.ip", "10.0.0.0/8"))), rule_id="inside")
    matcher = Matcher(FilterPlan.build([inside], now=datetime(2026, 3, 1, tzinfo=UTC)), con)
    rows = [event(1, timedelta(minutes=1), "Scan", **{"source.ip": "10.1.2.3"})]
    with pytest.raises(KeyboardInterrupt):
        matcher.match(batch(rows), keep=["event.id"])
    assert matcher.failed == {}
