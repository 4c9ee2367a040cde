"""The filter stage decides once per distinct combination of the values a rule reads, and
remembers; it must match exactly the rows each rule's SQL matches row by row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
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
