"""The decide queries spell names and texts as sqlglot's DuckDB generator does, without it."""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp

from trailhound.cloudtrail.schema import BY_NAME
from trailhound.engine.keys import quoted, text_literal, value_sql
from trailhound.engine.udfs import FLAT_UDF

AWKWARD = ["plain", "it's", "two '' quotes", 'a "name"', "back\\slash", "new\nline", "é ü ∑", ""]


@pytest.mark.parametrize("text", AWKWARD)
def test_spelled_as_sqlglot_spells_them(text: str) -> None:
    assert quoted(text) == exp.column(exp.to_identifier(text, quoted=True)).sql("duckdb")
    assert text_literal(text) == exp.Literal.string(text).sql("duckdb")


@pytest.mark.parametrize("text", AWKWARD)
def test_duckdb_reads_back_the_same_text(text: str) -> None:
    con = duckdb.connect()
    assert con.execute(f"SELECT {text_literal(text)} AS {quoted(text or 'x')}").fetchone() == (
        text,
    )
    assert con.description is not None and con.description[0][0] == (text or "x")


def test_every_column_and_a_flattened_field_read_as_before() -> None:
    for name in BY_NAME:
        assert value_sql(name)[0] == exp.column(exp.to_identifier(name, quoted=True)).sql("duckdb")
    flat = "aws.cloudtrail.flattened.request_parameters.tableName"
    parent = "aws.cloudtrail.flattened.request_parameters"
    column = exp.column(exp.to_identifier(parent, quoted=True))
    expected = exp.func(FLAT_UDF, column, exp.Literal.string("tableName")).sql("duckdb")
    assert value_sql(flat) == (expected, True)
