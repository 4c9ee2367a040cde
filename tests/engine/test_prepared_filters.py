"""Filters prepared ahead of time are the filters a run would build, or are not used at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailhound.engine.filtering import FilterPlan, prepare_filters
from trailhound.rules import kql
from trailhound.rules.cache import with_prepared_filters
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Condition, Rule, RuleException

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def pack() -> list[Rule]:
    return load_rules([shipped_pack_dir()]).rules


def _texts(plan: FilterPlan) -> list[tuple[str, int, str]]:
    return [(f.rule_id, f.step, f.where) for f in plan.filters]


def test_prepared_filters_are_the_ones_built_at_run_time(
    pack: list[Rule], tmp_path: Path
) -> None:
    prepared = with_prepared_filters(tmp_path, pack)
    assert sum(1 for r in prepared if r.prepared) == sum(1 for r in pack if r.runs)
    built, taken = FilterPlan.build(pack, now=NOW), FilterPlan.build(prepared, now=NOW)
    assert _texts(taken) == _texts(built)
    assert taken.columns == built.columns
    assert [f.pairs for f in taken.filters] == [f.pairs for f in built.filters]
    # the tree travels along: another dialect renders the same as from the built filter
    assert [f.sql("spark") for f in taken.filters] == [f.sql("spark") for f in built.filters]
    # and a second run takes them from the folder's file
    again = with_prepared_filters(tmp_path, pack)
    assert [r.prepared for r in again] == [r.prepared for r in prepared]


def test_a_rule_changed_after_preparing_is_built_anew(pack: list[Rule], tmp_path: Path) -> None:
    prepared = with_prepared_filters(tmp_path, pack)
    rule = next(r for r in prepared if r.type == "query")
    changed = replace(rule, ast=kql.parse('event.action: "SomethingElse"'))
    assert changed.prepared == rule.prepared  # carried along by replace, yet stale
    plan = FilterPlan.build([changed], now=NOW)
    assert "SomethingElse" in plan.filters[0].where


def test_a_rule_with_an_exception_is_built_with_it(pack: list[Rule], tmp_path: Path) -> None:
    prepared = with_prepared_filters(tmp_path, pack)
    excuse = RuleException(conditions=(Condition("user.name", ("backup-bot",)),))
    built = FilterPlan.build(pack, exceptions=[excuse], now=NOW)
    taken = FilterPlan.build(prepared, exceptions=[excuse], now=NOW)
    assert _texts(taken) == _texts(built)
    assert all("backup-bot" in f.where for f in taken.filters)


def test_a_filter_that_reads_the_time_of_the_run_is_not_prepared(pack: list[Rule]) -> None:
    rule = replace(pack[0], ast=kql.parse("@timestamp >= now-1d and event.action: GetItem"))
    assert prepare_filters(rule) == ()
    assert prepare_filters(pack[0]) != ()


def test_a_damaged_file_of_prepared_filters_is_prepared_again(
    pack: list[Rule], tmp_path: Path
) -> None:
    with_prepared_filters(tmp_path, pack)
    (written,) = tmp_path.glob("filters-*.pickle")
    written.write_bytes(b"not a pickle")
    again = with_prepared_filters(tmp_path, pack)
    assert _texts(FilterPlan.build(again, now=NOW)) == _texts(FilterPlan.build(pack, now=NOW))
    assert written.read_bytes() != b"not a pickle"
