"""Threshold rules: sliding event-time windows, >=, consumption of evidence."""

from __future__ import annotations

from datetime import timedelta

from support.events import batch, detector, event, run
from support.rules import action, rule
from trailhound.rules.model import Cardinality, ThresholdSpec
from trailhound.state.store import Store

MIN = timedelta(minutes=1)
SIX_IN_TEN = ThresholdSpec(fields=("cloud.account.id",), value=6, window=10 * MIN)


def deletions(times: list[timedelta], **fields: object) -> list[dict[str, object]]:
    return [event(i, t, **fields) for i, t in enumerate(times)]  # type: ignore[arg-type]


def test_six_events_in_exactly_ten_minutes_alert() -> None:
    times = [i * 2 * MIN for i in range(6)]  # first at 0, last at 10:00
    alerts = run([rule(action("DeleteTable"), SIX_IN_TEN)], deletions(times))
    assert len(alerts) == 1
    assert alerts[0].count == 6
    assert dict(alerts[0].key) == {"cloud.account.id": "111122223333"}


def test_six_events_in_ten_minutes_and_one_second_do_not() -> None:
    times = [i * 2 * MIN for i in range(5)] + [10 * MIN + timedelta(seconds=1)]
    assert run([rule(action("DeleteTable"), SIX_IN_TEN)], deletions(times)) == []


def test_evidence_is_consumed_eight_make_one_twelve_make_two() -> None:
    r = rule(action("DeleteTable"), SIX_IN_TEN)
    eight = [i * MIN for i in range(8)]
    twelve = [i * 30 * timedelta(seconds=1) for i in range(12)]
    assert len(run([r], deletions(eight))) == 1
    assert len(run([r], deletions(twelve))) == 2


def test_groups_are_counted_apart() -> None:
    r = rule(action("DeleteTable"), SIX_IN_TEN)
    rows = deletions([i * MIN for i in range(3)], cloud__account__id="A")
    rows += [event(10 + i, i * MIN, cloud__account__id="B") for i in range(3)]
    assert run([r], rows) == []


def test_failed_calls_do_not_count() -> None:
    r = rule(action("DeleteTable"), SIX_IN_TEN)
    rows = deletions([i * MIN for i in range(6)], event__outcome="failure")
    assert run([r], rows) == []


def test_group_by_a_list_field_counts_each_value() -> None:
    spec = ThresholdSpec(fields=("aws.dynamodb.table_name",), value=2, window=10 * MIN)
    r = rule(action("UpdateTable"), spec)
    rows = [
        event(0, 0 * MIN, "UpdateTable", aws__dynamodb__table_name=["orders", "users"]),
        event(1, 1 * MIN, "UpdateTable", aws__dynamodb__table_name=["orders"]),
    ]
    alerts = run([r], rows)
    assert [dict(a.key) for a in alerts] == [{"aws.dynamodb.table_name": "orders"}]


def test_cardinality_needs_distinct_values() -> None:
    spec = ThresholdSpec(
        fields=("user.name",), value=3, window=10 * MIN,
        cardinality=(Cardinality("aws.dynamodb.table_name", 3),),
    )
    r = rule(action("Scan"), spec)
    same = [event(i, i * MIN, "Scan", aws__dynamodb__table_name=["t1"]) for i in range(5)]
    many = [event(i, i * MIN, "Scan", aws__dynamodb__table_name=[f"t{i}"]) for i in range(3)]
    assert run([r], same) == []
    assert len(run([r], many)) == 1


def test_late_event_completes_a_window_across_runs() -> None:
    r = rule(action("DeleteTable"), SIX_IN_TEN)
    store = Store.open(None)
    first = detector([r], store)
    first.add(batch(deletions([i * MIN for i in range(5)])))
    assert first.finish(final=True) == []
    late = detector([r], store)
    late.add(batch([event(99, 7 * MIN + timedelta(seconds=30))]))
    alerts = late.finish(final=True)
    assert len(alerts) == 1
    assert "ev-0099" in alerts[0].event_ids


def test_window_straddling_two_runs_alerts_once() -> None:
    r = rule(action("DeleteTable"), SIX_IN_TEN)
    store = Store.open(None)
    rows = deletions([i * MIN for i in range(8)])
    day1, day2 = detector([r], store), detector([r], store)
    day1.add(batch(rows[:3]))
    assert day1.finish() == []
    day2.add(batch(rows[3:]))
    assert len(day2.finish()) == 1
    again = detector([r], store)
    again.add(batch(rows))
    assert again.finish() == []


def test_an_ip_group_is_its_address_however_it_is_written() -> None:
    # Elasticsearch groups an ip field by address: three spellings of ::1 are one group of
    # three, shown as Elasticsearch shows the bucket key.
    spec = ThresholdSpec(fields=("source.ip",), value=3, window=10 * MIN)
    spellings = ["::1", "0:0::1", "0000:0000:0000:0000:0000:0000:0000:0001"]
    rows = [event(i, i * MIN, source__ip=ip) for i, ip in enumerate(spellings)]
    alerts = run([rule(action("DeleteTable"), spec)], rows)
    assert [(a.count, dict(a.key)) for a in alerts] == [(3, {"source.ip": "::1"})]


def test_an_ipv4_address_and_its_mapped_ipv6_form_are_one_group_shown_as_ipv4() -> None:
    spec = ThresholdSpec(fields=("source.ip",), value=2, window=10 * MIN)
    rows = [
        event(0, 0 * MIN, source__ip="::ffff:203.0.113.9"),
        event(1, 1 * MIN, source__ip="203.0.113.9"),
    ]
    alerts = run([rule(action("DeleteTable"), spec)], rows)
    assert [dict(a.key) for a in alerts] == [{"source.ip": "203.0.113.9"}]


def test_cardinality_of_an_ip_field_counts_addresses_not_spellings() -> None:
    spec = ThresholdSpec(
        fields=("user.name",),
        value=3,
        window=10 * MIN,
        cardinality=(Cardinality("source.ip", 2),),
    )
    r = rule(action("DeleteTable"), spec)
    one_address = ["10.0.0.5", "::ffff:10.0.0.5", "::ffff:a00:5"]
    rows = [event(i, i * MIN, source__ip=ip) for i, ip in enumerate(one_address)]
    assert run([r], rows) == []
    rows.append(event(3, 3 * MIN, source__ip="10.0.0.6"))
    assert len(run([r], rows)) == 1


def test_a_group_that_cannot_alert_yet_is_kept_for_the_run_that_completes_it() -> None:
    """A group whose rows together fall short of the rule is not walked row by row, but its
    rows stay for a later run: the one that brings the third table alerts with them."""
    spec = ThresholdSpec(
        fields=("user.name",), value=3, window=10 * MIN,
        cardinality=(Cardinality("aws.dynamodb.table_name", 3),),
    )  # fmt: skip
    r = rule(action("Scan"), spec)
    store = Store.open(None)
    first = detector([r], store)
    first.add(batch([event(i, i * MIN, "Scan", aws__dynamodb__table_name=[f"t{i % 2}"])
                     for i in range(6)]))  # fmt: skip
    assert first.finish(final=True) == []
    second = detector([r], store)
    second.add(batch([event(99, 7 * MIN, "Scan", aws__dynamodb__table_name=["t9"])]))
    alerts = second.finish(final=True)
    assert len(alerts) == 1
    assert "ev-0099" in alerts[0].event_ids and len(alerts[0].event_ids) >= 3
