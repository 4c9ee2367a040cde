"""A rule whose filter fails on the data is left out, named, and every other rule runs, on
every engine (tests/pipeline/test_rule_isolation.py pins it for the DuckDB engine)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from conformance.conftest import Runner
from conformance.records import delivery, record
from support.rules import action, rule
from trailhound.engine.filtering import FilterPlan
from trailhound.rules.model import ThresholdSpec

DELETED = rule(action("DeleteTable"), name="table deleted")
THREE_IN_AN_HOUR = ThresholdSpec(("cloud.account.id",), 3, window=timedelta(hours=1))
MANY = rule(action("DeleteTable"), THREE_IN_AN_HOUR, name="many deleted")


def test_a_filter_failing_on_the_data_leaves_out_only_its_rule(
    engine: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = delivery(tmp_path, "d", [record(i, i * timedelta(minutes=1)) for i in range(3)])
    build = FilterPlan.build

    def broken(*args: Any, **kwargs: Any) -> FilterPlan:
        plan = build(*args, **kwargs)
        filters = tuple(
            f.with_tree(sqlglot.parse_one('CAST("event.action" AS INTEGER) = 1'))
            if f.rule_id == MANY.rule_id else f
            for f in plan.filters
        )  # fmt: skip
        return dataclasses.replace(plan, filters=filters)

    monkeypatch.setattr(FilterPlan, "build", broken)
    result = engine.scan([path], [DELETED, MANY])
    assert sorted(a.rule.name for a in result.alerts) == ["table deleted"] * 3
    assert list(result.stats.failed) == ["many deleted"]
    assert "DeleteTable" in result.stats.failed["many deleted"]
