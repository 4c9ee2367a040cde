"""The compiled column makers give exactly the columns of Arrow's kernels: on the columns the
compiled skimmer reads from real and simulated files (sliced as a scan slices them), through the
whole columnar step, and on hostile strings made up by hypothesis. Without the extension, these
tests are skipped and the kernels' own tests (test_columnar.py) still run."""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.real_records import real_record_texts

from trailhound.cloudtrail import compiled_columns, extensions
from trailhound.cloudtrail.columnar import (
    PATHS,
    RAW_PATHS,
    _event_times,
    normalized_columns,
    supported,
)
from trailhound.cloudtrail.columnset import cleaned
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.schema import BY_NAME
from trailhound.cloudtrail.skim import compiled_skimmer
from trailhound.engine.prefilter import column_plan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate

pytestmark = pytest.mark.skipif(
    not compiled_columns.present(), reason="the compiled column makers were not built"
)
INGESTED = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
_TIMESTAMP = pa.timestamp("us", tz="UTC")
# the coalesces the columnar step asks for: cleaned (cloud.account.id, user.name), and raw
# (the request's one table name)
_COALESCES = (
    (("userIdentity.accountId", "recipientAccountId"), True),
    (("userIdentity.userName", "userIdentity.sessionContext.sessionIssuer.userName"), True),
    (("requestParameters.tableName",
      "requestParameters.encryptionContext.aws:dynamodb:tableName"), False),
)  # fmt: skip


@pytest.fixture(scope="module")
def enricher(shared_data: Path) -> Enricher:
    return Enricher.create(sorted((shared_data / "geo").glob("*.mmdb")))


@pytest.fixture(scope="module")
def files(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Records files: the real records in files of 50, and a simulated day's files."""
    real = real_record_texts(shared_data)
    texts = [
        b'{"Records": [' + b",".join(real[k : k + 50]) + b"]}" for k in range(0, len(real), 50)
    ]
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=11, events=6_000)
    return texts + [_inflated(path) for path in sorted(out.rglob("*.json.gz"))]


def _inflated(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


@pytest.fixture(scope="module")
def skimmed(files: list[bytes]) -> list[dict[str, pa.Array]]:
    """Per file the compiled skimmer takes, its columns (slices of one block, as a scan's)."""
    skimmer = compiled_skimmer(PATHS, RAW_PATHS)
    assert skimmer is not None
    found = []
    for text in files:
        read = skimmer(text)
        if read is not None:
            found.append({path: read.columns[path] for path in (*PATHS, *RAW_PATHS)})
    assert len(found) >= len(files) // 2
    return found


def test_skimmed_columns_are_cleaned_alike(skimmed: list[dict[str, pa.Array]]) -> None:
    for columns in skimmed:
        for path in PATHS:
            for column in _cuts(columns[path]):
                assert_same(compiled_columns.cleaned(column), cleaned(column))


def test_skimmed_columns_coalesce_alike(skimmed: list[dict[str, pa.Array]]) -> None:
    for columns in skimmed:
        for paths, clean in _COALESCES:
            firsts, seconds = (_cuts(columns[p]) for p in paths)
            for first, second in zip(firsts, seconds, strict=True):
                made = compiled_columns.coalesced([first, second], clean)
                assert_same(made, kernel_coalesce([first, second], clean))


def test_skimmed_outcomes_and_times_alike(skimmed: list[dict[str, pa.Array]]) -> None:
    for columns in skimmed:
        codes, messages = _cuts(columns["errorCode"]), _cuts(columns["errorMessage"])
        for code, message in zip(codes, messages, strict=True):
            assert_same(compiled_columns.outcome(code, message), kernel_outcome(code, message))
        for times in _cuts(columns["eventTime"]):
            assert_times(times)


def test_the_columnar_step_is_the_same_with_and_without_the_makers(
    skimmed: list[dict[str, pa.Array]], enricher: Enricher
) -> None:
    """Every field set the shipped pack reads, and every field the step supports: the same
    batch, done and left rows."""
    plan = column_plan(load_rules([shipped_pack_dir()]).rules, [])
    actions = ("PutItem", "GetItem", "Query", "BatchWriteItem", "ConsoleLogin", "Decrypt")
    sources = ("dynamodb.amazonaws.com", "kms.amazonaws.com", "signin.amazonaws.com")
    sets = {plan.columns_for(source, action) for source in sources for action in actions}
    sets.add(frozenset(name for name in BY_NAME if supported([name])))
    for columns in skimmed:
        for fields in sorted(sets, key=sorted):
            made = normalized_columns(columns, fields, INGESTED, enricher)
            with extensions.off("_columns"):
                reference = normalized_columns(columns, fields, INGESTED, enricher)
            assert (made.done, made.left) == (reference.done, reference.left)
            assert made.batch.equals(reference.batch)


def test_arrays_it_cannot_read_are_left_to_the_kernels() -> None:
    for odd in (pa.array([b"x"]), pa.array(["x"], pa.large_string()), pa.chunked_array([["x"]])):
        assert compiled_columns.cleaned(odd) is None
        assert compiled_columns.coalesced([pa.array(["y"]), odd], True) is None
        assert compiled_columns.event_times(odd) is None


def test_damaged_buffers_are_refused_not_read() -> None:
    from trailhound.cloudtrail import _columns  # type: ignore[attr-defined]

    offsets = pa.array([0, 3, 99], pa.int32()).buffers()[1]
    for spec in (
        (None, offsets, b"abc", 0, 2),  # an offset past the data
        (None, offsets, b"abc", 2, 1),  # offsets too short for the slice
        (b"", offsets, b"abc", 0, 1),  # a validity bitmap too short
        (None, pa.array([5, 2], pa.int32()).buffers()[1], b"abcdef", 0, 1),  # going backwards
        (None, offsets, b"abc", -1, 1),
        (None, offsets, b"abc", 0, 2**62),
    ):
        for call in (_columns.cleaned, _columns.event_times):
            with pytest.raises(ValueError):
                call(spec)
        with pytest.raises(ValueError):
            _columns.coalesced(((None, offsets, b"abc", 0, 1), spec), True)


# -- hostile strings ------------------------------------------------------------------------------

_ODD_TEXTS = st.sampled_from(
    ["", "-", "none", "None", "NONE", " none", "none ", " ", "--", "\x00", "nonE", "\\u0000",
     "\u00e9", "\U0001f600", "\\\"", "ab\x00cd", "-\n", "\u2028", "none\x00"]
)  # fmt: skip
_TEXTS = st.one_of(st.none(), _ODD_TEXTS, st.text(max_size=12))


def _time_texts() -> st.SearchStrategy[str | None]:
    """CloudTrail's form with parts in and out of range, and mangled."""
    parts = st.tuples(
        st.integers(0, 10_000), st.integers(0, 13), st.integers(0, 32),
        st.integers(0, 25), st.integers(0, 61), st.integers(0, 61),
    )  # fmt: skip
    shaped = parts.map(lambda p: "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*p))
    mangled = st.tuples(shaped, st.integers(0, 19), st.characters(codec="utf-8")).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
    )
    odd = st.sampled_from(
        ["2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "1900-02-29T00:00:00Z",
         "2000-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
         "9999-12-31T23:59:59Z", "2024-01-01T00:00:00z", "2024-01-01 00:00:00Z",
         "2024-01-01T00:00:00Z ", " 2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000Z",
         "2024-01-01T00:00:60Z", "+2024-01-01T00:00:00Z", "2024-1-01T00:00:00Z", ""]
    )  # fmt: skip
    return st.one_of(st.none(), shaped, mangled, odd, st.text(max_size=22))


@st.composite
def _sliced(draw: Any, values: st.SearchStrategy[Any], length: int | None = None) -> pa.Array:
    """A string array of drawn values, maybe a slice of a longer one (at an odd offset)."""
    n = length if length is not None else draw(st.integers(0, 40))
    before = draw(st.lists(values, max_size=11))
    after = draw(st.lists(values, max_size=3))
    middle = draw(st.lists(values, min_size=n, max_size=n))
    whole = pa.array([*before, *middle, *after], pa.string())
    return whole.slice(len(before), n)


@given(_sliced(_TEXTS))
@settings(max_examples=400, deadline=None)
def test_hostile_texts_are_cleaned_alike(texts: pa.Array) -> None:
    assert_same(compiled_columns.cleaned(texts), cleaned(texts))


@given(st.data(), st.integers(0, 30), st.integers(1, 4), st.booleans())
@settings(max_examples=300, deadline=None)
def test_hostile_texts_coalesce_alike(data: Any, n: int, k: int, clean: bool) -> None:
    columns = [data.draw(_sliced(_TEXTS, n)) for _ in range(k)]
    assert_same(compiled_columns.coalesced(columns, clean), kernel_coalesce(columns, clean))


@given(st.data(), st.integers(0, 30))
@settings(max_examples=300, deadline=None)
def test_hostile_errors_give_the_same_outcome(data: Any, n: int) -> None:
    codes, messages = data.draw(_sliced(_TEXTS, n)), data.draw(_sliced(_TEXTS, n))
    assert_same(compiled_columns.outcome(codes, messages), kernel_outcome(codes, messages))


@given(_sliced(_time_texts()))
@settings(max_examples=500, deadline=None)
def test_odd_times_are_read_alike(texts: pa.Array) -> None:
    assert_times(texts)


# -- the kernels' columns, and the checks ----------------------------------------------------------


def kernel_coalesce(columns: Sequence[pa.Array], clean: bool) -> pa.Array:
    parts = [cleaned(c) if clean else c for c in columns]
    return pc.coalesce(*parts) if len(parts) > 1 else parts[0]


def kernel_outcome(codes: pa.Array, messages: pa.Array) -> pa.Array:
    failed = pc.or_(pc.is_valid(cleaned(codes)), pc.is_valid(cleaned(messages)))
    return pc.if_else(failed, "failure", "success")


def assert_same(made: pa.Array | None, reference: pa.Array) -> None:
    assert made is not None
    made.validate(full=True)
    assert made.type == reference.type
    assert made.null_count == reference.null_count
    assert made.to_pylist() == reference.to_pylist()


_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def _expected_time(text: str | None) -> datetime | None:
    """CloudTrail's own form, read by Python: None where it is not that form or not a time."""
    if text is None or not _SHAPE.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def assert_times(texts: pa.Array) -> None:
    """The times and the rows in form: as Python reads them, and as the kernels do (the
    columnar step's own reference, run with the makers off)."""
    made = compiled_columns.event_times(texts)
    assert made is not None
    times, shaped = made
    times.validate(full=True)
    expected = [_expected_time(t) for t in texts.to_pylist()]
    assert times.to_pylist() == expected
    assert shaped.null_count == 0
    assert shaped.to_pylist() == [t is not None for t in expected]
    with extensions.off("_columns"):
        kernel_times, kernel_shaped = _event_times(texts)
    assert kernel_shaped.to_pylist() == shaped.to_pylist()
    assert kernel_times.filter(kernel_shaped).to_pylist() == times.filter(shaped).to_pylist()


def _cuts(column: pa.Array) -> list[pa.Array]:
    """The column, and slices of it at odd offsets, as a scan's tasks cut a file's rows."""
    n = len(column)
    return [column, column.slice(1, max(n - 2, 0)), column.slice(n // 3, n // 3 + 1)]
