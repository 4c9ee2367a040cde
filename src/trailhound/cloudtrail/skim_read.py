"""A blob read through a skimmer when it is a records file the skimmer can read whole.

A skimmer needs the whole inflated text of a `{"Records": [...]}` file. Only a blob that starts
like one is held whole; any other (NDJSON, an array, an EventBridge event, a file that stops
early or is too large) is handed back as the pieces read so far and the rest, so that
`envelopes.split` reads it exactly as it would have, and reports every problem as it would
have. A file the skimmer refuses goes back the same way. Small files are held a few at a
time and skimmed in one call, and when it answers for every one of them, they are handed on as
one (`SkimmedFiles`): a reader then takes their rows in one step, not file by file.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, chain
from operator import getitem
from typing import Final, cast

import numpy as np
from msgspec import Struct

from trailhound.cloudtrail import compiled_columns
from trailhound.cloudtrail.envelopes import RECORDS_START, Numbered
from trailhound.cloudtrail.skim import Skimmed, Skimmer, Together, joined, skimmed_together
from trailhound.sources import Blob, BlobError

_HEAD_BYTES: Final = 64
# Only a cheap look at the start, as `split` takes it (a records document), before the file is
# held whole: the skimmer judges the whole text.
_BLANK: Final = b" \t\r\n"


GROUP_FILES: Final = 64
GROUP_BYTES: Final = 2 << 20
"""How many files' texts (and bytes of them) are held to be skimmed in one call: a bucket of
small files (a few dozen records each) costs more in Arrow objects per call than in skimming,
and one call for many shares those. The files of a call are then selected and counted in one
step, whose kernel calls cost about 40 µs whatever their length: a group of a thousand rows
or more (2 MB is about fifty files of 40 kB) pays 0.09 µs a row for them, one of 150 rows
0.3. A file larger than the cap is skimmed alone."""


class SkimGroup:
    """The files skimmed in one call, taken as one: their rows one file's after another's
    (`skimmed`, the files' `texts` from rows `firsts` on), selected in one step, and the
    picked rows' text copied out at once. A file of a few dozen records costs more in the
    Python and Arrow calls made for it than in its records."""

    __slots__ = ("_firsts", "_picks", "_texts", "skimmed")

    def __init__(self, skimmed: Skimmed, texts: list[bytes], firsts: list[int]) -> None:
        self.skimmed = skimmed
        self._texts, self._firsts = texts, firsts
        self._picks: Picks | None = None

    def picks(self, select: Callable[[Skimmed], list[int]]) -> Picks:
        """The rows `select` picks of all the group's rows (asked once), with their text."""
        if self._picks is None:
            self._picks = self._picked(select(self.skimmed))
            self._texts = []  # held by the caller until its last file is read, no longer
        return self._picks

    def _picked(self, rows: list[int]) -> Picks:
        # the picked rows' spans in NumPy, and their text joined from views of the files'
        # texts: no Python step, and no `bytes` made, per record
        at = np.asarray(rows, np.int64)
        starts, ends = self.skimmed.starts.to_numpy()[at], self.skimmed.ends.to_numpy()[at]
        sizes = ends - starts
        files = np.searchsorted(self._firsts, at, side="right") - 1
        texts = compiled_columns.spans(self._texts, files, starts, ends)
        if texts is None:
            texts = _joined_views(self._texts, files, starts, ends)
        offsets = np.zeros(len(at) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        return Picks(rows, texts, offsets, int(sizes.max(initial=0)))


def _joined_views(
    texts: list[bytes], files: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> bytes:
    """`compiled_columns.spans` without the extension (its reference): the pieces joined from
    views of the texts, no `bytes` made per piece."""
    return b"".join(piece_views(texts, files, starts, ends))


def piece_views(
    texts: Sequence[bytes], files: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> list[memoryview]:
    """The pieces `texts[files[k]][starts[k]:ends[k]]`, as views of the texts (no copy)."""
    views = [memoryview(text) for text in texts]
    slices = map(slice, starts.tolist(), ends.tolist())
    return list(map(_cut, map(views.__getitem__, files.tolist()), slices))


_cut = cast(Callable[[memoryview, slice], memoryview], getitem)  # a view's slice, no copy


class Picks(Struct, frozen=True):
    """The rows picked of a group's files (in order, numbered over the group) and a copy of
    their JSON text: the k-th's from `offsets[k]` to `offsets[k + 1]` in `texts` (int64, an
    array: the rows that become evidence are found in it by NumPy, not one by one). `longest`
    is the largest one's size."""

    rows: list[int]
    texts: bytes
    offsets: np.ndarray
    longest: int


class FilePicks(Struct, frozen=True):
    """One file's rows of its group's `picks`, those from `low` to `high`: `rows` numbers
    them in the file."""

    picks: Picks
    low: int
    high: int
    rows: list[int]

    def sizes(self) -> list[int]:
        """Each picked record's size."""
        sizes: list[int] = np.diff(self.picks.offsets[self.low : self.high + 1]).tolist()
        return sizes


class SkimmedFile(Struct, frozen=True):
    """A records file's text and what the skimmer read of it; `positions` name its records as
    `split` does ("record 3"). Its rows are the `group`'s from `at` on."""

    text: bytes
    skimmed: Skimmed
    positions: Numbered
    group: SkimGroup
    at: int = 0

    def picks(self, select: Callable[[Skimmed], list[int]]) -> FilePicks:
        """The rows of this file that `select` picks, with their text, asked once for its
        whole group: `select` then sees every row of the group's files (counts them all)
        when the first is read."""
        picks = self.group.picks(select)
        at, rows = self.at, picks.rows
        low = bisect_left(rows, at)
        high = bisect_left(rows, at + len(self.skimmed), low)
        if not at:
            return FilePicks(picks, low, high, rows if high == len(rows) else rows[:high])
        return FilePicks(picks, low, high, list(map((-at).__add__, rows[low:high])))


class _Held(Struct, frozen=True):
    """A blob's whole text, and the pieces it came in (read again as they came if refused)."""

    text: bytes
    pieces: list[bytes]


# what a blob is read as: skimmed, or its content as its chunks give it
Read = SkimmedFile | Iterator[bytes]


class SkimmedFiles(Struct, frozen=True):
    """Files skimmed in one call, every one of them answered: their rows are the `group`'s,
    one file's after another's (`sizes` rows each), in one block. A reader takes them as one
    (a file of a few dozen records cost more in its own steps than in its records), or file
    by file (`each`) as `skimmed_blobs` gives them."""

    blobs: list[Blob]
    group: SkimGroup
    sizes: list[int]
    texts: list[bytes]
    together: Together

    def each(self) -> Iterator[tuple[Blob, SkimmedFile]]:
        at = 0
        answers = self.together.answers()
        for blob, text, skimmed in zip(self.blobs, self.texts, answers, strict=True):
            assert skimmed is not None
            yield blob, SkimmedFile(text, skimmed, Numbered("record", len(skimmed)), self.group, at)
            at += len(skimmed)


def skimmed_blobs(
    blobs: Iterable[Blob], skimmer: Skimmer, limit: int
) -> Iterator[tuple[Blob, Read]]:
    """Each blob, in order, skimmed, or, when the skimmer cannot answer for it, its content as
    its chunks would have given it, including the error that ended it. The texts of up to
    `GROUP_FILES` files in a row, of `GROUP_BYTES` in all, are held and skimmed in one call."""
    for read in skimmed_reads(blobs, skimmer, limit):
        if isinstance(read, SkimmedFiles):
            yield from read.each()
        else:
            yield read


def skimmed_reads(
    blobs: Iterable[Blob], skimmer: Skimmer, limit: int
) -> Iterator[tuple[Blob, Read] | SkimmedFiles]:
    """`skimmed_blobs`, but the files of a call that the skimmer answered every one of, in
    one block, come as one `SkimmedFiles`."""
    group: list[tuple[Blob, _Held]] = []
    size = 0
    for blob in blobs:
        held = _held(blob, limit)
        if not isinstance(held, _Held):
            yield from _skimmed_group(group, skimmer)
            group, size = [], 0
            yield blob, held
            continue
        if len(group) >= GROUP_FILES or size + len(held.text) > GROUP_BYTES:
            yield from _skimmed_group(group, skimmer)
            group, size = [], 0
        group.append((blob, held))
        size += len(held.text)
    yield from _skimmed_group(group, skimmer)


def _skimmed_group(
    group: list[tuple[Blob, _Held]], skimmer: Skimmer
) -> Iterator[tuple[Blob, Read] | SkimmedFiles]:
    if not group:
        return
    texts = [held.text for _, held in group]
    together = _together(skimmer, texts)
    counts = together.counts
    firsts = list(accumulate([n for n in counts if n >= 0], initial=0))[:-1]
    answered = [text for text, n in zip(texts, counts, strict=True) if n >= 0]
    skimmed = SkimGroup(together.skimmed, answered, firsts)
    if len(group) > 1 and min(counts) >= 0 and together.skimmed.block is not None:
        yield SkimmedFiles([b for b, _ in group], skimmed, counts, texts, together)
        return
    at = 0
    for (blob, held), answer in zip(group, together.answers(), strict=True):
        if answer is None:
            yield blob, iter(held.pieces)
            continue
        yield blob, SkimmedFile(held.text, answer, Numbered("record", len(answer)), skimmed, at)
        at += len(answer)


def _together(skimmer: Skimmer, texts: list[bytes]) -> Together:
    if len(texts) > 1:
        return skimmed_together(skimmer, texts)
    one = skimmer(texts[0])  # one file: the one-text call, as it always was
    if one is None:
        return Together([-1], joined([]), [None])
    return Together([len(one)], one, [one])


def _held(blob: Blob, limit: int) -> _Held | Iterator[bytes]:
    """The whole text of a blob that starts like a records file and is no larger than
    `limit`; else its content as its chunks would have given it."""
    whole = blob.whole(limit)
    if whole is None:
        return _held_chunks(blob.chunks(limit), limit)
    if RECORDS_START.match(whole[:_HEAD_BYTES].lstrip(_BLANK)):
        return _Held(whole, [whole])
    return iter((whole,))


def _held_chunks(chunks: Iterable[bytes], limit: int) -> _Held | Iterator[bytes]:
    """`_held` of a blob's content as it comes, piece by piece."""
    pieces = iter(chunks)
    read: list[bytes] = []
    size = 0
    try:
        for piece in pieces:
            read.append(piece)
            size += len(piece)
            if size >= _HEAD_BYTES:
                break
        if not RECORDS_START.match(b"".join(read)[:_HEAD_BYTES].lstrip(_BLANK)):
            return chain(read, pieces)
        for piece in pieces:
            read.append(piece)
            size += len(piece)
            if size > limit:  # too large to hold: `split` says so
                return chain(read, pieces)
    except BlobError as error:
        return _replayed(read, error)
    return _Held(read[0] if len(read) == 1 else b"".join(read), read)


def _replayed(read: list[bytes], error: BlobError) -> Iterator[bytes]:
    yield from read
    raise error
