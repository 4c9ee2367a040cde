"""A CloudTrail records file read straight into columns: record spans and chosen members' text.

Decoding every record into a `Record` and normalizing it in Python costs most of a worker's
time, while the rules read a dozen members of a fraction of the records. A skimmer takes the
whole inflated text of a `{"Records": [...]}` file and gives, per record, where it lies in the
text and the string values at a few member paths, as Arrow columns, with no Python object per
record.

A skimmer answers only for files it can read exactly; anything else gives None, and the caller
reads the file the usual way (msgspec and `normalize`), which reports every problem as always.
When it answers, `decode_records_file(text)` succeeds, `decode_record(text[starts[i]:ends[i]])`
is the file's i-th record, and `columns[path][i]` is the value at `path` in that record.

`reference_skimmer` is the definition, in plain Python and slow; `compiled_skimmer` is the fast
one, built from `_skim.c` when a compiler was at hand, held to the reference by tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import msgspec
import numpy as np
import pyarrow as pa

MAX_DEPTH: Final = 64
"""Nesting a record may have (its own object is level 1); deeper files are read the usual way."""

REQUIRED_TEXT: Final = ("eventTime", "eventName")
OPTIONAL_TEXT: Final = (
    "eventVersion", "eventSource", "awsRegion", "sourceIPAddress", "userAgent", "errorCode",
    "errorMessage", "requestID", "eventID", "eventType", "eventCategory", "apiVersion",
    "recipientAccountId", "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId",
)  # fmt: skip
TEXT_OR_BOOL: Final = ("readOnly", "managementEvent", "sessionCredentialFromConsole")
"""The members `Record` types, by what they may hold: a file whose record breaks this is read
the usual way, which sets that record aside with its reason."""


@dataclass(frozen=True, slots=True)
class Block:
    """Every path's values in one array, `len(names)` runs of one value per record."""

    values: pa.Array
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Skimmed:
    """Record spans in the text (`starts` at "{", `ends` one past "}"), and per path one
    string value per record, null where the path is absent or its value is JSON null.
    `block`, where set, holds the same values as one array (what `picked_columns` takes
    from without making a column per file)."""

    starts: pa.Array
    ends: pa.Array
    columns: Mapping[str, pa.Array]
    block: Block | None = None

    def __len__(self) -> int:
        return len(self.starts)


def picked_columns(
    files: Sequence[Skimmed], taken: Sequence[int], paths: Sequence[str]
) -> dict[str, pa.Array]:
    """The values at `paths` of the rows `taken` (row numbers over the files one after the
    other), one column per path: taken from the files' blocks where they all have one alike,
    in one step per path for all the files."""
    blocks = [f.block for f in files]
    first = blocks[0] if blocks else None
    if first is None or any(b is None or b.names != first.names for b in blocks):
        rows = pa.array(taken, pa.int64())
        return {p: pa.concat_arrays([f.columns[p] for f in files]).take(rows) for p in paths}
    sizes = np.array([len(f) for f in files], np.int64)
    firsts = np.cumsum(sizes) - sizes
    wanted = np.asarray(taken, np.int64)
    file_of = np.searchsorted(firsts, wanted, side="right") - 1
    row = wanted - firsts[file_of]
    size = sizes[file_of]
    base = firsts[file_of] * len(first.names)  # each block holds size x paths values
    # one array to take from: a chunked array resolves every index's chunk, which costs
    # several times the copy
    values = pa.concat_arrays([b.values for b in blocks if b is not None])
    at = {name: k for k, name in enumerate(first.names)}
    return {p: values.take(pa.array(base + at[p] * size + row)) for p in paths}


class Skimmer(Protocol):
    def __call__(self, text: bytes) -> Skimmed | None: ...


def compiled_skimmer(paths: Sequence[str]) -> Skimmer | None:
    """The compiled skimmer for these paths, or None when the extension was not built."""
    try:
        from trailhound.cloudtrail import _skim  # type: ignore[attr-defined]
    except ImportError:
        return None
    names = list(dict.fromkeys(paths))
    return _Compiled(names, _skim.Skimmer(_split_paths(names)))


class _Compiled:
    """The extension's answer as Arrow arrays over the buffers it filled, copied no further:
    one array of the spans and one of every column's values, sliced when a column is asked
    for (an Arrow array made costs more than a slice, and a file may hold only a few dozen
    records, of which a stage reads a handful of columns per file)."""

    __slots__ = ("_at", "_names", "_skim")

    def __init__(self, names: list[str], skim: Any) -> None:
        self._names = names
        self._skim = skim
        self._at = {name: k for k, name in enumerate(names)}

    def __reduce__(self) -> tuple[Any, tuple[list[str]]]:
        return compiled_skimmer, (self._names,)  # a worker process builds its own

    def __call__(self, text: bytes) -> Skimmed | None:
        got = self._skim(text)
        if got is None:
            return None
        n, spans, (valid, offsets, data, nulls) = got
        both = pa.Array.from_buffers(pa.int64(), 2 * n, [None, pa.py_buffer(spans)], 0)
        bitmap = None if valid is None else pa.py_buffer(valid)
        values = pa.StringArray.from_buffers(
            n * len(self._names), pa.py_buffer(offsets), pa.py_buffer(data), bitmap, nulls
        )
        block = Block(values, tuple(self._names))
        return Skimmed(both.slice(0, n), both.slice(n, n), _Slices(values, n, self._at), block)


class _Slices(Mapping[str, pa.Array]):
    """A block's columns, each sliced out the first time it is asked for."""

    __slots__ = ("_at", "_made", "_n", "_values")

    def __init__(self, values: pa.Array, n: int, at: dict[str, int]) -> None:
        self._values, self._n, self._at = values, n, at
        self._made: dict[str, pa.Array] = {}

    def __getitem__(self, name: str) -> pa.Array:
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = self._values.slice(self._at[name] * self._n, self._n)
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


def reference_skimmer(paths: Sequence[str]) -> Skimmer:
    """The skimmer in plain Python: slow, and the definition the compiled one is held to."""
    split = _split_paths(paths)

    def skim(text: bytes) -> Skimmed | None:
        return _reference(text, split)

    return skim


def _split_paths(paths: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    split = tuple(tuple(p.split(".")) for p in paths)
    if any(not all(split_path) for split_path in split):
        raise ValueError(f"a member path has an empty name: {list(paths)}")
    return split


# -- the reference ------------------------------------------------------------------------------

_SPACE: Final = re.compile(r"[ \t\n\r]*")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_NUMBER: Final = re.compile(r"-?([0-9]+)(?:\.[0-9]+)?(?:[eE][+-]?([0-9]+))?")
MAX_INT_DIGITS: Final = 19
MAX_EXP_DIGITS: Final = 2
"""Numbers beyond RFC 8259's grammar that a skimmer refuses: msgspec refuses those out of a
double's range and very long integers, and digit counts bound those cheaply (1e118 at most)."""


class _Number:
    """A number in a record: its value is never read, only that it is no text."""


def _number(text: str) -> _Number:
    """A number's JSON text, refused past the digit limits."""
    found = _NUMBER.fullmatch(text)
    assert found is not None  # json's scanner matched the same grammar
    whole, exponent = found.groups()
    if len(whole) > MAX_INT_DIGITS or len(exponent or "") > MAX_EXP_DIGITS:
        raise _Refused
    return _Number()


_DECODER: Final = json.JSONDecoder()


class _Pairs(list[tuple[str, Any]]):
    """An object as its (key, value) pairs, in order, duplicates kept."""


_PAIRS_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_Pairs, parse_int=_number, parse_float=_number
)


class _Refused(Exception):
    """The file is not one a skimmer reads; the caller takes the usual way."""


def _reference(text: bytes, paths: tuple[tuple[str, ...], ...]) -> Skimmed | None:
    try:
        msgspec.json.decode(text)
        spans, records = _records(text)
        for record in records:
            _check_record(record)
        columns = [[_at(record, path) for record in records] for path in paths]
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError, _Refused):
        return None
    return Skimmed(
        pa.array([s for s, _ in spans], pa.int64()),
        pa.array([e for _, e in spans], pa.int64()),
        {".".join(p): pa.array(c, pa.string()) for p, c in zip(paths, columns, strict=True)},
    )


def _records(text: bytes) -> tuple[list[tuple[int, int]], list[Any]]:
    """The spans (in bytes) and values of the records of `{"Records": [...]}`; `_Refused`
    for any other document."""
    s = text.decode("utf-8")  # a BOM stays a character, and is refused below
    offsets = _ByteOffsets(s)
    at = _space(s, 0)
    at = _expect(s, at, "{")
    key, at = _DECODER.raw_decode(s, _space(s, at))
    if key != "Records":
        raise _Refused
    at = _expect(s, _space(s, at), ":")
    at = _expect(s, _space(s, at), "[")
    spans: list[tuple[int, int]] = []
    records: list[Any] = []
    at = _space(s, at)
    if s.startswith("]", at):
        at += 1
    else:
        while True:
            if not s.startswith("{", at):
                raise _Refused
            record, end = _PAIRS_DECODER.raw_decode(s, at)
            spans.append((offsets.of(at), offsets.of(end)))
            records.append(record)
            at = _space(s, end)
            if s.startswith(",", at):
                at = _space(s, at + 1)
                continue
            at = _expect(s, at, "]")
            break
    at = _expect(s, _space(s, at), "}")
    if _space(s, at) != len(s):
        raise _Refused
    return spans, records


def _check_record(record: Any) -> None:
    """`_Refused` unless the record is as the module's rules say (its members' types, no
    duplicate key of its own, depth, no lone surrogate); its paths are checked by `_at`."""
    if not isinstance(record, _Pairs):
        raise _Refused
    members = _unique(record)
    for name in REQUIRED_TEXT:
        if not isinstance(members.get(name), str):
            raise _Refused
    for name in OPTIONAL_TEXT:
        if not isinstance(members.get(name), str | None):
            raise _Refused
    for name in TEXT_OR_BOOL:
        if not isinstance(members.get(name), str | bool | None):
            raise _Refused
    if _depth(record) > MAX_DEPTH or _has_surrogate(record):
        raise _Refused


def _at(record: Any, path: tuple[str, ...]) -> str | None:
    value = record
    for name in path:
        if value is None:
            return None
        if not isinstance(value, _Pairs):
            raise _Refused
        value = _unique(value).get(name)
    if not isinstance(value, str | None):
        raise _Refused
    return value


def _unique(pairs: _Pairs) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Refused
    return members


def _depth(value: Any) -> int:
    if isinstance(value, list):  # _Pairs too: an object's pairs are one level, as a list is
        children = [v for _, v in value] if isinstance(value, _Pairs) else value
        return 1 + max((_depth(v) for v in children), default=0)
    return 0


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, _Pairs):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _space(s: str, at: int) -> int:
    found = _SPACE.match(s, at)
    assert found is not None  # the pattern matches the empty string
    return found.end()


def _expect(s: str, at: int, char: str) -> int:
    if not s.startswith(char, at):
        raise _Refused
    return at + 1


class _ByteOffsets:
    """Byte offsets of character offsets into `s`, asked in increasing order."""

    def __init__(self, s: str) -> None:
        self._s = s
        self._ascii = s.isascii()
        self._char = self._byte = 0

    def of(self, at: int) -> int:
        if self._ascii:
            return at
        self._byte += len(self._s[self._char : at].encode("utf-8", "surrogatepass"))
        self._char = at
        return self._byte
