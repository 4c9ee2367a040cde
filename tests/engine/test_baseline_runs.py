"""A baseline window's rows are counted a run at a time (a prefix sum and a search for the
crossing row); the alerts, counts and windows must be those of counting the events one by
one, as the rule type defines it, including events that add nothing (a batch call with none
of the counted items) and windows an earlier run began or already alerted."""

from __future__ import annotations

import copy
import random
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from trailhound.engine import baseline
from trailhound.rules.model import BaselineSpec
from trailhound.state.baselines import Window

H = timedelta(hours=1)
HOUR = 3_600_000_000
SPANS = baseline._Spans(HOUR, 24 * HOUR, 3 * HOUR)
KEY = (("user.name", "u"),)

# (seqs, crossing event id, time, first time, absorbed) of each alert
Alert = tuple[list[int], list[str], int, int, int]


def one_by_one(
    rows: list[tuple[int, int, int]], windows: dict[int, Window], spec: BaselineSpec
) -> list[Alert]:
    """The definition: (seq, time, weight) rows in time order, each counted into its window,
    the window alerting once, at the first counted event that brings it to its bar."""
    found: list[Alert] = []
    seen: dict[int, list[int]] = {}
    bars: dict[int, float | None] = {}
    for seq, ts, weight in rows:
        start = ts - ts % HOUR
        new = start not in seen
        window = windows.setdefault(start, Window())
        if new:
            history = sorted((s, w.count) for s, w in windows.items()
                             if start - 24 * HOUR <= s < start and w.count)  # fmt: skip
            warm = bool(history) and history[0][0] <= start - 3 * HOUR
            seen[start] = []
            bars[start] = baseline._bar(spec, history) if warm else None
        window.count += weight
        window.first = ts if window.first is None else min(window.first, ts)
        seen[start].append(seq)
        limit = bars[start]
        if limit is not None and not window.alerted and window.count >= limit and weight:
            window.alerted = True
            evidence = list(seen[start])
            found.append((evidence, [f"e{seq}"], ts, window.first,
                          window.count - len(evidence)))  # fmt: skip
    return found


def by_runs(
    rows: list[tuple[int, int, int]], windows: dict[int, Window], spec: BaselineSpec
) -> list[Alert]:
    n = len(rows)
    table = pa.table({
        "seq": pa.array([r[0] for r in rows], pa.int64()),
        "ts": pa.array([r[1] for r in rows], pa.int64()),
        "event_id": [f"e{r[0]}" for r in rows],
        "k0": ["u"] * n,
        "weight": pa.array([r[2] for r in rows], pa.int64()),
    })  # fmt: skip
    in_order = np.arange(n, dtype=np.int64)  # the rows are in time order, of one group
    columns = baseline._Rows.of(table, in_order, np.zeros(n, np.int64), HOUR)
    found: list[Alert] = []
    for a, b, _ in baseline._runs(columns):
        crossed = baseline._judge(columns, a, b, windows, spec, SPANS)
        if crossed is not None:
            window = windows[int(columns.window[a])]
            c = baseline._candidate(KEY, columns, a, *crossed, window)
            found.append((c.seqs, c.event_ids, c.time, c.first_time, c.absorbed))
    return found


@pytest.mark.parametrize("seed", range(8))
def test_counting_a_run_at_once_is_counting_its_events_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    alerts = 0
    for _ in range(300):
        factor, deviations = rng.choice([None, 2, 5]), rng.choice([None, 1])
        spec = BaselineSpec(("user.name",), H, 24 * H, rng.choice([1, 3, 10]), 3 * H,
                            factor=factor, deviations=deviations)  # fmt: skip
        times = sorted(10 * HOUR + rng.randint(0, 30) * HOUR // 6 + rng.randint(0, 5)
                       for _ in range(rng.randint(1, 60)))  # fmt: skip
        rows = [(i, t, rng.choice([0, 1, 1, 2, 5])) for i, t in enumerate(times)]
        windows = {h * HOUR: Window(rng.randint(0, 6), h * HOUR) for h in range(10)
                   if rng.random() < 0.6}  # fmt: skip
        if rng.random() < 0.5:  # a window of this run that an earlier run began
            start = times[0] - times[0] % HOUR
            windows[start] = Window(rng.randint(0, 40), start, rng.random() < 0.3)
        mine, theirs = copy.deepcopy(windows), copy.deepcopy(windows)
        expected = one_by_one(rows, theirs, spec)
        assert by_runs(rows, mine, spec) == expected
        assert {s: (w.count, w.first, w.alerted) for s, w in mine.items()} == {
            s: (w.count, w.first, w.alerted) for s, w in theirs.items()
        }
        alerts += len(expected)
    assert alerts > 100
