"""`trailhound config check|show`: the user's trailhound.toml, checked or shown as it applies.

Other commands take `config_option` and `config_or_fail` from here, so this module stays light
to import: the configuration package, the rule loader and the outputs are imported only when a
command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from trailhound.cli.common import say
from trailhound.cli.exits import USAGE_ERROR

if TYPE_CHECKING:
    from trailhound.config import Config


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file. Default: $XDG_CONFIG_HOME/trailhound/trailhound.toml "
    "(~/.config/trailhound/trailhound.toml) when it exists.",
)


def config_or_fail(path: Path | None) -> Config:
    """The configuration; every problem in it is printed and stops the command."""
    from trailhound.config import load_config, problems_of
    from trailhound.errors import TrailhoundError

    try:
        return load_config(path)
    except TrailhoundError as err:
        for problem in problems_of(err):
            say(str(problem))
        raise click.exceptions.Exit(USAGE_ERROR) from None


@click.group(name="config")
def config() -> None:
    """Check or show the configuration file, trailhound.toml."""


@config.command(name="check")
@config_option
def check(config_path: Path | None) -> None:
    """Check the configuration: load its rules, apply its overrides, build its outputs.

    Prints every problem as FILE:LINE:COLUMN: message and exits 2, or says ok and exits 0.
    """
    from trailhound.config import check_config, default_config_path

    report = check_config(config_path)
    for problem in report.problems:
        say(str(problem))
    if report.problems or report.config is None:
        raise click.exceptions.Exit(USAGE_ERROR)
    summary = f"ok ({_count(report.running, 'rule')}, {_count(report.outputs, 'output')})"
    if report.config.source is None:
        where = f"no configuration file at {default_config_path()}, defaults apply"
    else:
        where = str(report.config.source)
    click.echo(f"trailhound: {where}: {summary}")


@config.command(name="show")
@config_option
def show(config_path: Path | None) -> None:
    """Print the configuration in effect as TOML, defaults filled in and secrets masked."""
    import tomli_w

    from trailhound.config import default_config_path
    from trailhound.state.store import default_state_path

    loaded = config_or_fail(config_path)
    if loaded.source is None:
        click.echo(f"# No configuration file at {default_config_path()}: defaults apply.")
    else:
        click.echo(f"# From {loaded.source}.")
    click.echo('# Secrets are shown as "***".')
    click.echo(tomli_w.dumps(loaded.as_toml(default_state=default_state_path())), nl=False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
