"""A baseline rule without stored matches is decided without reading them
(`baseline.unmatched`): the same outcome and the same state as reading none (`evaluate`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from support.events import batch, detector, event
from support.rules import action, rule
from trailhound.engine import baseline
from trailhound.rules.model import BaselineSpec
from trailhound.state import baselines
from trailhound.state.store import Store

H = timedelta(hours=1)
HOUR = 3_600_000_000
RULE = rule(action("GetItem"), BaselineSpec(("user.name",), H, 24 * H, 10, 3 * H, factor=5))
_STATE = [
    "SELECT * FROM baseline_windows ORDER BY ALL",
    "SELECT * FROM baseline_events ORDER BY ALL",
]


def _reads(hours: range) -> list[dict[str, Any]]:
    return [event(100 * h + i, h * H + timedelta(minutes=i), "GetItem")
            for h in hours for i in range(4)]  # fmt: skip


def _decided_once() -> Store:
    """A store whose baseline rule counted 30 hours of reads and holds no match of it, and
    a window of a day long past (as a state from before the history was shortened holds)."""
    store = Store.open(None)
    first = detector([RULE], store)
    first.add(batch(_reads(range(30))))
    assert first.finish(final=True) == []
    windows = baselines.load(store, RULE.rule_id)
    next(iter(windows.values()))[-100 * HOUR] = baselines.Window(4, -100 * HOUR, False)
    baselines.save(store, RULE.rule_id, windows, forget_before=-(2**62))
    return store


def _state(store: Store) -> list[list[tuple[Any, ...]]]:
    return [store.con.execute(sql).fetchall() for sql in _STATE]


@pytest.mark.parametrize("cutoff", [2**62, 28 * HOUR])
def test_a_rule_without_matches_keeps_what_reading_none_keeps(cutoff: int) -> None:
    read, unread = _decided_once(), _decided_once()
    assert all(_state(read))  # windows and counted events to keep or forget
    assert baseline.evaluate(read, RULE, cutoff).candidates == []
    assert baseline.unmatched(unread, RULE, cutoff).candidates == []
    assert _state(unread) == _state(read)
    assert -100 * HOUR not in [start for _, _, start, *_ in _state(unread)[0]]  # forgotten
