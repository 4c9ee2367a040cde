"""`trailhound simulate`: write realistic CloudTrail with attacks in it, and the answer key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from trailhound.cli.common import say
from trailhound.errors import TrailhoundError
from trailhound.simulate import DEFAULT_DAYS, DEFAULT_EVENTS_PER_DAY, simulate


@click.command(name="simulate")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (created; must not hold a simulation already).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=DEFAULT_DAYS,
    show_default=True,
    help="Days of activity. The new-country rule learns for 72 hours, so its attack needs 4.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--events",
    type=click.IntRange(min=1),
    help=f"About this many events in all. Default: {DEFAULT_EVENTS_PER_DAY:,} a day.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
    help="First day, UTC. Default: 2025-06-02 (a Monday).",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def simulate_command(
    out_dir: Path,
    days: int,
    seed: int,
    events: int | None,
    start: datetime | None,
    quiet: bool,
) -> None:
    """Write CloudTrail as a trail delivers it to S3, with attacks, and answer_key.json.

    The files follow the S3 layout (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/),
    one gzip file per account and region about every five minutes, some records late.
    answer_key.json lists every alert the shipped pack must raise when it scans the folder
    with empty state: rule name, first evidence event id, count and group or term.
    """
    try:
        result = simulate(out_dir, days=days, seed=seed, events=events, start=start)
    except TrailhoundError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None
    if quiet:
        return
    rules = len({a.rule for a in result.alerts})
    say(
        f"wrote {result.events:,} events ({result.dynamodb_events:,} DynamoDB) in "
        f"{result.files:,} files, {result.bytes_written / 1e6:.1f} MB, to {result.out_dir} "
        f"in {result.seconds:.1f}s"
    )
    say(f"answer key: {len(result.alerts):,} alerts of {rules} rules in {result.answer_key}")
