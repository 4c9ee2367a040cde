"""Local sources: which files a path, a directory, a glob or `-` stand for, and their bytes."""

from __future__ import annotations

import gzip
import io
import pickle
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import BinaryIO

import pytest

from trailhound import sources
from trailhound.errors import InputError
from trailhound.sources import (
    READ_SIZE,
    Blob,
    Corrupt,
    SourceProblem,
    Truncated,
    Unreadable,
    open_source,
    open_sources,
    scheme_of,
)


def _names(spec: str) -> list[str]:
    return [
        b.name if isinstance(b, Blob) else f"problem:{b.reason}" for b in open_source(spec).blobs()
    ]


def _content(blob: Blob | SourceProblem) -> bytes:
    assert isinstance(blob, Blob)
    return b"".join(blob.chunks())


def _blob(data: bytes) -> Blob:
    return Blob("mem", lambda: nullcontext(io.BytesIO(data)))


def test_a_directory_is_walked_recursively_in_sorted_order_without_hidden_entries(
    tmp_path: Path,
) -> None:
    for rel in ["b/2.json", "b/1.json", "a.json", "c/d/e.json.gz", ".git/x", "b/.DS_Store"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    expected = ["a.json", "b/1.json", "b/2.json", "c/d/e.json.gz"]
    assert _names(str(tmp_path)) == [str(tmp_path / rel) for rel in expected]


def test_a_file_named_explicitly_is_read_even_when_hidden(tmp_path: Path) -> None:
    hidden = tmp_path / ".trail.json"
    hidden.write_text("{}")
    assert _names(str(hidden)) == [str(hidden)]


def test_a_glob_expands_to_its_sorted_matches_and_recurses_with_double_star(
    tmp_path: Path,
) -> None:
    for rel in ["x/b.json.gz", "x/a.json.gz", "x/y/c.json.gz", "x/skip.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    matched = _names(str(tmp_path / "x" / "**" / "*.json.gz"))
    assert matched == [str(tmp_path / "x" / r) for r in ["a.json.gz", "b.json.gz", "y/c.json.gz"]]


def test_paths_that_name_nothing_come_out_as_problems_not_exceptions(tmp_path: Path) -> None:
    assert _names(str(tmp_path / "nope.json")) == ["problem:no such file or directory"]
    assert _names(str(tmp_path / "*.json")) == ["problem:no file matches this pattern"]


def test_a_broken_link_is_a_blob_that_cannot_be_read(tmp_path: Path) -> None:
    link = tmp_path / "gone.json"
    link.symlink_to(tmp_path / "missing-target.json")
    (blob,) = open_source(str(link)).blobs()
    with pytest.raises(Unreadable, match="no such file"):
        _content(blob)


def test_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"a": 1}\n')))
    (blob,) = open_source("-").blobs()
    assert isinstance(blob, Blob) and blob.name == "<stdin>"
    assert _content(blob) == b'{"a": 1}\n'


def test_gzip_is_recognized_by_content_not_by_name(tmp_path: Path) -> None:
    (tmp_path / "looks-plain.json").write_bytes(gzip.compress(b'{"Records": []}'))
    (tmp_path / "looks-gzip.json.gz").write_bytes(b'{"Records": []}')
    for blob in open_source(str(tmp_path)).blobs():
        assert _content(blob) == b'{"Records": []}'


def test_large_content_arrives_in_bounded_pieces() -> None:
    data = b"x" * (3 * READ_SIZE + 5)
    for raw in (data, gzip.compress(data)):
        pieces = list(_blob(raw).chunks())
        assert b"".join(pieces) == data
        assert max(len(p) for p in pieces) <= READ_SIZE


def test_a_caller_holding_whole_files_gets_pieces_up_to_its_own_bound() -> None:
    data = b"".join(b'{"n": %d}\n' % i for i in range(200_000))
    packed = gzip.compress(data)
    assert len(packed) < READ_SIZE < len(data) < 3 * READ_SIZE
    assert list(_blob(packed).chunks(3 * READ_SIZE)) == [data]
    pieces = list(_blob(packed).chunks(2 * READ_SIZE))  # too large for one: the usual steps
    assert b"".join(pieces) == data
    assert max(len(p) for p in pieces) <= READ_SIZE
    with pytest.raises(Corrupt):  # a trailer promising less than the content is damage
        b"".join(_blob(packed[:-4] + READ_SIZE.to_bytes(4, "little")).chunks(3 * READ_SIZE))


def test_concatenated_gzip_members_read_as_one_stream() -> None:
    assert b"".join(_blob(gzip.compress(b"one\n") + gzip.compress(b"two\n")).chunks()) == (
        b"one\ntwo\n"
    )


def test_truncated_gzip_yields_the_clean_prefix_then_raises() -> None:
    data = b"".join(b'{"n": %d}\n' % i for i in range(50_000))
    packed = gzip.compress(data)
    got: list[bytes] = []
    with pytest.raises(Truncated, match="ends early"):
        for piece in _blob(packed[: len(packed) // 2]).chunks():
            got.append(piece)
    prefix = b"".join(got)
    assert len(prefix) > len(data) // 4
    assert data.startswith(prefix)


def test_damaged_gzip_raises_corrupt() -> None:
    packed = bytearray(gzip.compress(b"".join(b"line %d\n" % i for i in range(5000))))
    packed[-6] ^= 0xFF  # inside the CRC of the trailer
    with pytest.raises(Corrupt):
        b"".join(_blob(bytes(packed)).chunks())
    with pytest.raises(Corrupt, match="after the end"):
        b"".join(_blob(gzip.compress(b"ok") + b"trailing junk").chunks())


def test_an_os_error_while_reading_is_unreadable() -> None:
    def refuse() -> AbstractContextManager[BinaryIO]:
        raise PermissionError(13, "Permission denied")

    with pytest.raises(Unreadable, match="permission denied"):
        b"".join(Blob("locked.json", refuse).chunks())


@pytest.mark.parametrize(
    ("spec", "scheme"),
    [
        ("logs/2024/", "file"),
        ("-", "file"),
        ("*.json.gz", "file"),
        ("file:///var/log/x.json", "file"),
        ("s3://bucket/AWSLogs/", "s3"),
        ("SQS://queue", "sqs"),
        ("C://Users/x.json", "file"),
    ],
)
def test_the_scheme_picks_the_source(spec: str, scheme: str) -> None:
    assert scheme_of(spec) == scheme


def test_file_urls_read_like_paths(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    assert _names(f"file://{tmp_path}") == [str(tmp_path / "a.json")]


def test_an_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"no source reads gopher:// \(known: file"):
        open_sources(["gopher://x"])


@pytest.mark.parametrize("size", [1, 4_000, READ_SIZE - 1, READ_SIZE, READ_SIZE + 1, 3 * READ_SIZE])
def test_files_of_any_size_read_whole_plain_or_gzip(tmp_path: Path, size: int) -> None:
    # a small file is read in one read of its size; the rest in steps: the same bytes either way
    data = (b'{"n": 12345}\n' * (size // 13 + 1))[:size]
    (tmp_path / "plain.json").write_bytes(data)
    (tmp_path / "packed.json.gz").write_bytes(gzip.compress(data))
    (tmp_path / "two.json.gz").write_bytes(gzip.compress(data) + gzip.compress(b"tail\n"))
    contents = {Path(b.name).name: _content(b) for b in open_source(str(tmp_path)).blobs()}
    assert contents == {"plain.json": data, "packed.json.gz": data, "two.json.gz": data + b"tail\n"}


def test_a_gzip_file_whose_trailer_misstates_its_size_is_corrupt(tmp_path: Path) -> None:
    # the trailer's size bounds a small file's inflation: a wrong one is damage, not a cut
    data = b"".join(b"line %d\n" % i for i in range(2000))
    for wrong in (len(data) - 1, len(data) + 1, 1):
        packed = gzip.compress(data)[:-4] + wrong.to_bytes(4, "little")
        (tmp_path / "lying.json.gz").write_bytes(packed)
        with pytest.raises(Corrupt):
            _content(next(iter(open_source(str(tmp_path / "lying.json.gz")).blobs())))


@pytest.mark.parametrize("later", [b"", b"{}\n", b'{"n": 1}\n' * 50, b'{"n": 2}\n' * 200_000])
def test_a_file_rewritten_after_it_was_listed_reads_as_it_is_now(
    tmp_path: Path, later: bytes
) -> None:
    # reading starts from the size the listing saw: a file that grew, shrank or emptied since
    # (a log shipper still writing, a gzip file replaced) still gives all it holds now
    first = b'{"n": 0}\n' * 20
    plain, packed = tmp_path / "plain.json", tmp_path / "packed.json.gz"
    plain.write_bytes(first)
    packed.write_bytes(gzip.compress(first))
    listed = {Path(b.name).name: b for b in open_source(str(tmp_path)).blobs()}
    plain.write_bytes(later)
    packed.write_bytes(gzip.compress(later))
    assert _content(listed["plain.json"]) == later
    assert _content(listed["packed.json.gz"]) == later


@pytest.mark.parametrize("one_piece", [True, False])
def test_small_gzip_files_read_alike_with_or_without_the_one_piece_inflater(
    monkeypatch: pytest.MonkeyPatch, one_piece: bool
) -> None:
    # isal's inflater that makes its output at once, and the stepping one it stands in for
    # (where isal is absent), give the same content and find the same damage
    if not one_piece:
        monkeypatch.setattr(sources, "_whole_inflater", lambda: None)
    data = b"".join(b'{"n": %d}\n' % i for i in range(3000))
    packed = gzip.compress(data)
    assert b"".join(_blob(packed).chunks()) == data
    assert b"".join(_blob(gzip.compress(b"")).chunks()) == b""
    assert b"".join(_blob(packed + gzip.compress(b"tail\n")).chunks()) == data + b"tail\n"
    for wrong in (len(data) - 1, len(data) + 1):
        with pytest.raises(Corrupt):
            b"".join(_blob(packed[:-4] + wrong.to_bytes(4, "little")).chunks())
    with pytest.raises(Corrupt, match="after the end"):
        b"".join(_blob(packed + b"trailing junk").chunks())
    with pytest.raises(Truncated):
        b"".join(_blob(packed[:-3]).chunks())


def _listed(folder: Path) -> dict[str, Blob]:
    return {Path(b.name).name: b for b in open_source(str(folder)).blobs() if isinstance(b, Blob)}


@pytest.mark.parametrize("size", [1, 4_000, READ_SIZE - 1])
def test_a_small_file_read_whole_gives_what_its_chunks_give(tmp_path: Path, size: int) -> None:
    # the one-step read a holder of whole files takes, plain or gzip, and in a worker that
    # got the blob pickled
    data = (b'{"n": 12345}\n' * (size // 13 + 1))[:size]
    (tmp_path / "plain.json").write_bytes(data)
    (tmp_path / "packed.json.gz").write_bytes(gzip.compress(data))
    (tmp_path / "empty.json.gz").write_bytes(gzip.compress(b""))
    for name, blob in _listed(tmp_path).items():
        for read in (blob, pickle.loads(pickle.dumps(blob))):
            whole = read.whole()
            assert whole is not None, name
            assert [whole] == list(read.chunks()), name


def test_what_a_whole_read_cannot_be_sure_of_is_left_to_the_chunks(tmp_path: Path) -> None:
    # None: read step by step, which finds the second member, the damage, the change since
    # the listing and the missing file, and says so as it always did
    data = b"".join(b'{"n": %d}\n' % i for i in range(3000))
    packed = gzip.compress(data)
    files = {
        "two.json.gz": packed + gzip.compress(b"tail\n"),
        "lying.json.gz": packed[:-4] + (len(data) - 1).to_bytes(4, "little"),
        "junk.json.gz": packed + b"junk",
        "grown.json": data,
        "gone.json": data,
        "large.json": b" " * READ_SIZE,
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    listed = _listed(tmp_path)
    (tmp_path / "grown.json").write_bytes(data + data)
    (tmp_path / "gone.json").unlink()
    assert {name: blob.whole() for name, blob in listed.items()} == dict.fromkeys(files)
    assert b"".join(listed["two.json.gz"].chunks()) == data + b"tail\n"
    assert b"".join(listed["grown.json"].chunks()) == data + data
    with pytest.raises(Corrupt):
        b"".join(listed["lying.json.gz"].chunks())
    with pytest.raises(Unreadable):
        b"".join(listed["gone.json"].chunks())
    assert _blob(data).whole() is None  # no opener that reads at once: a stream's
