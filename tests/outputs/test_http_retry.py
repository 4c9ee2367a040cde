"""Retries, backoff, Retry-After and deadlines, against the real receiver process.

Long waits go through an injected sleep and clock; one test waits for real, briefly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from support.receiver_fixture import Receiver
from trailhound.errors import ConfigError
from trailhound.outputs.base import Pending, build_output
from trailhound.outputs.http import Budget, HttpOutput, RetryPolicy, post, retry_after

MakeAlert = Callable[..., dict[str, Any]]


class FakeTime:
    """A clock that moves only when slept on, and remembers each sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Reports:
    def __init__(self) -> None:
        self.got: dict[str, str | None] = {}

    def __call__(self, alert_id: str, reason: str | None) -> None:
        assert alert_id not in self.got, "each alert is reported once"
        self.got[alert_id] = reason


def hook(receiver: Receiver, fake: FakeTime | None = None, **options: Any) -> HttpOutput:
    output = build_output("hook", {"type": "webhook", "url": receiver.url + "/hook/x", **options})
    assert isinstance(output, HttpOutput)
    if fake is not None:
        output.sleep, output.clock = fake.sleep, fake.clock
    output.jitter = lambda: 0.5
    return output


def pending(alerts: list[dict[str, Any]]) -> list[Pending]:
    return [Pending(a["id"], a) for a in alerts]


def test_two_server_errors_then_success_delivers_once_in_three_requests(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    fake = FakeTime()
    receiver.control(fail=2, status=500)
    alert = pack_alert()
    reports = Reports()
    hook(receiver, fake).deliver(pending([alert]), reports)
    assert reports.got == {alert["id"]: None}
    assert [r["status"] for r in receiver.requests()] == [500, 500, 200]
    # full jitter at 0.5 of the exponential steps of 1 s and 2 s
    assert fake.sleeps == [0.5, 1.0]


def test_retry_after_in_seconds_is_honoured_on_429(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    fake = FakeTime()
    receiver.control(fail=1, status=429, retry_after=7)
    reports = Reports()
    alert = pack_alert()
    hook(receiver, fake).deliver(pending([alert]), reports)
    assert reports.got == {alert["id"]: None}
    assert fake.sleeps == [7.0]


def test_retry_after_as_an_http_date_is_honoured(receiver: Receiver, pack_alert: MakeAlert) -> None:
    fake = FakeTime()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    receiver.control(fail=1, status=503, retry_after=when)
    reports = Reports()
    alert = pack_alert()
    hook(receiver, fake).deliver(pending([alert]), reports)
    assert reports.got == {alert["id"]: None}
    assert len(fake.sleeps) == 1 and 27 <= fake.sleeps[0] <= 31


def test_a_real_short_retry_after_wait(receiver: Receiver, pack_alert: MakeAlert) -> None:
    receiver.control(fail=1, status=503, retry_after=1)
    reports = Reports()
    alert = pack_alert()
    started = time.monotonic()
    hook(receiver).deliver(pending([alert]), reports)
    assert reports.got == {alert["id"]: None}
    first, second = receiver.requests()
    assert (first["status"], second["status"]) == (503, 200)
    assert second["time"] - first["time"] >= 0.9
    assert time.monotonic() - started < 5


def test_a_retry_after_beyond_the_deadline_ends_the_run_without_waiting(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    fake = FakeTime()
    receiver.control(fail=10, status=429, retry_after=3600)
    alerts = [pack_alert(events=n) for n in (1, 2, 3)]
    reports = Reports()
    hook(receiver, fake, retry_for=60).deliver(pending(alerts), reports)
    assert fake.sleeps == []
    assert len(receiver.requests()) == 1
    first, *rest = (reports.got[a["id"]] for a in alerts)
    assert first is not None and first.startswith("hook: HTTP 429")
    assert all(r is not None and r.startswith("hook gave up for this run: ") for r in rest)


def test_a_hang_beyond_the_timeout_is_reported_and_deliver_returns(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    receiver.control(hang=3)
    alerts = [pack_alert(events=1), pack_alert(events=2)]
    reports = Reports()
    started = time.monotonic()
    hook(receiver, retry_attempts=1, timeout=0.5).deliver(pending(alerts), reports)
    assert time.monotonic() - started < 2.5
    assert reports.got[alerts[0]["id"]] == "hook: timed out"
    # the destination is taken to be down: the next alert is not tried in this run
    assert reports.got[alerts[1]["id"]] == "hook gave up for this run: timed out"


def test_a_timed_out_request_is_retried(receiver: Receiver, pack_alert: MakeAlert) -> None:
    fake = FakeTime()
    receiver.control(hang=2)
    alert = pack_alert()
    reports = Reports()
    started = time.monotonic()
    hook(receiver, fake, retry_attempts=3, timeout=0.5).deliver(pending([alert]), reports)
    assert reports.got == {alert["id"]: None}
    assert time.monotonic() - started < 1.8  # not waiting out the hang


def test_the_deadline_stops_retries_and_leaves_the_rest_untried(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    fake = FakeTime()
    receiver.control(fail=100, status=502)
    alerts = [pack_alert(events=n) for n in (1, 2)]
    reports = Reports()
    output = hook(receiver, fake, retry_for=2, retry_attempts=5)
    output.jitter = lambda: 0.99
    output.deliver(pending(alerts), reports)
    # backoffs 0.99 then 1.98: the second would pass the 2 s deadline, so not slept
    assert fake.sleeps == [0.99]
    assert len(receiver.requests()) == 2
    assert reports.got[alerts[0]["id"]] == (
        "hook: HTTP 502 after 2 attempts; no time left in this run to retry"
    )
    assert reports.got[alerts[1]["id"]] == (
        "hook gave up for this run: HTTP 502 after 2 attempts; no time left in this run to retry"
    )


def test_attempts_run_out(receiver: Receiver, pack_alert: MakeAlert) -> None:
    fake = FakeTime()
    receiver.control(fail=100, status=500)
    alert = pack_alert()
    reports = Reports()
    hook(receiver, fake, retry_attempts=3).deliver(pending([alert]), reports)
    assert reports.got == {alert["id"]: "hook: HTTP 500 after 3 attempts"}
    assert len(receiver.requests()) == 3


def test_a_client_error_is_not_retried_and_other_alerts_are_still_sent(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    fake = FakeTime()
    receiver.control(fail=1, status=404)
    alerts = [pack_alert(events=1), pack_alert(events=2)]
    reports = Reports()
    hook(receiver, fake).deliver(pending(alerts), reports)
    assert reports.got[alerts[0]["id"]] == (
        "hook: HTTP 404, not retried: the destination refused it"
    )
    assert reports.got[alerts[1]["id"]] is None
    assert [r["status"] for r in receiver.requests()] == [404, 200]
    assert fake.sleeps == []


def test_no_server_at_all_is_reported_not_raised(receiver: Receiver, pack_alert: MakeAlert) -> None:
    fake = FakeTime()
    output = hook(receiver, fake, retry_attempts=2)
    receiver.stop()
    alert = pack_alert()
    reports = Reports()
    output.deliver(pending([alert]), reports)
    assert reports.got == {alert["id"]: "hook: could not connect after 2 attempts"}


def test_post_alone_returns_none_on_2xx_and_a_reason_otherwise(receiver: Receiver) -> None:
    fake = FakeTime()
    policy = RetryPolicy(attempts=2)
    with httpx.Client() as client:
        assert post(client, receiver.url + "/hook/a", b"{}", {}, policy) is None
        reason = post(client, receiver.url + "/hook/a", b"not json", {}, policy,
                      sleep=fake.sleep, clock=fake.clock)  # fmt: skip
    assert reason == "HTTP 400, not retried: the destination refused it"


def test_post_with_a_spent_budget_tries_nothing(receiver: Receiver) -> None:
    fake = FakeTime()
    budget = Budget(5, fake.clock)
    fake.now += 6
    with httpx.Client() as client:
        reason = post(client, receiver.url + "/hook/a", b"{}", {}, RetryPolicy(),
                      clock=fake.clock, budget=budget)  # fmt: skip
    assert reason == "not tried: no time left in this run"
    assert receiver.requests() == []


def test_retry_after_values() -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after(" 0 ", now) == 0.0
    assert retry_after("Mon, 02 Mar 2026 10:01:00 GMT", now) == 60.0
    assert retry_after("Mon, 02 Mar 2026 09:00:00 GMT", now) == 0.0  # already past
    assert retry_after("soon", now) is None
    assert retry_after("-5", now) is None
    assert retry_after(None, now) is None


def test_retry_options_are_checked() -> None:
    policy = RetryPolicy.from_options("x", {"retry_attempts": 2, "retry_for": 30, "timeout": 5})
    assert (policy.attempts, policy.deadline, policy.timeout) == (2, 30.0, 5.0)
    assert RetryPolicy.from_options("x", {}) == RetryPolicy()
    assert RetryPolicy.from_options("x", {"retry_for": 3}).timeout == 3.0
    bad = [
        ("retry_attempts", 0),
        ("retry_attempts", 1.5),
        ("retry_attempts", True),
        ("retry_for", 0),
        ("retry_for", "60"),
        ("timeout", -1),
        ("timeout", 10_000),
    ]
    for key, value in bad:
        with pytest.raises(ConfigError) as caught:
            RetryPolicy.from_options("x", {key: value})
        assert caught.value.where == f"outputs.x.{key}"
