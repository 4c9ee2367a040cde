"""The records behind a batch's rows give their JSON texts as their records encode (a stage
packs the texts of the rows that become evidence): skimmed records' own texts from any of
their files' picks, decoded records' encodings, in the batch's order of rows."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from tests.support.real_records import real_record_texts

from trailhound.cloudtrail.kept import KeptRows, KeptTexts
from trailhound.cloudtrail.record import decode_record
from trailhound.cloudtrail.skim_read import FilePicks, Picks


def _held(texts: list[bytes], per_group: int) -> KeptTexts:
    """The texts as a skimmer's groups hold them: each group's picks one text, its files'
    records a run of them (two files a group)."""
    held = KeptTexts()
    for start in range(0, len(texts), per_group):
        group = texts[start : start + per_group]
        offsets = [0]
        for text in group:
            offsets.append(offsets[-1] + len(text))
        picks = Picks(list(range(len(group))), b"".join(group), offsets, max(map(len, group)))
        half = len(group) // 2
        held.add(FilePicks(picks, 0, half, list(range(half))))
        held.add(FilePicks(picks, half, len(group), list(range(len(group) - half))))
    return held


@pytest.mark.parametrize("decoded", [0, 7])
@pytest.mark.parametrize("behind", [False, True])
def test_a_rows_text_is_its_records_encoding(shared_data: Path, decoded: int, behind: bool) -> None:
    texts = real_record_texts(shared_data)[:60]
    records = [decode_record(text) for text in texts[:decoded]]
    skimmed = texts[decoded:]
    order = list(range(len(texts)))[::-1] if behind else None
    rows = KeptRows(records, _held(skimmed, 9).view(), order)
    asked = [5, 0, 17, 17, len(texts) - 1, 3, 40]
    encode = msgspec.json.Encoder().encode
    assert [bytes(t) for t in rows.texts(asked)] == [encode(r) for r in rows.take(asked)]
    assert rows.texts([]) == []


def test_a_view_from_the_middle_gives_its_own_rows(shared_data: Path) -> None:
    texts = real_record_texts(shared_data)[:30]
    rows = KeptRows([], _held(texts, 7).view(4, 25), None)
    assert [bytes(t) for t in rows.texts([0, 20, 9])] == [texts[4], texts[24], texts[13]]
