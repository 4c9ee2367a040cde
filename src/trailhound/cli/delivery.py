"""What commands that deliver alerts share: the command's own output and what they say of
delivery on stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from trailhound.cli.common import say
from trailhound.cli.settings import CLI_OUTPUT
from trailhound.escaping import printable
from trailhound.outputs.base import Output
from trailhound.outputs.files import JsonFile, JsonLinesFile
from trailhound.outputs.stream import StreamOutput

if TYPE_CHECKING:
    from trailhound.pipeline.deliver import Delivery

format_option = click.option(
    "--format", "output_format", type=click.Choice(["table", "jsonl", "json"]),
    help="Output format. Default: table on a terminal, jsonl otherwise.",
)  # fmt: skip
output_option = click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Append alerts to this file (JSON lines unless --format says otherwise; an alert "
    "already in it is never written twice).",
)  # fmt: skip


def cli_output(output_format: str | None, path: Path | None) -> Output:
    """The command's own output: standard output, or the --output file (JSON lines unless
    --format says otherwise)."""
    if path is None:
        return StreamOutput(CLI_OUTPUT, lambda: sys.stdout, output_format)
    if output_format == "json":
        return JsonFile(CLI_OUTPUT, path)
    if output_format == "table":
        return StreamOutput(CLI_OUTPUT, lambda: path.open("a", encoding="utf-8"), "table")
    return JsonLinesFile(CLI_OUTPUT, path)


def say_deliveries(
    deliveries: Sequence[Delivery], new: set[str], *, quiet: bool, kept: bool
) -> int:
    """Say what did not reach its output (always) and what did (unless quiet); `new` are the
    ids of this run's alerts. Returns how many alerts are still pending."""
    pending = 0
    for delivery in deliveries:
        pending += len(delivery.failed)
        if delivery.failed:
            later = "the next run delivers them" if kept else "they are lost: --no-state keeps none"
            for reason in delivery.reasons:
                named = reason.startswith(delivery.output)
                say(printable(reason if named else f"output {delivery.output}: {reason}"))
            say(f"{len(delivery.failed)} alerts not delivered to "
                f"{printable(delivery.output)}; {later}")  # fmt: skip
        if delivery.delivered and not quiet:
            older = len(set(delivery.delivered) - new)
            earlier = f" ({older} left pending by an earlier run)" if older else ""
            say(f"{len(delivery.delivered)} alerts delivered to "
                f"{printable(delivery.output)}{earlier}")  # fmt: skip
    return pending
