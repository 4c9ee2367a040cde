"""`trailhound normalize`: CloudTrail in, ECS JSON out."""

from __future__ import annotations

import click


@click.command()
@click.argument("paths", nargs=-1, required=True)
def normalize(paths: tuple[str, ...]) -> None:
    """Print one ECS JSON document per CloudTrail record."""
    raise click.ClickException("not built yet")
