"""Deliver what the outbox holds: after the decisions were committed, never before.

Each output runs in a thread of its own, so one that is down or slow (retrying with backoff)
never holds the others back. The outcome of each alert is settled in the state as soon as it
is known, a batch at a time: a crash during delivery repeats at most the few alerts that were
sent but not yet settled (a file skips ids it already has; a webhook gets the alert id as its
idempotency key).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

from msgspec import Struct, field

from trailhound.outputs.base import Output, Pending
from trailhound.state import outbox
from trailhound.state.store import Store

_SETTLE_EVERY = 0.25  # seconds: how long a result may wait before it is written down

# (output name, alert id, None when delivered or else why not); an alert id of None: finished
_Event = tuple[str, str | None, str | None]


class Delivery(Struct):
    """What one output received in this run, and what stays pending with the reasons."""

    output: str
    delivered: list[str] = field(default_factory=list)  # alert ids
    failed: dict[str, str] = field(default_factory=dict)  # alert id -> why not

    @property
    def reasons(self) -> list[str]:
        return list(dict.fromkeys(self.failed.values()))


def deliver(store: Store, outputs: Sequence[Output]) -> list[Delivery]:
    """Hand each output what waits for it; returns one `Delivery` per output."""
    results = {o.name: Delivery(o.name) for o in outputs}
    events: queue.Queue[_Event] = queue.Queue()
    running = 0
    for output in outputs:
        pending = outbox.pending(store, output.name)
        if pending:
            running += 1
            threading.Thread(
                target=_run, args=(output, pending, events), daemon=True,
                name=f"deliver-{output.name}",
            ).start()  # fmt: skip
    settled: dict[str, tuple[list[str], dict[str, str]]] = {}
    last = time.monotonic()
    try:
        while running:
            try:
                name, alert_id, error = events.get(timeout=_SETTLE_EVERY)
            except queue.Empty:
                name = ""
            else:
                if alert_id is None:
                    running -= 1
                else:
                    _note(settled.setdefault(name, ([], {})), alert_id, error)
            if settled and (not running or time.monotonic() - last >= _SETTLE_EVERY):
                _settle(store, settled, results)
                last = time.monotonic()
    finally:
        _settle(store, settled, results)  # also on Ctrl-C: what was delivered is noted
    return list(results.values())


def _run(
    output: Output,
    pending: list[Pending],
    events: queue.Queue[_Event],
) -> None:
    reported: set[str] = set()

    def report(alert_id: str, error: str | None) -> None:
        reported.add(alert_id)
        events.put((output.name, alert_id, error))

    try:
        output.deliver(pending, report)
    except Exception as err:  # one broken output must not stop the others
        reason = f"{output.name} failed: {type(err).__name__}: {err}"
        for item in pending:
            if item.alert_id not in reported:
                events.put((output.name, item.alert_id, reason))
    else:
        for item in pending:
            if item.alert_id not in reported:
                events.put((output.name, item.alert_id, f"{output.name} did not say"))
    events.put((output.name, None, None))


def _note(lists: tuple[list[str], dict[str, str]], alert_id: str, error: str | None) -> None:
    done, failed = lists
    if error is None:
        done.append(alert_id)
    else:
        failed[alert_id] = error


def _settle(
    store: Store,
    settled: dict[str, tuple[list[str], dict[str, str]]],
    results: dict[str, Delivery],
) -> None:
    for name, (done, failed) in settled.items():
        outbox.settle(store, name, done, failed)
        result = results[name]
        result.delivered += done
        for alert_id in done:
            result.failed.pop(alert_id, None)
        result.failed.update(failed)
    settled.clear()
