"""baseline rules: a group's count per window against its own history, alerting once per
window at the event that crosses the bar, only after its warm-up; state carries the history
and the half-counted window from one run to the next."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from support.events import batch, detector, event, run
from support.rules import action, rule
from trailhound.rules.model import BaselineSpec, ItemCount
from trailhound.state.store import Store

H = timedelta(hours=1)
SPEC = BaselineSpec(
    fields=("user.name",),
    window=H,
    history=24 * H,
    min_count=10,
    min_history=3 * H,
    factor=5,
)
RULE = rule(action("GetItem"), SPEC)


def _reads(n: int, hour: int, start: int = 0, user: str = "alice") -> list[dict[str, Any]]:
    """`n` GetItem calls spread over the first half of hour `hour`."""
    return [
        event(start + i, hour * H + timedelta(seconds=10 * i + 1), "GetItem", user__name=user)
        for i in range(n)
    ]


def _history(hours: range, per_hour: int = 4) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for h in hours:
        rows += _reads(per_hour, h, start=1000 + 100 * h)
    return rows


def test_a_spike_far_above_the_actors_own_hours_alerts_once_at_the_crossing_event() -> None:
    # four reads an hour for five hours: mean 4, so the bar is max(10, 5 x 4) = 20
    alerts = run([RULE], _history(range(5)) + _reads(30, 6))
    assert len(alerts) == 1
    assert alerts[0].event_ids == ("ev-0019",)  # the twentieth read of the hour
    assert alerts[0].count == 20


def test_just_below_the_bar_is_quiet_and_at_it_alerts() -> None:
    assert run([RULE], _history(range(5)) + _reads(19, 6)) == []
    assert len(run([RULE], _history(range(5)) + _reads(20, 6))) == 1


def test_min_count_holds_for_a_quiet_actor() -> None:
    # one read an hour: 5 x 1 = 5, but at least min_count = 10 must be read
    quiet = _history(range(5), per_hour=1)
    assert run([RULE], quiet + _reads(9, 6)) == []
    assert len(run([RULE], quiet + _reads(10, 6))) == 1


def test_no_alert_during_warm_up() -> None:
    # active for only two hours before the spike: less than min_history (3 h)
    assert run([RULE], _history(range(4, 6)) + _reads(50, 6)) == []
    # the same spike an hour later is judged with three hours of history
    assert len(run([RULE], _history(range(3, 6)) + _reads(50, 6))) == 1


def test_an_actor_with_no_history_never_alerts() -> None:
    assert run([RULE], _reads(500, 6)) == []


def test_each_group_has_its_own_baseline() -> None:
    bob = [
        event(5000 + i, h * H + timedelta(seconds=i + 1), "GetItem", user__name="bob")
        for h in range(5)
        for i in range(40)
    ]
    # 30 reads are a spike for alice (mean 4) but not for bob (mean 40)
    rows = _history(range(5)) + bob + _reads(30, 6) + _reads(30, 6, start=9000, user="bob")
    alerts = run([RULE], rows)
    assert [a.key for a in alerts] == [(("user.name", "alice"),)]


def test_deviations_raise_the_bar_for_an_irregular_actor() -> None:
    spec = BaselineSpec(("user.name",), H, 24 * H, 1, 3 * H, deviations=2)
    irregular = _history(range(0, 5, 2), per_hour=2) + _history(range(1, 5, 2), per_hour=10)
    # counts 2, 10, 2, 10, 2: mean 5.2, sd 3.92 -> bar 13.04, so 14 reads
    assert run([rule(action("GetItem"), spec)], irregular + _reads(13, 6)) == []
    assert len(run([rule(action("GetItem"), spec)], irregular + _reads(14, 6))) == 1


def test_items_count_where_the_call_logs_them() -> None:
    spec = BaselineSpec(("user.name",), H, 24 * H, 10, 3 * H, factor=5,
                        count=ItemCount("aws.dynamodb.operations", ("get",)))  # fmt: skip
    batches = [
        event(i, 6 * H + timedelta(seconds=i + 1), "GetItem", aws__dynamodb__operations=["get"] * 5)
        for i in range(4)
    ]
    rules = [rule(action("GetItem"), spec)]
    assert len(run(rules, _history(range(5)) + batches)) == 1  # 4 calls, 20 items


def test_a_window_alerts_once_and_a_later_run_continues_it() -> None:
    store = Store.open(None)
    first = detector([RULE], store)
    first.add(batch(_history(range(5)) + _reads(15, 6)))
    assert first.finish(final=True) == []
    second = detector([RULE], store)
    second.add(batch(_reads(15, 6, start=100)))  # the same hour, read later
    alerts = second.finish(final=True)
    assert [a.count for a in alerts] == [20]  # the window counted the first run's 15
    third = detector([RULE], store)
    third.add(batch(_reads(40, 6, start=300)))
    assert third.finish(final=True) == []  # the window has raised its alert


def test_a_late_event_is_counted_in_its_own_window() -> None:
    store = Store.open(None)
    first = detector([RULE], store, lateness=timedelta(minutes=30))
    first.add(batch(_history(range(5)) + _reads(19, 6)))
    first.add(batch([event(9999, 9 * H, "GetItem")]))  # the trail has moved on
    assert first.finish(final=False) == []
    second = detector([RULE], store, lateness=timedelta(minutes=30))
    late = event(777, 6 * H + timedelta(minutes=50), "GetItem")
    second.add(batch([late]))
    assert [a.event_ids for a in second.finish(final=True)] == [("ev-0777",)]


def test_two_runs_over_one_state_repeat_nothing() -> None:
    rows = _history(range(5)) + _reads(30, 6)
    store = Store.open(None)
    assert len(run([RULE], rows, store=store)) == 1
    assert run([RULE], rows, store=store) == []


def test_reading_the_same_events_again_counts_them_once() -> None:
    # ten reads an hour: the bar is 5 x 10 = 50; 40 reads are under it, read twice still so
    store = Store.open(None)
    rows = [*_history(range(5), per_hour=10), *_reads(40, 6)]
    assert run([RULE], rows, store=store) == []
    assert run([RULE], rows, store=store) == []
    assert run([RULE], [*rows, *_reads(40, 6)]) == []  # twice in one delivery
    assert len(run([RULE], [*rows, *_reads(10, 6, start=50)])) == 1  # ten more reads do


def test_a_batch_counts_its_items_once_per_event_even_when_delivered_twice() -> None:
    spec = BaselineSpec(("user.name",), H, 24 * H, 10, 3 * H, factor=5,
                        count=ItemCount("aws.dynamodb.operations", ("get",)))  # fmt: skip
    batch_read = event(1, 6 * H + timedelta(seconds=5), "GetItem",
                       aws__dynamodb__operations=["get"] * 15)  # fmt: skip
    rules = [rule(action("GetItem"), spec)]
    assert run(rules, [*_history(range(5)), batch_read, batch_read]) == []  # 15 < 20
