"""What Spark's executors run, as `mapInArrow` functions: pure functions of their input.

`normalized_rows` runs trailhound's own stage (reader, record selection, the one ECS mapping,
the bad-input reports) over whole files and hands Spark every normalized event the rules may
read, instead of letting Spark parse the JSON itself (`spark.read.json` would infer or apply
its own reading of CloudTrail, diverge from the mapping, and lose the reports naming each bad
file and place). `packed_outputs` turns the rows the filters matched back into the stage's
outputs (`StageOutput`), thinned and with their evidence packs, as a worker process would.
"""

from __future__ import annotations

import io
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import partial

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from trailhound.cloudtrail.kept import Kept, KeptRows
from trailhound.cloudtrail.schema import arrow_schema
from trailhound.engine.filtering import ITEM, RULE_ID, STEP, TS
from trailhound.pipeline.stage import Stage, StageOutput, StagePlan, kept_matches
from trailhound.sources import Blob
from trailhound.spark.rows import (
    FILTERS,
    PART,
    RAW,
    SUMMARY,
    arrow_rows_schema,
    spark_name,
)

# The input of `normalized_rows`: one row per unit of work (driver-listed blobs, pickled) or
# per file Spark read itself (its name and content).
PART_IN, NAME, CONTENT, BLOBS = "part", "name", "content", "blobs"
INPUT = pa.schema([
    pa.field(PART_IN, pa.int32(), nullable=False), pa.field(NAME, pa.string()),
    pa.field(CONTENT, pa.binary()), pa.field(BLOBS, pa.binary()),
])  # fmt: skip
OUTPUT = pa.schema([
    pa.field("part", pa.int32(), nullable=False), pa.field("seq", pa.int32(), nullable=False),
    pa.field("output", pa.binary(), nullable=False),
])  # fmt: skip


class _RowStage(Stage):
    """The stage with the filtering left to Spark: it keeps each normalized batch, with the
    records behind it, for `normalized_rows` to hand over."""

    def __init__(self, plan: StagePlan) -> None:
        super().__init__(plan)
        self.batches: list[tuple[pa.RecordBatch, KeptRows]] = []

    def _matches(
        self, batch: pa.RecordBatch, records: KeptRows
    ) -> tuple[pa.Table | None, bytes | None, Counter[str]]:
        self.batches.append((batch, records))
        return None, None, Counter()


def normalized_rows(
    batches: Iterable[pa.RecordBatch], plan: StagePlan, columns: Sequence[str]
) -> Iterator[pa.RecordBatch]:
    """Rows (`spark.rows`) of every event read from one partition's blobs."""
    schema = arrow_rows_schema(columns)
    stage = _RowStage(plan)
    seen: list[int] = []  # the partition's unit of work, once a row told it
    row = 0
    for out in stage.run(_blobs(batches, seen)):
        for batch, records in stage.batches:
            yield _event_rows(batch.select(list(columns)), records, seen[0], row, schema)
            row += batch.num_rows
        stage.batches.clear()
        if seen:
            yield _summary_row(out, seen[0], row, schema)
            row += 1


def _blobs(batches: Iterable[pa.RecordBatch], seen: list[int]) -> Iterator[Blob]:
    for batch in batches:
        for item in batch.to_pylist():
            if not seen:
                seen.append(item[PART_IN])
            if item[BLOBS] is not None:
                yield from pickle.loads(item[BLOBS])
            else:
                content: bytes = item[CONTENT] or b""
                yield Blob(_local(item[NAME]), partial(io.BytesIO, content), portable=True,
                           size=len(content))  # fmt: skip


def _local(name: str) -> str:
    """A local file's name as the file source spells it (Spark says `file:/x/y`)."""
    return name.removeprefix("file://") if name.startswith("file:///") else (
        name.removeprefix("file:") if name.startswith("file:/") else name
    )


def _event_rows(
    batch: pa.RecordBatch, records: Sequence[Kept], part: int, first: int, schema: pa.Schema
) -> pa.RecordBatch:
    n = batch.num_rows
    encode = msgspec.json.Encoder().encode
    head = [
        pa.array([part] * n, pa.int32()),
        pa.array(range(first, first + n), pa.int64()),
        pa.array([encode(r) for r in records], pa.binary()),
        pa.nulls(n, pa.binary()),
    ]
    return pa.RecordBatch.from_arrays(head + batch.columns, schema=schema)


def _summary_row(out: StageOutput, part: int, row: int, schema: pa.Schema) -> pa.RecordBatch:
    arrays = [pa.array([part], pa.int32()), pa.array([row], pa.int64()), pa.nulls(1, pa.binary()),
              pa.array([pickle.dumps(out)], pa.binary())]  # fmt: skip
    arrays += [pa.nulls(1, f.type) for f in list(schema)[len(arrays) :]]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def packed_outputs(
    batches: Iterable[pa.RecordBatch], plan: StagePlan, keep: Sequence[str]
) -> Iterator[pa.RecordBatch]:
    """One partition's matched rows and summaries (`sql.matching_query`) as the stage's
    outputs, pickled: first the matches, then the counts, as the stage made them."""
    events: list[pa.RecordBatch] = []
    summaries: list[bytes] = []
    part: int | None = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        part = batch.column(PART)[0].as_py()
        summary = batch.column(SUMMARY)
        summaries += [s for s in summary.to_pylist() if s is not None]
        events.append(batch.filter(pc.is_null(summary)))
    if part is None:
        return
    outputs = [*_matched_output(events, plan, keep), *summaries]
    yield pa.RecordBatch.from_arrays(
        [pa.array([part] * len(outputs), pa.int32()), pa.array(range(len(outputs)), pa.int32()),
         pa.array(outputs, pa.binary())],
        schema=OUTPUT,
    )  # fmt: skip


def _matched_output(
    events: list[pa.RecordBatch], plan: StagePlan, keep: Sequence[str]
) -> list[bytes]:
    rows = pa.Table.from_batches(events).combine_chunks() if events else None
    if rows is None or rows.num_rows == 0:
        return []
    matched = _matches_table(rows, plan, keep)
    raws = rows.column(RAW).to_pylist()
    table, records, hits = kept_matches(
        matched, plan.eligibility, lambda items: [msgspec.Raw(raws[i]) for i in items]
    )
    return [pickle.dumps(StageOutput(matched=table, records=records, hits=hits))]


def _matches_table(rows: pa.Table, plan: StagePlan, keep: Sequence[str]) -> pa.Table:
    """As `Matcher.match` makes them: filter by filter, each filter's rows in read order."""
    lists = rows.column(FILTERS).combine_chunks()
    which = pc.list_flatten(lists)
    at = pc.list_parent_indices(lists)
    order = pc.sort_indices(
        pa.table({"f": which, "r": at}), [("f", "ascending"), ("r", "ascending")]
    )
    which, at = which.take(order), at.take(order)
    ids = pa.array([f.rule_id for f in plan.filters.filters], pa.string()).take(which)
    steps = pa.array([f.step for f in plan.filters.filters], pa.int32()).take(which)
    events = arrow_schema()
    times = rows.column(spark_name("@timestamp")).take(at).cast(events.field("@timestamp").type)
    out = pa.table({
        RULE_ID: ids, STEP: steps, TS: pc.cast(times, pa.int64()), ITEM: pc.cast(at, pa.int32()),
    })  # fmt: skip
    for name in keep:
        column = rows.column(spark_name(name)).take(at)
        out = out.append_column(name, column.cast(events.field(name).type))
    return out
