"""`rules export --dialect athena --view` runs on the CloudTrail table AWS documents for
Athena, and finds what trailhound's own filters find.

Athena is not on this machine, so its SQL runs in DuckDB: a table with the documented
`cloudtrail_logs` schema holds real records as Athena's CloudTrail SerDe presents them
(lower-case members, nested payloads as JSON text, every scalar as text), and sqlglot
transpiles the exported Athena SQL (the view, then each rule) to DuckDB's. A query rule's
rows must be exactly the events trailhound's filter matches in the same records; another
type's rows (grouped counts, first-seen terms, steps) exactly those of its DuckDB export over
trailhound's own normalized table of the same records. What the check
cannot cover is declared: rules reading or grouping by a column the view cannot produce (NULL,
with its reason in `NOT_IN_VIEW`), and flattened reads, whose SQL/JSON lax path DuckDB lacks.
Every column the view does give is also compared, record by record, with trailhound's own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
import sqlglot

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan, Matcher
from trailhound.engine.prefilter import ast_columns, filter_asts
from trailhound.engine.udfs import register
from trailhound.rules.athena_view import IN_VIEW, NOT_IN_VIEW, view_sql
from trailhound.rules.export import export_rules
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import QuerySpec, Rule
from trailhound.sources.files import open_local

NOW = datetime(2026, 3, 1, tzinfo=UTC)

# AWS's documented Athena table for CloudTrail (the column list of its CREATE EXTERNAL TABLE;
# the SerDe and LOCATION clauses are Athena's storage, not the schema)
ATHENA_DDL = """
CREATE EXTERNAL TABLE cloudtrail_logs (
  eventversion STRING,
  useridentity STRUCT<type:STRING, principalid:STRING, arn:STRING, accountid:STRING,
    invokedby:STRING, accesskeyid:STRING, username:STRING,
    onbehalfof:STRUCT<userid:STRING, identitystorearn:STRING>,
    sessioncontext:STRUCT<
      attributes:STRUCT<mfaauthenticated:STRING, creationdate:STRING>,
      sessionissuer:STRUCT<type:STRING, principalid:STRING, arn:STRING, accountid:STRING,
        username:STRING>,
      ec2roledelivery:STRING,
      webidfederationdata:STRUCT<federatedprovider:STRING, attributes:MAP<STRING,STRING>>>>,
  eventtime STRING, eventsource STRING, eventname STRING, awsregion STRING,
  sourceipaddress STRING, useragent STRING, errorcode STRING, errormessage STRING,
  requestparameters STRING, responseelements STRING, additionaleventdata STRING,
  requestid STRING, eventid STRING,
  resources ARRAY<STRUCT<arn:STRING, accountid:STRING, type:STRING>>,
  eventtype STRING, apiversion STRING, readonly STRING, recipientaccountid STRING,
  serviceeventdetails STRING, sharedeventid STRING, vpcendpointid STRING,
  vpcendpointaccountid STRING, eventcategory STRING,
  addendum STRUCT<reason:STRING, updatedfields:STRING, originalrequestid:STRING,
    originaleventid:STRING>,
  sessioncredentialfromconsole STRING, edgedevicedetails STRING,
  tlsdetails STRUCT<tlsversion:STRING, ciphersuite:STRING, clientprovidedhostheader:STRING>
)
"""
# columns whose value the view gives differently from trailhound, with the number of test
# records where it does: none (the columns it cannot give at all are in NOT_IN_VIEW)
KNOWN_DIFFERENCES: dict[str, int] = {}
_JSON_TEXT = {"requestparameters", "responseelements", "additionaleventdata",
              "serviceeventdetails", "edgedevicedetails"}  # fmt: skip


def raw_records(shared_data: Path) -> list[dict[str, Any]]:
    lines = (shared_data / "dynamodb-real" / "dynamodb_records.ndjson").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    pairs = (shared_data / "ecs-conformance" / "elastic_cloudtrail_pairs.ndjson").read_text()
    records += [json.loads(line)["raw"] for line in pairs.splitlines()]
    for path in sorted((shared_data / "negative" / "stratus-red-team").glob("*.json")):
        records += json.loads(path.read_text())
    return records


def as_athena_sees_it(record: dict[str, Any]) -> dict[str, Any]:
    """The row Athena's CloudTrail SerDe gives: members by lower-case name, the free-form
    payloads as JSON text, scalars as text."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        name = key.lower()
        if name in _JSON_TEXT:
            row[name] = None if value is None else orjson.dumps(value).decode()
        else:
            row[name] = _texts(value)
    return row


def _texts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.lower(): _texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_texts(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def athena_table(records: list[dict[str, Any]], folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(sqlglot.transpile(ATHENA_DDL, read="athena", write="duckdb")[0])
    described = con.execute("DESCRIBE cloudtrail_logs").fetchall()
    columns = {name: kind for name, kind, *_ in described}
    rows = folder / "athena_rows.ndjson"
    rows.write_bytes(b"\n".join(orjson.dumps(as_athena_sees_it(r)) for r in records))
    con.execute(
        "INSERT INTO cloudtrail_logs BY NAME SELECT * FROM read_json(?, columns = ?, "
        "format = 'newline_delimited')",
        [str(rows), columns],
    )
    return con


def normalized(records: list[dict[str, Any]], folder: Path) -> pa.RecordBatch:
    """The records as trailhound's reader makes them: the normalized table itself."""
    source = folder / "records.ndjson"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    batches = list(read_events([open_local(str(source))], enricher=Enricher.create(),
                               report=Report()))  # fmt: skip
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def trailhound_matches(rules: list[Rule], batch: pa.RecordBatch) -> dict[str, set[str]]:
    con = duckdb.connect()
    register(con)
    table = Matcher(FilterPlan.build(rules, now=NOW), con).match(batch, keep=["event.id"])
    found: dict[str, set[str]] = {r.rule_id: set() for r in rules}
    if table is not None:
        ids, events = table.column("rule_id").to_pylist(), table.column("event.id").to_pylist()
        for rule_id, event_id in zip(ids, events, strict=True):
            found[rule_id].add(event_id)
    return found


def rows(result: duckdb.DuckDBPyConnection) -> list[str]:
    """A result's rows, comparable whatever they hold: the events' ids (and step) when the
    rows are events, else the rows whole."""
    names = [d[0] for d in result.description]
    fetched = result.fetchall()
    if "event.id" in names:
        keep = [names.index(n) for n in ("step", "event.id") if n in names]
        return sorted(repr([row[i] for i in keep]) for row in fetched)
    return sorted(map(repr, fetched))


def gap(rule: Rule, sql: str | None) -> str | None:
    """Why this check cannot compare the rule, or None when it can."""
    if sql is None:
        return "not exported"
    read = {c for ast in filter_asts(rule) for c in ast_columns(ast)}
    read |= set(getattr(rule.spec, "fields", ()))
    read |= {c.field for c in getattr(rule.spec, "cardinality", ())}
    missing = sorted(read & set(NOT_IN_VIEW))
    if missing:
        return f"reads {', '.join(missing)}, which the view cannot give"
    if "JSON_QUERY" in sql:
        return "reads a flattened field through SQL/JSON, which DuckDB cannot run"
    return None


@pytest.mark.parametrize("rules_dir", ["pack", "elastic"])
def test_exported_athena_sql_finds_what_trailhound_finds(
    shared_data: Path, tmp_path: Path, rules_dir: str
) -> None:
    folder = shipped_pack_dir() if rules_dir == "pack" else shared_data / "elastic-rules"
    rules = [r for r in load_rules([folder]).rules if r.runs]
    records = raw_records(shared_data)
    con = athena_table(records, tmp_path)
    con.execute(sqlglot.transpile(view_sql(name="trailhound_events"), read="athena",
                                  write="duckdb")[0])  # fmt: skip
    batch = normalized(records, tmp_path)
    expected = trailhound_matches(rules, batch)
    # the other types' reference: trailhound's own DuckDB export over the normalized table
    own = duckdb.connect()
    register(own)
    own.register("trailhound_events", batch)
    own_sql = {e.rule.rule_id: e.sql for e in export_rules(rules, dialect="duckdb", now=NOW)}

    compared, declared, matched, grouped = 0, {}, 0, 0
    for exported in export_rules(rules, dialect="athena", now=NOW):
        rule = exported.rule
        why = gap(rule, exported.sql)
        if why is not None:
            declared[rule.name] = why
            continue
        assert exported.sql is not None
        duck = sqlglot.transpile(exported.sql, read="athena", write="duckdb")[0]
        result = con.execute(duck)
        if not isinstance(rule.spec, QuerySpec):
            reference = own_sql[rule.rule_id]
            assert reference is not None
            found_rows = rows(result)
            assert found_rows == rows(own.execute(reference)), rule.name
            grouped += 1
            matched += len(found_rows)
            continue
        names = [d[0] for d in result.description]
        found = {row[names.index("event.id")] for row in result.fetchall()}
        assert found == expected[rule.rule_id], rule.name
        compared += 1
        matched += len(found)
    # the check must cover real ground, not pass by declaring everything a gap
    # (measured: the pack's 5 query and 7 other rules, 6 rows; Elastic's 32 and 19, 12 rows)
    least = (5, 7) if rules_dir == "pack" else (32, 19)
    assert compared >= least[0] and grouped >= least[1], declared
    assert matched > 0


def test_the_view_gives_each_column_trailhounds_value(shared_data: Path, tmp_path: Path) -> None:
    records = raw_records(shared_data)
    con = athena_table(records, tmp_path)
    view = sqlglot.transpile(view_sql(name="trailhound_events"), read="athena", write="duckdb")
    con.execute(view[0])
    batch = normalized(records, tmp_path)
    ids = batch.column("event.id").to_pylist()
    differ: dict[str, int] = {}
    for name in IN_VIEW:
        ours = dict(zip(ids, batch.column(name).to_pylist(), strict=True))
        theirs = dict(con.execute(f'SELECT "event.id", "{name}" FROM trailhound_events').fetchall())
        wrong = [i for i in ours if _same(name, ours[i]) != _same(name, theirs.get(i))]
        if wrong:
            differ[name] = len(wrong)
    assert differ == KNOWN_DIFFERENCES


def _same(name: str, value: Any) -> Any:
    """The value as it means to a rule: a list its set of values (an empty one no value), a
    JSON text its members (trailhound, as Elastic, keeps no member whose value is empty text,
    null or an empty object or list)."""
    if isinstance(value, list):
        return sorted(value, key=repr) or None
    if name.startswith("aws.cloudtrail.flattened.") and isinstance(value, str):
        return _meaningful(orjson.loads(value)) or None
    return value


def _meaningful(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _meaningful(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ("", None, {}, [])}
    if isinstance(value, list):
        return [_meaningful(v) for v in value]
    return value
