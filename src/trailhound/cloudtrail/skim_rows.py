"""Normalizing the rows a batch took from skimmed files: one seam, group by group.

A skimmed file's kept rows come as their own JSON text (a copy of the record's span, so that
the file's text can go) and the skimmed columns at those rows. `SkimNormalizer` groups them by
the columns wanted for their (eventSource, eventName), as `PartialNormalizer` groups records,
and normalizes each group in two steps: a `ColumnsNormalizer`, when one is given, builds
what it can straight from the columns and names the rows it leaves; those rows (all of them
without one) are decoded from their text and normalized the usual way, so a rejection or a
note is the one the usual way gives, at the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

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
    """Builds the `fields` of the rows whose skimmed columns (and, in `records`, JSON texts)
    are given, where it can exactly."""

    def __call__(
        self,
        columns: dict[str, pa.Array],
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
        *,
        records: pa.Array | None = None,
    ) -> Columnar: ...


# Whether a `ColumnsNormalizer` can make these fields for an action's rows at all: the rows of
# the others are not offered to it.
Takes = Callable[[frozenset[str], str | None, str | None], bool]


class SkimNormalizer:
    """Normalizes `SkimRows` with, per row, the columns `columns_for` names; `columnar` (with
    the skimmed `paths` it reads) builds what it can first."""

    def __init__(
        self,
        columns_for: ColumnsFor,
        columnar: ColumnsNormalizer | None = None,
        paths: Sequence[str] = (),
        takes: Takes = lambda fields, source, action: True,
    ) -> None:
        self._columns_for = columns_for
        self._columnar = columnar
        self._takes = takes
        self.paths: tuple[str, ...] = (SOURCE, ACTION, *paths)
        self._cache: dict[tuple[str | None, str | None], frozenset[str]] = {}

    def __call__(self, rows: SkimRows, ingested: datetime, enricher: Enricher) -> Normalized:
        parts: list[tuple[Sequence[int], Normalized]] = []
        keys = list(
            zip(rows.columns[SOURCE].to_pylist(), rows.columns[ACTION].to_pylist(), strict=True)
        )
        for fields, indices in self._groups(keys).items():
            offered = self._offered(fields, indices, keys)
            parts += self._group(rows, indices, offered, fields, ingested, enricher)
        if len(parts) == 1 and parts[0][0] == range(len(rows)):
            return parts[0][1]
        # rows stay grouped: putting them back in input order would cost a copy of every column
        return joined(parts)

    def _groups(self, keys: list[tuple[str | None, str | None]]) -> dict[frozenset[str], list[int]]:
        cache = self._cache
        groups: dict[frozenset[str], list[int]] = {}
        for i, key in enumerate(keys):
            fields = cache.get(key)
            if fields is None:
                fields = cache[key] = self._columns_for(*key)
            groups.setdefault(fields, []).append(i)
        return groups

    def _offered(
        self, fields: frozenset[str], indices: list[int], keys: list[tuple[str | None, str | None]]
    ) -> list[int]:
        """The rows of a group the columnar step is given."""
        if self._columnar is None:
            return []
        takes: dict[tuple[str | None, str | None], bool] = {}
        for key in {keys[i] for i in indices}:
            takes[key] = self._takes(fields, *key)
        return [i for i in indices if takes[keys[i]]]

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
            columns = {p: c.take(taken) for p, c in rows.columns.items()}
            texts = pa.array([rows.spans[i] for i in offered], pa.large_string())
            made = self._columnar(columns, fields, ingested, enricher, records=texts)
            if made.done:
                parts.append(([offered[i] for i in made.done], Normalized(made.batch, [])))
            given = set(offered)
            left = sorted([offered[i] for i in made.left] + [i for i in indices if i not in given])
        if left:
            records = [decode_record(rows.spans[i]) for i in left]
            result = normalize(records, ingested=ingested, enricher=enricher, fields=fields)
            positions = left
            whole = positions == list(range(len(rows)))
            parts.append((range(len(rows)) if whole else positions, result))
        return parts
