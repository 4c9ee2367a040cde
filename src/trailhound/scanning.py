"""A hunt over CloudTrail: sources through the reader into the detector, alerts out.

This is the library behind `trailhound scan` and `trailhound demo`; a Python user calls
`scan(...)` with sources, rules and a store and gets a `ScanResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from trailhound.alerts.model import Alert
from trailhound.cloudtrail.ecs import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.coverage import Coverage
from trailhound.engine.detector import Detector, RunStats
from trailhound.engine.store import Store
from trailhound.rules.model import Rule, RuleException
from trailhound.sources import Source


@dataclass
class ScanResult:
    alerts: list[Alert]
    report: Report
    stats: RunStats
    seconds: float
    coverage: Coverage
    expired_exceptions: list[RuleException] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.stats.events / self.seconds if self.seconds > 0 else 0.0


def scan(
    sources: Iterable[Source],
    rules: Sequence[Rule],
    *,
    store: Store,
    enricher: Enricher | None = None,
    report: Report | None = None,
    exceptions: Sequence[RuleException] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    final: bool = True,
    lateness: timedelta = timedelta(minutes=30),
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
) -> ScanResult:
    """Read every source, run every rule, and return the alerts not emitted before."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    report = report or Report()
    detector = Detector(
        rules,
        store,
        to_documents=to_documents,
        exceptions=exceptions,
        now=now,
        since=since,
        until=until,
        lateness=lateness,
    )
    coverage = Coverage()
    for batch in read_events(sources, enricher=enricher or Enricher.create(), report=report):
        detector.add(batch)
        coverage.add(store.con, batch)
        if on_batch is not None:
            on_batch(batch)
    alerts = detector.finish(final=final)
    expired = [e for e in (*exceptions, *_rule_exceptions(rules)) if _expired(e, now)]
    return ScanResult(
        alerts=alerts,
        report=report,
        stats=detector.stats,
        seconds=time.perf_counter() - started,
        coverage=coverage,
        expired_exceptions=expired,
    )


def _rule_exceptions(rules: Sequence[Rule]) -> list[RuleException]:
    return [e for r in rules for e in r.exceptions]


def _expired(exception: RuleException, now: datetime) -> bool:
    return exception.expires is not None and exception.expires < now.date()
