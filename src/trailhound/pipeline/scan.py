"""A hunt over CloudTrail: sources through the reader into the detector, alerts out.

This is the library behind `trailhound scan` and `trailhound demo`; a Python user calls
`scan(...)` with sources, rules and a store and gets a `ScanResult`, then `deliver(...)`
(`trailhound.pipeline.deliver`) hands the outputs what the scan queued for them.

A scan is one step: everything it changes in the state (matches kept for later, terms seen,
suppression windows, the ledger and the outbox rows of its alerts) commits in one transaction
at its end, so a scan killed at any instant leaves the state as if it had not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

from trailhound.alerts.model import Alert
from trailhound.cloudtrail.documents import rebuilt_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.collector import paused
from trailhound.engine.detector import Detector, RunStats, run_filters
from trailhound.outputs.base import Output
from trailhound.pipeline.coverage import Coverage
from trailhound.pipeline.engines import Engine
from trailhound.pipeline.local_engine import LocalEngine
from trailhound.pipeline.stage import StagePlan
from trailhound.rules.model import Rule, RuleException
from trailhound.sources import Blob, Source
from trailhound.state.store import Store

if TYPE_CHECKING:
    from trailhound.engine.part_making import Helpers


class ScanResult(Struct):
    alerts: list[Alert]
    report: Report
    stats: RunStats
    seconds: float
    coverage: Coverage
    expired_exceptions: list[RuleException] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.stats.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        """Every record read was normalized and every rule ran (else exit status +4)."""
        return self.report.clean and not self.stats.failed


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
    on_progress: Callable[[int], None] | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
    workers: int | None = 1,
    outputs: Sequence[Output] = (),
    clock: datetime | None = None,
    commit_also: Callable[[], None] | None = None,
    engine: Engine | None = None,
    keep_evidence: bool = True,
    plan: StagePlan | None = None,
    forget: bool = True,
) -> ScanResult:
    """Read every source, run every rule, and return the alerts not emitted before.

    Records no rule can match are dropped right after decoding and never normalized. With
    `workers` > 1 the reading and filtering run in that many processes when every input can
    be read by another process (files can, standard input cannot); None chooses one per core
    when the input is large enough to repay starting them (`AUTO_WORKERS_BYTES`), else one.
    `on_progress` hears how many events each step read, `on_bytes` how many bytes (as stored)
    were taken up so far out of how many in all (the input is listed first). Each new alert is
    queued in the outbox for the `outputs` that want it; nothing is delivered here. Without
    `final`, what may still change waits (see `Detector.finish`; `clock` is a watcher's wall clock).
    `commit_also` writes more to the state in the scan's transaction (what a watch step read).
    `engine` runs the stage instead of this machine (`trailhound.pipeline.engines`; then
    `workers` is not used); the decisions are made here either way. A `LocalEngine` whose
    workers were given `sources`' blobs already (`LocalEngine.begin`, as the command does
    before it opens the store) does not list them again; `on_bytes` then must be None (it
    lists the input first). `keep_evidence=False`
    returns the alerts without their evidence documents, which the ledger and the outputs get
    in full: a run that needs only the alerts' ids and facts then holds one part of its
    alerts' evidence at a time, not all of it. `plan` is the stage's plan when the caller
    made it already (`stage_plan`, with the same rules, exceptions, window and `now`, so
    that it could start its engine's workers before opening the store); its enricher is the
    scan's. `forget=False` is for a store no later run reads (`Detector.finish`).
    """
    started = time.perf_counter()
    if engine is None and workers is not None and workers > 1:
        # multiprocessing only for a scan with workers: a one-file scan's 2-4 ms of imports
        from trailhound.pipeline.pool import start_server

        start_server()  # its imports overlap with the set-up below
    now = now or datetime.now(UTC)
    if on_bytes is not None and isinstance(engine, LocalEngine) and engine.begun:
        engine.dismiss()  # it listed the input already, and counted no bytes for `on_bytes`
        raise ValueError("on_bytes needs the input listed by scan, not by LocalEngine.begin")
    report = report or Report()
    enricher = plan.enricher if plan is not None else enricher or Enricher.create()
    with store.transaction(), paused():
        detector = Detector(
            rules, store, to_documents=rebuilt_documents(enricher), exceptions=exceptions,
            now=now, since=since, until=until, lateness=lateness, route=router(outputs),
            keep_evidence=keep_evidence, filters=plan.filters if plan is not None else None,
        )  # fmt: skip
        if plan is None:
            plan = StagePlan.build(
                rules, enricher=enricher, filters=detector.plan, exceptions=exceptions
            )
        coverage = Coverage()
        blobs: Iterable[Blob] = blobs_of(sources, report)
        total = done = 0
        if on_bytes is not None:
            blobs = listed = list(blobs)
            total = sum(b.size or 0 for b in listed)
        stage = engine or LocalEngine(workers)
        if isinstance(stage, LocalEngine):
            stage.host(store)
            if not keep_evidence and _routed_by_severity(outputs):
                stage.keep_workers()  # they make alerts beside this process at the end
        try:
            with store.reading():  # what is stored now spills; the end gets the store's limit
                for out in stage.stage_outputs(blobs, plan, report):
                    if out.problems is not None:
                        out.problems.replay(report)
                    report.files_read += out.files_read
                    report.records_normalized += out.records_normalized
                    coverage.dynamodb.update(out.dynamodb)
                    coverage.timeline.update(out.dynamodb_times)
                    coverage.places.update(out.dynamodb_places)
                    detector.add_matches(
                        out.matched, events=out.events, latest=out.latest, records=out.records,
                        hits=out.hits, failed=out.failed,
                    )  # fmt: skip
                    if on_progress is not None:
                        on_progress(out.events)
                    if on_bytes is not None:
                        done += out.stored_bytes
                        on_bytes(done, total)
            helpers = _helpers(stage, detector.stats.events)
            alerts = detector.finish(
                final=final, clock=None if clock is None else _us(clock), forget=forget,
                helpers=helpers,
            )  # fmt: skip
        finally:
            if isinstance(stage, LocalEngine):
                stage.release()  # if finish made no parts on them (it ends them once it has)
        if commit_also is not None:
            commit_also()
    expired = [e for e in (*exceptions, *_rule_exceptions(rules)) if _expired(e, now)]
    return ScanResult(
        alerts=alerts,
        report=report,
        stats=detector.stats,
        seconds=time.perf_counter() - started,
        coverage=coverage,
        expired_exceptions=expired,
    )


def stage_plan(
    rules: Sequence[Rule],
    *,
    enricher: Enricher,
    exceptions: Sequence[RuleException] = (),
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StagePlan:
    """The stage's plan of a scan with these arguments, as `scan` makes it after its
    detector: for a caller that starts the engine's workers before it has a store. `scan`
    given it hands its filters to the detector."""
    filters = run_filters(rules, exceptions=exceptions, now=now, since=since, until=until)
    return StagePlan.build(rules, enricher=enricher, filters=filters, exceptions=exceptions)


def router(outputs: Sequence[Output]) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
    """Which of `outputs` an alert is for."""
    return lambda alert: tuple(o.name for o in outputs if o.wants(alert))


def _helpers(stage: object, events: int) -> Helpers | None:
    """The helper a local engine kept to make alerts beside this process, unless the run is
    too large for it (then it is ended now, before deciding)."""
    if not isinstance(stage, LocalEngine):
        return None
    stage.release_if_large(events)
    return stage.kept


def _routed_by_severity(outputs: Sequence[Output]) -> bool:
    """Whether every output is one of ours, which choose an alert by its severity: alerts made
    by the workers are routed here without their evidence (`AlertMaker`)."""
    return all(type(o).__module__.startswith("trailhound.outputs.") for o in outputs)


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _rule_exceptions(rules: Sequence[Rule]) -> list[RuleException]:
    return [e for r in rules for e in r.exceptions]


def _expired(exception: RuleException, now: datetime) -> bool:
    return exception.expires is not None and exception.expires < now.date()
