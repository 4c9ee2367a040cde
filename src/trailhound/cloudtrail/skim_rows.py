"""Normalizing the rows a batch took from skimmed files: one seam, group by group.

A skimmed file's kept rows come as their own JSON text (a copy of the record's span, so that
the file's text can go) and the skimmed columns at those rows. `SkimNormalizer` groups them by
the columns wanted for their (eventSource, eventName), as `PartialNormalizer` groups records,
and normalizes each group in two steps: a `ColumnsNormalizer`, when one is given, builds
what it can straight from the columns (text paths, and raw paths holding members' JSON text)
and names the rows it leaves; those rows (all of them without one) are decoded from their text
and normalized the usual way, so a rejection or a note is the one the usual way gives, at the
same row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

import numpy as np
import pyarrow as pa

from trailhound.cloudtrail.ecs import Normalized, normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.partial import ColumnsFor, joined
from trailhound.cloudtrail.record import decode_record

SOURCE: Final = "eventSource"
ACTION: Final = "eventName"


@dataclass(frozen=True, slots=True)
class SkimRows:
    """Rows from skimmed files: each one's JSON text, and per skimmed path its values."""

    spans: list[bytes]
    columns: dict[str, pa.Array]

    def __len__(self) -> int:
        return len(self.spans)

    def part(self, start: int, stop: int) -> SkimRows:
        columns = {p: c.slice(start, stop - start) for p, c in self.columns.items()}
        return SkimRows(self.spans[start:stop], columns)


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
    """Builds the `fields` of the rows whose skimmed columns are given, where it can exactly."""

    def __call__(
        self,
        columns: dict[str, pa.Array],
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
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
        self._cache: dict[tuple[str | None, str | None], frozenset[str]] = {}

    def __call__(self, rows: SkimRows, ingested: datetime, enricher: Enricher) -> Normalized:
        parts: list[tuple[Sequence[int], Normalized]] = []
        for fields, indices, offered in self._groups(rows):
            parts += self._group(rows, indices, offered, fields, ingested, enricher)
        if len(parts) == 1 and parts[0][0] == range(len(rows)):
            return parts[0][1]
        # rows stay grouped: putting them back in input order would cost a copy of every column
        return joined(parts)

    def _groups(self, rows: SkimRows) -> list[tuple[frozenset[str], list[int], list[int]]]:
        """Per set of wanted columns, its rows and those of them the columnar step is given.
        Worked out per distinct (source, action), of which a batch holds a few dozen, with no
        Python step per row."""
        sources, source_codes = _codes(rows.columns[SOURCE])
        actions, action_codes = _codes(rows.columns[ACTION])
        distinct, inverse = np.unique(
            source_codes * len(actions) + action_codes, return_inverse=True
        )
        by_fields: dict[frozenset[str], int] = {}
        group_of = np.empty(len(distinct), np.int64)
        offered_of = np.zeros(len(distinct), np.bool_)
        for d, code in enumerate(distinct.tolist()):
            key = (sources[code // len(actions)], actions[code % len(actions)])
            fields = self._fields(key)
            group_of[d] = by_fields.setdefault(fields, len(by_fields))
            offered_of[d] = self._columnar is not None and self._takes(fields, *key)
        row_group, row_offered = group_of[inverse], offered_of[inverse]
        groups = []
        for fields, g in by_fields.items():
            indices = np.flatnonzero(row_group == g)
            groups.append((fields, indices.tolist(), indices[row_offered[indices]].tolist()))
        return groups

    def _fields(self, key: tuple[str | None, str | None]) -> frozenset[str]:
        fields = self._cache.get(key)
        if fields is None:
            fields = self._cache[key] = self._columns_for(*key)
        return fields

    def _group(
        self,
        rows: SkimRows,
        indices: list[int],
        offered: list[int],
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
    ) -> list[tuple[Sequence[int], Normalized]]:
        """The group's rows as parts for `joined`, each with the batch rows it holds."""
        parts: list[tuple[Sequence[int], Normalized]] = []
        left = indices
        if offered and self._columnar is not None:
            taken = pa.array(offered, pa.int64())
            read = rows.columns.keys() if self._paths_for is None else self._paths_for(fields)
            columns = {p: rows.columns[p].take(taken) for p in read}
            made = self._columnar(columns, fields, ingested, enricher)
            if made.done:
                parts.append(([offered[i] for i in made.done], Normalized(made.batch, [])))
            if len(offered) == len(indices):
                left = [offered[i] for i in made.left]
            else:
                given = set(offered)
                not_given = [i for i in indices if i not in given]
                left = sorted([offered[i] for i in made.left] + not_given)
        if left:
            records = [decode_record(rows.spans[i]) for i in left]
            result = normalize(records, ingested=ingested, enricher=enricher, fields=fields)
            positions = left
            whole = positions == list(range(len(rows)))
            parts.append((range(len(rows)) if whole else positions, result))
        return parts


def _codes(column: pa.Array) -> tuple[list[str | None], np.ndarray]:
    """The distinct values of a text column (None last, for nulls) and each row's index in them."""
    encoded = column.dictionary_encode()
    values: list[str | None] = [*encoded.dictionary.to_pylist(), None]
    codes = encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
    return values, codes.astype(np.int64)
