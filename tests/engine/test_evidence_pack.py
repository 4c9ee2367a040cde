"""Evidence packs: every record comes back byte for byte from any position, whatever the
number of frames, and packs written before frames are still read (a state file keeps the
packs of pending matches from one run to the next); a pack of records' texts is the pack of
the records."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from isal import isal_zlib
from tests.support.real_records import real_record_texts

from trailhound.cloudtrail.record import decode_record
from trailhound.engine import evidence


def _records(count: int) -> list[msgspec.Raw]:
    # unlike lengths and non-ASCII text: a frame boundary must not cut or shift a record
    return [msgspec.Raw(b'{"eventID":"%d","n":"%s\xc3\xa9"}' % (i, b"x" * (i % 7)))
            for i in range(count)]  # fmt: skip


@pytest.mark.parametrize("count", [0, 1, evidence.FRAME - 1, evidence.FRAME,
                                   evidence.FRAME + 1, 5 * evidence.FRAME + 3])  # fmt: skip
def test_every_item_comes_back_as_it_was_packed(count: int) -> None:
    records = _records(count)
    data = evidence.pack(records)
    assert evidence.unpack(data, range(count)) == {i: bytes(r) for i, r in enumerate(records)}


def test_only_asked_items_that_exist_come_back() -> None:
    records = _records(3 * evidence.FRAME)
    data = evidence.pack(records)
    third_frame = 2 * evidence.FRAME + 1
    got = evidence.unpack(data, [third_frame, 0, -1, 3 * evidence.FRAME, 10**6])
    assert got == {0: bytes(records[0]), third_frame: bytes(records[third_frame])}


def test_a_pack_written_before_frames_is_read() -> None:
    records = _records(100)
    legacy = bytes(isal_zlib.compress(b"[" + b",".join(bytes(r) for r in records) + b"]", 1))
    assert evidence.unpack(legacy, [0, 99, 100]) == {0: bytes(records[0]), 99: bytes(records[99])}


def test_a_pack_of_texts_is_the_pack_of_their_records(shared_data: Path) -> None:
    """A stage packs its skimmed records' texts (and its decoded records' encodings) without
    making each a `msgspec.Raw`: the same pack, byte for byte, as packing the records."""
    texts = real_record_texts(shared_data)[: 3 * evidence.FRAME + 5]
    records = [decode_record(text) for text in texts]
    views = [memoryview(b"ab" + text)[2:] for text in texts]  # a view into a longer text
    assert evidence.pack_texts(views) == evidence.pack([msgspec.Raw(t) for t in texts])
    encoded = [msgspec.json.encode(record) for record in records]
    assert evidence.pack_texts(encoded) == evidence.pack(records)
    assert evidence.pack_texts([]) == evidence.pack([])
