"""Normalizing the rows a batch took from skimmed files: one seam, group by group.

A skimmed file's kept rows come as their own JSON text (a copy of the record's span, so that
the file's text can go) and the skimmed columns at those rows. `SkimNormalizer` groups them by
the columns wanted for their (eventSource, eventName), as `PartialNormalizer` groups records,
and normalizes each group in two steps: a `ColumnsNormalizer`, when one is given, builds
what it can straight from the columns (text paths, and raw paths holding members' JSON text)
and names the rows it leaves; those rows (all of them without one) are decoded from their text
and normalized the usual way, so a rejection or a note is the one the usual way gives, at the
same row. The offered rows of all groups share one columnar call, and small groups share
decoding calls, each row keeping only its own group's fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Final, Protocol

import numpy as np
import pyarrow as pa
from msgspec import Struct, structs

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail import compiled_columns
from trailhound.cloudtrail.columnset import distinct_codes
from trailhound.cloudtrail.ecs import Normalized, normalize, noted_members
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.nulling import Kept, nulled
from trailhound.cloudtrail.partial import ColumnsFor, joined
from trailhound.cloudtrail.record import decode_record
from trailhound.cloudtrail.skim import PickedColumns
from trailhound.numpy_arrow import arrow_array

SOURCE: Final = "eventSource"
ACTION: Final = "eventName"
TOGETHER_ROWS: Final = 1024
"""Groups of at most this many rows left to decode share one `normalize` call. (Every group
offered to the columnar step shares its call, whatever its size: the call is told which rows
want which fields, so the others' fields cost a row little; measured on 1 MB tasks and on
full batches, one call beat a call per large group.)"""


class SkimRows(Struct, frozen=True):
    """Rows from skimmed files: each one's JSON text, and per skimmed path its values."""

    spans: Sequence[bytes]
    columns: Mapping[str, pa.Array]

    def __len__(self) -> int:
        return len(self.spans)

    def part(self, start: int, stop: int) -> SkimRows:
        columns = self.columns
        if isinstance(columns, PickedColumns):
            return SkimRows(self.spans[start:stop], columns.part(start, stop))
        sliced = {p: c.slice(start, stop - start) for p, c in columns.items()}
        return SkimRows(self.spans[start:stop], sliced)

    def at_rows(
        self, paths: Sequence[str], rows: Sequence[int] | np.ndarray
    ) -> dict[str, pa.Array]:
        """The columns of `paths` at these rows, in one take: straight from the skimmed blocks
        when the columns are still there, not made yet."""
        columns = self.columns
        if isinstance(columns, PickedColumns):
            return columns.at_rows(paths, rows)
        some = pa.RecordBatch.from_arrays([columns[p] for p in paths], names=list(paths))
        taken = kernels.take(some, pa.array(rows, pa.int64()))
        return dict(zip(paths, taken.columns, strict=True))

    def where(self, path: str, rows: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """An array holding the path's values and each of these rows' place in it, no copy."""
        columns = self.columns
        if isinstance(columns, PickedColumns):
            return columns.where(path, rows)
        return columns[path], np.asarray(rows, np.int64)


class _Offered(Mapping[str, pa.Array]):
    """The columns the columnar step reads, at the rows it is offered: the text paths taken
    together at once; a raw path (a member's JSON text) when first read, and with `at` at
    some of the rows alone. A request's text is most of the bytes taken, and most calls read
    it only for a few actions' rows (a batch's items, a statement's tables)."""

    __slots__ = ("_made", "_offered", "_raw", "_rows")

    def __init__(
        self, rows: SkimRows, offered: np.ndarray, paths: Sequence[str], raw: Sequence[str]
    ) -> None:
        self._rows, self._offered = rows, offered
        self._raw = [p for p in paths if p in raw]
        self._made = rows.at_rows([p for p in paths if p not in raw], offered)

    def __getitem__(self, path: str) -> pa.Array:
        made = self._made.get(path)
        if made is None:
            if path not in self._raw:
                raise KeyError(path)
            made = self._made[path] = self.at(path, None)
        return made

    def __contains__(self, path: object) -> bool:
        return path in self._made or path in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter([*self._made, *(p for p in self._raw if p not in self._made)])

    def __len__(self) -> int:
        return len(set(self._made).union(self._raw))

    def at(self, path: str, positions: np.ndarray | None) -> pa.Array:
        """The path's column at these positions among the offered rows (all when None)."""
        made = self._made.get(path)
        if made is not None:
            if positions is None:
                return made
            return kernels.take(made, arrow_array(positions, kind=pa.int64()))
        if path not in self._raw:
            raise KeyError(path)
        rows = self._offered if positions is None else self._offered[positions]
        return self._rows.at_rows([path], rows)[path]

    def where(self, path: str, positions: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """An array holding the path's values and the places in it of these positions among
        the offered rows: no copy (`at` takes them)."""
        made = self._made.get(path)
        if made is not None:
            return made, np.asarray(positions, np.int64)
        if path not in self._raw:
            raise KeyError(path)
        return self._rows.where(path, self._offered[positions])


class _Group(Struct, frozen=True):
    """The rows of a batch wanting the same columns, in order, and those of them the columnar
    step is offered."""

    fields: frozenset[str]
    rows: np.ndarray
    offered: list[int]


class _Grouping(Struct, frozen=True):
    """A batch's groups, and per row its group's number and whether it is offered."""

    groups: list[_Group]
    group: np.ndarray
    offered: np.ndarray


class Columnar(Protocol):
    """Rows made from columns: row j of `batch` is input row `done[j]`; `left` rows were not
    made (they are normalized from their records)."""

    @property
    def batch(self) -> pa.RecordBatch: ...
    @property
    def done(self) -> list[int]: ...
    @property
    def left(self) -> list[int]: ...


class ColumnsNormalizer(Protocol):
    """Builds the `fields` of the rows whose skimmed columns are given, where it can exactly;
    `wanting` narrows some fields to the rows of a mask, null at the others (see
    `columnar.normalized_columns`)."""

    def __call__(
        self,
        columns: Mapping[str, pa.Array],
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
        wanting: Mapping[str, np.ndarray] | None = None,
    ) -> Columnar: ...


# Whether a `ColumnsNormalizer` can make these fields for an action's rows at all: the rows of
# the others are not offered to it.
Takes = Callable[[frozenset[str], str | None, str | None], bool]


class SkimNormalizer:
    """Normalizes `SkimRows` with, per row, the columns `columns_for` names; `columnar` (with
    the skimmed text `paths` and `raw_paths` it reads) builds what it can first. `paths` holds
    every column the rows must come with; `raw_paths` says which of them a skimmer gives as
    JSON text (`skim.MakeSkimmer`'s `raw`)."""

    def __init__(
        self,
        columns_for: ColumnsFor,
        columnar: ColumnsNormalizer | None = None,
        paths: Sequence[str] = (),
        takes: Takes = lambda fields, source, action: True,
        paths_for: Callable[[frozenset[str]], Sequence[str]] | None = None,
        raw_paths: Sequence[str] = (),
    ) -> None:
        self._columns_for = columns_for
        self._columnar = columnar
        self._takes = takes
        self._paths_for = paths_for  # the paths the columnar step reads for these fields
        self.paths: tuple[str, ...] = (SOURCE, ACTION, *paths, *raw_paths)
        self.raw_paths: tuple[str, ...] = tuple(raw_paths)
        # per (source, action): its fields, and whether the columnar step is offered its rows;
        # per set of fields: the paths that step reads. All fixed for a worker's life, and a
        # batch's few dozen actions each asked anew cost a task about a tenth of a millisecond
        self._cache: dict[tuple[str | None, str | None], tuple[frozenset[str], bool]] = {}
        self._paths: dict[frozenset[str], tuple[str, ...]] = {}

    def __call__(self, rows: SkimRows, ingested: datetime, enricher: Enricher) -> Normalized:
        parts: list[tuple[Sequence[int], Normalized]] = []
        left: list[_Left] = []  # per group, the rows the columnar step did not make
        grouping = self._groups(rows)
        groups = grouping.groups
        together, fields = self._together(groups)
        done = np.zeros(len(rows), np.bool_)  # the rows the shared columnar call made
        if together:
            shared = self._columnar_together(rows, grouping, together, fields, ingested, enricher)
            if shared is not None:
                parts.append((shared[0].tolist(), shared[1]))
                done[shared[0]] = True
        for k, group in enumerate(groups):
            if k in together:
                left.append((group.rows[~done[group.rows]].tolist(), group.fields))
            else:
                made, rest = self._group(rows, group, ingested, enricher)
                parts += made
                left.append((rest, group.fields))
        parts += [self._decoded(rows, same, ingested, enricher) for same in _sharing(left)]
        if len(parts) == 1 and parts[0][0] == range(len(rows)):
            return parts[0][1]
        # rows stay grouped: putting them back in input order would cost a copy of every column
        return joined(parts)

    def _together(self, groups: list[_Group]) -> tuple[list[int], frozenset[str]]:
        """The groups whose offered rows the columnar step takes in one call (all of them),
        asked for all their fields (its fixed cost per call is about a millisecond, and a
        task's batch holds half a dozen groups), and those fields. The call is told which
        rows want which of them, so a row is left only for its own fields, and the costly
        ones are read only where wanted. Empty unless at least two groups go together."""
        chosen: list[int] = []
        fields: frozenset[str] = frozenset()
        if self._columnar is None:
            return chosen, fields
        for k, group in enumerate(groups):
            if group.offered:
                chosen.append(k)
                fields |= group.fields
        return (chosen, fields) if len(chosen) > 1 else ([], frozenset())  # one: its own call

    def _columnar_together(
        self,
        rows: SkimRows,
        grouping: _Grouping,
        together: list[int],
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
    ) -> tuple[np.ndarray, Normalized] | None:
        """The columnar step over the `together` groups' offered rows in one call, for all
        their `fields`; each row then holds nulls in the fields its own group does not want,
        as its group's own call gives. The rows made (an array: a list of thousands is slow
        to index with) and their part, None when no row was done."""
        # every group with offered rows is together: the offered rows, in order, are all of
        # them (not the groups' lists put together and sorted back into order)
        offered = np.flatnonzero(grouping.offered)
        position = np.zeros(len(grouping.groups), np.int64)
        position[together] = np.arange(len(together))
        group_of = position[grouping.group[offered]]  # among the groups together
        wanted = [grouping.groups[k].fields for k in together]
        wanting: dict[str, np.ndarray] = {}
        for lacking, names in _lacking(tuple(wanted), fields):
            # the fields lacking in the same groups share one mask: one pass over the rows
            # for each such set, not for each field
            mask = ~np.asarray(lacking)[group_of]
            wanting.update(dict.fromkeys(names, mask))
        made = self._columnar_rows(rows, offered, fields, ingested, enricher, wanting)
        if not made.done:
            return None
        # the fields a row's group does not want come out null (`wanting`)
        return offered[np.asarray(made.done, np.int64)], Normalized(made.batch, [])

    def _groups(self, rows: SkimRows) -> _Grouping:
        """Per set of wanted columns, its rows and those of them the columnar step is given.
        Worked out per distinct (source, action), of which a batch holds a few dozen, with no
        Python step per row."""
        sources, source_codes = _codes(rows, SOURCE)
        actions, action_codes = _codes(rows, ACTION)
        # the pairs present numbered without a sort where their codes' range is small
        codes, pair = distinct_codes(
            source_codes * len(actions) + action_codes, len(sources) * len(actions)
        )
        by_fields: dict[frozenset[str], int] = {}
        small = len(codes) < 2**15  # a field set per pair at most
        group_of = np.empty(len(codes), np.int16 if small else np.int64)
        offered_of = np.zeros(len(codes), np.bool_)
        for slot, code in enumerate(codes.tolist()):
            source, action = sources[code // len(actions)], actions[code % len(actions)]
            fields, offered = self._fields(source, action)
            group_of[slot] = by_fields.setdefault(fields, len(by_fields))
            offered_of[slot] = offered
        row_group, row_offered = group_of[pair], offered_of[pair]
        # each group's rows in order, from one stable sort of the small group codes (a radix
        # sort), not a pass over every row per group
        order = np.argsort(row_group, kind="stable")
        ends = np.cumsum(np.bincount(row_group, minlength=len(by_fields))).tolist()
        offered_sorted = row_offered[order]
        groups = []
        start = 0
        for fields, end in zip(by_fields, ends, strict=True):
            indices, offered = order[start:end], offered_sorted[start:end]
            groups.append(_Group(fields, indices, indices[offered].tolist()))
            start = end
        return _Grouping(groups, row_group, row_offered)

    def _fields(self, source: str | None, action: str | None) -> tuple[frozenset[str], bool]:
        """The fields of an action's rows, and whether the columnar step takes them."""
        found = self._cache.get((source, action))
        if found is None:
            fields = self._columns_for(source, action)
            offered = self._columnar is not None and self._takes(fields, source, action)
            found = self._cache[source, action] = (fields, offered)
        return found

    def _group(
        self, rows: SkimRows, group: _Group, ingested: datetime, enricher: Enricher
    ) -> tuple[list[tuple[Sequence[int], Normalized]], list[int]]:
        """The group's rows the columnar step made, as parts for `joined` (each with the batch
        rows it holds), and the rows it left, for `_decoded`."""
        parts: list[tuple[Sequence[int], Normalized]] = []
        indices, offered, fields = group.rows.tolist(), group.offered, group.fields
        left = indices
        if offered and self._columnar is not None:
            made = self._columnar_rows(rows, offered, fields, ingested, enricher)
            if len(made.done) == len(offered):  # the usual case: no Python step per row
                parts.append((offered, Normalized(made.batch, [])))
            elif made.done:
                parts.append(([offered[i] for i in made.done], Normalized(made.batch, [])))
            if len(offered) == len(indices):
                left = [offered[i] for i in made.left]
            else:
                given = set(offered)
                not_given = [i for i in indices if i not in given]
                left = sorted([offered[i] for i in made.left] + not_given)
        return parts, left

    def _columnar_rows(
        self,
        rows: SkimRows,
        offered: Sequence[int] | np.ndarray,
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
        wanting: Mapping[str, np.ndarray] | None = None,
    ) -> Columnar:
        """The columnar step over these rows, given the columns it reads for `fields` (taken
        in one call: Arrow loops over them, not Python)."""
        assert self._columnar is not None
        read = self._read(rows, fields)
        columns = _Offered(rows, np.asarray(offered, np.int64), read, self.raw_paths)
        if not wanting:
            return self._columnar(columns, fields, ingested, enricher)
        return self._columnar(columns, fields, ingested, enricher, wanting)

    def _read(self, rows: SkimRows, fields: frozenset[str]) -> Sequence[str]:
        """The paths the columnar step reads for `fields` (every column without `paths_for`)."""
        if self._paths_for is None:
            return list(rows.columns)
        read = self._paths.get(fields)
        if read is None:
            read = self._paths[fields] = tuple(self._paths_for(fields))
        return read

    def _decoded(
        self, rows: SkimRows, same: list[_Left], ingested: datetime, enricher: Enricher
    ) -> tuple[Sequence[int], Normalized]:
        """These groups' rows decoded from their text and normalized the usual way in one call,
        for all their fields, as a part; each row then holds nulls in the fields its own group
        does not want, as its group's own call gives (`_sharing` says which groups may)."""
        if len(same) == 1:
            ((left, fields),) = same
        else:
            left = [i for indices, _ in same for i in indices]
            fields = frozenset().union(*(f for _, f in same))
        records = [decode_record(rows.spans[i]) for i in left]
        result = normalize(records, ingested=ingested, enricher=enricher, fields=fields)
        if len(same) > 1:
            group_of = np.repeat(np.arange(len(same)), [len(indices) for indices, _ in same])
            if result.rejected:  # the batch holds only the rows kept
                group_of = np.delete(group_of, [i for i, _ in result.rejected])
            batch = _unwanted_nulled(result.batch, group_of, [f for _, f in same], fields)
            result = structs.replace(result, batch=batch)
        whole = left == list(range(len(rows)))
        return (range(len(rows)) if whole else left, result)


_Left = tuple[list[int], frozenset[str]]  # a group's rows left to decode, and its fields


def _sharing(left: list[_Left]) -> list[list[_Left]]:
    """The groups' left rows (none empty) by the calls that normalize them. Groups of at most
    `TOGETHER_ROWS` rows share a call when their fields make `normalize` parse the same
    free-form members: it notes what parsing changed, so each row gets the notes its own
    group's call gives; the fields' values do not depend on what else is made."""
    calls: list[list[_Left]] = []
    shared: dict[frozenset[str], list[_Left]] = {}
    for indices, fields in left:
        if not indices:
            continue
        if len(indices) > TOGETHER_ROWS:
            calls.append([(indices, fields)])
            continue
        same = shared.get(noted := noted_members(fields))
        if same is None:
            calls.append(same := shared.setdefault(noted, []))
        same.append((indices, fields))
    return calls


def _unwanted_nulled(
    batch: pa.RecordBatch,
    row_group: np.ndarray,
    wanted: list[frozenset[str]],
    fields: frozenset[str],
) -> pa.RecordBatch:
    """`batch` with null in each row's fields its group (`wanted[row_group[i]]`) leaves out.
    The fields lacking in the same groups share their mask, and its bitmaps."""
    schema = batch.schema
    arrays: list[pa.Array] | None = None
    for lacking, names in _lacking(tuple(wanted), fields):
        drop = np.asarray(lacking)[row_group]
        if not drop.any():
            continue
        kept = Kept(drop)
        if arrays is None:
            arrays = batch.columns
        for name in names:
            at = schema.get_field_index(name)
            arrays[at] = nulled(arrays[at], kept)
    return batch if arrays is None else pa.RecordBatch.from_arrays(arrays, schema=schema)


@lru_cache(maxsize=256)
def _lacking(
    wanted: tuple[frozenset[str], ...], fields: frozenset[str]
) -> tuple[tuple[tuple[bool, ...], tuple[str, ...]], ...]:
    """The fields some groups leave out, by the groups leaving them out (a worker sees the
    same few sets of groups again and again: asking each field anew per call was a tenth of a
    millisecond)."""
    by_lacking: dict[tuple[bool, ...], list[str]] = {}
    for name in sorted(fields):
        lacking = tuple(name not in w for w in wanted)
        if any(lacking):
            by_lacking.setdefault(lacking, []).append(name)
    return tuple((lacking, tuple(names)) for lacking, names in by_lacking.items())


def _codes(rows: SkimRows, path: str) -> tuple[list[str | None], np.ndarray]:
    """The distinct values of a text path (None last, for nulls) and each row's index in them:
    read where the rows lie in the skimmer's block by the compiled maker (grouping needs no
    column of every picked row; Arrow's encoding cost ~40 µs a call), else `_encoded`."""
    array, places = rows.where(path, np.arange(len(rows)))
    found = compiled_columns.codes_at(array, places)
    if found is None:
        return _encoded(rows.columns[path])
    codes, _, firsts = found  # the count is the values' number
    values: list[str | None] = kernels.take(array, arrow_array(places[firsts])).to_pylist()
    return [*values, None], codes.astype(np.int64)


def _encoded(column: pa.Array) -> tuple[list[str | None], np.ndarray]:
    """The distinct values of a text column (None last, for nulls) and each row's index in
    them, by Arrow's dictionary encoding: the reference."""
    encoded = kernels.dictionary_encode(column)
    values: list[str | None] = [*encoded.dictionary.to_pylist(), None]
    codes = kernels.fill_null(encoded.indices, len(values) - 1).to_numpy(zero_copy_only=False)
    return values, codes.astype(np.int64)
