"""`trailhound demo`: simulate, hunt with the shipped pack, check against the answer key.

Exit status: 0 when the alerts are exactly the answer key, 1 otherwise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from trailhound.alerts.render import alerts_table
from trailhound.cli.report_cmd import report_option, write_scan_report
from trailhound.demo import DemoResult, run_demo
from trailhound.escaping import printable
from trailhound.simulate import DEFAULT_DAYS

# Rules that fire on ordinary traffic by design; the demo counts them instead of listing them.
_NOISY_MIN_ALERTS = 10


@click.command(name="demo")
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_DAYS, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the simulated CloudTrail in this folder (default: a temporary one).",
)
@report_option
@click.pass_context
def demo(
    ctx: click.Context, days: int, seed: int, keep: Path | None, report_path: Path | None
) -> None:
    """Simulate days of CloudTrail with attacks in it, hunt them, and check every alert."""
    console = Console(width=None if Console().is_terminal else 140)
    console.print(f"Simulating {days} days of CloudTrail (seed {seed}) and scanning it...")
    if keep is not None:
        result = run_demo(keep, days=days, seed=seed)
    else:
        with tempfile.TemporaryDirectory(prefix="trailhound-demo-") as tmp:
            result = run_demo(Path(tmp), days=days, seed=seed)
    _show(console, result)
    if report_path is not None:
        origin = f"the demo: {days} days of simulated CloudTrail (seed {seed})"
        write_scan_report(report_path, result.scan, result.rules, origin=origin)
    ctx.exit(0 if result.exact else 1)


def _show(console: Console, result: DemoResult) -> None:
    sim, found = result.simulation, result.scan
    console.print(
        f"{sim.events:,} events in {sim.files:,} files ({sim.dynamodb_events:,} DynamoDB, "
        f"{sim.late_records:,} delivered late); scanned in {found.seconds:.1f}s "
        f"({found.events_per_second:,.0f} events/s)."
    )
    noisy = {name for name, n, _ in result.per_rule() if n >= _NOISY_MIN_ALERTS}
    attacks = [a for a in found.alerts if a.rule.name not in noisy]
    console.print(Text("\nAttacks found", style="bold"))
    console.print(alerts_table([a.to_dict() for a in attacks]))
    console.print(_per_rule_table(result))
    _verdict(console, result)


def _per_rule_table(result: DemoResult) -> Table:
    table = Table("rule", "alerts", "answer key", "", title="Every rule of the shipped pack")
    for name, got, want in result.per_rule():
        mark = Text("ok", style="green") if got == want else Text("differs", style="red")
        table.add_row(Text(name), str(got), str(want), mark)
    return table


def _verdict(console: Console, result: DemoResult) -> None:
    if result.exact:
        console.print(
            Text(
                f"All {len(result.simulation.alerts)} alerts of the answer key were found, "
                "with the right counts, and no other.",
                style="bold green",
            )
        )
        return
    for expected in result.missing:
        console.print(Text(f"missing: {expected.rule} first event {expected.first_event_id}"))
    for alert in result.unexpected:
        console.print(Text(f"not in the key: {printable(alert.rule.name)} {alert.event_ids[0]}"))
    for expected, alert in result.miscounted:
        console.print(
            Text(f"count differs: {expected.rule} key {expected.count}, reported {alert.count}")
        )
    console.print(Text("The alerts differ from the answer key.", style="bold red"))
