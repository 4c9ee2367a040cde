"""The `trailhound` command: a thin layer that parses arguments and calls the library.

Each command group lives in its own module here and is registered in `main` below.
"""

from __future__ import annotations

import click

from trailhound import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trailhound")
def main() -> None:
    """Find attacks on Amazon DynamoDB in AWS CloudTrail logs."""


def _register() -> None:
    # Imported here, not at module top, so that `trailhound --help` stays fast and a broken
    # optional command cannot stop the others from loading.
    from trailhound.cli import demo_cmd, normalize_cmd, rules_cmd, scan_cmd, simulate_cmd

    main.add_command(normalize_cmd.normalize)
    main.add_command(rules_cmd.rules)
    main.add_command(scan_cmd.scan_command)
    main.add_command(simulate_cmd.simulate_command)
    main.add_command(demo_cmd.demo)


_register()
