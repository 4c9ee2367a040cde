"""When each row of a batch arrived: its blob's own time (an S3 object's), else the time the
batch was read.

A batch may hold rows of many blobs, each with its own arrival time: on S3 every object has
one. The normalizers give a batch one `event.ingested`; the rows then get their own here.
Batches used to end wherever the time changed, which on a bucket cut them per object and
paid every batch's fixed costs per file of 70 events.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
from msgspec import Struct, field

from trailhound import arrow_kernels as kernels

INGESTED = "event.ingested"


class Arrivals(Struct):
    """Rows' arrival times, as runs of rows that share one."""

    runs: list[tuple[int, datetime]] = field(default_factory=list)

    def add(self, rows: int, time: datetime) -> None:
        if self.runs and self.runs[-1][1] == time:
            self.runs[-1] = (self.runs[-1][0] + rows, time)
        elif rows:
            self.runs.append((rows, time))

    def first(self) -> datetime:
        """The first row's time."""
        return self.runs[0][1]

    def single(self) -> bool:
        """Whether every row has the same time (the normalizers' one value is then right)."""
        return len({time for _, time in self.runs}) <= 1

    def times(self) -> pa.Array:
        """One time per row, in row order."""
        # converted by Arrow, as the normalizers' one value is
        distinct = pa.array([time for _, time in self.runs], pa.timestamp("us", tz="UTC"))
        counts = [rows for rows, _ in self.runs]
        return kernels.take(distinct, np.repeat(np.arange(len(counts)), counts))


def with_arrivals(batch: pa.RecordBatch, times: pa.Array) -> pa.RecordBatch:
    """`batch` with `event.ingested` replaced, row for row, by `times`."""
    at = batch.schema.get_field_index(INGESTED)
    column = batch.schema.field(at)
    return batch.set_column(at, column, kernels.cast(times, column.type))
