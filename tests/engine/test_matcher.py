"""The filter stage decides once per distinct combination of the values a rule reads, and
remembers; it must match exactly the rows each rule's SQL matches row by row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from hypothesis import given
from hypothesis import strategies as st

from fuzz.profiles import fuzz
from support.events import T0, batch, event
from support.rules import action, match, rule
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan, Matcher, _codes, _groups
from trailhound.engine.udfs import register
from trailhound.rules import kql_ast as k
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Condition, RuleException
from trailhound.sources.files import open_local

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    register(con)
    return con


def row_by_row(plan: FilterPlan, events: pa.RecordBatch) -> set[tuple[str, int, int]]:
    """The reference: each filter's SQL over every row, with the time window, in DuckDB."""
    con = connection()
    numbered = events.append_column("__n", pa.array(range(events.num_rows), pa.int64()))
    con.register("events", numbered)
    window = ['"@timestamp" IS NOT NULL']
    if plan.since is not None:
        window.append(f"\"@timestamp\" >= '{plan.since.isoformat()}'::TIMESTAMPTZ")
    if plan.until is not None:
        window.append(f"\"@timestamp\" < '{plan.until.isoformat()}'::TIMESTAMPTZ")
    found = set()
    for f in plan.filters:
        rows = con.execute(f"SELECT __n FROM events WHERE {' AND '.join(window)} AND {f.where}")
        found |= {(f.rule_id, f.step, n) for (n,) in rows.fetchall()}
    return found


def matched(matcher: Matcher, events: pa.RecordBatch) -> set[tuple[str, int, int]]:
    table = matcher.match(events, keep=["event.id"])
    if table is None:
        return set()
    return set(
        zip(
            table.column("rule_id").to_pylist(),
            table.column("step").to_pylist(),
            table.column("evidence_item").to_pylist(),
            strict=True,
        )
    )


def real_events(shared_data: Path) -> pa.RecordBatch:
    sources = [open_local(str(shared_data / d)) for d in ("dynamodb-real", "ecs-conformance")]
    batches = list(read_events(sources, enricher=Enricher.create(), report=Report()))
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def test_shipped_rules_over_real_events_match_as_row_by_row_sql(shared_data: Path) -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    plan = FilterPlan.build(rules, now=NOW)
    events = real_events(shared_data)
    expected = row_by_row(plan, events)
    assert expected  # real DynamoDB records raise several shipped rules
    matcher = Matcher(plan, connection())
    assert matched(matcher, events) == expected
    # a second batch of the same values is answered from memory, the same way
    assert matched(matcher, events) == expected


def test_time_window_and_exceptions_apply_per_row() -> None:
    rows = [
        event(1, timedelta(minutes=1), "Scan", **{"user.name": "alice"}),
        event(2, timedelta(minutes=2), "Scan", **{"user.name": "bob"}),
        event(3, timedelta(minutes=30), "Scan", **{"user.name": "alice"}),
        event(4, timedelta(minutes=3), "Scan", **{"event.outcome": "failure"}),
        event(5, timedelta(minutes=4), "DeleteTable"),
    ]
    scans = rule(action("Scan"), rule_id="scans")
    tables = rule(k.Or((match("event.action", "DeleteTable"), match("user.name", "bob"))),
                  rule_id="tables")  # fmt: skip
    excused = RuleException((Condition("user.name", ("bob",)),), rule_ids=("scans",))
    plan = FilterPlan.build(
        [scans, tables], exceptions=[excused], now=NOW,
        since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=10),
    )  # fmt: skip
    events = batch(rows)
    expected = row_by_row(plan, events)
    assert expected == {("scans", 0, 0), ("tables", 0, 1), ("tables", 0, 4)}
    assert matched(Matcher(plan, connection()), events) == expected


def test_rows_come_rule_by_rule_in_batch_order_with_the_kept_columns() -> None:
    rows = [event(i, timedelta(minutes=i), "Scan" if i % 2 else "DeleteTable") for i in range(6)]
    first = rule(action("Scan"), rule_id="a")
    second = rule(k.Exists("event.action"), rule_id="b")
    table = Matcher(FilterPlan.build([first, second], now=NOW), connection()).match(
        batch(rows), keep=["event.id", "user.name"]
    )
    assert table is not None
    assert table.column("rule_id").to_pylist() == ["a"] * 3 + ["b"] * 6
    assert table.column("evidence_item").to_pylist() == [1, 3, 5, 0, 1, 2, 3, 4, 5]
    assert table.column("event.id").to_pylist()[:3] == ["ev-0001", "ev-0003", "ev-0005"]
    assert {"user.name", "ts", "step"} <= set(table.schema.names)
    assert "cloud.account.id" not in table.schema.names


def test_each_batch_is_judged_on_its_own_values() -> None:
    """The filters' prepared queries must read the batch at hand, never one seen before."""
    scans = rule(k.And((action("Scan"), match("user.name", "mallory"))), rule_id="scans")
    matcher = Matcher(FilterPlan.build([scans], now=NOW), connection())
    first = batch([event(1, timedelta(minutes=1), "Scan", **{"user.name": "alice"})])
    second = batch(
        [
            event(2, timedelta(minutes=2), "Scan", **{"user.name": "bob"}),
            event(3, timedelta(minutes=3), "Scan", **{"user.name": "mallory"}),
        ]
    )
    assert matched(matcher, first) == set()
    assert matched(matcher, second) == {("scans", 0, 1)}
    assert matched(matcher, first) == set()


def test_matchers_come_and_go_on_one_connection() -> None:
    """A store outlives many detectors in one process (the watch loop, tests, a notebook)."""
    scans = rule(action("Scan"), rule_id="scans")
    plan = FilterPlan.build([scans], now=NOW)
    con = connection()
    events = batch([event(1, timedelta(minutes=1), "Scan")])
    for _ in range(50):
        assert matched(Matcher(plan, con), events) == {("scans", 0, 0)}


def test_filtering_on_a_cursor_leaves_the_databases_other_sessions_optimized() -> None:
    """A small scan filters on a cursor of the state's database: the deciding that follows on
    the store's own connection (a watcher's, step after step) must keep its optimizer."""
    # a wildcard has no plain form: the filter goes to DuckDB on the cursor
    starts_a = k.Match("user.name", k.Value(("a", k.Star.STAR)))
    scans = rule(k.And((action("Scan"), starts_a)), rule_id="scans")
    host = connection()
    cursor = host.cursor()
    events = batch([event(1, timedelta(minutes=1), "Scan", **{"user.name": "alice"})])
    assert matched(Matcher(FilterPlan.build([scans], now=NOW), cursor), events)

    setting = "SELECT current_setting('enable_optimizer')"
    assert cursor.execute(setting).fetchall() == [(False,)]
    assert host.execute(setting).fetchall() == [(True,)]
    assert host.cursor().execute(setting).fetchall() == [(True,)]


_ITEMS = st.sampled_from(["", "a", "b", "\x1f", "a\x1fb", "put", "Orders"]) | st.none()
_LISTS = st.none() | st.lists(_ITEMS, max_size=3)


@fuzz()
@given(st.lists(_LISTS, max_size=30), st.integers(0, 3))
def test_list_values_group_exactly_as_equal_lists(
    whole: list[list[str | None] | None], start: int
) -> None:
    # rows are grouped by codes; a list column (table names, operations) is coded from its
    # items' codes and its offsets: [] and [""], nulls, a null inside, a batch's slice
    lists = whole[start:]
    codes, bound = _codes(pa.array(whole, pa.list_(pa.string())).slice(start))
    assert len(codes) == len(lists)
    assert all(0 <= c <= bound for c in codes)
    for i, one in enumerate(lists):
        for j, other in enumerate(lists):
            assert (codes[i] == codes[j]) == (one == other), (one, other)


@fuzz(0.3)
@given(st.integers(1, 60), st.lists(st.integers(0, 2**32), min_size=1, max_size=150))
def test_rows_group_by_their_whole_combination_of_values(kinds: int, seeds: list[int]) -> None:
    # twelve columns of up to 60 values: more combinations than a 64-bit key can number
    # without renumbering on the way
    columns = [f"c{n}" for n in range(12)]
    rows = [[None if s % 7 == n else f"v{(s >> n) % kinds}" for n in range(12)] for s in seeds]
    table = pa.RecordBatch.from_pylist([dict(zip(columns, r, strict=True)) for r in rows])
    picked = np.arange(len(rows))
    group, first = _groups(table, columns, picked)
    for i, one in enumerate(rows):
        assert rows[first[group[i]]] == one
        assert first[group[i]] == rows.index(one)
        for j, other in enumerate(rows):
            assert (group[i] == group[j]) == (one == other)


_USERS = st.sampled_from(["alice", "bob", "mallory"])
_COUNTRIES = st.sampled_from(["US", "KP", "FR"]) | st.none()
_ROWS = st.lists(
    st.tuples(st.sampled_from(["Scan", "DeleteTable", "ListTables"]), _USERS, _COUNTRIES),
    min_size=1,
    max_size=6,
)


@fuzz(0.3)
@given(st.lists(_ROWS, min_size=1, max_size=8))
def test_later_batches_are_judged_as_row_by_row_sql(
    batches: list[list[tuple[str, str, str | None]]],
) -> None:
    """Each filter remembers its answers by the columns it reads, so a batch new only in
    one rule's column (a user, a country) is judged by the others from memory: every batch,
    in any order of first sightings, must still match as each rule's SQL does row by row."""
    rules = [
        rule(action("Scan"), rule_id="scans"),
        rule(k.And((action("Scan"), match("user.name", "mallory"))), rule_id="mallory"),
        rule(
            k.Or((match("source.geo.country_iso_code", "KP"), action("DeleteTable"))),
            rule_id="places",
        ),
        rule(k.Not(k.Exists("source.geo.country_iso_code")), rule_id="nowhere"),
    ]
    plan = FilterPlan.build(rules, now=NOW)
    matcher = Matcher(plan, connection())
    for number, rows in enumerate(batches):
        events = batch(
            [
                event(
                    number * 10 + i,
                    timedelta(minutes=i),
                    name,
                    **{"user.name": user},
                    source__geo__country_iso_code=country,
                )
                for i, (name, user, country) in enumerate(rows)
            ]
        )
        assert matched(matcher, events) == row_by_row(plan, events)


def _broken(plan: FilterPlan, rule_id: str, sql: str) -> FilterPlan:
    """`plan` with `rule_id`'s filter replaced by `sql` (its pairs kept)."""
    filters = tuple(
        f.with_tree(sqlglot.parse_one(sql)) if f.rule_id == rule_id else f for f in plan.filters
    )
    return dataclasses.replace(plan, filters=filters)


def test_a_filter_failing_on_the_data_leaves_out_only_its_rule_in_the_same_ask() -> None:
    """The filters asked about a batch run together; one that cannot evaluate on the data
    must cost only its own rule, with DuckDB's reason, while the others answer the same
    batch and the next."""
    rules = [
        rule(action("Scan"), rule_id="scans"),
        rule(action("DeleteTable"), rule_id="broken"),
        rule(k.And((action("Scan"), match("user.name", "mallory"))), rule_id="mallory"),
    ]
    whole = FilterPlan.build(rules, now=NOW)
    plan = _broken(whole, "broken", 'CAST("event.action" AS INTEGER) = 1')
    working = dataclasses.replace(whole, filters=whole.filters[::2])
    matcher = Matcher(plan, connection())
    users = ["alice", "mallory", "bob"]
    first = batch([event(i, timedelta(minutes=i), name, **{"user.name": users[i % 3]})
                   for i, name in enumerate(["Scan", "DeleteTable", "Scan", "Scan"])])  # fmt: skip
    assert matched(matcher, first) == row_by_row(working, first) != set()
    assert list(matcher.failed) == ["broken"]
    assert matcher.failed["broken"].startswith("ConversionException: ")
    assert "Could not convert string" in matcher.failed["broken"]
    second = batch([event(9, timedelta(minutes=9), "Scan", **{"user.name": "bob"})])
    assert matched(matcher, second) == row_by_row(working, second) == {("scans", 0, 0)}


def test_a_condition_is_asked_only_where_the_conditions_before_it_held() -> None:
    """As in a WHERE clause: a cast that cannot read most users' names is asked only about
    the rows whose action let it be reached, so the rule runs and fails nothing."""
    listing = k.And((action("ListTables"), match("user.name", "x")))  # reads the user's name
    rules = [rule(action("Scan"), rule_id="scans"), rule(listing, rule_id="seven")]
    guarded = 'COALESCE("event.action" = \'ListTables\', FALSE) AND CAST("user.name" AS INT) = 7'
    plan = _broken(FilterPlan.build(rules, now=NOW), "seven", guarded)
    rows = [event(1, timedelta(minutes=1), "Scan"),
            event(2, timedelta(minutes=2), "ListTables", **{"user.name": "7"}),
            event(3, timedelta(minutes=3), "ListTables", **{"user.name": "8"})]  # fmt: skip
    matcher = Matcher(plan, connection())
    assert matched(matcher, batch(rows)) == {("scans", 0, 0), ("seven", 0, 1)}
    assert matcher.failed == {}


_DYNAMODB = st.sampled_from(
    ["Scan", "DeleteTable", "RestoreTableToPointInTime", "RestoreTableFromBackup", "CreateTable",
     "DeleteBackup", "Query", "GetRecords", "ListTables", "BatchGetItem", "GetItem",
     "EnableKinesisStreamingDestination", "ListBackups", "TransactGetItems", "UpdateTable",
     "ExportTableToPointInTime", "GetShardIterator", "ExecuteStatement", "DeleteItem",
     "UpdateContinuousBackups", "PutResourcePolicy"]
)  # fmt: skip
_ELSEWHERE = st.sampled_from(
    [("kms.amazonaws.com", "PutKeyPolicy"), ("kms.amazonaws.com", "ScheduleKeyDeletion"),
     ("backup.amazonaws.com", "DeleteBackupVault"), ("backup.amazonaws.com", "DeleteRecoveryPoint"),
     ("backup.amazonaws.com", "DeleteBackupPlan"), ("streams.dynamodb.amazonaws.com", "GetRecords"),
     ("lambda.amazonaws.com", "CreateEventSourceMapping20150331"),
     ("kms.amazonaws.com", "Scan"), ("dynamodb.amazonaws.com", "DisableKey")]
)  # fmt: skip
# (provider, action): mostly pairs some shipped rule reads, now and then the wrong provider's
_CALLS = st.tuples(st.just("dynamodb.amazonaws.com"), _DYNAMODB) | _ELSEWHERE
_PARAMETERS = st.none() | st.sampled_from(
    ['{"pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": false}}',
     '{"recoveryPointArn": "arn:aws:dynamodb:us-east-1:1:table/t/backup/b"}',
     '{"recoveryPointArn": "arn:aws:backup:us-east-1:1:recovery-point:x"}',
     '{"tableName": "payroll-archive"}', "not json", "{}"]
)  # fmt: skip
_VALUED = st.fixed_dictionaries(
    {},
    optional={
        "event.dataset": st.just("aws.s3access"),
        "event.outcome": st.sampled_from(["success", "failure"]),
        "aws.cloudtrail.error_code": st.sampled_from(["AccessDenied", "AccessDeniedException"]),
        "aws.cloudtrail.user_identity.type": st.sampled_from(["AWSService", "IAMUser"]),
        "aws.cloudtrail.user_identity.invoked_by": st.just("backup.amazonaws.com"),
        "aws.cloudtrail.flattened.request_parameters": _PARAMETERS,
        "aws.dynamodb.table_name": st.lists(st.sampled_from(["orders", "payroll-archive"]),
                                            max_size=2),
        "aws.dynamodb.operations": st.lists(st.sampled_from(["SELECT", "DELETE", "UPDATE"]),
                                            max_size=2),
        "source.geo.country_iso_code": _COUNTRIES,
    },
)  # fmt: skip


@fuzz(0.2)
@given(st.lists(st.tuples(_CALLS, _VALUED), min_size=1, max_size=40))
def test_the_shipped_filters_together_answer_as_each_one_alone(
    rows: list[tuple[tuple[str, str], dict[str, object]]],
) -> None:
    """Every shipped filter asked at once, in one statement per batch on a connection
    without DuckDB's optimizer, must answer as each filter's own statement does row by row
    (the reference runs them one at a time, optimized) over a batch of varied values."""
    plan = FilterPlan.build(load_rules([shipped_pack_dir()]).rules, now=NOW)
    events = batch(
        [
            event(
                i,
                timedelta(minutes=i),
                name,
                **{"event.dataset": "aws.cloudtrail", "event.provider": provider, **values},
            )
            for i, ((provider, name), values) in enumerate(rows)
        ]
    )
    matcher = Matcher(plan, connection())
    assert matched(matcher, events) == row_by_row(plan, events)
    assert matcher.failed == {}
