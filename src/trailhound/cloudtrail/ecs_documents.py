"""ECS columns -> the nested documents Elastic stores and shows, one per row.

`normalize` (`trailhound.cloudtrail.ecs`) makes the columns; this turns a batch of them back into
documents for evidence, `trailhound normalize` and the outputs, with the keys in schema order
and without empty fields, dates printed as Elasticsearch prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Final

import pyarrow as pa

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail.payloads import parsed_value
from trailhound.cloudtrail.resources import RESOURCE_COLUMNS
from trailhound.cloudtrail.schema import BY_NAME, Kind

_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")

_RESOURCES: Final = ("aws", "cloudtrail", "resources")
_RESOURCE_NAMES: Final = ("arn", "type", "account_id")
_RESOURCE_KEYS: Final = tuple(zip(_RESOURCE_NAMES, RESOURCE_COLUMNS, strict=True))


def to_documents(
    batch: pa.RecordBatch, read: Mapping[str, list[Any]] | None = None
) -> Iterator[dict[str, Any]]:
    """Nested ECS documents, one per row, without empty fields, as Elastic would store them.

    Built a column at a time, in schema order, so every document gets its keys in that order:
    a dict per row of every column, walked value by value, cost more than the documents.
    `read` gives, by flattened column, values its texts read as (None where not given: see
    `Normalized.read`), which are then not read again."""
    n = batch.num_rows
    documents: list[dict[str, Any]] = [{} for _ in range(n)]
    nodes = _Nodes(documents)
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name in BY_NAME and name not in RESOURCE_COLUMNS and column.null_count < n:
            kind: Kind | None = BY_NAME[name].kind
            values = _times_text(column) if kind is Kind.DATE else None
            if kind is Kind.FLATTENED and read and name in read:
                values = _flattened(column.to_pylist(), read[name])
                kind = None  # already as shown
            elif values is None:
                values = column.to_pylist()
            else:
                kind = None  # already as shown
            _fill(nodes, _path(name), kind, values, _present(column, values))
    zipped = _resources(batch)
    _fill(nodes, _RESOURCES, None, zipped, [row for row, found in enumerate(zipped) if found])
    yield from documents


def _resources(batch: pa.RecordBatch) -> list[list[dict[str, str]] | None]:
    """Each row's resources as objects of ARN, type and account id (None where it has none)."""
    names = batch.schema.names
    nothing = [None] * batch.num_rows
    columns = [batch.column(name).to_pylist() if name in names else nothing
               for _, name in _RESOURCE_KEYS]  # fmt: skip
    zipped: list[list[dict[str, str]] | None] = []
    for arns, types, accounts in zip(*columns, strict=True):
        if arns and types and accounts and len(arns) == len(types) == len(accounts):
            # the usual resource has all three: one object each, without looking for gaps
            entries = [{"arn": a, "type": t, "account_id": c}
                       for a, t, c in zip(arns, types, accounts, strict=True)
                       if a is not None and t is not None and c is not None]  # fmt: skip
            if len(entries) == len(arns):
                zipped.append(entries)
                continue
        given = (arns or [], types or [], accounts or [])
        zipped.append(_zip_resources(list(zip(_RESOURCE_NAMES, given, strict=True))) or None)
    return zipped


@cache
def _path(name: str) -> tuple[str, ...]:
    return tuple(name.split("."))


def _flattened(texts: list[str | None], read: list[Any]) -> list[Any]:
    """A flattened column's values: each row's as read already, or read from its text."""
    return [
        None if text is None else value if value is not None else _read_flattened(text)
        for text, value in zip(texts, read, strict=True)
    ]


def _read_flattened(text: str) -> Any:
    return parsed_value(text.encode())


# the times printed from their integer: years of four digits, where `date.isoformat` prints
# the year as `format_time` does (no sign, no padding), in epoch µs
_FOUR_DIGIT_YEARS: Final = (-30_610_224_000_000_000, 253_402_300_800_000_000)
_DAY: Final = 86_400_000_000  # µs
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _times_text(column: pa.Array) -> list[str | None] | None:
    """A column of times as `format_time` prints them, None if it is not a column of UTC
    times in µs. Printed from each time's integer, once per distinct time: a batch's
    `event.ingested` and session dates repeat, and Python made a `datetime` of each (3 µs)
    before printing it, while Arrow's `strftime` and the calls around it cost more per
    batch than the few hundred times of an evidence part."""
    if column.type != _TIMESTAMP:
        return None
    shown: dict[int | None, str | None] = {None: None}
    texts = []
    for micros in kernels.cast(column, pa.int64()).to_pylist():
        text = shown.get(micros, "")
        if text == "":
            text = shown[micros] = _time_text(micros)
        texts.append(text)
    return texts


def _time_text(micros: int) -> str:
    if not _FOUR_DIGIT_YEARS[0] <= micros < _FOUR_DIGIT_YEARS[1]:
        return format_time(_EPOCH + timedelta(microseconds=micros))
    day, within = divmod(micros, _DAY)
    seconds, fraction = divmod(within, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    # Elastic shows milliseconds, and all six digits only when the last three are not zeros
    shown = f".{fraction // 1000:03d}Z" if fraction % 1000 == 0 else f".{fraction:06d}Z"
    return f"{_day_text(day)}T{hour:02d}:{minute:02d}:{second:02d}{shown}"


@lru_cache(maxsize=4096)  # bounded: a hostile trail's times may name any day of 9,000 years
def _day_text(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).date().isoformat()


def _present(column: pa.Array, values: list[Any]) -> Sequence[int]:
    """The rows of a column with a value to show: not null, and not an empty list."""
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return [row for row, value in enumerate(values) if value]
    if pa.types.is_map(column.type) or pa.types.is_fixed_size_list(column.type):
        return [row for row, value in enumerate(values) if value is not None and value != []]
    if column.null_count == 0:
        return range(len(values))
    return [row for row, value in enumerate(values) if value is not None]


def _fill(
    nodes: _Nodes, path: tuple[str, ...], kind: Kind | None, values: list[Any], rows: Sequence[int]
) -> None:
    """Put the value of one field in the document of each of `rows`; a parent object is made
    when its first value is put, so its place among its siblings is where a row-by-row build
    puts it. Parents are made for all the rows first and the values put in a plain loop: a
    value at a time, with its parents looked for, cost more than the rest of the documents."""
    if not rows:
        return
    convert = _CONVERT.get(kind) if kind is not None else None
    if kind is Kind.DATE:  # a batch's times repeat (`event.ingested` is one for all)
        convert = cache(format_time)
    made = nodes.at(path[:-1], rows)
    key = path[-1]
    if len(rows) == len(values):  # every row: walked side by side, without indexing
        shown = values if convert is None else map(convert, values)
        for node, value in zip(made, shown, strict=True):
            node[key] = value  # type: ignore[index]
    elif convert is None:
        for row in rows:
            made[row][key] = values[row]  # type: ignore[index]
    else:
        for row in rows:
            made[row][key] = convert(values[row])  # type: ignore[index]


class _Nodes:
    """The objects of a batch's documents, by path, per row (None where a row has none yet)."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.n = len(documents)
        self._made: dict[tuple[str, ...], list[dict[str, Any] | None]] = {(): list(documents)}
        # paths every row has an object at: most fields are in every row, and looking for the
        # rows still without their parents cost a loop over the batch per field
        self._complete: set[tuple[str, ...]] = {()}

    def at(self, path: tuple[str, ...], rows: Sequence[int]) -> list[dict[str, Any] | None]:
        """The objects at `path`, made (with their own parents) for those of `rows` without one."""
        made = self._made.get(path)
        if made is None:
            made = self._made[path] = [None] * self.n
        elif path in self._complete:
            return made
        missing = [row for row in rows if made[row] is None]
        if len(missing) == self.n:  # the first field under it is in every row
            made[:] = [{} for _ in missing]
            key = path[-1]
            for above, made_now in zip(self.at(path[:-1], missing), made, strict=True):
                above[key] = made_now  # type: ignore[index]
        elif missing:
            above_rows = self.at(path[:-1], missing)
            key = path[-1]
            for row in missing:
                node: dict[str, Any] = {}
                made[row] = node
                above_rows[row][key] = node  # type: ignore[index]
        if len(rows) == self.n:
            self._complete.add(path)
        return made


def _zip_resources(columns: list[tuple[str, list[Any]]]) -> list[dict[str, str]]:
    count = max(len(values) for _, values in columns)
    zipped = []
    for i in range(count):
        entry = {
            key: values[i] for key, values in columns if i < len(values) and values[i] is not None
        }
        if entry:
            zipped.append(entry)
    return zipped


_CONVERT: Final[dict[Kind, Callable[[Any], Any]]] = {
    Kind.FLATTENED: _read_flattened,
}


def format_time(moment: datetime) -> str:
    """A time as Elasticsearch prints dates: UTC, milliseconds (more digits only if needed)."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}"
    fraction = fraction[:3] if fraction.endswith("000") else fraction
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"
