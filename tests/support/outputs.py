"""Handing alerts to an output in a test, and collecting what it reports for each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trailhound.outputs.base import Output, Pending


def deliver(output: Output, alerts: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Alert id -> None when delivered, else the reason the output gave."""
    got: dict[str, str | None] = {}
    output.deliver([Pending(a["id"], a) for a in alerts], got.__setitem__)
    return got
