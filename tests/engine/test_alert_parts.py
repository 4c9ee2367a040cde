"""Alerts are made a part at a time, in their order: a part ends at a count of alerts or where
its evidence's records reach a number of bytes, so that one part's documents stay small."""

from __future__ import annotations

import pytest

from trailhound.engine import alert_making
from trailhound.engine.alert_making import Decided, _cut
from trailhound.engine.candidates import Candidate
from trailhound.rules.loader import load_rules, shipped_pack_dir


def _alerts(count: int) -> list[Decided]:
    rule = load_rules([shipped_pack_dir()]).rules[0]
    return [
        (rule, f"id-{n}", Candidate(key=(), seqs=[n], event_ids=[f"e{n}"], time=n, first_time=n))
        for n in range(count)
    ]


def test_a_part_ends_where_its_records_would_pass_the_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(alert_making, "PART_BYTES", 100)
    made = _alerts(6)
    parts = _cut(made, [40, 40, 30, 90, 10, 100], 256)
    assert [[ident for _, ident, _ in part] for part in parts] == [
        ["id-0", "id-1"],
        ["id-2"],
        ["id-3", "id-4"],
        ["id-5"],
    ]


def test_an_alert_larger_than_a_part_is_a_part_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(alert_making, "PART_BYTES", 100)
    made = _alerts(3)
    assert [len(part) for part in _cut(made, [500, 500, 1], 256)] == [1, 1, 1]


def test_small_alerts_still_end_a_part_at_its_count() -> None:
    made = _alerts(10)
    parts = _cut(made, [0] * 10, 4)
    assert [len(part) for part in parts] == [4, 4, 2]
    assert [d for part in parts for d in part] == made
    assert _cut([], [], 4) == []
