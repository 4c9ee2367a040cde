"""PagerDuty: Events API v2 triggers the receiver accepts, deduplicated by alert id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.outputs import deliver
from support.receiver import check_pagerduty
from support.receiver_fixture import Receiver
from trailhound.errors import ConfigError
from trailhound.outputs.base import build_output
from trailhound.outputs.http import HttpOutput, RetryPolicy
from trailhound.outputs.pagerduty import PagerDutyOutput, event

MakeAlert = Callable[..., dict[str, Any]]
KEY = "R0UTINGKEY0SECRET0abcdef01234567"  # 32 characters, as PagerDuty's are


def pagerduty(receiver: Receiver, **options: Any) -> HttpOutput:
    output = build_output(
        "pager",
        {
            "type": "pagerduty",
            "routing_key": KEY,
            "url": receiver.url + "/pagerduty/v2/enqueue",
            **options,
        },
    )
    assert isinstance(output, HttpOutput)
    output.sleep = lambda _: None
    return output


def test_every_shipped_rule_triggers_an_event_pagerduty_accepts(
    receiver: Receiver, pack_alert: MakeAlert, pack_rule_names: list[str]
) -> None:
    alerts = [pack_alert(name, events=2) for name in pack_rule_names]
    assert deliver(pagerduty(receiver), alerts) == {a["id"]: None for a in alerts}
    received = receiver.requests()
    assert [(r["status"], r["verdict"]) for r in received] == [(202, "ok")] * len(alerts)
    for request, alert in zip(received, alerts, strict=True):
        body = request["json"]
        assert body["dedup_key"] == alert["id"]
        assert body["event_action"] == "trigger"
        assert body["routing_key"] == KEY


def test_the_event_carries_the_alert(pack_alert: MakeAlert) -> None:
    alert = pack_alert("AWS DynamoDB Backup Deleted", events=2, action="DeleteBackup")
    body = event(alert, KEY)
    payload = body["payload"]
    assert payload["summary"] == (
        "AWS DynamoDB Backup Deleted: dba-admin called DeleteBackup on Orders "
        "from 72.21.198.66 (US); 2 events"
    )
    assert payload["source"] == "trailhound: AWS account 123456789012"
    assert payload["severity"] == "warning"
    assert payload["timestamp"] == alert["@timestamp"]
    assert (payload["component"], payload["group"], payload["class"]) == (
        "Orders", "123456789012", "AWS DynamoDB Backup Deleted")  # fmt: skip
    details = payload["custom_details"]
    assert details["techniques"] == ["T1490 Inhibit System Recovery"]
    assert details["actors"] == ["dba-admin"] and details["source_ips"] == ["72.21.198.66"]
    assert details["countries"] == ["US"] and details["tables"] == ["Orders"]
    assert details["count"] == 2 and details["alert_id"] == alert["id"]
    assert (details["first"], details["last"]) == (alert["event"]["start"], alert["event"]["end"])
    assert details["first_triage_step"].startswith("Who. Read user.name")
    assert body["client"] == "trailhound"
    assert body["links"] == [{"href": "https://attack.mitre.org/techniques/T1490/",
                              "text": "ATT&CK T1490: Inhibit System Recovery"}]  # fmt: skip


@pytest.mark.parametrize(("severity", "expected"), [
    ("critical", "critical"), ("high", "error"), ("medium", "warning"), ("low", "info"),
    ("bogus", "info"),
])  # fmt: skip
def test_severity_is_mapped(pack_alert: MakeAlert, severity: str, expected: str) -> None:
    alert = pack_alert()
    alert["rule"]["severity"] = severity
    assert event(alert, KEY)["payload"]["severity"] == expected


def test_long_and_hostile_values_fit_and_stay_text(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    alert = pack_alert(events=2, table="t" * 3000, user="\x1b[2J\u202e<b>" + "u" * 2000)
    alert["@timestamp"] = "not a time"  # left out rather than have the event refused
    body = event(alert, KEY)
    assert check_pagerduty(body) == []
    assert len(body["payload"]["summary"]) <= 1024
    assert "timestamp" not in body["payload"]
    text = str(body)
    assert "\x1b" not in text and "\u202e" not in text
    assert deliver(pagerduty(receiver), [alert]) == {alert["id"]: None}
    assert receiver.requests()[0]["verdict"] == "ok"


def test_a_400_is_not_retried_and_the_alert_stays_pending(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    bad_key = KEY[:-1]  # PagerDuty refuses a key of the wrong length with a 400
    output = PagerDutyOutput("pager", bad_key, receiver.url + "/pagerduty/v2/enqueue",
                             RetryPolicy(), 0)  # fmt: skip
    output.sleep = lambda _: pytest.fail("a 400 must not be retried")
    alerts = [pack_alert(events=1), pack_alert(events=2)]
    got = deliver(output, alerts)
    reason = "pager: HTTP 400, not retried: the destination refused it"
    assert got == {a["id"]: reason for a in alerts}  # each tried: a 400 is about one event
    received = receiver.requests()
    assert [(r["status"], r["verdict"]) for r in received] == [(400, "invalid")] * 2
    assert "Length of 'routing_key' is incorrect" in received[0]["problems"][0]
    assert bad_key not in reason


def test_a_429_is_retried(receiver: Receiver, pack_alert: MakeAlert) -> None:
    receiver.control(fail=2, status=429)
    alert = pack_alert()
    assert deliver(pagerduty(receiver), [alert]) == {alert["id"]: None}
    assert [r["status"] for r in receiver.requests()] == [429, 429, 202]


def test_secrets_never_appear_in_reasons(receiver: Receiver, pack_alert: MakeAlert) -> None:
    receiver.control(fail=100, status=503)
    alert = pack_alert()
    got = deliver(pagerduty(receiver, retry_attempts=2), [alert])
    assert got == {alert["id"]: "pager: HTTP 503 after 2 attempts"}


def test_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build_output("pager", {"type": "pagerduty"})
    assert caught.value.where == "outputs.pager.routing_key"
    with pytest.raises(ConfigError) as caught:
        build_output("pager", {"type": "pagerduty", "routing_key": "short-secret"})
    assert "short-secret" not in str(caught.value)
    with pytest.raises(ConfigError):
        build_output("pager", {"type": "pagerduty", "routing_key": KEY, "url": "ftp://x"})
    monkeypatch.setenv("PD_KEY", KEY)
    eu = "https://events.eu.pagerduty.com/v2/enqueue"
    output = build_output("pager", {"type": "pagerduty", "routing_key_env": "PD_KEY", "url": eu})
    assert isinstance(output, PagerDutyOutput)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    output = build_output("pager", {"type": "pagerduty", "routing_key_file": str(key_file),
                                    "min_severity": "critical"})  # fmt: skip
    assert not output.wants({"rule": {"severity": "high"}})
    assert output.wants({"rule": {"severity": "critical"}})
