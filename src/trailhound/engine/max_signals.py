"""max_signals as Elastic means it: a rule run stops after that many alerts, and a run covers
one rule interval, so at most that many alerts per interval of event time."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def first_per_interval(
    times: npt.NDArray[np.int64], interval: int, limit: int
) -> npt.NDArray[np.bool_]:
    """Which alerts (given by their times, epoch µs, in the order they are decided) are among
    the first `limit` of their interval."""
    if len(times) == 0:
        return np.zeros(0, np.bool_)
    buckets = times // max(1, interval)
    order = np.argsort(buckets, kind="stable")  # each interval's alerts together, in order
    ordered = buckets[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    rank = np.arange(len(times)) - np.repeat(starts, np.diff(np.r_[starts, len(times)]))
    keep = np.empty(len(times), np.bool_)
    keep[order] = rank < limit
    return keep
