"""`trailhound report`: a hunt report (one offline HTML file) from saved alerts, and the
`--report` option that `scan` and `demo` share.

Exit status: 0 when the report was written, 2 when the input or the output path is unusable
(the message names the file, and the line where there is one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from trailhound.cli.common import say, time_or_fail
from trailhound.cli.config_cmd import config_option, config_or_fail
from trailhound.cli.exits import USAGE_ERROR
from trailhound.cli.settings import state_path_from
from trailhound.errors import TrailhoundError

if TYPE_CHECKING:
    from trailhound.pipeline.scan import ScanResult
    from trailhound.report import Scope
    from trailhound.rules.model import Rule

F = TypeVar("F", bound=Callable[..., Any])


def _writable_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse a report path whose folder is missing before any work is done, not after a
    scan of an hour."""
    if value is not None and not (value.parent if str(value.parent) else Path(".")).is_dir():
        raise click.BadParameter(f"{value}: the folder {value.parent} does not exist")
    return value


report_option: Callable[[F], F] = click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
    callback=_writable_folder,
    help="Also write a hunt report to this HTML file: one file that opens offline, with a "
    "timeline, who did what, the evidence and the investigation guides.",
)  # fmt: skip


@click.command(name="report")
@click.argument(
    "alerts_file", required=False, metavar="[ALERTS.jsonl]",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)  # fmt: skip
@click.option(
    "--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the report from this state file's alerts (the default when no ALERTS file is "
    "given: the config's [state] path, else $XDG_STATE_HOME/trailhound/state.duckdb).",
)  # fmt: skip
@click.option("--since", help="Only alerts at or after this time: ISO 8601 or now-14d.")
@click.option("--until", help="Only alerts before this time.")
@click.option(
    "--output", "-o", "output", required=True, callback=_writable_folder,
    type=click.Path(dir_okay=False, path_type=Path), help="The HTML file to write.",
)  # fmt: skip
@click.option("--title", default="trailhound hunt report", show_default=True)
@config_option
def report(
    alerts_file: Path | None,
    state_path: Path | None,
    since: str | None,
    until: str | None,
    output: Path,
    title: str,
    config_path: Path | None,
) -> None:
    """Write a hunt report from saved alerts: an ALERTS.jsonl file that `scan -o` or
    `alerts list` wrote, or the state file.

    The report is one HTML file that needs no network: open it in any browser.
    """
    from trailhound.report import Scope, alerts_from_file, alerts_from_state

    if alerts_file is not None and state_path is not None:
        raise click.UsageError("give ALERTS.jsonl or --state, not both")
    now = datetime.now(UTC)
    start = time_or_fail(since, now=now, option="--since")
    end = time_or_fail(until, now=now, option="--until")
    if alerts_file is not None:
        alerts = _or_fail(lambda: alerts_from_file(alerts_file))
        origin = str(alerts_file)
    else:
        path = state_path_from(config_or_fail(config_path), state_path, False)
        assert path is not None  # only --no-state gives none, and this command has no such flag
        alerts = _or_fail(lambda: alerts_from_state(path, since=start, until=end))
        origin = f"the state file {path}"
    scope = Scope.of_alerts(origin, since=start, until=end)
    written = write_or_fail(output, alerts, scope, title=title)
    say(f"wrote {output}: {written} alerts")


def write_or_fail(
    path: Path, alerts: Iterable[Mapping[str, Any]], scope: Scope, *, title: str | None = None
) -> int:
    """Write the report; a path that cannot be written stops the command. Returns how many
    alerts the report shows."""
    from trailhound.report import TITLE, write_report

    try:
        data = write_report(path, alerts, scope=scope, title=title or TITLE)
    except OSError as err:
        click.echo(f"trailhound: {path}: cannot write the report: {err.strerror or err}",
                   err=True)  # fmt: skip
        raise click.exceptions.Exit(USAGE_ERROR) from None
    return len(data.alerts)


def write_scan_report(
    path: Path,
    result: ScanResult,
    rules: Sequence[Rule],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    paths: Sequence[str] = (),
    origin: str | None = None,
) -> None:
    """`--report` of `scan` and `demo`: this run's alerts, with what its input covered."""
    from trailhound.report import Scope

    if origin is None:
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        origin = f"a scan of {shown}" if shown else "a scan"
    scope = Scope.of_scan(result, rules, since=since, until=until, origin=origin)
    written = write_or_fail(path, [a.to_dict() for a in result.alerts], scope)
    say(f"wrote the report {path}: {written} alerts")


def _or_fail(read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return read()
    except TrailhoundError as err:
        click.echo(f"trailhound: {err}", err=True)
        raise click.exceptions.Exit(USAGE_ERROR) from None
