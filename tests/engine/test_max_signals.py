"""max_signals keeps the first alerts of each rule interval, in the order they are decided."""

from __future__ import annotations

import numpy as np

from trailhound.engine.max_signals import first_per_interval

MIN = 60_000_000  # µs


def test_the_first_alerts_of_each_interval_stay_in_decision_order() -> None:
    # two 5-minute intervals; alerts arrive interleaved, not sorted by time
    times = np.array([1, 7, 2, 8, 3, 9, 4], np.int64) * MIN
    kept = first_per_interval(times, 5 * MIN, 2)
    assert kept.tolist() == [True, True, True, True, False, False, False]


def test_nothing_to_cap() -> None:
    assert first_per_interval(np.zeros(0, np.int64), MIN, 3).tolist() == []
