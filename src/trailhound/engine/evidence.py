"""The raw records behind matched rows, kept compactly until they are needed as evidence.

A matched row carries only the columns deciding its rule reads; the alert's evidence needs the
whole event. So the records behind a batch's matches travel as one pack, stored once per batch
in the store (`evidence` table) and addressed by (pack, item). Only the packs holding an
alert's evidence are ever opened again, and of those only the frames that hold it.

A pack is a short header and frames of `FRAME` records, each a compressed JSON array of its
own: at 1M events the alerts' 5,200 evidence records lay in 106 packs of 98,000 records, and
inflating and splitting whole packs (190 MB of JSON) was most of the cost of reading them;
in frames of 32 records they lie in a third of the frames, for packs about a fifth larger
(deflate's 32 kB window makes a frame of 32 records nearly as small as in one stream). Packs
written before frames (one compressed JSON array) are still read.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import accumulate

import msgspec
from isal import isal_zlib

LIMIT = 10
"""Events an alert shows as its evidence, at most: its first ones, in its rule's order."""
FRAME = 32
"""Records per frame of a pack."""
_LEVEL = 1  # isal's level 1 is as fast as level 0 here and packs a good deal tighter
_MAGIC = b"THF1"  # a framed pack; an unframed one starts with zlib's header (0x78)
_HEAD = struct.Struct("<4sII")  # magic, records per frame, frames


def pack(items: Sequence[msgspec.Struct | msgspec.Raw]) -> bytes:
    """The items (records, or their JSON text as `msgspec.Raw`) as one framed pack."""
    encode = _encoder().encode
    return _framed([encode(items[start : start + FRAME]) for start in range(0, len(items), FRAME)])


def pack_texts(texts: Sequence[bytes | memoryview]) -> bytes:
    """`pack` of the records whose JSON texts these are, byte for byte: a frame is its
    records' texts joined by commas within brackets, as the encoder writes a list of
    `msgspec.Raw`. A worker's evidence is thousands of texts a task: a `Raw` made of each, only
    for the encoder to copy it again, was a seventh of a worker's packing."""
    return _framed([b"[" + b",".join(texts[start : start + FRAME]) + b"]"
                    for start in range(0, len(texts), FRAME)])  # fmt: skip


def _framed(arrays: list[bytes]) -> bytes:
    """The pack of these frames' JSON arrays: each compressed, after the head."""
    frames = [bytes(isal_zlib.compress(array, _LEVEL)) for array in arrays]
    # the head, then each frame's compressed length (4 bytes), then the frames
    sizes = struct.pack(f"<{len(frames)}I", *map(len, frames))
    return b"".join([_HEAD.pack(_MAGIC, FRAME, len(frames)), sizes, *frames])


def unpack(data: bytes, items: Iterable[int]) -> dict[int, bytes]:
    """The JSON text of the asked items of a pack, by position (absent ones are skipped)."""
    if not data.startswith(_MAGIC):
        return _taken(_decoder().decode(isal_zlib.decompress(data)), 0, items)
    _, per, count = _HEAD.unpack_from(data)
    sizes = struct.unpack_from(f"<{count}I", data, _HEAD.size)
    starts = list(accumulate(sizes, initial=_HEAD.size + 4 * count))
    by_frame: dict[int, list[int]] = defaultdict(list)
    for item in items:
        if item >= 0 and item // per < count:
            by_frame[item // per].append(item)
    view, found = memoryview(data), {}
    for frame, asked in sorted(by_frame.items()):
        text = isal_zlib.decompress(view[starts[frame] : starts[frame + 1]])
        found.update(_taken(_decoder().decode(text), frame * per, asked))
    return found


def _taken(raws: list[msgspec.Raw], first: int, items: Iterable[int]) -> dict[int, bytes]:
    """Of `raws`, the records at positions `first` on, those at the asked `items`."""
    return {i: bytes(raws[i - first]) for i in items if 0 <= i - first < len(raws)}


@cache
def _encoder() -> msgspec.json.Encoder:
    return msgspec.json.Encoder()


@cache
def _decoder() -> msgspec.json.Decoder[list[msgspec.Raw]]:
    return msgspec.json.Decoder(list[msgspec.Raw])
