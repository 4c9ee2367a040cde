"""new_terms rules: first seen within the history window, ageing out, learning periods."""

from __future__ import annotations

from datetime import timedelta

from support.events import batch, detector, event, run
from support.rules import action, rule
from trailhound.rules.model import NewTermsSpec
from trailhound.state.store import Store

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
SPEC = NewTermsSpec(fields=("cloud.account.id", "user.name"), history_window=14 * DAY)


def scans(*at: timedelta, user: str = "alice") -> list[dict[str, object]]:
    return [event(i, t, "Scan", user__name=user) for i, t in enumerate(at)]


def test_first_scan_by_a_user_alerts_and_the_second_does_not() -> None:
    alerts = run([rule(action("Scan"), SPEC)], scans(0 * DAY, 1 * DAY))
    assert [a.event_ids for a in alerts] == [("ev-0000",)]
    assert dict(alerts[0].key) == {"cloud.account.id": "111122223333", "user.name": "alice"}


def test_a_term_seen_exactly_at_the_history_boundary_is_not_new() -> None:
    alerts = run([rule(action("Scan"), SPEC)], scans(0 * DAY, 14 * DAY))
    assert len(alerts) == 1


def test_a_term_unseen_for_longer_than_the_history_window_is_new_again() -> None:
    alerts = run([rule(action("Scan"), SPEC)], scans(0 * DAY, 14 * DAY + SECOND))
    assert len(alerts) == 2


def test_terms_age_out_across_runs() -> None:
    r = rule(action("Scan"), SPEC)
    store = Store.open(None)
    first = detector([r], store)
    first.add(batch(scans(0 * DAY)))
    assert len(first.finish()) == 1
    second = detector([r], store)
    second.add(batch([event(7, 10 * DAY, "Scan")]))
    assert second.finish() == []
    third = detector([r], store)
    third.add(batch([event(8, 25 * DAY, "Scan")]))
    assert len(third.finish()) == 1


def test_each_value_of_an_array_is_a_term() -> None:
    spec = NewTermsSpec(fields=("aws.dynamodb.table_name",), history_window=14 * DAY)
    rows = [
        event(0, 0 * DAY, "Scan", aws__dynamodb__table_name=["a", "b"]),
        event(1, 1 * DAY, "Scan", aws__dynamodb__table_name=["b", "c"]),
    ]
    alerts = run([rule(action("Scan"), spec)], rows)
    assert sorted(dict(a.key)["aws.dynamodb.table_name"] for a in alerts) == ["a", "b", "c"]


def test_events_missing_a_term_field_make_no_term() -> None:
    rows = [event(0, 0 * DAY, "Scan", user__name=None)]
    assert run([rule(action("Scan"), SPEC)], rows) == []


def test_learning_period_last_second_is_silent_and_its_end_alerts() -> None:
    spec = NewTermsSpec(
        fields=("user.name", "source.geo.country_iso_code"),
        history_window=14 * DAY,
        learning_period=timedelta(hours=72),
    )
    r = rule(action("Scan"), spec)
    end = timedelta(hours=72)
    rows = [
        event(0, 0 * DAY, "Scan", source__geo__country_iso_code="US"),
        event(1, end - SECOND, "Scan", source__geo__country_iso_code="DE"),
        event(2, end, "Scan", source__geo__country_iso_code="BR"),
    ]
    alerts = run([r], rows)
    assert [a.event_ids for a in alerts] == [("ev-0002",)]


def test_learning_clock_survives_between_runs() -> None:
    spec = NewTermsSpec(
        fields=("user.name",), history_window=14 * DAY, learning_period=timedelta(hours=72)
    )
    r = rule(action("Scan"), spec)
    store = Store.open(None)
    first = detector([r], store)
    first.add(batch([event(0, 0 * DAY, "Scan")]))
    assert first.finish() == []
    second = detector([r], store)
    second.add(batch([event(1, 4 * DAY, "Scan", user__name="mallory")]))
    assert len(second.finish()) == 1


def test_an_ip_term_is_its_address_however_it_is_written() -> None:
    # Elasticsearch's ip field holds addresses, not texts: `::1` and `0:0::1` are one term,
    # as are an IPv4 address and its IPv4-mapped IPv6 form; the alert shows the term as
    # Elasticsearch shows a bucket key (IPv4 as IPv4, IPv6 compressed).
    spec = NewTermsSpec(fields=("source.ip",), history_window=14 * DAY)
    rows = [
        event(0, 0 * DAY, "Scan", source__ip="0:0::1"),
        event(1, 1 * DAY, "Scan", source__ip="::1"),
        event(2, 2 * DAY, "Scan", source__ip="::ffff:10.0.0.5"),
        event(3, 3 * DAY, "Scan", source__ip="10.0.0.5"),
        event(4, 4 * DAY, "Scan", source__ip="2001:DB8:0:0:0:0:0:7"),
    ]
    alerts = run([rule(action("Scan"), spec)], rows)
    assert [(a.event_ids, dict(a.key)["source.ip"]) for a in alerts] == [
        (("ev-0000",), "::1"),
        (("ev-0002",), "10.0.0.5"),
        (("ev-0004",), "2001:db8::7"),
    ]


def test_an_ip_term_stored_by_one_run_is_known_to_the_next_in_any_spelling() -> None:
    spec = NewTermsSpec(fields=("source.ip",), history_window=14 * DAY)
    r = rule(action("Scan"), spec)
    store = Store.open(None)
    first = detector([r], store)
    first.add(batch([event(0, 0 * DAY, "Scan", source__ip="10.0.0.5")]))
    assert len(first.finish()) == 1
    second = detector([r], store)
    second.add(batch([event(1, 1 * DAY, "Scan", source__ip="::FFFF:10.0.0.5")]))
    assert second.finish() == []


def test_rules_decided_together_keep_their_own_windows_and_terms() -> None:
    # the run's new_terms rules are decided by the same statements: each still judges its
    # own events by its own history window, and remembers its own terms for the next run
    wide = rule(action("Scan"), SPEC, name="wide")
    narrow = rule(action("Scan"), NewTermsSpec(fields=("user.name",), history_window=DAY),
                  name="narrow")  # fmt: skip
    store = Store.open(None)
    first = detector([wide, narrow], store)
    first.add(batch(scans(0 * DAY, 3 * DAY)))
    found = sorted((a.rule.name, a.event_ids) for a in first.finish())
    assert found == [("narrow", ("ev-0000",)), ("narrow", ("ev-0001",)), ("wide", ("ev-0000",))]
    second = detector([wide, narrow], store)
    second.add(batch([event(2, 5 * DAY, "Scan")]))
    assert [(a.rule.name, a.event_ids) for a in second.finish()] == [("narrow", ("ev-0002",))]
