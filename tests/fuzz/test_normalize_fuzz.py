"""`normalize` over good CloudTrail mixed with hostile and broken input: it never raises, every
good record survives next to a bad one, and what it writes can be written (as the CLI does)."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.harness import folder, normalize
from fuzz.hostile import (
    DEEP_JUNK,
    FREE_FORM,
    ODD_NUMBERS,
    bad_line,
    damaged_gzip,
    junk_file,
    line,
    names,
    nested,
    neutral,
    neutral_with,
    odd_number,
    recoverable_prefix,
)
from fuzz.profiles import fuzz
from fuzz.strategies import Record, good_files, good_records, ndjson


def good_ids(records: list[Record]) -> list[str]:
    return [str(r["eventID"]) for r in records]


@st.composite
def mixed_ndjson(draw: st.DrawFn, records: list[Record], bad: int, **depths: int) -> bytes:
    """`records` as NDJSON with up to `bad` bad lines anywhere between them."""
    lines = [line(r) for r in records]
    for n in range(draw(st.integers(1, bad))):
        lines.insert(draw(st.integers(0, len(lines))), draw(bad_line(n, **depths)))
    return b"".join(lines)


@given(data=st.data(), records=good_records(max_bursts=3))
@fuzz(1.0)
def test_bad_records_and_files_never_cost_a_good_record(
    data: st.DataObject, records: list[Record]
) -> None:
    """Good records in files of every form, one file of NDJSON with bad lines between good
    ones, and junk files with odd names: every good record comes out, exactly once, and every
    document can be written as JSON."""
    inside, around = records[: len(records) // 2], records[len(records) // 2 :]
    files = data.draw(good_files(around))
    files["mixed.ndjson"] = data.draw(mixed_ndjson(inside, bad=4))
    for name in data.draw(st.lists(names(unsafe=False), max_size=3, unique=True)):
        files.setdefault(name, data.draw(junk_file()))
    with folder(files) as path:
        out = normalize(path)
    good = good_ids(records)
    assert sorted(i for i in out.ids if i in set(good)) == sorted(good)
    assert len(out.lines) == len(out.ids)


FIXED_GOOD = [{**neutral(90), "eventID": "good-1"}, {**neutral(91), "eventID": "good-2"}]


@given(
    records=good_records(max_bursts=2),
    depth=st.integers(250, 1100),
    member=st.sampled_from(FREE_FORM),
    array=st.booleans(),
)
@example(records=FIXED_GOOD, depth=500, member="requestParameters", array=False)  # the issue's
@fuzz(0.3)
def test_deep_nesting_never_stops_normalize(
    records: list[Record], depth: int, member: str, array: bool
) -> None:
    """A record nested as deep as 256 KB allows (1,000 levels are 4 KB), between good records:
    the good ones come out, every document can be written, nothing raises."""
    bad = neutral_with(member, nested(depth, array=array), 99)
    with folder({"a.ndjson": line(records[0]) + bad + ndjson(records[1:])}) as path:
        out = normalize(path)
    assert set(good_ids(records)) <= set(out.ids)


@given(
    records=good_records(max_bursts=2),
    first=st.sampled_from([b'"just a string"\n', b"5\n", b"null\n", b"true\n", b"[]\n", b"[1]\n"]),
)
@example(records=FIXED_GOOD, first=b'"just a string"\n')
@fuzz(0.1)
def test_a_first_line_that_is_no_record_costs_only_itself(
    records: list[Record], first: bytes
) -> None:
    """NDJSON whose first line is JSON but not a record (a collector's status line, a stray
    value): the records on the lines after it are read, as they are after the same line
    anywhere else."""
    with folder({"a.ndjson": first + ndjson(records)}) as path:
        out = normalize(path)
    assert set(good_ids(records)) <= set(out.ids)


@given(records=good_records(max_bursts=2), junk=st.sampled_from(DEEP_JUNK))
@example(records=FIXED_GOOD, junk=b"[" * 5000)
@fuzz(0.1)
def test_a_file_of_nesting_alone_costs_only_itself(records: list[Record], junk: bytes) -> None:
    """A file that is nothing but nesting, between good files: set aside, nothing raises."""
    files = {"a.ndjson": ndjson(records[:1]), "b.json": junk, "c.ndjson": ndjson(records[1:])}
    with folder(files) as path:
        out = normalize(path)
    assert set(good_ids(records)) <= set(out.ids)
    assert out.report.problems


@given(n=st.integers(0, 3), record=odd_number(0))
@example(n=0, record=neutral_with("requestParameters", '{"limit": 1e999}', 0))
@fuzz(0.2)
def test_numbers_json_cannot_hold_keep_the_record_and_say_so(n: int, record: bytes) -> None:
    """A number too large or too small for a double inside a free-form member (valid JSON;
    CloudTrail copies what the caller sent): the record is kept, and its member is either kept
    or its loss is reported, never dropped in silence."""
    before = ndjson([{**neutral(10 + i), "eventID": f"before-{i}"} for i in range(n)])
    with folder({"a.ndjson": before + record}) as path:
        out = normalize(path)
    assert "neutral-0" in out.ids
    doc = json.loads(out.lines[out.ids.index("neutral-0")])  # exact integers: not orjson
    kept = any(k.startswith("aws.cloudtrail.") and k.endswith(("request_parameters",
               "response_elements", "additional_eventdata", "service_event_details"))
               for k in _flat_keys(doc))  # fmt: skip
    assert kept or out.report.problems, "a free-form member vanished without a word"


def _flat_keys(doc: object, prefix: str = "") -> list[str]:
    if not isinstance(doc, dict):
        return [prefix]
    return [k for key, v in doc.items() for k in _flat_keys(v, f"{prefix}{key}." if
            isinstance(v, dict) else f"{prefix}{key}")]  # fmt: skip


def test_odd_numbers_are_valid_json() -> None:
    """The odd numbers are JSON a conforming parser accepts (RFC 8259 puts no bound on a
    number), so a reader may not call them broken."""
    import json

    for text in ODD_NUMBERS:
        json.loads(text, parse_int=str, parse_float=str)  # the grammar, not the value


@given(records=good_records(max_bursts=2), at=st.integers(0, 2**16))
@fuzz(0.5)
def test_a_gzip_cut_short_keeps_the_records_before_the_cut(
    records: list[Record], at: int
) -> None:
    """A gzip of NDJSON cut at any byte (an upload that stopped): every record whose whole
    line a decompressor gives back is kept, and the file next to it is read whole."""
    original = ndjson(records)
    damaged = damaged_gzip(original, at, "truncate")
    with folder({"a.json.gz": damaged, "b.ndjson": ndjson([neutral(1)])}) as path:
        out = normalize(path)
    assert _complete_ids(recoverable_prefix(damaged, original)) <= set(out.ids)
    assert "neutral-1" in out.ids


@given(records=good_records(max_bursts=2), at=st.integers(0, 2**16))
@example(records=[{**neutral(i), "eventID": f"r-{i}"} for i in range(200)], at=610)
@fuzz(0.5)
def test_a_gzip_damaged_anywhere_keeps_the_records_before_the_damage(
    records: list[Record], at: int
) -> None:
    """A gzip of NDJSON with one byte damaged (a bad disk, a bad copy): every record whose whole
    line a decompressor gives back unchanged is kept, as the README promises."""
    original = ndjson(records)
    damaged = damaged_gzip(original, at, "flip")
    with folder({"a.json.gz": damaged, "b.ndjson": ndjson([neutral(1)])}) as path:
        out = normalize(path)
    assert _complete_ids(recoverable_prefix(damaged, original)) <= set(out.ids)
    assert "neutral-1" in out.ids


def _complete_ids(prefix: bytes) -> set[str]:
    """The eventIDs of the NDJSON lines wholly inside `prefix`."""
    return {str(orjson.loads(raw)["eventID"]) for raw in prefix.split(b"\n")[:-1]}


def test_recoverable_prefix_is_what_a_decompressor_gives_back() -> None:
    """The oracle of the gzip properties: whole data for an intact file, nothing for a broken
    header, a proper prefix for a cut."""
    original = b"".join(b"line %d\n" % i for i in range(5000))
    packed = gzip.compress(original, mtime=0)
    assert recoverable_prefix(packed, original) == original
    assert recoverable_prefix(packed[:5], original) == b""
    cut = recoverable_prefix(packed[: len(packed) // 2], original)
    assert 0 < len(cut) < len(original) and original.startswith(cut)
    with pytest.raises(EOFError):
        gzip.decompress(packed[: len(packed) // 2])
