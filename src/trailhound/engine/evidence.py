"""The raw records behind matched rows, kept compactly until they are needed as evidence.

A matched row carries only the columns deciding its rule reads; the alert's evidence needs the
whole event. So the records behind a batch's matches travel as one pack: a compressed JSON
array, stored once per batch in the store (`evidence` table) and addressed by (pack, item).
Only the packs holding an alert's evidence are ever opened again. Compressed together, records
of one trail shrink about tenfold, where one at a time they barely shrink.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import msgspec
from isal import isal_zlib

LIMIT = 10
"""Events an alert shows as its evidence, at most: its first ones, in its rule's order."""
_LEVEL = 1  # isal's level 1 is as fast as level 0 here and packs a good deal tighter


def pack(items: Sequence[msgspec.Struct | msgspec.Raw]) -> bytes:
    """The items (records, or their JSON text as `msgspec.Raw`) as one compressed JSON array."""
    return bytes(isal_zlib.compress(_encoder().encode(items), _LEVEL))


def unpack(data: bytes, items: Iterable[int]) -> dict[int, bytes]:
    """The JSON text of the asked items of a pack, by position (absent ones are skipped)."""
    raws = _decoder().decode(isal_zlib.decompress(data))
    return {i: bytes(raws[i]) for i in items if 0 <= i < len(raws)}


@cache
def _encoder() -> msgspec.json.Encoder:
    return msgspec.json.Encoder()


@cache
def _decoder() -> msgspec.json.Decoder[list[msgspec.Raw]]:
    return msgspec.json.Decoder(list[msgspec.Raw])
