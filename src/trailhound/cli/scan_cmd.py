"""`trailhound scan`: hunt over CloudTrail history with the detection rules."""

from __future__ import annotations

import click


@click.command()
@click.argument("paths", nargs=-1, required=True)
def scan(paths: tuple[str, ...]) -> None:
    """Scan CloudTrail logs and print alerts."""
    raise click.ClickException("not built yet")
