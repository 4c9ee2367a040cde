"""Each rule type's edge cases (the ones tests/engine pins on the DuckDB engine), on every
engine, from CloudTrail files: the same alerts, the same ids."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conformance.conftest import Runner
from conformance.records import delivery, record
from support.rules import action, rule
from trailhound.rules.kql import MATCH_ALL, parse
from trailhound.rules.model import (
    Condition,
    NewTermsSpec,
    RuleException,
    SequenceSpec,
    SequenceStep,
    ThresholdSpec,
)

MIN = timedelta(minutes=1)
DAY = timedelta(days=1)
SIX_IN_TEN = rule(action("DeleteTable"), ThresholdSpec(("cloud.account.id",), 6, window=10 * MIN))
NEW_SCANNER = rule(
    action("Scan"), NewTermsSpec(("cloud.account.id", "user.name"), history_window=14 * DAY)
)


def deletions(folder: Path, times: list[timedelta], **fields: object) -> Path:
    return delivery(folder, "deletions", [record(i, t, **fields) for i, t in enumerate(times)])  # type: ignore[arg-type]


def test_threshold_six_in_exactly_ten_minutes_alert(engine: Runner, tmp_path: Path) -> None:
    path = deletions(tmp_path, [i * 2 * MIN for i in range(6)])
    alerts = engine.scan([path], [SIX_IN_TEN]).alerts
    assert [(a.count, dict(a.key)) for a in alerts] == [(6, {"cloud.account.id": "111122223333"})]


def test_threshold_ten_minutes_and_a_second_is_too_long(engine: Runner, tmp_path: Path) -> None:
    times = [i * 2 * MIN for i in range(5)] + [10 * MIN + timedelta(seconds=1)]
    assert engine.scan([deletions(tmp_path, times)], [SIX_IN_TEN]).alerts == []


def test_threshold_eight_make_one_alert_twelve_make_two(engine: Runner, tmp_path: Path) -> None:
    eight = deletions(tmp_path / "8", [i * MIN for i in range(8)])
    twelve = deletions(tmp_path / "12", [i * 30 * timedelta(seconds=1) for i in range(12)])
    assert len(engine.scan([eight], [SIX_IN_TEN]).alerts) == 1
    assert len(engine.scan([twelve], [SIX_IN_TEN]).alerts) == 2


def test_threshold_failed_calls_do_not_count(engine: Runner, tmp_path: Path) -> None:
    path = deletions(tmp_path, [i * MIN for i in range(6)], error="AccessDenied")
    assert engine.scan([path], [SIX_IN_TEN]).alerts == []


def test_an_event_delivered_twice_counts_once(engine: Runner, tmp_path: Path) -> None:
    three = [record(i, i * MIN) for i in range(3)]
    paths = [delivery(tmp_path, "org-trail", three), delivery(tmp_path, "account-trail", three)]
    result = engine.scan(paths, [SIX_IN_TEN])
    assert result.alerts == [] and result.stats.repeated == 3


def test_new_terms_first_sighting_alerts_later_ones_do_not(
    engine: Runner, tmp_path: Path
) -> None:
    path = delivery(tmp_path, "scans", [record(0, 0 * DAY, "Scan"), record(1, 1 * DAY, "Scan")])
    alerts = engine.scan([path], [NEW_SCANNER]).alerts
    assert [a.event_ids for a in alerts] == [("ev-0000",)]


def test_new_terms_history_boundary(engine: Runner, tmp_path: Path) -> None:
    later = 14 * DAY + timedelta(seconds=1)
    at_boundary = delivery(tmp_path / "a", "s", [record(0, 0 * DAY, "Scan"),
                                                 record(1, 14 * DAY, "Scan")])  # fmt: skip
    past_it = delivery(tmp_path / "b", "s", [record(0, 0 * DAY, "Scan"),
                                             record(1, later, "Scan")])  # fmt: skip
    assert len(engine.scan([at_boundary], [NEW_SCANNER]).alerts) == 1
    assert len(engine.scan([past_it], [NEW_SCANNER]).alerts) == 2


def test_sequence_in_order_by_one_actor_within_maxspan(engine: Runner, tmp_path: Path) -> None:
    spec = SequenceSpec(
        by=("cloud.account.id", "user.name"), maxspan=timedelta(hours=1),
        steps=(SequenceStep("", action("DeleteBackup")), SequenceStep("", action("DeleteTable"))),
    )  # fmt: skip
    ordered = delivery(tmp_path / "a", "s", [record(0, 0 * MIN, "DeleteBackup"),
                                             record(1, 59 * MIN, "DeleteTable")])  # fmt: skip
    reversed_ = delivery(tmp_path / "b", "s", [record(0, 0 * MIN, "DeleteTable"),
                                               record(1, 5 * MIN, "DeleteBackup")])  # fmt: skip
    alerts = engine.scan([ordered], [rule(MATCH_ALL, spec)]).alerts
    assert [a.event_ids for a in alerts] == [("ev-0000", "ev-0001")]
    assert engine.scan([reversed_], [rule(MATCH_ALL, spec)]).alerts == []


def test_flattened_fields_and_cidr_exceptions(engine: Runner, tmp_path: Path) -> None:
    """The filters' own functions (flattened values, CIDR) run in the engine."""
    unprotected = rule(parse(
        "event.action:UpdateTable and "
        "aws.cloudtrail.flattened.request_parameters.deletionProtectionEnabled:false"
    ))  # fmt: skip
    office = RuleException((Condition("source.ip", ("198.51.100.0/24",), "cidr"),))
    off = {"deletionProtectionEnabled": False}
    path = delivery(tmp_path, "updates", [
        record(0, 0 * MIN, "UpdateTable", request=off),
        record(1, 1 * MIN, "UpdateTable", request=off, ip="198.51.100.7"),  # excused
        record(2, 2 * MIN, "UpdateTable", request={"deletionProtectionEnabled": True}),
        record(3, 3 * MIN, "UpdateTable", request={"billingMode": "PAY_PER_REQUEST"}),
    ])  # fmt: skip
    alerts = engine.scan([path], [unprotected], exceptions=[office]).alerts
    assert [a.event_ids for a in alerts] == [("ev-0000",)]


def test_since_and_until_bound_the_events(engine: Runner, tmp_path: Path) -> None:
    path = deletions(tmp_path, [i * MIN for i in range(20)])
    only = rule(action("DeleteTable"))
    t0 = record(0, 0 * MIN)["eventTime"]
    from trailhound.cloudtrail.record import parse_event_time

    start = parse_event_time(t0)
    assert start is not None
    alerts = engine.scan([path], [only], since=start + 5 * MIN, until=start + 8 * MIN).alerts
    assert sorted(a.event_ids[0] for a in alerts) == ["ev-0005", "ev-0006", "ev-0007"]


def test_bad_input_is_set_aside_by_name_and_the_rest_scanned(
    engine: Runner, tmp_path: Path
) -> None:
    good = deletions(tmp_path, [i * MIN for i in range(6)])
    broken = tmp_path / "broken.json"
    broken.write_text('{"Records": [{"eventTime": "2026-03-01T12:00:00Z", "eventName": ')
    result = engine.scan([good, broken], [SIX_IN_TEN])
    assert len(result.alerts) == 1
    problems = [(p.where, p.position is not None) for p in result.report.problems]
    assert problems == [(str(broken), True)]
