"""The picked records' text copied out of their files' texts by compiled code
(`compiled_columns.spans`, which a group of skimmed files uses for the rows a stage picks) is
exactly the pieces joined in Python (`skim_read._joined_views`, its reference): on simulated
files skimmed together as a scan skims them, for any rows picked, on pieces made up by
hypothesis, and through a group's picks with and without the extension; and `frames`, the
pieces a run at a time as JSON arrays (an evidence pack's frames), is the Python framing of
them. Pieces outside their texts are refused before anything is copied. Without the extension
these tests are skipped."""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.cloudtrail import compiled_columns, extensions
from trailhound.cloudtrail.columnar import PATHS, RAW_PATHS
from trailhound.cloudtrail.skim import compiled_skimmer, skimmed_together
from trailhound.cloudtrail.skim_read import SkimGroup, _joined_views
from trailhound.simulate import simulate

pytestmark = pytest.mark.skipif(
    not compiled_columns.present(), reason="the compiled column makers were not built"
)

Pieces = tuple[list[bytes], np.ndarray, np.ndarray, np.ndarray]


def spans(texts: list[bytes], files: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bytes:
    made = compiled_columns.spans(texts, files, starts, ends)
    assert made is not None
    return made


def assert_joined_alike(texts: list[bytes], files: Any, starts: Any, ends: Any) -> None:
    files, starts, ends = (np.asarray(a, np.int64) for a in (files, starts, ends))
    expected = _joined_views(texts, files, starts, ends)
    assert expected == b"".join(texts[f][s:e] for f, s, e in zip(files, starts, ends, strict=True))
    assert spans(texts, files, starts, ends) == expected


@pytest.fixture(scope="module")
def groups(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[SkimGroup, list[bytes]]]:
    """A simulated day's files skimmed together in groups of up to eight, as a stage's reader
    holds them: each group's rows with the texts and first rows of its files."""
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=11, events=4_000)
    skimmer = compiled_skimmer(PATHS, RAW_PATHS)
    assert skimmer is not None
    texts = [gzip.decompress(p.read_bytes()) for p in sorted(Path(out).rglob("*.json.gz"))]
    found = []
    for start in range(0, len(texts), 8):
        group = texts[start : start + 8]
        together = skimmed_together(skimmer, group)
        assert min(together.counts) >= 0
        firsts = np.cumsum([0, *together.counts])[:-1].tolist()
        found.append((SkimGroup(together.skimmed, group, firsts), group))
    assert len(found) > 2
    return found


def _picked_pieces(group: SkimGroup, texts: list[bytes], rows: list[int]) -> Pieces:
    """The pieces a group's picks copy for these rows, as `SkimGroup` finds them."""
    at = np.asarray(rows, np.int64)
    starts = group.skimmed.starts.to_numpy()[at]
    ends = group.skimmed.ends.to_numpy()[at]
    files = np.searchsorted(group._firsts, at, side="right") - 1
    return texts, files, starts, ends


def test_skimmed_records_are_copied_alike(
    groups: list[tuple[SkimGroup, list[bytes]]],
) -> None:
    rng = random.Random(3)
    for group, texts in groups:
        rows = len(group.skimmed)
        for picked in (list(range(rows)), sorted(rng.sample(range(rows), rows // 3)), [], [0]):
            texts_, files, starts, ends = _picked_pieces(group, texts, picked)
            assert_joined_alike(texts_, files, starts, ends)
        # each piece is one whole record
        every = _picked_pieces(group, texts, list(range(rows)))
        first = spans(*every)[: int(every[3][0] - every[2][0])]
        assert isinstance(msgspec.json.decode(first), dict)


def test_a_group_picks_the_same_text_with_and_without_the_extension(
    groups: list[tuple[SkimGroup, list[bytes]]],
) -> None:
    for group, texts in groups:
        rows = list(range(0, len(group.skimmed), 2))
        firsts = group._firsts
        made = SkimGroup(group.skimmed, list(texts), firsts)._picked(rows)
        with extensions.off("_columns"):
            reference = SkimGroup(group.skimmed, list(texts), firsts)._picked(rows)
        assert (made.rows, made.texts, made.longest) == (
            reference.rows,
            reference.texts,
            reference.longest,
        )
        assert made.offsets.tolist() == reference.offsets.tolist()


@st.composite
def _pieces(draw: Any) -> Pieces:
    texts = draw(st.lists(st.binary(max_size=300), min_size=1, max_size=6))
    files, starts, ends = [], [], []
    for _ in range(draw(st.integers(0, 40))):
        file = draw(st.integers(0, len(texts) - 1))
        start = draw(st.integers(0, len(texts[file])))
        files.append(file)
        starts.append(start)
        ends.append(draw(st.integers(start, len(texts[file]))))
    return texts, *(np.array(a, np.int64) for a in (files, starts, ends))  # type: ignore[return-value]


@given(_pieces())
@settings(max_examples=500, deadline=None)
def test_made_up_pieces_are_copied_alike(pieces: Pieces) -> None:
    assert_joined_alike(*pieces)


def test_a_piece_at_the_very_end_of_its_text_is_copied() -> None:
    texts = [b"abc", b"", b"defgh"]
    assert_joined_alike(texts, [2, 0, 1, 2, 0], [3, 0, 0, 5, 3], [5, 3, 0, 5, 3])


def test_without_the_extension_it_answers_none() -> None:
    none = np.zeros(0, np.int64)
    with extensions.off("_columns"):
        assert compiled_columns.spans([b"x"], none, none, none) is None


def test_pieces_outside_their_texts_are_refused_not_read() -> None:
    from trailhound.cloudtrail import _columns  # type: ignore[attr-defined]

    def call(texts: Any, files: list[int], starts: list[int], ends: list[int]) -> Any:
        pieces = (np.array(a, np.int64).tobytes() for a in (files, starts, ends))
        return _columns.spans(texts, *pieces)

    texts = [b"abcd", b"ef"]
    for files, starts, ends in (
        ([2], [0], [1]), ([-1], [0], [1]),  # no such text
        ([1], [0], [3]), ([0], [-1], [2]), ([0], [3], [2]),  # outside the text, or backwards
        ([0, 1], [0], [1]),  # not one length
    ):  # fmt: skip
        with pytest.raises(ValueError):
            call(texts, files, starts, ends)
    with pytest.raises(ValueError):  # not int64
        _columns.spans(texts, b"\0" * 4, b"\0" * 4, b"\0" * 4)
    with pytest.raises(TypeError):
        call([b"ab", "cd"], [0], [0], [1])
    with pytest.raises(TypeError):
        call(7, [0], [0], [1])
    assert call(texts, [0, 1], [1, 0], [3, 2]) == b"bcef"


@given(_pieces(), st.integers(1, 9))
@settings(max_examples=300, deadline=None)
def test_made_up_pieces_are_framed_as_json_arrays_of_them(pieces: Pieces, per: int) -> None:
    texts, files, starts, ends = pieces
    made = compiled_columns.frames(texts, files, starts, ends, per)
    each = [texts[f][s:e] for f, s, e in zip(files, starts, ends, strict=True)]
    assert made == [b"[" + b",".join(each[k : k + per]) + b"]" for k in range(0, len(each), per)]


def test_frames_hold_one_piece_or_more() -> None:
    from trailhound.cloudtrail import _columns  # type: ignore[attr-defined]

    one = np.zeros(1, np.int64).tobytes()
    for per in (0, -1):
        with pytest.raises(ValueError):
            _columns.frames([b"ab"], one, one, one, per)
    with pytest.raises(ValueError):  # checked before any frame is made
        _columns.frames([b"ab"], one * 2, one * 2, np.array([1, 3], np.int64).tobytes(), 1)
    with extensions.off("_columns"):
        none = np.zeros(0, np.int64)
        assert compiled_columns.frames([b"x"], none, none, none, 2) is None
