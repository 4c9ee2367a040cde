"""`trailhound normalize`: CloudTrail in, ECS JSON out.

Documents go to stdout, one per line; problems, notes and the summary go to stderr, so the
output can be piped into jq or a bulk loader untouched. Exit status: 0 when every record read
was normalized, 1 when some input was set aside (the good records are still printed), 2 for a
usage error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO

import click
import orjson

from trailhound.cloudtrail.ecs import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report, SetAside, Skipped
from trailhound.errors import TrailhoundError
from trailhound.sources import Source, open_sources

SOME_SET_ASIDE = 1


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["ndjson"]),
    default="ndjson",
    show_default=True,
    help="Output format: one ECS JSON document a line.",
)
@click.option(
    "--geoip",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="A MaxMind .mmdb (City, Country or ASN) for source.geo.* and source.as.*; repeatable.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print problems only: no notes, no summary.")
@click.pass_context
def normalize(
    ctx: click.Context,
    paths: tuple[str, ...],
    output_format: str,
    geoip: tuple[Path, ...],
    quiet: bool,
) -> None:
    """Print one ECS JSON document per CloudTrail record in PATHS.

    PATHS are files, directories (read recursively), globs, or - for standard input; plain or
    gzip. Exit status: 0 all records normalized, 1 some input set aside, 2 usage error.
    """
    sources = _sources(paths)
    enricher = _enricher(geoip)
    report = Report(on_problem=_print_problem, on_skip=None if quiet else _print_note)
    out = click.get_binary_stream("stdout")
    try:
        _write(out, sources, enricher, report)
    except BrokenPipeError:
        # the reader of our output is gone (`| head`): stop quietly, and keep Python's exit
        # from failing again on flushing the same closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if not quiet:
        for line in report.summary():
            click.echo(f"trailhound: {line}", err=True)
    if not report.clean:
        ctx.exit(SOME_SET_ASIDE)


def _write(out: BinaryIO, sources: list[Source], enricher: Enricher, report: Report) -> None:
    for batch in read_events(sources, enricher=enricher, report=report):
        out.write(b"".join(orjson.dumps(doc) + b"\n" for doc in to_documents(batch)))
        out.flush()


def _sources(paths: tuple[str, ...]) -> list[Source]:
    try:
        return open_sources(paths)
    except TrailhoundError as exc:
        raise click.BadParameter(str(exc), param_hint="PATHS") from None


def _enricher(geoip: tuple[Path, ...]) -> Enricher:
    try:
        return Enricher.create(geoip)
    except (TrailhoundError, OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--geoip") from None


def _print_problem(problem: SetAside) -> None:
    click.echo(f"trailhound: {problem}", err=True)


def _print_note(skipped: Skipped) -> None:
    click.echo(f"trailhound: {skipped}", err=True)
