"""The records behind a normalized batch's rows, kept until its matches are packed as
evidence: decoded records, and the JSON text of records kept from skimmed files, held as the
groups of files they were skimmed in copied them out (`skim_read.Picks`) and made into a
`bytes` or `msgspec.Raw` only for the rows asked for (the rows left to decode and those that
become evidence)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import overload

import msgspec
import numpy as np

from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.skim_read import FilePicks

# A kept record: decoded, or (from a skimmed file) its own JSON text.
Kept = Record | msgspec.Raw


class KeptTexts:
    """The JSON text of the records kept from skimmed files, as their groups' picks hold it
    (`skim_read.Picks`, one `bytes` for a group's records): a `bytes` per record (a block
    of the allocator's and a free each) cost more than the copying, and most records' text
    is never read again (only the rows left to decode and those that become evidence are).
    A file's text is not held."""

    __slots__ = ("_count", "_firsts", "_picks")

    def __init__(self) -> None:
        self._picks: list[FilePicks] = []
        self._firsts: list[int] = []  # per entry of `_picks`, the index of its first record
        self._count = 0

    def add(self, picks: FilePicks) -> None:
        """A file's picked records."""
        self._picks.append(picks)
        self._firsts.append(self._count)
        self._count += picks.high - picks.low

    def __len__(self) -> int:
        return self._count

    def text(self, index: int) -> bytes:
        """The text of the record at `index` (0 <= index < len(self))."""
        texts, start, end = self._place(index)
        return texts[start:end]

    def views(self, indices: Sequence[int]) -> list[memoryview]:
        """`text` of each of these indices, as views of the texts held (no copy: evidence
        is thousands of records a task, each only packed). Each index's file is found by one
        search for all of them, not a `bisect` each."""
        files = np.searchsorted(self._firsts, indices, side="right") - 1
        places = [
            (memoryview(file.picks.texts), file.picks.offsets, file.low - first)
            for file, first in zip(self._picks, self._firsts, strict=True)
        ]
        out: list[memoryview] = []
        for index, file in zip(indices, files.tolist(), strict=True):
            texts, offsets, shift = places[file]
            out.append(texts[offsets[index + shift] : offsets[index + shift + 1]])
        return out

    def _place(self, index: int) -> tuple[bytes, int, int]:
        """The record at `index`: the texts that hold it, and where in them."""
        entry = bisect_right(self._firsts, index) - 1
        file = self._picks[entry]
        at, offsets = file.low + index - self._firsts[entry], file.picks.offsets
        return file.picks.texts, offsets[at], offsets[at + 1]

    def view(self, start: int = 0, stop: int | None = None) -> Texts:
        return Texts(self, start, self._count if stop is None else stop)


class Texts(Sequence[bytes]):
    """Records `start` to `stop` of `KeptTexts`, as a sequence of their texts, each made
    when asked for."""

    __slots__ = ("_start", "_stop", "_store")

    def __init__(self, store: KeptTexts, start: int, stop: int) -> None:
        self._store, self._start, self._stop = store, start, stop

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> Texts: ...
    def __getitem__(self, index: int | slice) -> bytes | Texts:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("texts are sliced in order, one by one")
            stop = max(start, stop)
            return Texts(self._store, self._start + start, self._start + stop)
        at = index + len(self) if index < 0 else index
        if not 0 <= at < len(self):
            raise IndexError(index)
        return self._store.text(self._start + at)

    def views(self, indices: Sequence[int]) -> list[memoryview]:
        """The texts at these indices (each in range), in one call, as views."""
        return self._store.views([self._start + i for i in indices] if self._start else indices)


class KeptRows(Sequence[Kept]):
    """The records behind a batch's rows (`behind`: the input row of each, None when in
    order): the decoded records, then the skimmed ones' text as `msgspec.Raw`, made when
    asked for (only the rows that become evidence are)."""

    __slots__ = ("_behind", "_records", "_texts")

    def __init__(self, records: list[Record], texts: Texts, behind: list[int] | None) -> None:
        self._records, self._texts, self._behind = records, texts, behind

    def __len__(self) -> int:
        if self._behind is not None:
            return len(self._behind)
        return len(self._records) + len(self._texts)

    @overload
    def __getitem__(self, index: int) -> Kept: ...
    @overload
    def __getitem__(self, index: slice) -> list[Kept]: ...
    def __getitem__(self, index: int | slice) -> Kept | list[Kept]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        at = index + len(self) if index < 0 else index
        if not 0 <= at < len(self):
            raise IndexError(index)
        row = at if self._behind is None else self._behind[at]
        records = self._records
        if row < len(records):
            return records[row]
        return msgspec.Raw(self._texts[row - len(records)])

    def take(self, rows: Sequence[int]) -> list[Kept]:
        """The records at these rows, as `[self[i] for i in rows]`, for many rows in one call
        (a batch's evidence is thousands)."""
        if self._behind is not None:
            rows = [self._behind[i] for i in rows]
        records = self._records
        if not records:
            return list(map(msgspec.Raw, self._texts.views(rows)))
        n = len(records)
        return [records[i] if i < n else msgspec.Raw(self._texts[i - n]) for i in rows]

    def texts(self, rows: Sequence[int]) -> list[bytes | memoryview]:
        """The JSON text of the records at these rows, as `take`'s records encode: a skimmed
        record's own text (a view of it), a decoded one's encoded."""
        if self._behind is not None:
            rows = [self._behind[i] for i in rows]
        records = self._records
        if not records:
            return list(self._texts.views(rows))
        n, encode = len(records), msgspec.json.encode
        return [encode(records[i]) if i < n else self._texts[i - n] for i in rows]
