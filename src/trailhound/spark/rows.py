"""The rows Spark's executors make from CloudTrail, typed explicitly (never inferred).

One row per normalized event, with the event columns some rule reads or keeps (typed as in
`trailhound.cloudtrail.schema`, named by `spark_name`; free-form members are JSON text), plus:
`__part` (which unit of work it came from), `__row` (its place in that unit), `__raw` (the
record's JSON, for evidence) and `__summary` (on one extra row per stage output only: its
counts and problems, pickled).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
from pyspark.sql import types as T

from trailhound.cloudtrail.schema import BY_NAME, Kind, arrow_schema

PART, ROW, RAW, SUMMARY, FILTERS = "__part", "__row", "__raw", "__summary", "__filters"

_SPARK: dict[Kind, T.DataType] = {
    Kind.KEYWORD: T.StringType(),
    Kind.KEYWORDS: T.ArrayType(T.StringType()),
    Kind.DATE: T.TimestampType(),
    Kind.LONG: T.LongType(),
    Kind.BOOLEAN: T.BooleanType(),
    Kind.IP: T.StringType(),
    Kind.FLATTENED: T.StringType(),
}


def spark_name(name: str) -> str:
    """A column's name in Spark: without dots (Spark reads `a.b` as a member of `a`, even
    where it is quoted, as in `mapInArrow`) and without the `@`."""
    return name.replace("@", "").replace(".", "__")


def event_columns(names: Iterable[str]) -> tuple[str, ...]:
    """`names` in the schema's order (the order a batch has them), always with the event's
    time and id."""
    wanted = {*names, "@timestamp", "event.id"}
    return tuple(f.name for f in arrow_schema() if f.name in wanted)


def spark_schema(columns: Iterable[str]) -> T.StructType:
    head = [
        T.StructField(PART, T.IntegerType(), False),
        T.StructField(ROW, T.LongType(), False),
        T.StructField(RAW, T.BinaryType()),
        T.StructField(SUMMARY, T.BinaryType()),
    ]
    events = [T.StructField(spark_name(c), _SPARK[BY_NAME[c].kind]) for c in columns]
    return T.StructType(head + events)


def head_arrow() -> list[pa.Field]:
    return [
        pa.field(PART, pa.int32(), nullable=False),
        pa.field(ROW, pa.int64(), nullable=False),
        pa.field(RAW, pa.binary()),
        pa.field(SUMMARY, pa.binary()),
    ]


def arrow_rows_schema(columns: Iterable[str]) -> pa.Schema:
    """The Arrow schema of the rows as the executors hand them to Spark."""
    events = arrow_schema()
    return pa.schema(head_arrow() + [events.field(c).with_name(spark_name(c)) for c in columns])
