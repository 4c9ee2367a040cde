"""`trailhound watch`: scan steps, one after another, over what is new in each source.

A step polls every source, scans what they found, and commits in one transaction the step's
decisions, its alerts' outbox rows and what it read of each source; only then does it let the
sources drop what they hand over (SQS messages) and deliver. A step killed at any instant is
therefore read again whole by the next start, and a committed one never again.

An event is decided once it is older, by the allowed lateness, than how far the trail has got:
the newest event read, or the newest delivery (file or object time) if later. So an event that
CloudTrail delivers late still completes a window or a new term in its place, a trail replayed
from history is judged as it was delivered, and, since a step that finds nothing new counts the
wall clock as how far the trail has got, the last events of a quiet trail are not held back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from trailhound.alerts.model import Alert
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.report import Report, SetAside
from trailhound.outputs.base import Output
from trailhound.pipeline.deliver import Delivery, deliver
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.rules.model import Rule, RuleException
from trailhound.sources import Blob, SourceProblem
from trailhound.sources.polling import Poll, PolledSource, delivery_stamp
from trailhound.state import inputs, outbox
from trailhound.state.store import Store

DEFAULT_INTERVAL = timedelta(minutes=5)


@dataclass
class Step:
    """What one step read, decided and delivered."""

    started: datetime
    scan: ScanResult
    deliveries: list[Delivery]
    backlog: dict[str, int]  # per output, alerts still waiting after this step
    waiting_for: list[str] = field(default_factory=list)

    @property
    def alerts(self) -> list[Alert]:
        return self.scan.alerts


@dataclass(frozen=True)
class _Listed:
    """The blobs one poll found, as a source for the scan."""

    items: list[Blob | SourceProblem]

    def blobs(self) -> Iterator[Blob | SourceProblem]:
        yield from self.items


def step(
    sources: Sequence[PolledSource],
    rules: Sequence[Rule],
    *,
    store: Store,
    outputs: Sequence[Output] = (),
    enricher: Enricher | None = None,
    report: Report | None = None,
    exceptions: Sequence[RuleException] = (),
    lateness: timedelta = timedelta(minutes=30),
    workers: int | None = None,
    now: datetime | None = None,
) -> Step:
    """One step over every source; see the module's description."""
    started = now or datetime.now(UTC)
    report = report or Report()
    polls = [(source, _poll(source, store)) for source in sources]

    def record_inputs() -> None:
        for source, poll in polls:
            inputs.record(store, source.name, poll)

    result = scan(
        [_Listed(poll.blobs) for _, poll in polls], rules, store=store, enricher=enricher,
        report=report, exceptions=exceptions, final=False, clock=_clock(polls, started),
        lateness=lateness,
        workers=workers, outputs=outputs, commit_also=record_inputs,
    )  # fmt: skip
    for source, poll in polls:
        _after_commit(source, poll, report)
    deliveries = deliver(store, outputs)
    return Step(started, result, deliveries, outbox.backlog(store),
                [poll.waiting_for for _, poll in polls if poll.waiting_for])  # fmt: skip


def watch(
    run_step: Callable[[], Step],
    *,
    interval: timedelta = DEFAULT_INTERVAL,
    once: bool = False,
    stop: threading.Event | None = None,
    on_step: Callable[[Step], None] = lambda step: None,
    on_wait: Callable[[datetime], None] = lambda until: None,
) -> None:
    """Run steps every `interval` until `stop` is set (after the step under way) or, with
    `once`, after one step."""
    stop = stop or threading.Event()
    while True:
        done = run_step()
        on_step(done)
        if once or stop.is_set():
            return
        next_at = datetime.now(UTC) + interval
        on_wait(next_at)
        if stop.wait(interval.total_seconds()):
            return


def _clock(polls: Sequence[tuple[PolledSource, Poll]], now: datetime) -> datetime | None:
    """How far the trail has got: the newest delivery the polls found, or the wall clock when
    none found anything (a quiet trail: what waits is decided once the lateness has passed)."""
    blobs = [b for _, poll in polls for b in poll.blobs if isinstance(b, Blob)]
    if not blobs:
        return now
    # a source that does not say how far its deliveries have got: its files' stamps, else
    # their arrival times (a replayed trail keeps its stamps, not its arrival times)
    arrived = [t for t in (delivery_stamp(b.name) or b.ingested for b in blobs) if t]
    found = [p.delivered for _, p in polls if p.delivered is not None] + arrived
    return max(found, default=None)


def _poll(source: PolledSource, store: Store) -> Poll:
    """The source's poll; one that fails says why and reads nothing this step."""
    try:
        return source.poll(inputs.StoredCursor(store, source.name))
    except Exception as err:  # a source's failure must not stop the others
        return Poll(blobs=[SourceProblem(source.name, f"cannot poll: {_short(err)}")])


def _after_commit(source: PolledSource, poll: Poll, report: Report) -> None:
    try:
        poll.after_commit()
    except Exception as err:  # the step is committed; the source sees its items again later
        report.set_aside(SetAside("cannot finish reading", where=source.name,
                                  detail=_short(err), records=0))  # fmt: skip


def _short(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
