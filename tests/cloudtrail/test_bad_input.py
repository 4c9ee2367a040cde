"""Bad input, case by case: one clear message naming file, position and reason; the good records
in the same file (where its form allows) and in the files around it are all normalized."""

from __future__ import annotations

import gzip
import hashlib
import json
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.sources.files import open_local


def record(name: str, **extra: Any) -> dict[str, Any]:
    """A small well-formed CloudTrail record (synthetic); `name` is its eventID."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DeleteTable",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"tableName": "Music"},
        "eventID": name,
        **extra,
    }


def line(value: Any) -> bytes:
    return json.dumps(value).encode() + b"\n"


def ndjson(*values: Any) -> bytes:
    return b"".join(line(v) for v in values)


NEIGHBOURS = ["before-1", "before-2", "after-1", "after-2"]


@dataclass(frozen=True)
class Case:
    """A bad file `b_bad` between two good ones; what it leaves, and the message it gets."""

    write: Callable[[Path], None]
    survivors: list[str]  # good records inside the bad file
    message: Callable[[Path], str]  # the one message, given the bad file's path


def _expect(case: Case, tmp_path: Path) -> tuple[list[str], list[str], Report]:
    (tmp_path / "a_good.ndjson").write_bytes(ndjson(record("before-1"), record("before-2")))
    after = {"Records": [record("after-1"), record("after-2")]}
    (tmp_path / "c_good.json.gz").write_bytes(gzip.compress(json.dumps(after).encode()))
    case.write(tmp_path / "b_bad")
    report = Report()
    ids: list[str] = []
    for batch in read_events(
        [open_local(str(tmp_path))], enricher=Enricher.create(), report=report
    ):
        ids += batch.column("event.id").to_pylist()
    return ids, [str(p) for p in report.problems], report


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _lines_around(*bad: bytes) -> bytes:
    return line(record("in-1")) + b"".join(bad) + line(record("in-2"))


CASES: dict[str, Case] = {
    "invalid JSON": Case(
        _bytes(_lines_around(b'{"eventName": "Scan",, "eventTime": "x"}\n')),
        ["in-1", "in-2"],
        lambda p: (
            f"{p}: line 2: invalid JSON: unexpected character, expected a string key (column 22)"
        ),
    ),
    "JSON that is not CloudTrail": Case(
        _bytes(_lines_around(line({"hello": "world", "n": 1}))),
        ["in-1", "in-2"],
        lambda p: (
            f"{p}: line 2: not CloudTrail: an object with no CloudTrail member (keys: hello, n)"
        ),
    ),
    "a JSON value that is not an object": Case(
        _bytes(_lines_around(b'"just a string"\n')),
        ["in-1", "in-2"],
        lambda p: f"{p}: line 2: not CloudTrail: a string where a record should be",
    ),
    "no eventTime": Case(
        _bytes(_lines_around(line({k: v for k, v in record("x").items() if k != "eventTime"}))),
        ["in-1", "in-2"],
        lambda p: f"{p}: line 2: missing eventTime",
    ),
    "no eventName": Case(
        _bytes(_lines_around(line({k: v for k, v in record("x").items() if k != "eventName"}))),
        ["in-1", "in-2"],
        lambda p: f"{p}: line 2: missing eventName",
    ),
    "a field of the wrong type": Case(
        _bytes(_lines_around(line(record("x", eventName=["DeleteTable"])))),
        ["in-1", "in-2"],
        lambda p: f"{p}: line 2: eventName is a list, expected a string",
    ),
    "an identity of the wrong type": Case(
        _bytes(_lines_around(line(record("x", userIdentity="alice")))),
        ["in-1", "in-2"],
        lambda p: f"{p}: line 2: userIdentity is a string, expected an object",
    ),
    "an eventTime that is not a time": Case(
        _bytes(_lines_around(line(record("x", eventTime="soon")))),
        ["in-1", "in-2"],
        lambda p: f"{p}: line 2: eventTime 'soon' is not a date and time",
    ),
    "a broken record inside an S3 delivery file": Case(
        _bytes(
            b'{"Records": ['
            + json.dumps(record("in-1")).encode()
            + b', {"eventName": tru}, '
            + json.dumps(record("in-2")).encode()
            + b"]}"
        ),
        ["in-1", "in-2"],
        lambda p: (
            f"{p}: record 2: invalid JSON: invalid literal, expected 'true' "
            "(character 15 of the record)"
        ),
    ),
    "binary garbage": Case(
        _bytes(bytes(range(256)) * 64),
        [],
        lambda p: f"{p}: binary data: the file is not text, so not CloudTrail JSON",
    ),
    "text that is not JSON": Case(
        _bytes(b"hello world\nthis is a README\n"),
        [],
        lambda p: f"{p}: not JSON: the file starts with 'hello world'",
    ),
    "an empty file": Case(_bytes(b""), [], lambda p: f"{p}: empty file"),
    "a file of blank lines": Case(_bytes(b"\n \n\t\n"), [], lambda p: f"{p}: empty file"),
    "an unreadable path": Case(
        lambda p: p.symlink_to(p.parent / "target-that-does-not-exist"),
        [],
        lambda p: f"{p}: cannot read: no such file or directory",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_one_message_and_everything_else_survives(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    ids, messages, report = _expect(case, tmp_path)
    assert messages == [case.message(tmp_path / "b_bad")]
    assert sorted(ids) == sorted(NEIGHBOURS + case.survivors)
    assert not report.clean


def _complete_lines(prefix: bytes) -> int:
    return prefix.count(b"\n")


def _inflate_prefix(packed: bytes) -> bytes:
    """What stdlib zlib makes of a cut gzip stream: the reference for what can be salvaged."""
    return zlib.decompressobj(wbits=31).decompress(packed)


def test_truncated_gzip_ndjson_keeps_every_complete_line(tmp_path: Path) -> None:
    text = ndjson(*(record(f"in-{i}", padding="x" * (i % 97)) for i in range(3000)))
    packed = gzip.compress(text)
    cut = packed[: len(packed) * 2 // 3]
    kept = _complete_lines(_inflate_prefix(cut))
    assert 0 < kept < 3000

    def write(path: Path) -> None:
        path.write_bytes(cut)

    case = Case(
        write,
        [f"in-{i}" for i in range(kept)],
        lambda p: (
            f"{p}: line {kept + 1}: truncated gzip: gzip data ends early: the file was "
            "cut short; the complete lines before it were read"
        ),
    )
    ids, messages, _ = _expect(case, tmp_path)
    assert messages == [case.message(tmp_path / "b_bad")]
    assert sorted(ids) == sorted(NEIGHBOURS + case.survivors)


def test_truncated_gzip_s3_file_keeps_every_complete_record(tmp_path: Path) -> None:
    records = [record(f"in-{i}", padding="y" * (i % 89)) for i in range(2000)]
    packed = gzip.compress(json.dumps({"Records": records}).encode())
    cut = packed[: len(packed) // 2]
    prefix = _inflate_prefix(cut)
    kept = sum(1 for r in records if json.dumps(r).encode() + b"," in prefix)
    assert 0 < kept < 2000

    case = Case(
        _bytes(cut),
        [f"in-{i}" for i in range(kept)],
        lambda p: (
            f"{p}: record {kept + 1}: truncated gzip: gzip data ends early: the file was "
            f"cut short; the {kept} complete records before it were read"
        ),
    )
    ids, messages, _ = _expect(case, tmp_path)
    assert messages == [case.message(tmp_path / "b_bad")]
    assert sorted(ids) == sorted(NEIGHBOURS + case.survivors)


def _damaged(text: bytes) -> bytes:
    """`text` gzipped, with 16 bytes in the middle of the deflate stream overwritten."""
    packed = bytearray(gzip.compress(text, mtime=0))
    middle = len(packed) // 2
    packed[middle : middle + 16] = bytes(16)
    return bytes(packed)


def _random_padding(count: int) -> list[str]:
    # incompressible text, so that the damage lands in the middle of the records
    return [hashlib.sha256(b"%d" % i).hexdigest() * 3 for i in range(count)]


def test_corrupt_gzip_ndjson_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    pads = _random_padding(2000)
    text = ndjson(*(record(f"in-{i}", padding=pads[i]) for i in range(2000)))
    damaged = _damaged(text)
    ids, messages, report = _expect(Case(_bytes(damaged), [], str), tmp_path)
    survivors = sorted(set(ids) - set(NEIGHBOURS), key=lambda i: int(i.split("-")[1]))
    assert 0 < len(survivors) < 2000
    assert survivors == [f"in-{i}" for i in range(len(survivors))]
    (message,) = messages
    expected_start = f"{tmp_path / 'b_bad'}: line {len(survivors) + 1}: corrupt gzip: gzip data is "
    assert message.startswith(expected_start)
    assert "lines before it were read" in message
    assert report.files_set_aside == {"corrupt gzip": 1}


def test_corrupt_gzip_s3_file_keeps_the_records_before_the_damage(tmp_path: Path) -> None:
    pads = _random_padding(2000)
    text = json.dumps({"Records": [record(f"in-{i}", padding=pads[i]) for i in range(2000)]})
    ids, messages, _ = _expect(Case(_bytes(_damaged(text.encode())), [], str), tmp_path)
    kept = len(set(ids) - set(NEIGHBOURS))
    assert 0 < kept < 2000
    assert sorted(set(ids) - set(NEIGHBOURS)) == sorted(f"in-{i}" for i in range(kept))
    (message,) = messages
    assert message.startswith(f"{tmp_path / 'b_bad'}: record {kept + 1}: corrupt gzip: ")
    assert message.endswith(f"; the {kept} complete records before it were read")


@pytest.mark.parametrize("form", ["s3", "ndjson"])
@pytest.mark.parametrize("where", [0.3, 0.6, 0.9])
def test_damage_only_the_checksum_finds_keeps_the_records_before_it(
    form: str, where: float, tmp_path: Path
) -> None:
    """One flipped byte in a small file: the deflate stream still inflates (to garbage from
    the damage on) and only the checksum at its end fails; the records before it stay."""
    records = [record(f"in-{i}", userAgent=f"agent {i} " * 3) for i in range(400)]
    text = (
        json.dumps({"Records": records}).encode()
        if form == "s3"
        else ndjson(*records)
    )
    packed = bytearray(gzip.compress(text, mtime=0))
    packed[int(len(packed) * where)] ^= 0x55
    ids, messages, report = _expect(Case(_bytes(bytes(packed)), [], str), tmp_path)
    kept = set(ids) - set(NEIGHBOURS)
    intact = next(i for i in range(401) if f"in-{i}" not in kept)
    assert intact >= 400 * where - 40  # all but the damaged part's neighbourhood
    assert any("corrupt gzip" in m and "Incorrect checksum" in m for m in messages)
    assert report.files_set_aside["corrupt gzip"] == 1


def test_a_100_mb_line_is_refused_without_holding_it(tmp_path: Path) -> None:
    size = 100 * 1024 * 1024
    head, tail = b'{"eventName": "', b'"}'
    filler = b"A" * (1024 * 1024)

    def write(path: Path) -> None:
        with path.open("wb") as out:
            out.write(line(record("in-1")) + head)
            for _ in range(99):
                out.write(filler)
            out.write(filler[: size - 99 * len(filler) - len(head) - len(tail)] + tail + b"\n")
            out.write(line(record("in-2")))

    case = Case(
        write,
        ["in-1", "in-2"],
        lambda p: (
            f"{p}: line 2: too large: 104,857,600 bytes on one line, more than the "
            "1,024 KiB trailhound takes for one record (CloudTrail writes at most 256 KB)"
        ),
    )
    tracemalloc.start()
    try:
        ids, messages, report = _expect(case, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert messages == [case.message(tmp_path / "b_bad")]
    assert sorted(ids) == sorted(NEIGHBOURS + case.survivors)
    assert report.records_set_aside == {"too large": 1}
    assert peak < 16 * 1024 * 1024  # a few read buffers, never the line
    (tmp_path / "b_bad").unlink()  # pytest keeps recent tmp dirs; do not keep 100 MB in one


def test_the_report_counts_files_and_records_by_reason(tmp_path: Path) -> None:
    (tmp_path / "mixed.ndjson").write_bytes(
        ndjson(
            record("ok-1"),
            {"eventTime": "2024-05-01T10:00:00Z"},
            {"eventTime": "2024-05-01T10:00:00Z"},
            record("late", eventTime="soon"),
            record("later", eventTime="never"),
        )
    )
    (tmp_path / "empty.json").write_bytes(b"")
    report = Report()
    rows = sum(
        b.num_rows
        for b in read_events([open_local(str(tmp_path))], enricher=Enricher.create(), report=report)
    )
    assert rows == report.records_normalized == 1
    assert report.files_read == 2
    assert report.records_set_aside == {
        "missing eventName": 2,
        "eventTime is not a date and time": 2,
    }
    assert report.files_set_aside == {"empty file": 1}
    assert report.summary() == [
        "read 2 files, normalized 1 record",
        "set aside 4 records: missing eventName (2), eventTime is not a date and time (2)",
        "set aside 1 file in whole or in part: empty file (1)",
    ]
