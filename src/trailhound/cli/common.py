"""Pieces every command shares: opening inputs, loading rules, telling the user on stderr."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click

from trailhound.cli.exits import USAGE_ERROR
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.report import Changed, Report, SetAside, Skipped
from trailhound.errors import TrailhoundError
from trailhound.escaping import printable
from trailhound.rules.duration import resolve_time
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.sources import Source, open_sources
from trailhound.userdirs import cache_folder

geoip_option = click.option(
    "--geoip",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="A MaxMind .mmdb (City, Country or ASN) for source.geo.* and source.as.*; repeatable.",
)


def sources_or_fail(paths: Sequence[str]) -> list[Source]:
    try:
        return open_sources(paths)
    except TrailhoundError as exc:
        raise click.BadParameter(str(exc), param_hint="PATHS") from None


def enricher_or_fail(geoip: Sequence[Path]) -> Enricher:
    try:
        return Enricher.create(geoip)
    except (TrailhoundError, OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--geoip") from None


def time_or_fail(text: str | None, *, now: datetime, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return resolve_time(text, now=now)
    except TrailhoundError as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


def rules_or_fail(paths: Sequence[Path]) -> list[Rule]:
    """The rules in `paths` (the shipped pack when empty); any problem stops the command.
    Files in a named folder that are not rules are named, so that a folder of rules in a
    format trailhound does not read is not mistaken for a folder without rules."""
    # a scan or watch only detects: the rules' tests are left out, so the cache need not
    # build them
    result = load_rules(list(paths) or [shipped_pack_dir()], cache=cache_folder(), tests=False)
    say_skipped_rule_files(result.skipped)
    if result.errors:
        for error in result.errors:
            say(str(error))
        raise click.exceptions.Exit(USAGE_ERROR)
    return result.rules


SKIPPED_SHOWN = 20
"""Skipped rule files named one a line, at most; a clone of a Sigma repository has thousands."""


def say_skipped_rule_files(skipped: Sequence[Path]) -> None:
    pack = shipped_pack_dir()
    named = [p for p in skipped if not p.is_relative_to(pack)]  # its NOTICE is no rule
    for path in named[:SKIPPED_SHOWN]:
        say(f"{path}: skipped: not a rule file trailhound reads")
    if len(named) > SKIPPED_SHOWN:
        say(f"... and {len(named) - SKIPPED_SHOWN} more files skipped that are not rule files")


def say(message: str) -> None:
    """One line on stderr. Messages name files, objects and values an attacker may have
    chosen, so the whole line is made printable: it cannot move the cursor, retitle the
    terminal, reorder itself or start a second, forged line."""
    click.echo(f"trailhound: {printable(message, None)}", err=True)


def read_report(*, quiet: bool) -> Report:
    """The report of a command's read: problems always said as they happen, notes (skipped
    files, values changed) unless `quiet`."""
    note = None if quiet else print_note
    return Report(on_problem=print_problem, on_skip=note, on_change=note)


def print_problem(problem: SetAside) -> None:
    say(str(problem))


def print_note(note: Skipped | Changed) -> None:
    say(str(note))
