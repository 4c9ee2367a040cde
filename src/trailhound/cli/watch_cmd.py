"""`trailhound watch`: follow folders, S3 buckets and SQS queues, a scan step at a time.

Each step reads what is new, decides, commits (decisions, outbox rows and what it read, in one
transaction) and delivers. The first SIGTERM or Ctrl-C lets the step under way finish, then
stops; a second one abandons the step, which the next start reads again whole. On a terminal
the command shows what it waits for and what it last did; otherwise it logs one line per step
on stderr.

Exit status: with --once, as `trailhound scan` (+1 alerts, +4 input set aside, +8 delivery
pending); otherwise 0 after a stop asked for by a signal, 130 when a step was abandoned; 2 is
a usage error; `trailhound.cli.exits` has the statuses of a run that could not go on.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import click

from trailhound.cli.common import (
    enricher_or_fail,
    geoip_option,
    read_report,
    say,
)
from trailhound.cli.config_cmd import config_option, config_or_fail
from trailhound.cli.delivery import cli_output, format_option, output_option, say_deliveries
from trailhound.cli.exits import DELIVERY_PENDING, INPUT_SET_ASIDE, NEW_ALERTS
from trailhound.cli.settings import (
    exceptions_from,
    exceptions_option,
    open_store,
    outputs_from,
    rules_from,
    rules_option,
    state_path_from,
)
from trailhound.config import Config
from trailhound.errors import TrailhoundError
from trailhound.pipeline.watch import DEFAULT_INTERVAL, Step, step, watch
from trailhound.rules.duration import parse_duration
from trailhound.sources.polling import PolledSource, open_polled

ABANDONED = 130


@click.command(name="watch")
@click.argument("specs", metavar="SOURCE...", nargs=-1)
@click.option("--interval", help="Time between steps, e.g. 1m or 5m. Default: the config's "
              "sources' interval, else 5m.")  # fmt: skip
@click.option("--once", is_flag=True, help="One step, then exit (for cron and tests).")
@click.option("--lateness", default="30m", show_default=True,
              help="How long to wait for late events before deciding.")  # fmt: skip
@rules_option
@exceptions_option
@click.option("--state", "state_path", type=click.Path(path_type=Path),
              help="State file. Default: the config's [state] path, else "
              "$XDG_STATE_HOME/trailhound/state.duckdb.")  # fmt: skip
@format_option
@output_option
@geoip_option
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes that read each step's files. Default: by the step's size.")
@click.option("--quiet", "-q", is_flag=True, help="No notes or step lines.")
@config_option
@click.pass_context
def watch_command(
    ctx: click.Context,
    specs: tuple[str, ...],
    interval: str | None,
    once: bool,
    lateness: str,
    rule_paths: tuple[Path, ...],
    exceptions_path: Path | None,
    state_path: Path | None,
    output_format: str | None,
    output: Path | None,
    geoip: tuple[Path, ...],
    workers: int | None,
    quiet: bool,
    config_path: Path | None,
) -> None:
    """Follow SOURCEs and report alerts as CloudTrail arrives.

    A SOURCE is a folder (new files, and files that grew), s3://bucket/prefix (CloudTrail's
    key layout, per account and region, organization trails too), or sqs://QUEUE or a queue
    URL (S3 or EventBridge notifications). Without SOURCE, the config's [sources] are followed.
    """
    config = config_or_fail(config_path)
    sources = _sources(config, specs)
    rules = rules_from(config, rule_paths)
    exceptions = exceptions_from(config, exceptions_path, rules)
    outputs = [cli_output(output_format, output), *outputs_from(config)]
    enricher = enricher_or_fail(geoip)
    every = _interval(config, interval)
    allowed = _duration(lateness, "--lateness")
    path = state_path_from(config, state_path, False)
    open_store(path).close()  # a state file that cannot be used stops the command now
    stop = threading.Event()
    status = _Status(quiet, [s.name for s in sources])
    flags = 0

    def one_step() -> Step:
        nonlocal flags
        report = read_report(quiet=quiet)
        # the state is opened for each step: DuckDB keeps memory per connection (its cache of
        # the state file, and some per statement) that only closing gives back
        store = open_store(path)
        try:
            done = step(sources, rules, store=store, outputs=outputs, enricher=enricher,
                        report=report, exceptions=exceptions, lateness=allowed,
                        workers=workers)  # fmt: skip
        finally:
            store.close()
        pending = say_deliveries(done.deliveries, {a.id for a in done.alerts}, quiet=True,
                                 kept=True)  # fmt: skip
        emitted = done.alerts or any(d.delivered for d in done.deliveries)
        flags = ((NEW_ALERTS if emitted else 0) | (0 if done.scan.complete else INPUT_SET_ASIDE)
                 | (DELIVERY_PENDING if pending else 0))  # fmt: skip
        return done

    try:
        with _signals(stop, status):
            watch(one_step, interval=every, once=once, stop=stop, on_step=status.stepped,
                  on_wait=status.waiting)  # fmt: skip
    except KeyboardInterrupt:
        say("the step under way was abandoned; the next start reads its input again")
        ctx.exit(ABANDONED)
    finally:
        status.close()
    ctx.exit(flags if once else 0)


def _sources(config: Config, specs: Sequence[str]) -> list[PolledSource]:
    chosen = list(specs) or [s.spec for s in config.sources.values()]
    if not chosen:
        raise click.UsageError("name a SOURCE to follow, or [sources.NAME] in trailhound.toml")
    try:
        return [open_polled(spec) for spec in chosen]
    except TrailhoundError as exc:
        raise click.BadParameter(str(exc), param_hint="SOURCE") from None


def _interval(config: Config, flag: str | None) -> timedelta:
    if flag is not None:
        return _duration(flag, "--interval")
    configured = [s.interval for s in config.sources.values() if s.interval is not None]
    return min(configured, default=DEFAULT_INTERVAL)


def _duration(text: str, option: str) -> timedelta:
    try:
        return parse_duration(text)
    except TrailhoundError as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


@contextmanager
def _signals(stop: threading.Event, status: _Status) -> Iterator[None]:
    """SIGTERM and SIGINT: the first stops after the step under way, the second abandons it."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        status.note("stopping after the step under way (again to abandon it)")

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _Status:
    """What a person sees: a live line on a terminal, one log line per step otherwise."""

    def __init__(self, quiet: bool, following: list[str]) -> None:
        self.quiet = quiet
        self.following = following
        self.last = "no step yet"
        self.live = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console

            self.live = Console(stderr=True).status(self._line("starting"))
            self.live.start()

    def stepped(self, done: Step) -> None:
        result = done.scan
        backlog = sum(done.backlog.values())
        self.last = (
            f"{_clock(done.started)}: {result.report.files_read} files, "
            f"{result.stats.events:,} events, {len(done.alerts)} new alerts, "
            f"{backlog} waiting for delivery"
        )
        self.following = done.waiting_for or self.following  # what the sources now wait for
        if self.live is None and not self.quiet:
            say(f"step {self.last}")
        for name, reason in result.stats.failed.items():  # said every step: it needs fixing
            say(f"rule {name!r} failed and was left out of this step (its matches wait): "
                f"{reason}")  # fmt: skip

    def waiting(self, until: datetime) -> None:
        if self.live is not None:
            self.live.update(self._line(f"next step at {_clock(until)}"))

    def note(self, text: str) -> None:
        say(text)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()

    def _line(self, what: str) -> str:
        from rich.markup import escape

        from trailhound.escaping import printable

        following = ", ".join(printable(f, 60) for f in self.following)
        return escape(f"watching {following}: {what}; last step {self.last}")


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
