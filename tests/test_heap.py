"""Handing memory back: DuckDB's cached blocks of the state's tables dropped after a read, the
store's limit and what it reads unchanged."""

from __future__ import annotations

import ctypes
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from trailhound import heap
from trailhound.state import matches
from trailhound.state.store import Store


def _cached_mb(store: Store) -> float:
    rows = store.con.execute(
        "SELECT coalesce(sum(memory_usage_bytes), 0) / 2**20 FROM duckdb_memory() "
        "WHERE tag = 'BASE_TABLE'"
    ).fetchall()
    return float(rows[0][0])


def _limit(store: Store) -> str:
    return str(store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def test_the_blocks_a_read_cached_are_dropped_and_the_packs_still_read(tmp_path: Path) -> None:
    rng = random.Random(5)
    packs = [(chunk, rng.randbytes(200_000)) for chunk in range(300)]  # 60 MB
    store = Store.open(tmp_path / "state.duckdb")
    try:
        with store.transaction():
            matches.append(store, [], packs)
        store.close()  # the packs in the file, as a later run finds them
        store = Store.open(tmp_path / "state.duckdb")
        limit = _limit(store)
        with store.transaction():
            assert sorted(matches.packs(store, [c for c, _ in packs], per_read=8)) == packs
            assert _cached_mb(store) > 40
            heap.give_back_duckdb(store)
            assert _cached_mb(store) < 20
            assert _limit(store) == limit
            # read again from the file
            assert sorted(matches.packs(store, [0, 299], per_read=8)) == [packs[0], packs[-1]]
    finally:
        store.close()


_THREADS_MALLOC = r"""
import ctypes, sys, threading
from trailhound import heap
if sys.argv[1] == "one":
    heap.one_arena()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc_stats()  # one "Arena n:" block per arena, on stderr
sys.stderr.write("THREADS\n")
sys.stderr.flush()
started = threading.Barrier(4)
def allocate():
    started.wait()  # all four alive at once, each allocating for the first time
    for _ in range(1000):
        libc.malloc(4096)
threads = [threading.Thread(target=allocate) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
libc.malloc_stats()
"""


@pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "malloc_stats"), reason="glibc's arenas, glibc's report"
)
def test_threads_started_after_one_arena_allocate_from_one_arena() -> None:
    def new_arenas(setting: str) -> int:
        """Arenas four threads' first allocations added (importing pyarrow may start some)."""
        ran = subprocess.run(
            [sys.executable, "-c", _THREADS_MALLOC, setting],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        before, after = ran.stderr.split("THREADS")
        return after.count("Arena ") - before.count("Arena ")

    assert new_arenas("default") >= 3
    assert new_arenas("one") == 0


_FREED_BLOCK = r"""
import os, sys
from trailhound import heap
if sys.argv[1] == "mapped":
    heap.large_blocks_mapped()
def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
first = b"x" * (24 << 20)  # mapped at glibc's starting threshold; freeing it raises that
del first
second = b"x" * (12 << 20)
held = resident()
del second
print(held - resident())
"""


def _returned_mb(setting: str, **environ: str) -> float:
    """What freeing a 12 MB block, after a 24 MB one was freed, gave back to the system."""
    ran = subprocess.run(
        [sys.executable, "-c", _FREED_BLOCK, setting],
        capture_output=True, text=True, check=True, env={**os.environ, **environ},
    )  # fmt: skip
    return int(ran.stdout) / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mapping threshold")
def test_a_large_block_freed_goes_back_to_the_system_once_the_threshold_is_fixed() -> None:
    assert _returned_mb("default") < 2  # kept on the heap for the next allocation
    assert _returned_mb("mapped") > 11


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mapping threshold")
def test_a_threshold_the_user_chose_is_left_to_choose() -> None:
    # glibc reads them at start: blocks under 32 MB on the heap, whose top is kept
    chosen = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}
    assert _returned_mb("mapped", **chosen) < 2
