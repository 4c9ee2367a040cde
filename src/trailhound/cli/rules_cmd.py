"""`trailhound rules`: list, show and validate detection rules."""

from __future__ import annotations

import click


@click.group()
def rules() -> None:
    """Work with detection rules."""
