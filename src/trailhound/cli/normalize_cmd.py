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

from trailhound.cli.common import (
    enricher_or_fail,
    geoip_option,
    read_report,
    say,
    sources_or_fail,
)
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.escaping import json_bytes
from trailhound.sources import Source

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
@geoip_option
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
    sources = sources_or_fail(paths)
    enricher = enricher_or_fail(geoip)
    report = read_report(quiet=quiet)
    out: BinaryIO = sys.stdout.buffer
    try:
        _write(out, sources, enricher, report)
    except BrokenPipeError:
        # the reader of our output is gone (`| head`): stop quietly, and keep Python's exit
        # from failing again on flushing the same closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if not quiet:
        for line in report.summary():
            say(line)
    if not report.clean:
        ctx.exit(SOME_SET_ASIDE)


def _write(out: BinaryIO, sources: list[Source], enricher: Enricher, report: Report) -> None:
    for batch in read_events(sources, enricher=enricher, report=report):
        out.write(b"".join(json_bytes(doc) + b"\n" for doc in to_documents(batch)))
        out.flush()
