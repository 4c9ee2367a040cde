"""What the report says about a set of alerts: severities, rankings, each actor's story."""

from __future__ import annotations

from datetime import UTC, datetime

from support.report_pages import AlertMaker
from trailhound.report import Scope, gather
from trailhound.report.gather import MOST_STEPS, ROUTINE, UNKNOWN_ACTOR, networks

SAVED = Scope.of_alerts("test alerts")


def at(minute: int) -> str:
    return f"2026-03-07T{8 + minute // 60:02d}:{minute % 60:02d}:00.000Z"


def test_alerts_by_severity_and_unknown_severities_are_unrated(make_alert: AlertMaker) -> None:
    alerts = [
        make_alert(severity="high"),
        make_alert(severity="low"),
        make_alert(severity="low"),
        make_alert(severity="urgent!!"),
    ]
    data = gather(alerts, SAVED)
    assert dict(data.severities) == {"critical": 0, "high": 1, "medium": 0, "low": 2,
                                     "unrated": 1}  # fmt: skip
    assert [s for s, _ in data.severities][:4] == ["critical", "high", "medium", "low"]


def test_alerts_in_time_order_once_each_and_inside_the_window(make_alert: AlertMaker) -> None:
    late, early, outside = make_alert(time=at(30)), make_alert(time=at(10)), make_alert(time=at(90))
    hour = (datetime(2026, 3, 7, 8, 0, tzinfo=UTC), datetime(2026, 3, 7, 9, 0, tzinfo=UTC))
    scope = Scope.of_alerts("x", since=hour[0], until=hour[1])
    data = gather([late, early, late, outside], scope)
    assert [v.alert["id"] for v in data.alerts] == [early["id"], late["id"]]
    assert [v.index for v in data.alerts] == [0, 1]
    assert (data.start, data.end) == (
        int(datetime(2026, 3, 7, 8, 10, tzinfo=UTC).timestamp() * 1e6),
        int(datetime(2026, 3, 7, 8, 30, tzinfo=UTC).timestamp() * 1e6),
    )


def test_rankings_count_alerts_per_value(make_alert: AlertMaker) -> None:
    alerts = [
        make_alert(actor="mallory", table="orders", country="RU", ip="198.51.100.7"),
        make_alert(actor="mallory", table="payments", country="RU", ip="198.51.100.99"),
        make_alert(actor="bob", table="orders", country="US", ip="192.0.2.1"),
    ]
    rankings = {r.title: dict(r.rows) for r in gather(alerts, SAVED).rankings}
    assert rankings["Actors"] == {"mallory": 2, "bob": 1}
    assert rankings["Tables"] == {"orders": 2, "payments": 1}
    assert rankings["Source countries"] == {"RU": 2, "US": 1}
    # neighbouring addresses make one network without an ASN database
    assert rankings["Source networks"] == {"198.51.100.0/24": 2, "192.0.2.0/24": 1}


def test_a_network_is_the_as_when_a_database_named_it(make_alert: AlertMaker) -> None:
    alert = make_alert(ip="2001:db8::1")
    assert networks(alert) == ("2001:db8::/48",)
    alert["evidence"][0]["source"]["as"] = {"number": 64500, "organization": {"name": "Example"}}
    assert networks(alert) == ("Example",)
    del alert["evidence"][0]["source"]["as"]["organization"]
    assert networks(alert) == ("AS64500",)
    assert networks(make_alert(ip="dynamodb.amazonaws.com")) == ()


def test_accounts_and_regions_come_from_the_events_read_when_a_scan_says(
    make_alert: AlertMaker,
) -> None:
    alerts = [make_alert(account="111122223333", region="eu-west-1")]
    assert gather(alerts, SAVED).accounts == (("111122223333", 1),)
    scanned = Scope(origin="scan", places={("444455556666", "us-east-1"): 7,
                                           ("111122223333", ""): 2})  # fmt: skip
    data = gather(alerts, scanned)
    assert data.accounts == (("444455556666", 7), ("111122223333", 2))
    assert data.regions == (("us-east-1", 7), ("(not recorded)", 2))


def test_an_intrusion_reads_as_one_story_in_time_order(make_alert: AlertMaker) -> None:
    steps = [
        ("AWS DynamoDB Backups Listed", "low", "ListBackups"),
        ("AWS DynamoDB Backup Deleted", "medium", "DeleteBackup"),
        ("AWS DynamoDB Backup Deleted", "medium", "DeleteBackup"),
        ("AWS DynamoDB Deletion Protection Disabled", "medium", "UpdateTable"),
        ("AWS DynamoDB Multiple Tables Deleted", "high", "DeleteTable"),
    ]
    alerts = [
        make_alert(time=at(i), rule_name=name, severity=severity, action=action, actor="mallory")
        for i, (name, severity, action) in reversed(list(enumerate(steps)))
    ]
    alerts.append(make_alert(time=at(3), actor="bob", severity="low"))
    data = gather(alerts, SAVED)
    story = data.stories[0]
    assert (story.actor, story.worst, story.alerts, story.rules) == ("mallory", "high", 5, 4)
    told = [[data.rules[r].name for r, _ in step.rules] for step in story.steps]
    assert told == [
        ["AWS DynamoDB Backups Listed"],
        ["AWS DynamoDB Backup Deleted"],  # the two deletions in a row are one step
        ["AWS DynamoDB Deletion Protection Disabled"],
        ["AWS DynamoDB Multiple Tables Deleted"],
    ]
    assert story.steps[1].alerts == 2 and story.steps[1].rules[0][1] == 2
    assert [s.actor for s in data.stories] == ["mallory", "bob"]


def test_routine_alerts_make_one_step_and_rare_ones_stand_out(make_alert: AlertMaker) -> None:
    alerts = []
    for i in range(2 * ROUTINE):
        name = "AWS DynamoDB Table Scanned" if i % 2 else "AWS DynamoDB Table Item Updated"
        alerts.append(make_alert(time=at(i), rule_name=name, actor="etl"))
    alerts.append(make_alert(time=at(ROUTINE), rule_name="AWS DynamoDB Table Exported to S3",
                             actor="etl"))  # fmt: skip
    story = gather(alerts, SAVED).stories[0]
    assert [step.alerts for step in story.steps] == [ROUTINE + 1, 1, ROUTINE - 1]
    assert len(story.steps[0].rules) == 2


def test_long_stories_are_cut_and_say_so(make_alert: AlertMaker) -> None:
    alerts = [
        # 45 rules, two alerts each and never in a row: none is routine, each alert a step
        make_alert(time=at(i), rule_name=f"rule {i % 45}", actor="busy")
        for i in range(90)
    ]
    story = gather(alerts, SAVED).stories[0]
    assert len(story.steps) == MOST_STEPS
    assert story.steps_left_out == 90 - MOST_STEPS


def test_an_alert_without_an_actor_is_told_under_unknown(make_alert: AlertMaker) -> None:
    data = gather([make_alert(actor=None)], SAVED)
    assert [s.actor for s in data.stories] == [UNKNOWN_ACTOR]


def test_rules_are_listed_once_with_their_alert_counts(make_alert: AlertMaker) -> None:
    alerts = [make_alert(rule_name="A"), make_alert(rule_name="B"), make_alert(rule_name="A")]
    data = gather(alerts, SAVED)
    assert {r.name: r.alerts for r in data.rules} == {"A": 2, "B": 1}
    assert all(data.rules[v.rule].name == v.summary.rule_name for v in data.alerts)
