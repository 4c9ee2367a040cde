"""Evidence documents for matched rows, rebuilt in full from the records behind them.

A stored match holds only the columns its rule reads. Where the row carries its record's JSON
(`raw`), the record is normalized again, with every column and the same `event.ingested`, so
the evidence document is exactly what a full normalization would have made; rows without it
are printed from the columns they have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail.arrivals import INGESTED, with_arrivals
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import decode_record

RAW = "raw"


def rebuilt_documents(enricher: Enricher) -> Callable[[pa.RecordBatch], Iterator[dict[str, Any]]]:
    """A document maker for the detector that rebuilds each row from its `raw` record."""

    def documents(batch: pa.RecordBatch) -> Iterator[dict[str, Any]]:
        if RAW not in batch.schema.names:
            yield from to_documents(batch)
            return
        rebuilt = _rebuilt(batch.column(RAW), batch.column(INGESTED), enricher)
        stored = batch.drop_columns([RAW])
        for i in range(batch.num_rows):
            found = rebuilt.get(i)
            yield found if found is not None else next(to_documents(stored.slice(i, 1)))

    return documents


def _rebuilt(raws: pa.Array, ingested: pa.Array, enricher: Enricher) -> dict[int, dict[str, Any]]:
    """Documents by row index, all normalized in one batch (each batch costs a good deal more
    than its rows), each row then given back its own `event.ingested` (kept in Arrow: made
    into Python datetimes and back, the times cost as much as the records' decoding)."""
    both = kernels.and_(kernels.is_valid(raws), kernels.is_valid(ingested))
    rows = kernels.indices_nonzero(both).to_pylist()
    if not rows:
        return {}
    records = [decode_record(raw) for raw in kernels.take(raws, rows).to_pylist()]
    first = ingested[rows[0]].as_py()
    result = normalize(records, ingested=first, enricher=enricher, parsed=True)
    refused = {i for i, _ in result.rejected}
    made = [row for j, row in enumerate(rows) if j not in refused]
    batch = with_arrivals(result.batch, kernels.take(ingested, made))
    # the long requests are read once, not again from the text normalizing made of them
    return dict(zip(made, to_documents(batch, result.read), strict=True))


