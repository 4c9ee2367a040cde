"""Deciding at the end of a run gives the same alerts whatever order the matches were stored
in: rows at one event time are taken in event-id order, as the rule types' queries order them,
and groups compare their values by their bytes (upper case before lower, accents last)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from support.events import event, run
from support.rules import action, rule
from trailhound.rules.model import BaselineSpec
from trailhound.state.store import Store

H = timedelta(hours=1)
SPEC = BaselineSpec(
    fields=("user.name",), window=H, history=24 * H, min_count=10, min_history=3 * H, factor=5
)
RULE = rule(action("GetItem"), SPEC)


def _reads(ids: range, hour: int, user: str, *, same_time: bool = False) -> list[dict[str, Any]]:
    at = [hour * H + timedelta(seconds=1 if same_time else 10 * k + 1) for k in range(len(ids))]
    return [event(i, t, "GetItem", user__name=user) for i, t in zip(ids, at, strict=True)]


def _warm(user: str, first_id: int) -> list[dict[str, Any]]:
    return [r for h in range(5) for r in _reads(range(first_id + 10 * h, first_id + 10 * h + 4),
                                                h, user)]  # fmt: skip


def test_a_baseline_window_crossed_at_one_instant_alerts_at_the_event_ids_order() -> None:
    # thirty reads in the same microsecond, read newest id first: the bar (20) is reached at
    # the twentieth by event id, not the twentieth stored
    spike = list(reversed(_reads(range(30), 6, "alice", same_time=True)))
    alerts = run([RULE], _warm("alice", 1000) + spike)
    assert [a.event_ids for a in alerts] == [("ev-0019",)]


def test_groups_differing_only_in_case_or_accents_each_alert_once() -> None:
    rows = []
    for n, user in enumerate(["Ann", "ann", "ánn"]):
        rows += _warm(user, 1000 + 100 * n) + _reads(range(200 + 40 * n, 230 + 40 * n), 6, user)
    alerts = run([RULE], rows)
    users = ["Ann", "ann", "ánn"]
    assert sorted(a.key for a in alerts) == sorted((("user.name", u),) for u in users)
    assert sorted(a.event_ids for a in alerts) == [("ev-0219",), ("ev-0259",), ("ev-0299",)]


def test_an_error_while_on_one_thread_reaches_the_caller_as_itself(tmp_path: Path) -> None:
    # deciding runs on one DuckDB thread: a statement failing there aborts the transaction,
    # which then refuses the thread setting too; the caller must still see the first error
    store = Store.open(tmp_path / "state.duckdb")
    with pytest.raises(duckdb.BinderException), store.transaction(), store.one_thread():
        store.con.execute("SELECT no_such_column FROM matches")
    store.close()


def test_a_query_rule_capped_at_one_instant_keeps_the_first_by_event_id() -> None:
    # thirty reads in the same microsecond, stored newest id first: a cap of five keeps the
    # five first by event id, not the five first stored
    spike = list(reversed(_reads(range(30), 6, "alice", same_time=True)))
    alerts = run([rule(action("GetItem"), max_signals=5)], spike)
    assert sorted(a.event_ids for a in alerts) == [(f"ev-{i:04d}",) for i in range(5)]
