"""SQL that reads a rule's pending matches with their group or term values.

Multi-valued fields expand to one row per value (a term per value, as Elastic does), one
field after another so that two array fields give every combination. Rows missing a value
drop out: a missing field is no group and no term.

An ip field's value is its address, as Elasticsearch's terms and cardinality aggregations
count it: `::1` and `0:0::1`, or `10.0.0.5` and `::ffff:10.0.0.5`, are one group and one term,
written as Elasticsearch writes a bucket's key (an IPv4 address, or IPv6 compressed).
"""

from __future__ import annotations

from collections.abc import Sequence

from trailhound.cloudtrail.schema import BY_NAME, Kind, flattened_parent
from trailhound.engine.udfs import FLAT_UDF, IP_TEXT_UDF
from trailhound.rules.model import ItemCount


def value_sql(field: str) -> tuple[str, bool]:
    """The SQL reading `field` from `matches`, and whether it yields a list."""
    col = BY_NAME.get(field)
    if col is not None:
        return quoted(field), col.kind is Kind.KEYWORDS
    flat = flattened_parent(field)
    if flat is not None:
        parent, path = flat
        return f"{FLAT_UDF.upper()}({quoted(parent.name)}, {text_literal(path)})", True
    return "NULL", False


# DuckDB's spelling of a name and of a text, written out here as sqlglot's DuckDB generator
# writes them (a test holds the two equal): a scan decides its rules without loading sqlglot.
def quoted(name: str) -> str:
    """`name` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def text_literal(value: str) -> str:
    """`value` as a DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def key_sql(field: str) -> tuple[str, bool]:
    """Like `value_sql`, with an ip field's value read as its address (see `ip_text`)."""
    sql, is_list = value_sql(field)
    col = BY_NAME.get(field)
    if col is None or col.kind is not Kind.IP:
        return sql, is_list
    return f"{IP_TEXT_UDF}({sql})", is_list


def keyed_rows_sql(
    fields: tuple[str, ...],
    extra: tuple[tuple[str, str], ...] = (),
    *,
    rule: str = "$rule",
    source: str = "matches",
) -> str:
    """Rows of one rule up to a cutoff: seq, ts, event_id, k0..kn (VARCHAR), then `extra`.

    `extra` holds (SQL, alias) pairs carried along unchanged. Parameters: `rule` (the
    parameter holding the rule id; several rules' rows in one statement each take their
    own), $cutoff (epoch us). `source` names the table read (or a statement's CTE of
    `matches`' rows: see `rules_rows_cte`).
    """
    base = ", ".join(
        ["seq", "ts", '"event.id" AS event_id']
        + [f"{key_sql(f)[0]} AS k{i}" for i, f in enumerate(fields)]
        + [f"{sql} AS {alias}" for sql, alias in extra]
    )
    sql = f"SELECT {base} FROM {source} WHERE rule_id = {rule} AND ts <= $cutoff"
    for i, field in enumerate(fields):
        if key_sql(field)[1]:
            sql = f"SELECT * EXCLUDE (k{i}), UNNEST(k{i}) AS k{i} FROM ({sql})"
    keys = [f"k{i}::VARCHAR AS k{i}" for i in range(len(fields))]
    select = ", ".join(["seq", "ts", "event_id", *keys] + [alias for _, alias in extra])
    where = " AND ".join(f"k{i} IS NOT NULL" for i in range(len(fields))) or "TRUE"
    return f"SELECT {select} FROM ({sql}) WHERE {where}"


def rules_rows_cte(name: str, rules: str = "$rules") -> str:
    """A CTE `name` of the rows of the rules listed in the parameter `rules` up to $cutoff,
    for several rules' `keyed_rows_sql` in one statement: read apart, each rule's rows cost
    a scan of the whole `matches` table, and reading its event ids alone was ~7 ms at 1M
    events (unique texts, spread over every row group), however few rows the rule had."""
    return (
        f"{name} AS MATERIALIZED (SELECT * FROM matches "
        f"WHERE list_contains({rules}, rule_id) AND ts <= $cutoff)"
    )


def suppression_key_sql(fields: tuple[str, ...]) -> str:
    """A JSON text of the suppression group's values (arrays kept whole, as Elastic does)."""
    return json_list_sql(suppression_values_sql(fields))


def json_list_sql(parts: Sequence[str]) -> str:
    """The JSON text of a list of these values (SQL), each printed as `to_json` prints it."""
    return "to_json([" + ", ".join(f"to_json({p})" for p in parts) + "])"


def suppression_values_sql(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The SQL of each value `suppression_key_sql` puts in its text."""
    return tuple(key_sql(f)[0] for f in fields)


def suppression_missing_sql(fields: tuple[str, ...]) -> str:
    """True when any suppression field is absent from the row."""
    checks = []
    for f in fields:
        sql, is_list = value_sql(f)
        checks.append(f"({sql}) IS NULL" + (f" OR len({sql}) = 0" if is_list else ""))
    return "(" + " OR ".join(checks) + ")" if checks else "FALSE"


def item_count_sql(count: ItemCount | None) -> str:
    """How many times a row counts: once per value of the count's field among its values,
    once when the field is missing (the call logged no items), once without a count."""
    if count is None:
        return "1"
    sql, is_list = value_sql(count.field)
    wanted = ", ".join(text_literal(v) for v in count.values)
    if not is_list:
        return f"CASE WHEN ({sql}) IS NULL THEN 1 WHEN ({sql}) IN ({wanted}) THEN 1 ELSE 0 END"
    kept = f"len(list_filter({sql}, lambda x: x IN ({wanted})))"
    return f"CASE WHEN ({sql}) IS NULL OR len({sql}) = 0 THEN 1 ELSE {kept} END"
