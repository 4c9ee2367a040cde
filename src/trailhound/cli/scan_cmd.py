"""`trailhound scan`: hunt over CloudTrail history with the detection rules.

Alerts go to stdout (or --output); progress, problems and the summary go to stderr.
Exit status is a sum of flags: 0 nothing to report, +1 alerts were emitted (new ones, or ones
an earlier run could not deliver), +4 some input was set aside or a rule failed, +8 some alerts
could not be delivered and wait for the next run; 2 alone is a usage error (bad option, rule
that does not load, configuration problem, no rule to run). A run that did not finish has a
status of 64 or more (`trailhound.cli.exits`: a bug, an unusable state file, Ctrl-C).

Decide, commit, deliver: the scan's decisions and the outbox rows of its alerts commit in one
transaction, then the outputs are handed what waits for them (this run's alerts and any an
earlier run could not deliver). The command's own output (stdout or --output) is the output
named `cli`.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from trailhound.arrow_setup import own_process
from trailhound.cli import OWN_PROCESS
from trailhound.cli.common import (
    enricher_or_fail,
    geoip_option,
    read_report,
    say,
    sources_or_fail,
)
from trailhound.cli.config_cmd import config_option, config_or_fail
from trailhound.cli.delivery import cli_output, format_option, output_option, say_deliveries
from trailhound.cli.exits import (
    DELIVERY_PENDING,
    INPUT_SET_ASIDE,
    INTERRUPT_NOTE,
    NEW_ALERTS,
)
from trailhound.cli.report_cmd import report_option, write_scan_report
from trailhound.cli.settings import (
    exceptions_from,
    exceptions_option,
    open_store,
    outputs_from,
    rules_from,
    rules_option,
    state_path_from,
    time_window_or_fail,
)
from trailhound.collector import paused
from trailhound.errors import TrailhoundError
from trailhound.pipeline.engines import ENGINES, Engine, open_engine
from trailhound.pipeline.local_engine import LocalEngine, workers_likely
from trailhound.sources import scheme_of

if TYPE_CHECKING:
    from rich.progress import Progress

    from trailhound.pipeline.scan import ScanResult
    from trailhound.rules.model import Rule
    from trailhound.spark.state import StateHome
    from trailhound.state.store import Store

# The scan itself (pyarrow, DuckDB, the reader, the engine) is imported when the command runs;
# its workers are forked from this process once it has (sharing those imports), before it
# opens the state.

# rich (and the alert table built on it) is imported only when a terminal will show its output:
# a scan whose output goes to a file or a pipe does not pay for loading it.

INTERRUPTED_SCAN = (
    "interrupted; the state holds this scan whole or not at all (it commits in one "
    "transaction): the same command again carries on, and repeats no alert"
)


@click.command(name="scan")
@click.argument("paths", nargs=-1, required=True)
@rules_option
@exceptions_option
@click.option("--since", help="Only events at or after this time: ISO 8601 or date math (now-14d).")
@click.option("--until", help="Only events before this time: ISO 8601 or date math.")
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    help="State file (terms seen, open windows, alerts already emitted, the outbox). Default: "
    "the config's [state] path, else $XDG_STATE_HOME/trailhound/state.duckdb. Use --no-state "
    "for a run that keeps none.",
)
@click.option("--no-state", is_flag=True, help="Keep no state: every run starts fresh.")
@format_option
@output_option
@report_option
@geoip_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that read and filter the input in parallel (files only; standard input "
    "is read by one). Default: one per core when the files add up to 32 MB or more, else "
    "one. Alerts and state are the same for any number.",
)
@click.option(
    "--engine",
    type=click.Choice(sorted(ENGINES)),
    default="duckdb",
    show_default=True,
    help="What reads, normalizes and filters the input: this machine (duckdb) or an Apache "
    "Spark session (spark; pip install 'trailhound[spark]'). Alerts are the same.",
)
@click.option(
    "--spark-master",
    metavar="URL",
    help="With --engine spark: the Spark master (local[4], spark://host:7077, yarn). Default: "
    "the session spark-submit started, else local[*].",
)
@click.option(
    "--spark-state",
    metavar="PATH",
    help="With --engine spark: keep the state as Parquet generations in this folder or at "
    "s3://BUCKET/PREFIX (for drivers without a lasting disk) instead of a --state file.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress, notes or summary.")
@config_option
@click.pass_context
def scan_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    rule_paths: tuple[Path, ...],
    exceptions_path: Path | None,
    since: str | None,
    until: str | None,
    state_path: Path | None,
    no_state: bool,
    output_format: str | None,
    output: Path | None,
    report_path: Path | None,
    geoip: tuple[Path, ...],
    workers: int | None,
    engine: str,
    spark_master: str | None,
    spark_state: str | None,
    quiet: bool,
    config_path: Path | None,
) -> None:
    """Scan CloudTrail logs in PATHS and report alerts.

    PATHS are files, directories (recursive), globs, - for standard input, or
    s3://bucket/prefix; plain or gzip, any CloudTrail form (S3 delivery files, NDJSON,
    EventBridge, SQS, CloudTrail Lake). With --engine spark, also any URI Spark reads
    (s3a://, hdfs://, abfss://...).
    """
    _check_engine_options(engine, paths, spark_master, spark_state, state_path, no_state, workers)
    early = engine == "duckdb" and workers_likely(paths, workers)
    if early:
        from trailhound.pipeline.pool import alone, start_server

        if not alone():  # the workers cannot be forked from here: from a server, then,
            start_server()  # whose imports overlap with this process's set-up
    with paused():  # its set-up makes objects that live on: see trailhound.collector
        from trailhound.cloudtrail.geo import Enricher
        from trailhound.cloudtrail.reader import blobs_of
        from trailhound.pipeline.deliver import deliver
        from trailhound.pipeline.scan import scan, stage_plan

        own_process()  # the command's get_command found no pyarrow yet: see arrow_setup
        uris = [p for p in paths if engine == "spark" and scheme_of(p) not in ("file", "s3")]
        now = datetime.now(UTC)
        config = config_or_fail(config_path)
        rules = rules_from(config, rule_paths)
        exceptions = exceptions_from(config, exceptions_path, rules)
        outputs = [cli_output(output_format, output), *outputs_from(config)]
        sources = sources_or_fail([p for p in paths if p not in uris])
        enricher = enricher_or_fail(geoip) or Enricher.create()
        window = time_window_or_fail(since, until, now=now)
        report = read_report(quiet=quiet)
        runner = _engine_or_fail(engine, workers=workers, master=spark_master, uris=uris)
        plan = None
        if early and isinstance(runner, LocalEngine):
            # Forked from here before the state opens (no DuckDB database yet), the workers
            # share this process's imports and set up while the state opens and the input
            # is listed.
            plan = stage_plan(rules, enricher=enricher, exceptions=exceptions, now=now,
                              since=window[0], until=window[1])  # fmt: skip
            runner.start(plan, before_duckdb=True)
        progress = _progress(quiet)
        try:
            if isinstance(runner, LocalEngine) and plan is not None and progress.on_bytes is None:
                # the workers read while the state opens and the detector is made (not
                # with a progress bar, which needs the input listed first: the scan lists it)
                runner.begin(blobs_of(sources, report))
            folder = _state_folder(spark_state)
            state = None if folder else state_path_from(config, state_path, no_state)
            store = folder.store if folder else open_store(state)
        except BaseException:
            if isinstance(runner, LocalEngine):
                runner.dismiss()
            raise
        if ctx.meta.get(OWN_PROCESS):  # what the set-up made lives on: see OWN_PROCESS
            gc.freeze()
    ctx.meta[INTERRUPT_NOTE] = INTERRUPTED_SCAN
    try:
        with progress:
            result = scan(
                sources, rules, store=store, enricher=enricher, report=report,
                exceptions=exceptions, since=window[0], until=window[1], now=now,
                on_progress=progress, on_bytes=progress.on_bytes, outputs=outputs,
                engine=runner, keep_evidence=report_path is not None, plan=plan,
                forget=folder is not None or state is not None,  # else the store ends here
            )  # fmt: skip
        _committed(folder)
        deliveries = deliver(store, outputs)
        _committed(folder)
    finally:
        if isinstance(runner, LocalEngine):
            runner.dismiss()  # workers started early that a failed set-up never used
        _close(folder, store)
    if not quiet:
        _summary(result, rules)
    if report_path is not None:
        write_scan_report(report_path, result, rules, since=window[0], until=window[1],
                          paths=paths)  # fmt: skip
    pending = say_deliveries(deliveries, {a.id for a in result.alerts}, quiet=quiet,
                             kept=not no_state)  # fmt: skip
    emitted = result.alerts or any(d.delivered for d in deliveries)
    ctx.exit(
        (NEW_ALERTS if emitted else 0)
        | (0 if result.complete else INPUT_SET_ASIDE)
        | (DELIVERY_PENDING if pending else 0)
    )


def _check_engine_options(
    engine: str, paths: Sequence[str], spark_master: str | None, spark_state: str | None,
    state_path: Path | None, no_state: bool, workers: int | None,
) -> None:  # fmt: skip
    if engine != "spark" and (spark_master or spark_state):
        raise click.UsageError("--spark-master and --spark-state need --engine spark")
    if spark_state and (state_path or no_state):
        raise click.UsageError("--spark-state keeps the state: give it, --state or --no-state")
    if engine == "spark" and workers is not None:
        raise click.UsageError("--workers is for --engine duckdb; Spark uses its executors")
    if engine == "spark" and "-" in paths:
        raise click.BadParameter("the Spark engine reads files and buckets, not standard "
                                 "input", param_hint="PATHS")  # fmt: skip


def _engine_or_fail(name: str, *, workers: int | None, master: str | None,
                    uris: Sequence[str]) -> Engine:  # fmt: skip
    options: dict[str, object] = (
        {"master": master, "uris": uris} if name == "spark" else {"workers": workers}
    )
    try:
        return open_engine(name, **options)
    except TrailhoundError as exc:
        raise click.BadParameter(str(exc), param_hint="--engine") from None


def _state_folder(spec: str | None) -> StateHome | None:
    if spec is None:
        return None
    from trailhound.spark.state import open_state_home

    return open_state_home(spec)


def _committed(folder: StateHome | None) -> None:
    """What the scan (or the delivery) committed to the store, as the folder's new generation."""
    if folder is not None:
        folder.commit()


def _close(folder: StateHome | None, store: Store) -> None:
    if folder is not None:
        folder.close()
    else:
        store.close()


class _progress:
    """On a terminal's stderr, a live count of events and the share of the input's bytes read
    with the time left; nothing when quiet or not a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.bar: Progress | None = None
        if not quiet and _may_be_terminal():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(stderr=True)
            if console.is_terminal:
                self.bar = Progress(
                    SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    TaskProgressColumn(), TimeElapsedColumn(), TextColumn("elapsed,"),
                    TimeRemainingColumn(), TextColumn("left"), console=console, transient=True,
                )  # fmt: skip
        self.events = 0

    def __enter__(self) -> _progress:
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("reading", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, events: int) -> None:
        self.events += events
        if self.bar is not None:
            self.bar.update(self.task, description=f"{self.events:,} events")

    @property
    def on_bytes(self) -> Callable[[int, int], None] | None:
        """What hears bytes read, when a bar shows them (the scan then lists its input first)."""
        return self._stored if self.bar is not None else None

    def _stored(self, done: int, total: int) -> None:
        if self.bar is not None and total:
            self.bar.update(self.task, completed=done, total=total)


def _may_be_terminal() -> bool:
    """False when rich's Console(stderr=True).is_terminal is sure to be False too: stderr is no
    tty and neither TTY_COMPATIBLE=1 nor a non-empty FORCE_COLOR says otherwise."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR"):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


def _summary(result: ScanResult, rules: Sequence[Rule]) -> None:
    for line in result.report.summary():
        say(line)
    say(
        f"scanned {result.stats.events:,} events in {result.seconds:.1f}s "
        f"({result.events_per_second:,.0f} events/s) with {len(rules)} rules"
    )
    if result.stats.alerts.total():  # the counter holds rules with none, too
        per_rule = ", ".join(
            f"{_printable(name)} {n}" for name, n in result.stats.alerts.most_common() if n
        )
        say(f"{sum(result.stats.alerts.values())} new alerts: {per_rule}")
    else:
        say("no new alerts")
    if result.stats.already_emitted:
        say(f"{result.stats.already_emitted} alerts were emitted by an earlier run (not repeated)")
    if result.stats.repeated:
        say(f"{result.stats.repeated} matches were of events already counted (delivered twice, "
            "or read by an earlier run): each event counts once")  # fmt: skip
    for name, reason in result.stats.failed.items():
        say(f"rule {name!r} failed and was left out of this run (its matches wait): {reason}")
    for name, n in result.stats.dropped_by_max_signals.items():
        say(f"{_printable(name)}: {n} alerts over max_signals were dropped")
    for exception in result.expired_exceptions:
        label = exception.description or ", ".join(c.field for c in exception.conditions)
        say(f"exception expired on {exception.expires}, no longer applied: {_printable(label)}")
    for line in result.coverage.blind_spots(rules):
        say(line)
    # A test of a field CloudTrail never has is always false: in Elastic the rule may read an
    # index where the field exists, here it cannot, and the user should hear it once per rule.
    from trailhound.rules.field_check import absent_field_note

    for rule in rules:
        note = absent_field_note(rule)
        if note is not None:
            say(f"rule {note}")


def _printable(value: object) -> str:
    from trailhound.escaping import printable

    return printable(value)
