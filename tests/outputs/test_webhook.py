"""The generic webhook: the alert JSON as stored, an idempotency key, and a signature."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from support.outputs import deliver
from support.receiver_fixture import Receiver
from trailhound.errors import ConfigError
from trailhound.outputs.base import build_output
from trailhound.outputs.http import HttpOutput
from trailhound.outputs.webhook import signature

MakeAlert = Callable[..., dict[str, Any]]
SECRET = "hook-signing-secret-0123"


def webhook(receiver: Receiver, **options: Any) -> HttpOutput:
    output = build_output("hook", {"type": "webhook", "url": receiver.url + "/hook/alerts",
                                   **options})  # fmt: skip
    assert isinstance(output, HttpOutput)
    output.sleep = lambda _: None
    return output



def test_the_body_is_the_alert_json_and_the_signature_verifies(
    start_receiver: Callable[..., Receiver], pack_alert: MakeAlert
) -> None:
    receiver = start_receiver(secret=SECRET)
    alerts = [pack_alert(events=1), pack_alert("AWS DynamoDB Backup Deleted")]
    output = webhook(receiver, secret=SECRET, headers={"Authorization": "Bearer t0k"})
    assert deliver(output, alerts) == {a["id"]: None for a in alerts}
    received = receiver.requests()
    assert [(r["status"], r["verdict"]) for r in received] == [(200, "ok")] * 2
    for request, alert in zip(received, alerts, strict=True):
        body = request["body"].encode()
        assert body == orjson.dumps(alert)
        assert request["json"] == alert
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["content-type"] == "application/json"
        assert headers["idempotency-key"] == alert["id"]
        assert headers["authorization"] == "Bearer t0k"
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-trailhound-signature"] == want == signature(SECRET.encode(), body)


def test_a_wrong_secret_is_refused_and_not_retried(
    start_receiver: Callable[..., Receiver], pack_alert: MakeAlert
) -> None:
    receiver = start_receiver(secret=SECRET)
    alert = pack_alert()
    got = deliver(webhook(receiver, secret="another-secret"), [alert])
    assert got == {alert["id"]: "hook: HTTP 401, not retried: the destination refused it"}
    assert len(receiver.requests()) == 1
    assert "another-secret" not in str(got)


def test_no_secret_no_signature(receiver: Receiver, pack_alert: MakeAlert) -> None:
    alert = pack_alert()
    assert deliver(webhook(receiver), [alert]) == {alert["id"]: None}
    headers = {k.lower() for k in receiver.requests()[0]["headers"]}
    assert "x-trailhound-signature" not in headers


def test_a_read_only_alert_mapping_is_sent_as_json(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    alert = pack_alert()
    frozen = MappingProxyType({**alert, "rule": MappingProxyType(alert["rule"])})
    assert deliver(webhook(receiver), [frozen]) == {alert["id"]: None}
    assert receiver.requests()[0]["json"] == alert


def test_an_alert_that_is_not_json_is_reported_and_the_rest_go(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    good = pack_alert()
    bad = {"id": "bad", "x": object()}
    got = deliver(webhook(receiver), [bad, good])
    assert got == {"bad": "hook: could not encode the alert", good["id"]: None}


@pytest.mark.parametrize("headers", [
    "Authorization: x",
    {"Bad Name": "x"},
    {"X-Ok": "two\r\nlines"},
    {"X-Ok": 3},
    {"Content-Type": "text/plain"},
    {"idempotency-key": "mine"},
    {"X-Trailhound-Signature": "forged"},
])  # fmt: skip
def test_extra_headers_are_checked(headers: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build_output("hook", {"type": "webhook", "url": "https://x.example/", "headers": headers})
    assert caught.value.where is not None and caught.value.where.startswith("outputs.hook.headers")
    assert "two\r\nlines" not in str(caught.value)


def test_options(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        build_output("hook", {"type": "webhook"})
    assert caught.value.where == "outputs.hook.url"
    with pytest.raises(ConfigError) as caught:
        build_output("hook", {"type": "webhook", "url": "https://x.example/", "secret": ""})
    assert caught.value.where == "outputs.hook.secret"
    monkeypatch.setenv("HOOK_URL", "https://x.example/in")
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    output = build_output(
        "hook",
        {
            "type": "webhook",
            "url_env": "HOOK_URL",
            "secret_env": "HOOK_SECRET",
            "min_severity": "medium",
        },
    )
    assert output.wants({"rule": {"severity": "medium"}})
    assert not output.wants({"rule": {"severity": "low"}})
