"""A benchmark script's own process set up as the command's (`trailhound.cli.run`).

The scripts that time a scan, or a part of one, in their own process (`phases.py` and those
that run it, `finish_cpu.py`, `stages.py`) would otherwise time a process unlike the one a
user runs: NumPy's BLAS threads spinning at start, Arrow's allocator on huge pages, pandas
imported by pyarrow's first array (0.15-0.2 s, in `Detector.add_matches`), glibc's threshold
for mapped blocks left to grow. The variables must be set before NumPy loads, which a script's
imports have done: so the script starts itself again with them, once (the CPU time a process
used before it started itself again stays in its clocks: `cpu_before` is how much that was).
"""

from __future__ import annotations

import os
import sys
import time

from trailhound import arrow_setup, heap
from trailhound.cli import own_environment

_CPU_BEFORE = "TRAILHOUND_BENCH_CPU_BEFORE"


def set_up() -> None:
    """Call first in a script's `main`: it may start the script again (same arguments)."""
    before = dict(os.environ)
    own_environment()
    if os.environ != before:
        os.environ[_CPU_BEFORE] = str(time.process_time())
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    heap.large_blocks_mapped()
    arrow_setup.own_process()


def cpu_before() -> float:
    """The CPU seconds this process spent before `set_up` started the script again."""
    return float(os.environ.get(_CPU_BEFORE, "0"))
