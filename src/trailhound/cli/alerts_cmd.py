"""`trailhound alerts list|resend`: the alerts the state remembers, and sending them again.

Both read the state file that `scan` writes (--state, the config's [state] path, or the
default). `resend` queues alerts again for outputs and delivers them at once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from trailhound.cli.common import say
from trailhound.cli.config_cmd import config_option, config_or_fail
from trailhound.cli.exits import DELIVERY_PENDING
from trailhound.cli.settings import (
    CLI_OUTPUT,
    open_store,
    outputs_from,
    state_path_from,
    time_window_or_fail,
)
from trailhound.escaping import json_bytes
from trailhound.outputs.base import Output
from trailhound.outputs.stream import StreamOutput
from trailhound.state.ledger import StoredAlert, requeue, stored
from trailhound.state.store import Store

state_option = click.option(
    "--state", "state_path", type=click.Path(path_type=Path),
    help="State file. Default: the config's [state] path, else "
    "$XDG_STATE_HOME/trailhound/state.duckdb.",
)  # fmt: skip


@click.group(name="alerts")
def alerts() -> None:
    """List the alerts trailhound decided, or send some again."""


@alerts.command(name="list")
@click.option("--since", help="Alerts at or after this event time: ISO 8601 or now-7d.")
@click.option("--until", help="Alerts before this event time.")
@click.option("--rule", help="Only this rule (name or rule id).")
@click.option("--pending", is_flag=True, help="Only alerts some output has not received.")
@click.option("--format", "output_format", type=click.Choice(["table", "jsonl"]),
              help="Default: a table on a terminal, JSON lines otherwise.")  # fmt: skip
@state_option
@config_option
def list_alerts(
    since: str | None,
    until: str | None,
    rule: str | None,
    pending: bool,
    output_format: str | None,
    state_path: Path | None,
    config_path: Path | None,
) -> None:
    """List alerts from the state, oldest first, with the outputs still waiting for each."""
    now = datetime.now(UTC)
    start, end = time_window_or_fail(since, until, now=now)
    store = open_store(state_path_from(config_or_fail(config_path), state_path, False))
    try:
        found = stored(store, since=_us(start), until=_us(end), rule=rule,
                       pending_only=pending)  # fmt: skip
    finally:
        store.close()
    if (output_format or ("table" if sys.stdout.isatty() else "jsonl")) == "table":
        _table(found)
    else:
        for item in found:
            line = {"alert": item.alert, "pending": item.pending, "delivered": item.delivered}
            click.echo(json_bytes(line).decode())


@alerts.command(name="resend")
@click.argument("ids", nargs=-1, required=True)
@click.option("--to", "targets", multiple=True,
              help="Output name from the config, or cli for standard output (repeatable). "
              "Default: every output the alert was queued for before.")  # fmt: skip
@state_option
@config_option
@click.pass_context
def resend(
    ctx: click.Context,
    ids: tuple[str, ...],
    targets: tuple[str, ...],
    state_path: Path | None,
    config_path: Path | None,
) -> None:
    """Queue alerts (ids or unique id prefixes) again and deliver them now."""
    from trailhound.pipeline.deliver import deliver

    config = config_or_fail(config_path)
    outputs = {o.name: o for o in [StreamOutput(CLI_OUTPUT, lambda: sys.stdout),
                                   *outputs_from(config)]}  # fmt: skip
    store = open_store(state_path_from(config, state_path, False))
    try:
        chosen = _alerts_named(store, ids)
        names = _targets(targets, chosen, outputs)
        for item in chosen:
            requeue(store, [item.alert_id], names or [*item.pending, *item.delivered])
        wanted = set(names) or {n for i in chosen for n in (*i.pending, *i.delivered)}
        results = deliver(store, [outputs[n] for n in sorted(wanted) if n in outputs])
    finally:
        store.close()
    failed = sum(len(r.failed) for r in results)
    for result in results:
        say(f"{len(result.delivered)} delivered to {result.output}"
            + (f", {len(result.failed)} still pending: {'; '.join(result.reasons)}"
               if result.failed else ""))  # fmt: skip
    ctx.exit(DELIVERY_PENDING if failed else 0)


def _alerts_named(store: Store, ids: Sequence[str]) -> list[StoredAlert]:
    found = stored(store, ids=ids)
    for prefix in ids:
        matching = [a for a in found if a.alert_id.startswith(prefix)]
        if len(matching) != 1:
            what = "no alert" if not matching else f"{len(matching)} alerts"
            raise click.BadParameter(f"{what} with an id starting {prefix!r}", param_hint="IDS")
    return found


def _targets(
    targets: Sequence[str], chosen: Sequence[StoredAlert], outputs: dict[str, Output]
) -> list[str]:
    unknown = [t for t in targets if t not in outputs]
    if unknown:
        known = ", ".join(sorted(outputs))
        raise click.BadParameter(f"no output named {unknown[0]!r} (known: {known})",
                                 param_hint="--to")  # fmt: skip
    if not targets:
        gone = {n for i in chosen for n in (*i.pending, *i.delivered)} - set(outputs)
        for name in sorted(gone):
            say(f"note: output {name} is no longer configured; its copy stays queued")
    return list(targets)


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1_000_000)


def _table(found: Sequence[StoredAlert]) -> None:
    from trailhound.alerts.render import alerts_table
    from trailhound.cli.tables import print_table

    waiting = [", ".join(item.pending) for item in found]
    print_table(alerts_table([a.alert for a in found], extra={"waiting for": waiting}))
