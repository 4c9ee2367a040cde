"""A blob read through a skimmer when it is a records file the skimmer can read whole.

A skimmer needs the whole inflated text of a `{"Records": [...]}` file. Only a blob that starts
like one is held whole; any other (NDJSON, an array, an EventBridge event, a file that stops
early or is too large) is handed back as the pieces read so far and the rest, so that
`envelopes.split` reads it exactly as it would have, and reports every problem as it would
have. A file the skimmer refuses goes back the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Final

from trailhound.cloudtrail.envelopes import RECORDS_START, Numbered
from trailhound.cloudtrail.skim import Skimmed, Skimmer
from trailhound.sources import BlobError

_HEAD_BYTES: Final = 64
# Only a cheap look at the start, as `split` takes it (a records document), before the file is
# held whole: the skimmer judges the whole text.
_BLANK: Final = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class SkimmedFile:
    """A records file's text and what the skimmer read of it; `positions` name its records as
    `split` does ("record 3")."""

    text: bytes
    skimmed: Skimmed
    positions: Numbered


def skimmed_or_chunks(
    chunks: Iterable[bytes], skimmer: Skimmer, limit: int
) -> SkimmedFile | Iterator[bytes]:
    """The blob skimmed, or, when the skimmer cannot answer for it, its content as `chunks`
    would have given it, including the error that ended it."""
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
    text = read[0] if len(read) == 1 else b"".join(read)
    skimmed = skimmer(text)
    if skimmed is None:
        return iter(read)
    return SkimmedFile(text, skimmed, Numbered("record", len(skimmed)))


def _replayed(read: list[bytes], error: BlobError) -> Iterator[bytes]:
    yield from read
    raise error
