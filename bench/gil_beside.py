"""How much a DuckDB statement runs beside a thread busy in Python, in this environment.

    python bench/gil_beside.py [ROUNDS]

A thread counts in a pure-Python loop (its speed alone measured first) while the main thread
runs one DuckDB statement on one DuckDB thread (a hash sum over 60M integers, ~0.2 s alone),
at several switch intervals (`sys.setswitchinterval`: how long a thread holding the GIL keeps
it once another asks). For each it prints the statement's wall time alone and beside the
counting thread, and how many seconds of its own speed the counter ran meanwhile. A statement
that let go of the GIL for its whole run would take as long beside the counter as alone, and
the counter would run all of it; one that held the GIL would stop the counter. The DuckDB
client here does neither: it lets go and takes the GIL back again and again (every few
hundred µs), so beside a busy Python thread each return waits for that thread's turn to end
(5 ms by default). On a quiet box (issue 12's sixteenth round): 0.20 s alone, 3.2 s beside the
counter at 5 ms, 0.84 at 1 ms, 0.31 at 0.1 ms, 0.26 at 0.02 ms, the counter running all along.
The figures say how much of the end of a scan could run in DuckDB on one thread while another
makes alerts in Python (tried on branch issue-19p, commit fbf6731, and not kept).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

import duckdb

_STATEMENT = "SELECT sum(hash(i)) FROM range(60000000) t(i)"
_INTERVALS = (0.005, 0.001, 0.0005, 0.0001, 0.00002)


class _Counter:
    """A thread that counts as fast as Python runs, until stopped."""

    def __init__(self) -> None:
        self.count = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop:
            self.count += 1

    def __enter__(self) -> _Counter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop = True
        self._thread.join()


def _speed() -> float:
    """Counts a second of the counter alone."""
    with _Counter() as counter:
        time.sleep(0.05)
        first, began = counter.count, time.perf_counter()
        time.sleep(0.3)
        return (counter.count - first) / (time.perf_counter() - began)


def _statement(con: duckdb.DuckDBPyConnection) -> float:
    began = time.perf_counter()
    con.execute(_STATEMENT).fetchall()
    return time.perf_counter() - began


def _beside(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """The statement's wall time beside the counter, and the counter's seconds meanwhile (its
    speed measured just before: on a shared machine it changes from moment to moment)."""
    speed = _speed()
    with _Counter() as counter:
        time.sleep(0.05)
        first = counter.count
        wall = _statement(con)
        return wall, (counter.count - first) / speed


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    con = duckdb.connect()
    con.execute("SET threads = 1")
    _statement(con)  # first-call costs
    was = sys.getswitchinterval()
    for interval in _INTERVALS:
        sys.setswitchinterval(interval)
        alone = [_statement(con) for _ in range(rounds)]
        beside = [_beside(con) for _ in range(rounds)]
        row = {
            "switch_interval_ms": interval * 1000,
            "alone_s": round(statistics.median(alone), 3),
            "beside_s": round(statistics.median(w for w, _ in beside), 3),
            "counter_ran_s": round(statistics.median(c for _, c in beside), 3),
        }
        print(json.dumps(row), flush=True)
    sys.setswitchinterval(was)


if __name__ == "__main__":
    main()
