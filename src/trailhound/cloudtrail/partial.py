"""Normalize each record with only the columns something downstream will read for it.

Some columns are costly (the texts and flattened copies of `requestParameters`, the table
name) and wanted only for a few kinds of event: a rule reads the request text of a
BatchWriteItem, not of every PutItem. `PartialNormalizer` groups the records of a batch by the
columns wanted for their (eventSource, eventName), normalizes each group with just those
columns, and returns the rows group by group (`Normalized.order` says which record each row
comes from). Columns not wanted for a row are null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import pyarrow as pa

from trailhound.cloudtrail.ecs import Normalized, normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.schema import arrow_schema

# The columns wanted for events of this (eventSource, eventName).
ColumnsFor = Callable[[str | None, str | None], frozenset[str]]


class PartialNormalizer:
    """A `Normalize` for `read_selected` that builds, per record, the columns `columns_for`
    names; decisions are cached per (eventSource, eventName)."""

    def __init__(self, columns_for: ColumnsFor) -> None:
        self._columns_for = columns_for
        self._cache: dict[tuple[str | None, str | None], frozenset[str]] = {}

    def __call__(
        self, records: Sequence[Record], ingested: datetime, enricher: Enricher
    ) -> Normalized:
        groups = self._groups(records)
        if len(groups) == 1:
            ((fields, _),) = groups.items()
            return normalize(records, ingested=ingested, enricher=enricher, fields=fields)
        # rows stay grouped: putting them back in input order would cost a copy of every column
        return joined([
            (indices, normalize([records[i] for i in indices], ingested=ingested,
                                enricher=enricher, fields=fields))
            for fields, indices in groups.items()
        ])  # fmt: skip

    def _groups(self, records: Sequence[Record]) -> dict[frozenset[str], list[int]]:
        cache = self._cache
        groups: dict[frozenset[str], list[int]] = {}
        for i, record in enumerate(records):
            key = (record.eventSource, record.eventName)
            fields = cache.get(key)
            if fields is None:
                fields = cache[key] = self._columns_for(*key)
            groups.setdefault(fields, []).append(i)
        return groups


def joined(parts: Sequence[tuple[Sequence[int], Normalized]]) -> Normalized:
    """The results of normalizing parts of a batch as one result for the whole batch: each
    part comes with the batch positions of the records it was given. Rows stay part by part;
    `order` says which record each comes from."""
    batches: list[pa.RecordBatch] = []
    order: list[int] = []  # the input index of each output row
    rejected: list[tuple[int, str]] = []
    notes: list[tuple[int, str]] = []
    for positions, part in parts:
        order += _kept_positions(positions, part)
        rejected += [(positions[i], reason) for i, reason in part.rejected]
        notes += [(positions[i], note) for i, note in part.notes]
        batches.append(part.batch)
    return Normalized(_one_batch(batches), sorted(rejected), order, sorted(notes))


def _kept_positions(positions: Sequence[int], part: Normalized) -> Sequence[int]:
    """The batch positions of the part's rows, in its order: the usual part, every record
    kept in order, with no Python step per row."""
    if part.order is None and not part.rejected:
        return positions
    refused = {i for i, _ in part.rejected}
    rows = part.order if part.order is not None else [
        i for i in range(len(positions)) if i not in refused
    ]  # fmt: skip
    return [positions[i] for i in rows]


def _one_batch(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """The batches' rows as one batch. Most of the schema's columns are null in every part
    (each group makes only its own fields): those share one null array per type, not copied
    part by part (concatenating every column copied megabytes of null offsets per task)."""
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=arrow_schema())
    if len(batches) == 1:
        return batches[0]
    length = sum(b.num_rows for b in batches)
    schema = arrow_schema()
    nulls: dict[pa.DataType, pa.Array] = {}
    arrays: list[pa.Array] = []
    for k, chunks in enumerate(zip(*(b.columns for b in batches), strict=True)):
        if any(chunk.null_count != len(chunk) for chunk in chunks):
            arrays.append(pa.concat_arrays(chunks))
            continue
        arrow_type = schema.field(k).type
        if (array := nulls.get(arrow_type)) is None:
            array = nulls[arrow_type] = pa.nulls(length, arrow_type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
