"""query rules, alert identity, the ledger, suppression and max_signals."""

from __future__ import annotations

from datetime import timedelta

from pytest import MonkeyPatch

from support.events import batch, detector, event, run
from support.rules import action, rule
from trailhound.rules.model import Suppression
from trailhound.state import windows as stored_windows
from trailhound.state.store import Store

MIN = timedelta(minutes=1)
BY_ACTOR_TABLE = Suppression(
    group_by=("cloud.account.id", "user.name", "aws.dynamodb.table_name"),
    duration=timedelta(hours=1),
)


def puts(times: list[timedelta], **fields: object) -> list[dict[str, object]]:
    defaults: dict[str, object] = {"aws__dynamodb__table_name": ["orders"]}
    defaults.update(fields)
    return [event(i, t, "PutItem", **defaults) for i, t in enumerate(times)]  # type: ignore[arg-type]


def test_every_matching_event_is_an_alert_with_its_evidence() -> None:
    alerts = run([rule(action("PutItem"))], puts([0 * MIN, 1 * MIN]))
    assert [a.event_ids for a in alerts] == [("ev-0000",), ("ev-0001",)]
    assert alerts[0].evidence[0]["event.action"] == "PutItem"


def test_the_same_data_twice_makes_no_second_alert() -> None:
    r = rule(action("PutItem"))
    store = Store.open(None)
    first = detector([r], store)
    first.add(batch(puts([0 * MIN])))
    ids = [a.id for a in first.finish()]
    second = detector([r], store)
    second.add(batch(puts([0 * MIN])))
    assert ids and second.finish() == []
    assert second.stats.repeated == 1


def test_a_record_delivered_twice_in_one_run_alerts_once() -> None:
    """Trails deliver some events twice (overlapping copies, a file read from two places)."""
    r = rule(action("PutItem"))
    d = detector([r])
    d.add(batch(puts([0 * MIN]) + puts([0 * MIN])))
    alerts = d.finish()
    assert [a.event_ids for a in alerts] == [("ev-0000",)]
    assert d.stats.repeated == 1


def test_alert_id_depends_on_rule_version() -> None:
    rows = puts([0 * MIN])
    v1 = run([rule(action("PutItem"), version=1)], rows)
    v2 = run([rule(action("PutItem"), version=2)], rows)
    assert v1[0].id != v2[0].id


def test_suppression_folds_an_hour_of_one_actor_on_one_table_into_one_alert() -> None:
    r = rule(action("PutItem"), suppression=BY_ACTOR_TABLE)
    rows = puts([i * 10 * MIN for i in range(6)])  # 0..50 minutes
    rows += [event(60, 70 * MIN, "PutItem", aws__dynamodb__table_name=["orders"])]  # new window
    rows += [event(50, 5 * MIN, "PutItem", aws__dynamodb__table_name=["users"])]
    alerts = run([r], rows)
    summary = sorted((dict(a.key) == {}, a.count, a.event_ids[0]) for a in alerts)
    assert [c for _, c, _ in summary] == [1, 1, 6]


def test_suppression_window_continues_in_the_next_run() -> None:
    r = rule(action("PutItem"), suppression=BY_ACTOR_TABLE)
    store = Store.open(None)
    first = detector([r], store)
    first.add(batch(puts([0 * MIN])))
    assert len(first.finish()) == 1
    second = detector([r], store)
    second.add(batch([event(9, 30 * MIN, "PutItem", aws__dynamodb__table_name=["orders"])]))
    assert second.finish() == []


def test_do_not_suppress_events_missing_a_group_field() -> None:
    sup = Suppression(("user.name",), timedelta(hours=1), "doNotSuppress")
    r = rule(action("PutItem"), suppression=sup)
    rows = puts([0 * MIN, 1 * MIN], user__name=None)
    assert len(run([r], rows)) == 2
    r2 = rule(action("PutItem"), suppression=Suppression(("user.name",), timedelta(hours=1)))
    assert len(run([r2], rows)) == 1


def test_suppression_by_an_ip_field_groups_addresses_not_spellings() -> None:
    # Elastic suppresses by the terms of the field, and an ip field's terms are addresses.
    r = rule(action("PutItem"), suppression=Suppression(("source.ip",), timedelta(hours=1)))
    rows = [
        *puts([0 * MIN], source__ip="192.0.2.1"),
        event(1, 1 * MIN, "PutItem", source__ip="::ffff:192.0.2.1"),
        event(2, 2 * MIN, "PutItem", source__ip="192.0.2.2"),
    ]
    assert sorted(a.count for a in run([r], rows)) == [1, 2]


def test_max_signals_caps_alerts_per_interval() -> None:
    r = rule(action("PutItem"), max_signals=3)
    d = detector([r])
    d.add(batch(puts([timedelta(seconds=i) for i in range(5)])))
    assert len(d.finish()) == 3
    assert d.stats.dropped_by_max_signals["test rule"] == 2


def test_since_and_until_bound_the_input() -> None:
    from support.events import T0

    rows = puts([0 * MIN, 10 * MIN, 20 * MIN])
    alerts = run([rule(action("PutItem"))], rows, since=T0 + 5 * MIN, until=T0 + 20 * MIN)
    assert [a.event_ids for a in alerts] == [("ev-0001",)]


def test_query_rules_decided_together_keep_their_own_rows_groups_and_caps() -> None:
    """Every query rule's rows are read in one statement; each rule still decides its own:
    its matches, its suppression, its max_signals."""
    plain = rule(action("PutItem"), rule_id="a-plain", name="plain")
    folded = rule(action("PutItem"), rule_id="b-folded", name="folded",
                  suppression=BY_ACTOR_TABLE)  # fmt: skip
    capped = rule(action("PutItem"), rule_id="c-capped", name="capped", max_signals=2)
    deletes = rule(action("DeleteItem"), rule_id="d-deletes", name="deletes")
    rows = puts([i * MIN for i in range(4)])
    rows += [event(10, 5 * MIN, "DeleteItem", aws__dynamodb__table_name=["orders"])]
    d = detector([plain, folded, capped, deletes])
    d.add(batch(rows))
    alerts = d.finish()
    by_rule = {name: [a for a in alerts if a.rule.name == name]
               for name in ("plain", "folded", "capped", "deletes")}  # fmt: skip
    assert [a.event_ids for a in by_rule["plain"]] == [(f"ev-000{i}",) for i in range(4)]
    assert [(a.event_ids, a.count) for a in by_rule["folded"]] == [(("ev-0000",), 4)]
    assert [a.event_ids for a in by_rule["capped"]] == [("ev-0000",), ("ev-0001",)]
    assert d.stats.dropped_by_max_signals == {"capped": 2}
    assert [a.event_ids for a in by_rule["deletes"]] == [("ev-0010",)]


def test_groups_whose_values_share_a_hash_still_fold_apart(monkeypatch: MonkeyPatch) -> None:
    """Rows carry a hash of their group's values and the names are read per hash: should two
    groups share one, the rows are read again with their names, and no group is merged."""
    from trailhound.engine import query

    by_name = query._identity

    def one_hash(shape: int, parts: tuple[str, ...], by_hash: bool) -> str:
        return "42::UBIGINT" if by_hash else by_name(shape, parts, by_hash)

    r = rule(action("PutItem"), suppression=BY_ACTOR_TABLE)
    rows = puts([0 * MIN, 10 * MIN])
    rows += [event(2, 5 * MIN, "PutItem", aws__dynamodb__table_name=["users"])]
    rows += [event(3, 6 * MIN, "PutItem", user__name=None, aws__dynamodb__table_name=["orders"])]

    def decided() -> tuple[list[tuple[int, tuple[str, ...], str]], list[str]]:
        store = Store.open(None)
        d = detector([r], store)
        d.add(batch(rows))
        alerts = sorted((a.count, a.event_ids, a.id) for a in d.finish())
        return alerts, sorted(stored_windows.load(store, r.rule_id))

    expected = decided()
    monkeypatch.setattr(query, "_identity", one_hash)
    assert decided() == expected
    assert [count for count, _, _ in expected[0]] == [1, 1, 2]
    assert len(expected[1]) == 3
