"""docs/normalized-table.md, written from the schema (cloudtrail/schema.py) so the two cannot
drift apart: tests/rules/test_export.py checks the file against `markdown()`."""

from __future__ import annotations

from sqlglot import exp

from trailhound.cloudtrail.schema import COLUMNS, Kind
from trailhound.rules.athena_view import NOT_IN_VIEW
from trailhound.rules.export import TABLE

_KINDS: dict[Kind, str] = {
    Kind.KEYWORD: "text, matched exactly",
    Kind.KEYWORDS: "a list of texts; a rule matches when any element does",
    Kind.DATE: "an instant in UTC",
    Kind.LONG: "a whole number",
    Kind.BOOLEAN: "true or false",
    Kind.IP: "an address as text; rules compare it as an address",
    Kind.FLATTENED: "a JSON object as text; `column.a.b` reads inside it",
}
_SQL_TYPES: dict[Kind, str] = {
    Kind.KEYWORD: "VARCHAR",
    Kind.KEYWORDS: "ARRAY<VARCHAR>",
    Kind.DATE: "TIMESTAMPTZ",
    Kind.LONG: "BIGINT",
    Kind.BOOLEAN: "BOOLEAN",
    Kind.IP: "VARCHAR",
    Kind.FLATTENED: "VARCHAR",
}
_DIALECTS = ("duckdb", "spark", "trino")


def markdown() -> str:
    head = [
        "# The normalized events table",
        "",
        "<!-- written by trailhound.rules.table_doc from cloudtrail/schema.py; do not edit -->",
        "",
        f"`trailhound rules export` writes SQL over a table (default name `{TABLE}`) with one",
        'column per field below, named by its dotted ECS name (quote it: `"event.action"`).',
        "It is what trailhound's reader produces from CloudTrail, Elastic's mapping exactly;",
        "`--dialect athena --view` makes it from Athena's CloudTrail table, where the last",
        "column says what that view cannot give.",
        "",
        "| column | kind | " + " | ".join(_DIALECTS) + " | from Athena's table |",
        "|---|---|" + "---|" * len(_DIALECTS) + "---|",
    ]
    rows = [_row(c.name, c.kind) for c in COLUMNS]
    return "\n".join(head + rows) + "\n"


def _row(name: str, kind: Kind) -> str:
    sql = exp.DataType.build(_SQL_TYPES[kind])
    types = " | ".join(f"`{sql.sql(d)}`" for d in _DIALECTS)
    athena = NOT_IN_VIEW.get(name)
    return f"| `{name}` | {_KINDS[kind]} | {types} | {'no: ' + athena if athena else 'yes'} |"
