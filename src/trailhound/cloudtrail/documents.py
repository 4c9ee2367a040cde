"""Evidence documents for matched rows, rebuilt in full from the records behind them.

A stored match holds only the columns its rule reads. Where the row carries its record's JSON
(`raw`), the record is normalized again, with every column and the same `event.ingested`, so
the evidence document is exactly what a full normalization would have made; rows without it
are printed from the columns they have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import decode_record

RAW = "raw"
INGESTED = "event.ingested"


def rebuilt_documents(enricher: Enricher) -> Callable[[pa.RecordBatch], Iterator[dict[str, Any]]]:
    """A document maker for the detector that rebuilds each row from its `raw` record."""

    def documents(batch: pa.RecordBatch) -> Iterator[dict[str, Any]]:
        if RAW not in batch.schema.names:
            yield from to_documents(batch)
            return
        raws = batch.column(RAW).to_pylist()
        rebuilt = _rebuilt(raws, batch.column(INGESTED).to_pylist(), enricher)
        stored = batch.drop_columns([RAW])
        for i in range(batch.num_rows):
            found = rebuilt.get(i)
            yield found if found is not None else next(to_documents(stored.slice(i, 1)))

    return documents


def _rebuilt(
    raws: list[bytes | None], ingested: list[datetime | None], enricher: Enricher
) -> dict[int, dict[str, Any]]:
    """Documents by row index, all normalized in one batch (each batch costs a good deal more
    than its rows), each row then given back its own `event.ingested`."""
    rows = [i for i, (raw, when) in enumerate(zip(raws, ingested, strict=True))
            if raw is not None and when is not None]  # fmt: skip
    if not rows:
        return {}
    records = [decode_record(raws[i] or b"") for i in rows]
    first = ingested[rows[0]]
    assert first is not None
    result = normalize(records, ingested=first, enricher=enricher, parsed=True)
    refused = {i for i, _ in result.rejected}
    made = [row for j, row in enumerate(rows) if j not in refused]
    batch = _with_ingested(result.batch, [ingested[i] for i in made])
    # the long requests are read once, not again from the text normalizing made of them
    return dict(zip(made, to_documents(batch, result.read), strict=True))


def _with_ingested(batch: pa.RecordBatch, times: list[datetime | None]) -> pa.RecordBatch:
    at = batch.schema.get_field_index(INGESTED)
    field = batch.schema.field(at)
    return batch.set_column(at, field, pa.array(times, type=field.type))
