"""What a command runs with: flags first, then trailhound.toml, then defaults.

Commands that scan or deliver share these, so that `--rules`, `--exceptions` and `--state`
override the file's choices the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from trailhound.cli.common import rules_or_fail, say, time_or_fail
from trailhound.cli.exits import USAGE_ERROR
from trailhound.errors import TrailhoundError
from trailhound.rules.cache import with_prepared_filters
from trailhound.rules.model import Rule, RuleException
from trailhound.userdirs import cache_folder

if TYPE_CHECKING:
    from trailhound.config import Config
    from trailhound.outputs.base import Output
    from trailhound.state.store import Store

rules_option = click.option(
    "--rules", "rule_paths", type=click.Path(exists=True, path_type=Path), multiple=True,
    help="Rule file or directory (repeatable), instead of the config's [rules] paths. "
    "Default: the shipped DynamoDB pack.",
)  # fmt: skip
exceptions_option = click.option(
    "--exceptions", "exceptions_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of exceptions: events to excuse, per rule or for all rules (instead of "
    "the config's rules.exceptions).",
)  # fmt: skip

CLI_OUTPUT = "cli"
"""The command's own output (stdout or --output), a name no configured output may take."""


def rules_from(config: Config, rule_paths: Sequence[Path]) -> list[Rule]:
    """`--rules` when given (the file's overrides then apply where they name a loaded rule),
    else the file's rule sources; overrides, `enabled` and `disabled` applied."""
    rules = rules_or_fail(list(rule_paths) or config.rule_sources())
    applied, problems = config.try_apply(rules)
    for problem in problems:
        if rule_paths:  # the file may speak of rules this run did not load
            say(f"note: {problem}")
        else:
            say(str(problem))
    if problems and not rule_paths:
        raise click.exceptions.Exit(USAGE_ERROR)
    if not any(rule.enabled for rule in applied):
        # a scan without rules reads everything and can find nothing: never what was meant
        why = "the configuration switches off every rule" if applied else "no rule file found"
        say(f"no rules to run: {why}; a scan without rules could find nothing")
        raise click.exceptions.Exit(USAGE_ERROR)
    # the filters as earlier runs built them, so that this run need not load sqlglot
    return with_prepared_filters(cache_folder(), applied)


def exceptions_from(
    config: Config, flag: Path | None, rules: Sequence[Rule]
) -> list[RuleException]:
    """The exceptions of the --exceptions file when given, else of the config's files. A name
    in them that matches nothing (a rule not among `rules`, a field no event has) is warned
    about: such an exception would excuse nothing, silently."""
    if flag is None and not config.exception_files:
        return []  # nothing to read: the reader (and the rule parser it imports) not loaded
    from trailhound.rules.exceptions_file import load_exceptions, unmatched_names

    try:
        found = load_exceptions(flag) if flag is not None else config.load_exceptions()
    except TrailhoundError as err:
        hint = "--exceptions" if flag is not None else "config rules.exceptions"
        raise click.BadParameter(str(err), param_hint=hint) from None
    for path in [flag] if flag is not None else config.exception_files:
        for problem in unmatched_names(path, rules, _is_field):
            say(f"warning: {problem}")
    return found


def _is_field(name: str) -> bool:
    from trailhound.cloudtrail.schema import BY_NAME, flattened_parent

    return name in BY_NAME or flattened_parent(name) is not None


def time_window_or_fail(
    since: str | None, until: str | None, *, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """--since and --until as times; a window that ends before it starts is a usage error
    (it would select nothing, without a word)."""
    start = time_or_fail(since, now=now, option="--since")
    end = time_or_fail(until, now=now, option="--until")
    if start is not None and end is not None and start >= end:
        raise click.UsageError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()}): "
            "events are selected from --since up to, not including, --until"
        )
    return start, end


def outputs_from(config: Config) -> list[Output]:
    """The configured outputs; a problem in any stops the command with its file and line."""
    if CLI_OUTPUT in config.outputs:
        taken = "the name cli belongs to the command's own output; choose another"
        say(str(config.error(('outputs', CLI_OUTPUT), taken)))
        raise click.exceptions.Exit(USAGE_ERROR)
    built, problems = config.try_build_outputs()
    for problem in problems:
        say(str(problem))
    if problems:
        raise click.exceptions.Exit(USAGE_ERROR)
    return built


def state_path_from(config: Config, flag: Path | None, no_state: bool) -> Path | None:
    from trailhound.state.store import default_state_path

    if no_state and flag is not None:
        raise click.UsageError("--state and --no-state contradict each other; give one of them")
    if no_state:
        return None
    return flag or config.state_path or default_state_path()


def open_store(path: Path | None) -> Store:
    """The state file (in memory when None). A file that cannot be used raises StateError,
    which ends the command with its own status (trailhound.cli.exits), not as a usage error:
    the option was well formed, the file is what needs the user's attention."""
    from trailhound.state.store import Store

    return Store.open(path)
