"""Handing freed memory back to the system before a step that needs much of its own.

CPython's objects live on glibc's heap, and Arrow's buffers in its pool (mimalloc by default;
glibc's heap too in trailhound's own processes, `arrow_setup.own_process`): both keep what a
program frees for its next allocation rather than returning it. Where the next step allocates
elsewhere (DuckDB committing a run's alerts), that kept memory only adds to the peak.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trailhound.state.store import Store

_KEPT_MARGIN = 16 << 20
"""DuckDB's memory left over what it cannot drop, when dropping its cached table blocks."""


def give_back() -> None:
    """Return the freed memory of Arrow's pool and of the C heap (glibc only) to the system."""
    give_back_arrow()
    if sys.platform.startswith("linux"):
        _trim_c_heap()


def give_back_arrow() -> None:
    """Return the freed memory of Arrow's pool alone, after a step that sorted or copied large
    Arrow tables. Its allocator keeps what it freed for Arrow's next allocation, which DuckDB's
    statements that follow (storing counted events, reading evidence packs) cannot use: at 4M
    events the end of a scan held 60-80 MB so. With Arrow on the C heap (trailhound's own
    process, `arrow_setup.own_process`) Arrow's release is glibc's trim: measured at 4M, the
    end's peak the same with it and without."""
    import pyarrow as pa  # here: `large_blocks_mapped` runs before anything imports pyarrow

    pa.default_memory_pool().release_unused()


def give_back_duckdb(store: Store) -> None:
    """Drop DuckDB's cached blocks of the state's tables (`BASE_TABLE`), after a statement
    that read many of them once: DuckDB keeps them until its memory limit presses, and frees
    them to the system when it drops them. At 4M events reading the alerts' evidence packs
    left 63 MB of them, and making the alerts, on top of those, was the end's peak. A
    block dropped is read again from the file if a later statement needs it.

    Done by lowering DuckDB's limit for a moment to what it holds besides them (what it
    cannot drop without spilling to disk: uncommitted rows, indexes, hash tables)."""
    rows = store.con.execute(
        "SELECT coalesce(sum(memory_usage_bytes), 0), "
        "coalesce(sum(memory_usage_bytes) FILTER (tag = 'BASE_TABLE'), 0) FROM duckdb_memory()"
    ).fetchall()
    held, cached = int(rows[0][0]), int(rows[0][1])
    if cached <= _KEPT_MARGIN:
        return  # a statement for nothing
    with store.reading(f"{(held - cached + _KEPT_MARGIN) >> 10}KiB"):
        pass  # lowering the limit drops the blocks; leaving the block sets it back


def one_arena() -> None:
    """Have the threads this process starts from now on allocate from glibc's one arena
    (glibc only): by default each thread that allocates gets an arena of its own, and each
    keeps its own high-water mark. A scan worker's Arrow threads held 5-12 MB of them each; at
    4M events the tree's reading peak was 20-28 MB lower with one arena, for no CPU measured."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # here, not at import (see `_trim_c_heap`)

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, 1)


def large_blocks_mapped() -> None:
    """Have glibc give every allocation of `_MAPPED_FROM` or more a mapping of its own,
    returned to the system when it is freed (glibc only; a user's own setting of the
    threshold is left to choose).

    glibc starts by mapping blocks of 128 KB or more, but each mapped block freed raises that
    threshold to its size, up to 32 MB: after the first large Arrow buffer or DuckDB vector is
    freed, the next ones come from the heap, and what they leave there is kept, fragmented
    among small live objects. At 4M events, with Arrow on the C heap and the workers' answers
    taken beside the inserts, the tree's reading peak went from 356-398 to 336-343 MB and
    its end's from 378-415 to 371-375. Fixing the threshold also keeps the heap's top trimmed
    at glibc's 128 KB; lower thresholds (256 KB, 1 MB) cost 4-8 CPU-s at 4M in page faults."""
    if not sys.platform.startswith("linux") or _threshold_chosen(os.environ):
        return
    import ctypes  # here, not at import (see `_trim_c_heap`)

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MAPPED_FROM)


def _threshold_chosen(environ: Mapping[str, str]) -> bool:
    return "MALLOC_MMAP_THRESHOLD_" in environ or "mmap_threshold" in environ.get(
        "GLIBC_TUNABLES", ""
    )


_MAPPED_FROM = 8 << 20
_M_ARENA_MAX = -8  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def _trim_c_heap() -> None:
    import ctypes  # here, not at import: a scan's start-up is counted in milliseconds

    # the symbols the process has loaded, libc's among them: `ctypes.util.find_library`
    # would run `ldconfig -p` to find libc's file (7 ms of CPU in a child process)
    libc = ctypes.CDLL(None)
    trim = getattr(libc, "malloc_trim", None)  # glibc's; musl and others have none
    if trim is not None:
        trim(0)
