"""Deciding batches of hand-made events with or without the workers' thinning (`Eligibility`),
over one run or several: thinning must never change what is decided or remembered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from support.events import batch, detector
from trailhound.alerts.model import Alert
from trailhound.engine.detector import Detector
from trailhound.engine.eligibility import Eligibility
from trailhound.engine.prefilter import stored_columns
from trailhound.rules.model import Rule
from trailhound.state.store import Store


def decided(
    rules: Sequence[Rule], batches: Sequence[Sequence[dict[str, Any]]], *, thin: bool, runs: int
) -> tuple[list[Alert], Store]:
    """The alerts of `batches` split over about `runs` runs sharing one state, and that state."""
    store = Store.open(None)
    alerts: list[Alert] = []
    per_run = max(1, len(batches) // runs)
    for start in range(0, len(batches), per_run):
        d = detector(rules, store)
        for rows in batches[start : start + per_run]:
            d.add_matches(_matched(rules, d, batch(rows), thin), events=len(rows), latest=None)
        alerts += d.finish(final=True)
    return alerts, store


def _matched(
    rules: Sequence[Rule], d: Detector, events: pa.RecordBatch, thin: bool
) -> pa.Table | None:
    table = d.matcher.match(events, keep=stored_columns(rules))
    if table is None or not thin:
        return table
    return table.filter(pa.array(Eligibility.build(rules).masks(table).store))
