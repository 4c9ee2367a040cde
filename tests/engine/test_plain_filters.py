"""Filters answered in Python (engine/plain_filters.py) must answer as DuckDB does, for every
value: NULL, empty text, letter case, non-ASCII, quotes, and NULL inside NOT, AND and OR."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st
from sqlglot import exp

from fuzz.profiles import fuzz
from support.events import batch, event
from support.rules import action, match, rule
from trailhound.engine.dialects import render
from trailhound.engine.filtering import FilterPlan, Matcher, prepare_filters
from trailhound.engine.plain_filters import bound, guard_form, plain_form
from trailhound.engine.predicates import column, compile_predicate
from trailhound.rules import kql_ast as k
from trailhound.rules.loader import load_rules, shipped_pack_dir

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TEXTS = ("event.action", "event.outcome", "user.name")
LIST = "aws.dynamodb.operations"  # a list of texts
COLUMNS = (*TEXTS, LIST)
_TEXTS = ["", "Scan", "scan", "SCAN", " Scan", "é", "e\u0301", "ß", "ss", "it's", "a\x00b", "☃"]
_VALUES = st.sampled_from(_TEXTS) | st.none()
_LISTS = st.none() | st.lists(_VALUES, max_size=3).map(tuple)  # as in a group's key
_ROWS = st.lists(st.tuples(_VALUES, _VALUES, _VALUES, _LISTS), min_size=1, max_size=12)


def _leaf() -> st.SearchStrategy[exp.Expr]:
    names = st.sampled_from(TEXTS)
    equal = st.builds(
        lambda n, t: exp.EQ(this=column(n), expression=exp.Literal.string(t)),
        names,
        st.sampled_from(_TEXTS),
    )
    null = st.builds(
        lambda n: exp.Is(this=column(n), expression=exp.Null()), st.sampled_from(COLUMNS)
    )
    const = st.sampled_from([True, False]).map(lambda b: exp.Boolean(this=b))
    holds = st.sampled_from(_TEXTS).map(
        lambda t: exp.ArrayContains(this=column(LIST), expression=exp.Literal.string(t))
    )
    size = exp.ArraySize(this=column(LIST))
    nonempty = st.just(exp.GT(this=size, expression=exp.Literal.number(0)))
    return equal | null | const | holds | nonempty


def _node(children: st.SearchStrategy[exp.Expr]) -> st.SearchStrategy[exp.Expr]:
    many = st.lists(children, min_size=2, max_size=3)
    return (
        many.map(lambda xs: exp.and_(*(exp.paren(x) for x in xs)))
        | many.map(lambda xs: exp.or_(*(exp.paren(x) for x in xs)))
        | children.map(lambda x: exp.not_(exp.paren(x)))
        | children.map(lambda x: exp.Coalesce(this=x, expressions=[exp.false()]))
    )


# trees of plain tests, with NULLs left inside (no COALESCE) as well as turned to false
_TREES = st.recursive(_leaf(), _node, max_leaves=8)


def _duckdb_answers(tree: exp.Expr, rows: list[tuple[Any, ...]], optimized: bool) -> list[bool]:
    con = duckdb.connect()
    con.execute(f"SET enable_optimizer = {str(optimized).lower()}")
    values = {name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(TEXTS)}
    lists = [None if r[-1] is None else list(r[-1]) for r in rows]
    groups = pa.table({**values, LIST: pa.array(lists, pa.list_(pa.string()))})
    con.register("groups", groups)
    where = render(tree, "duckdb")
    answers = con.execute(f"SELECT CASE WHEN {where} THEN true ELSE false END FROM groups")
    return [a for (a,) in answers.fetchall()]


def _python_answers(tree: exp.Expr, rows: list[tuple[Any, ...]]) -> list[bool]:
    form = plain_form(tree)
    assert form is not None, tree.sql()
    test = bound(form, COLUMNS)
    assert test is not None
    return [test(row) is True for row in rows]


@fuzz()
@given(_TREES, _ROWS, st.booleans())
def test_plain_trees_answer_as_duckdb(
    tree: exp.Expr, rows: list[tuple[Any, ...]], optimized: bool
) -> None:
    assert _python_answers(tree, rows) == _duckdb_answers(tree, rows, optimized)


_KQL_LEAVES = st.builds(
    lambda f, t: match(f, t), st.sampled_from(COLUMNS), st.sampled_from(_TEXTS)
) | st.builds(k.Exists, st.sampled_from(COLUMNS))  # a list column's too
_KQL = st.recursive(
    _KQL_LEAVES,
    lambda xs: (
        st.lists(xs, min_size=2, max_size=3).map(lambda v: k.And(tuple(v)))
        | st.lists(xs, min_size=2, max_size=3).map(lambda v: k.Or(tuple(v)))
        | xs.map(k.Not)
    ),
    max_leaves=6,
)


@fuzz()
@given(_KQL, _ROWS)
def test_rules_of_plain_tests_answer_as_duckdb(query: k.Node, rows: list[tuple[Any, ...]]) -> None:
    tree = exp.paren(compile_predicate(query, now=NOW))
    assert _python_answers(tree, rows) == _duckdb_answers(tree, rows, False)


def _like(name: str, pattern: str) -> exp.Expr:
    like = exp.Like(this=column(name), expression=exp.Literal.string(pattern))
    return exp.Coalesce(this=like, expressions=[exp.false()])


_OTHERS = st.builds(_like, st.sampled_from(TEXTS), st.sampled_from(["S%", "%a%", "_"]))


@fuzz()
@given(st.lists(_TREES | _OTHERS, min_size=1, max_size=4), _OTHERS, _ROWS)
def test_a_group_its_guard_rules_out_no_duckdb_answer_passes(
    conjuncts: list[exp.Expr], other: exp.Expr, rows: list[tuple[Any, ...]]
) -> None:
    tree = exp.and_(*(exp.paren(c) for c in [*conjuncts, other]))
    assert plain_form(tree) is None
    guard = guard_form(tree)
    duckdb_answers = _duckdb_answers(tree, rows, False)
    if guard is None:
        return
    test = bound(guard, COLUMNS)
    assert test is not None
    for row, answer in zip(rows, duckdb_answers, strict=True):
        assert test(row) is True or not answer


def test_anything_but_plain_tests_is_left_to_duckdb() -> None:
    wildcard = k.Match("user.name", k.Value(("a", k.Star.STAR)))
    for query in (
        wildcard,
        k.Match("aws.dynamodb.table_name", k.Value(("Ord", k.Star.STAR))),  # any element like
        match("aws.cloudtrail.flattened.request_parameters.tableName", "Orders"),
        match("source.ip", "10.0.0.1"),  # compared as an address
        k.Range("event.action", ">", k.Value(("a",))),
        k.And((action("Scan"), wildcard)),
    ):
        assert plain_form(compile_predicate(query, now=NOW)) is None, query


def test_a_plain_filter_is_answered_without_duckdb() -> None:
    scans = rule(k.And((action("Scan"), match("user.name", "mallory"))), rule_id="scans")
    con = duckdb.connect()
    con.close()  # any statement would fail
    matcher = Matcher(FilterPlan.build([scans], now=NOW), con)
    events = batch(
        [
            event(1, timedelta(minutes=1), "Scan", **{"user.name": "mallory"}),
            event(2, timedelta(minutes=2), "Scan", **{"user.name": "Mallory"}),
            event(3, timedelta(minutes=3), "Query", **{"user.name": "mallory"}),
        ]
    )
    found = matcher.match(events, keep=())
    assert found is not None
    assert found.column("evidence_item").to_pylist() == [0]


def test_the_plain_form_travels_with_a_filter_and_its_prepared_form() -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    plan = FilterPlan.build(rules, now=NOW)
    plain = [f for f in plan.filters if f.plain is not None]
    assert plain, "the shipped pack has filters of plain tests"
    for rule_filter in plan.filters:
        received = pickle.loads(pickle.dumps(rule_filter))
        assert (received.plain, received.guard) == (rule_filter.plain, rule_filter.guard)
    for one in rules:
        if one.runs:
            built = FilterPlan.build([one], now=NOW).filters
            prepared = prepare_filters(one)
            forms = [(f.plain, f.guard) for f in built]
            assert [(p.plain, p.guard) for p in prepared] in ([], forms)


def test_groups_a_filters_plain_tests_rule_out_are_not_asked_about() -> None:
    starts_a = k.Match("user.name", k.Value(("a", k.Star.STAR)))
    scans = rule(k.And((action("Scan"), starts_a)), rule_id="scans")
    con = duckdb.connect()
    con.close()  # any statement would fail
    matcher = Matcher(FilterPlan.build([scans], now=NOW), con)
    failed = event(1, timedelta(minutes=1), "Scan", **{"user.name": "alice"})
    failed["event.outcome"] = "failure"
    assert matcher.match(batch([failed]), keep=()) is None
    assert not matcher.failed
