"""The HTTP sender the Slack, PagerDuty and webhook outputs share: retries, backoff, deadlines.

A delivery run has a time budget (the policy's deadline, `retry_for`) for trouble: it runs
from the last alert the destination took, so a healthy destination takes any backlog however
long it is, and one that fails keeps a run waiting no longer than the budget. Each alert is
POSTed and retried on what may pass (408, 429, 5xx, network errors, timeouts) with exponential
backoff and full jitter, or after the server's `Retry-After` on 429 and 503. Other answers (a
400, a 404) will not change by asking again in this run; the alert stays pending for the next
one. Once the budget is spent, the remaining alerts stay pending untried, so a scan never hangs
on a dead destination.

Reasons never hold the URL, a header, or a response body: Slack webhook URLs and PagerDuty
routing keys are secrets, and a body may echo them. A reason says the status and the tries.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from trailhound import __version__
from trailhound.errors import ConfigError
from trailhound.outputs.base import Pending, Report, severity_rank

USER_AGENT = f"trailhound/{__version__}"
RETRIED = frozenset({408, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))
HONOURS_RETRY_AFTER = frozenset({429, 503})

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Jitter = Callable[[], float]  # a number in [0, 1)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one delivery run tries. All times are in seconds."""

    attempts: int = 5  # tries per alert, the first one included
    base_delay: float = 1.0  # backoff before the second try; doubles for each later one
    max_delay: float = 60.0  # the longest backoff between two tries
    deadline: float = 120.0  # how long a run keeps trying since the destination last took one
    timeout: float = 10.0  # one request: connecting, sending, waiting for the answer

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> RetryPolicy:
        """The policy set by an output's `retry_attempts`, `retry_for` (the deadline) and
        `timeout` options; the defaults for those not given."""
        default = cls()
        attempts = options.get("retry_attempts", default.attempts)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise ConfigError("must be a whole number from 1 to 100",
                              where=f"outputs.{name}.retry_attempts")  # fmt: skip
        deadline = _seconds(name, options, "retry_for", default.deadline, most=3600)
        timeout = _seconds(name, options, "timeout", default.timeout, most=300)
        return cls(attempts=attempts, deadline=deadline, timeout=min(timeout, deadline))


def _seconds(name: str, options: Mapping[str, Any], key: str, default: float, most: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= most:
        raise ConfigError(f"must be a number of seconds, more than 0 and at most {most:g}",
                          where=f"outputs.{name}.{key}")  # fmt: skip
    return float(value)


class Budget:
    """The time a delivery run may still spend on trouble, shared by its requests and waits;
    `renew` starts it afresh when the destination took an alert."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._until = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._until - self._clock())

    def spent(self) -> bool:
        return self.remaining() <= 0.0

    def renew(self) -> None:
        self._until = self._clock() + self.seconds

    def end(self) -> None:
        """Spend what is left: the destination asked for a pause longer than the run has."""
        self._until = self._clock()


def check_url(name: str, key: str, url: str) -> str:
    """`url` when it is an absolute http(s) URL; the error never shows it (it may be a
    secret, like a Slack webhook URL)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("must be an http:// or https:// URL", where=f"outputs.{name}.{key}")
    return url


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an alert was not delivered. `alert_only` when the trouble is this alert's own (the
    destination refused it, or it could not be encoded): other alerts may still pass. Else
    the destination is down or out of patience for this run."""

    reason: str
    alert_only: bool = False


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    jitter: Jitter = random.random,
    budget: Budget | None = None,
) -> str | None:
    """POST `body` until a 2xx, a final answer, the policy's attempts, or the budget's end.

    None when delivered, else a short reason safe to show ("HTTP 500 after 5 attempts",
    "timed out"). Never raises for network trouble. Without a budget, the policy's deadline
    applies to this one alert.
    """
    budget = budget or Budget(policy.deadline, clock)
    failure = send(client, url, body, headers, policy, budget, sleep=sleep, jitter=jitter)
    return None if failure is None else failure.reason


def send(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    budget: Budget,
    *,
    sleep: Sleep = time.sleep,
    jitter: Jitter = random.random,
) -> Failure | None:
    """`post`, telling a refusal apart from trouble that may pass."""
    if budget.spent():
        return Failure("not tried: no time left in this run")
    for attempt in range(1, policy.attempts + 1):
        status, wait, last = _try_once(client, url, body, headers, policy, budget)
        if status is not None and 200 <= status < 300:
            return None
        if status is not None and status not in RETRIED:
            return Failure(f"{last}, not retried: the destination refused it", alert_only=True)
        if attempt == policy.attempts:
            return Failure(_after(last, attempt))
        delay = wait if wait is not None else _backoff(policy, attempt, jitter)
        if delay >= budget.remaining():
            if wait is not None:
                budget.end()  # every later request would be asked to wait the same
            return Failure(_after(last, attempt, "no time left in this run to retry"))
        sleep(delay)
    raise AssertionError("unreachable: the last attempt returns")


def _try_once(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    budget: Budget,
) -> tuple[int | None, float | None, str]:
    """One request: its status (None for no answer), the wait the server asked for before a
    retry (None when it asked none), and what happened, as a reason."""
    # never let one request run past the end of the run
    seconds = max(0.001, min(policy.timeout, budget.remaining()))
    try:
        response = client.post(url, content=body, headers=dict(headers),
                               timeout=httpx.Timeout(seconds))  # fmt: skip
    except httpx.TimeoutException:
        return None, None, "timed out"
    except httpx.ConnectError:
        return None, None, "could not connect"
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as err:
        # the class name only: messages may quote the URL
        return None, None, f"network error ({type(err).__name__})"
    status = response.status_code
    wait = retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    return status, wait if status in HONOURS_RETRY_AFTER else None, f"HTTP {status}"


def retry_after(value: str | None, now: datetime) -> float | None:
    """The seconds a `Retry-After` header asks to wait: a number of seconds or an HTTP date;
    None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _backoff(policy: RetryPolicy, attempt: int, jitter: Jitter) -> float:
    """Full jitter: anywhere from 0 to the exponential step, so that many senders retrying
    at once spread out instead of arriving together."""
    step = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    return step * jitter()


def _after(last: str, attempts: int, note: str = "") -> str:
    reason = f"{last} after {attempts} attempts" if attempts > 1 else last
    return f"{reason}; {note}" if note else reason


# What an output sends for one alert: the URL, the body bytes and the headers.
Request = tuple[str, bytes, Mapping[str, str]]


class HttpOutput:
    """An output that POSTs each alert on its own; subclasses say what to send (`request`).

    `sleep`, `clock` and `jitter` are here to be replaced by tests.
    """

    def __init__(self, name: str, policy: RetryPolicy, min_rank: int) -> None:
        self.name = name
        self.policy = policy
        self.min_rank = min_rank
        self.sleep: Sleep = time.sleep
        self.clock: Clock = time.monotonic
        self.jitter: Jitter = random.random

    def wants(self, alert: Mapping[str, Any]) -> bool:
        """Alerts at or above the output's `min_severity`."""
        return severity_rank(alert) >= self.min_rank

    def request(self, alert: Mapping[str, Any]) -> Request:
        raise NotImplementedError

    def deliver(self, pending: Sequence[Pending], report: Report) -> None:
        """POST the alerts in the order given, reporting each as soon as its fate is known.

        After an alert fails on a passing trouble (5xx, timeouts, no connection) with every
        retry spent, the destination is taken to be down: the rest stay pending untried rather
        than each spending the run's time on the same wait.
        """
        budget = Budget(self.policy.deadline, self.clock)
        gave_up: str | None = None
        with httpx.Client(headers={"User-Agent": USER_AGENT}, follow_redirects=False,
                          timeout=self.policy.timeout) as client:  # fmt: skip
            for item in pending:
                if gave_up is None and budget.spent():
                    gave_up = f"retry time of {budget.seconds:g} s spent"
                if gave_up is not None:
                    report(item.alert_id, f"{self.name} gave up for this run: {gave_up}")
                    continue
                failure = self._send(client, item.alert, budget)
                if failure is None:
                    budget.renew()
                    report(item.alert_id, None)
                    continue
                report(item.alert_id, f"{self.name}: {failure.reason}")
                if not failure.alert_only:
                    gave_up = failure.reason

    def _send(
        self, client: httpx.Client, alert: Mapping[str, Any], budget: Budget
    ) -> Failure | None:
        try:
            url, body, headers = self.request(alert)
        except (TypeError, ValueError):
            # an alert that cannot be encoded is this alert's problem, not the destination's
            return Failure("could not encode the alert", alert_only=True)
        return send(client, url, body, headers, self.policy, budget, sleep=self.sleep,
                    jitter=self.jitter)  # fmt: skip
