"""What a baseline rule remembers as counted: every event with an id, once, and none without
one (an id-less event cannot be known again, so remembering it would only grow the state);
its window counts both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from support.events import batch, detector, event
from support.rules import action, rule
from trailhound.rules.model import BaselineSpec
from trailhound.state.store import Store

H = timedelta(hours=1)
RULE = rule(action("GetItem"), BaselineSpec(("user.name",), H, 24 * H, 10, 3 * H, factor=5))


def _reads(without_id: set[int]) -> list[dict[str, Any]]:
    reads = []
    for n in range(12):
        fields = {"event__id": None} if n in without_id else {}
        reads.append(event(n, timedelta(minutes=n), "GetItem", **fields))
    return reads


@pytest.mark.parametrize("without_id", [set(), {0, 5, 11}])
def test_events_with_an_id_are_remembered_and_every_event_counted(without_id: set[int]) -> None:
    store = Store.open(None)
    found = detector([RULE], store)
    found.add(batch(_reads(without_id)))
    found.finish(final=True)
    remembered = store.con.execute("SELECT event_id FROM baseline_events ORDER BY ALL").fetchall()
    assert [e for (e,) in remembered] == [f"ev-{n:04d}" for n in range(12) if n not in without_id]
    counts = store.con.execute("SELECT sum(count) FROM baseline_windows").fetchall()
    assert counts == [(12,)]
