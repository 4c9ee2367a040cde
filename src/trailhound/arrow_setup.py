"""pyarrow in a process of trailhound's own (the command, a scan's workers): without pandas,
and with its buffers on the C heap.

The first time pyarrow is handed a Python sequence it asks whether pandas is installed, by
importing it, so that it can tell a pandas object from a list later on. trailhound never hands
it a pandas object, but where pandas is installed (the Spark extra brings it) that first array
cost each process 0.15 to 0.2 s of CPU and 50 MB of memory. `probe_without_pandas` lets pyarrow
ask while pandas looks absent, so the answer it keeps is "no pandas": pandas itself is
untouched, and what does need it (`Table.to_pandas`, Spark's driver) imports it as usual.

Arrow's own default allocator (mimalloc in pyarrow's wheels) keeps freed pages in arenas
of its own for a while before it returns them, apart from the C heap that Python and the rest
of the process use. `own_process` hands Arrow the system allocator instead, as a scan's
workers have had it since they were written (there Arrow's own allocator faulted pages in
anew for 10-25% more CPU): in the scanning process, at 4M events, the tree's peak was ~10 MB
lower with it, and ~25 MB lower once a second thread receives the workers' answers beside the
inserts (with glibc's threshold for mapped blocks fixed, `heap.large_blocks_mapped`).

Only processes trailhound starts call these; a library user's process keeps pyarrow as found,
and a user's own `ARROW_DEFAULT_MEMORY_POOL` is left to choose the allocator.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


def own_process() -> None:
    """Set pyarrow up for a process trailhound started (see the module)."""
    probe_without_pandas()
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())


def probe_without_pandas() -> None:
    """Make pyarrow's one look for pandas now, with pandas out of sight (see the module)."""
    if "pandas" in sys.modules:  # already there: pyarrow may as well use it
        return
    import pyarrow as pa

    hider = _HidePandas()
    sys.meta_path.insert(0, hider)
    try:
        pa.array([])  # the look happens for the first sequence, and only then
    finally:
        sys.meta_path.remove(hider)


class _HidePandas:
    """An import finder under which `import pandas` fails as if it were not installed."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
