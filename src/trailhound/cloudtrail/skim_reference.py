"""The skimmer in plain Python (`trailhound.cloudtrail.skim`'s definition): slow, and what the
compiled skimmer is held to by tests. It answers exactly when the module's contract says a
skimmer may: a file msgspec reads whole, whose records and paths hold what the contract
allows; anything else is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa

from trailhound.cloudtrail.skim import (
    ACTION_PATH,
    MAX_DEPTH,
    MAX_EXP_DIGITS,
    MAX_INT_DIGITS,
    OPTIONAL_TEXT,
    PROVIDER_PATH,
    REQUIRED_TEXT,
    TEXT_OR_BOOL,
    Admission,
    Skimmed,
    Skimmer,
    admission_paths,
    raw_paths,
    split_keyed,
    split_paths,
)


def reference_skimmer(
    paths: Sequence[str], raw: Collection[str] = (), admission: Admission | None = None
) -> Skimmer:
    """The skimmer in plain Python: slow, and the definition the compiled one is held to.
    The columns of `raw` paths hold their values' JSON text, whatever its type (see
    `skim.compiled_skimmer`); with `admission`, the paths it does not always read are null
    at the records it does not admit, which `picked` names (see `skim.Admission`)."""
    names, keyed = split_keyed(paths)
    admission_paths(names, admission)
    split = split_paths(names)
    raw_split = split_paths(raw_paths(paths, raw))
    keys = [(name, split_paths([path])[0], found) for name, (path, found) in keyed.items()]

    def skim(text: bytes) -> Skimmed | None:
        whole = _reference(text, split, raw_split, keys)
        return whole if whole is None or admission is None else _admitted(whole, admission)

    return skim


def _admitted(whole: Skimmed, admission: Admission) -> Skimmed:
    """`whole` with the paths `admission` does not always read null at the records it does
    not admit, and those it admits named."""
    providers = whole.columns[PROVIDER_PATH].to_pylist()
    actions = whole.columns[ACTION_PATH].to_pylist()
    admits = [admission.admits(p, a) for p, a in zip(providers, actions, strict=True)]
    columns = {
        name: column if admission.reads(name) else _nulled(column, admits)
        for name, column in whole.columns.items()
    }
    picked = np.flatnonzero(np.array(admits, bool)).astype(np.int64)
    return Skimmed(whole.starts, whole.ends, columns, picked=picked)


def _nulled(column: pa.Array, kept: list[bool]) -> pa.Array:
    values = zip(column.to_pylist(), kept, strict=True)
    return pa.array([v if ok else None for v, ok in values], pa.string())


_SPACE: Final = re.compile(r"[ \t\n\r]*")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_NUMBER: Final = re.compile(r"-?([0-9]+)(?:\.[0-9]+)?(?:[eE][+-]?([0-9]+))?")


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


_Paths = tuple[tuple[str, ...], ...]
_Keyed = list[tuple[str, tuple[str, ...], tuple[str, ...]]]  # (name, path, keys)


def _reference(text: bytes, paths: _Paths, raw: _Paths, keyed: _Keyed) -> Skimmed | None:
    try:
        msgspec.json.decode(text)
        s, spans, records = _records(text)
        for record in records.values():
            _check_record(record)
        columns = [[_at(record, path) for record in records.values()] for path in paths]
        raw_columns = [
            [_raw_at(s, start, record, path) for start, record in records.items()] for path in raw
        ]
        keys_columns = [
            [_keys_at(record, path, keys) for record in records.values()]
            for _, path, keys in keyed
        ]
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError, _Refused):
        return None
    names = [".".join(p) for p in (*paths, *raw)] + [name for name, _, _ in keyed]
    named = zip(names, (*columns, *raw_columns, *keys_columns), strict=True)
    return Skimmed(
        pa.array([s for s, _ in spans], pa.int64()),
        pa.array([e for _, e in spans], pa.int64()),
        {name: pa.array(c, pa.string()) for name, c in named},
    )


class _Records(dict[int, Any]):
    """A file's records by where each starts in its text (in characters), in order."""


def _records(text: bytes) -> tuple[str, list[tuple[int, int]], _Records]:
    """The text, the spans (in bytes) and the values of the records of `{"Records": [...]}`;
    `_Refused` for any other document."""
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
    records = _Records()
    at = _space(s, at)
    if s.startswith("]", at):
        at += 1
    else:
        while True:
            if not s.startswith("{", at):
                raise _Refused
            record, end = _PAIRS_DECODER.raw_decode(s, at)
            spans.append((offsets.of(at), offsets.of(end)))
            records[at] = record
            at = _space(s, end)
            if s.startswith(",", at):
                at = _space(s, at + 1)
                continue
            at = _expect(s, at, "]")
            break
    at = _expect(s, _space(s, at), "}")
    if _space(s, at) != len(s):
        raise _Refused
    return s, spans, records


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
    value = _value_at(record, path)
    if not isinstance(value, str | None):
        raise _Refused
    return value


def _value_at(record: Any, path: tuple[str, ...]) -> Any:
    """The value at `path`, of any type; None where absent or null. `_Refused` where the
    path passes through a value that is neither an object nor null, or through an object
    with a duplicate key."""
    value = record
    for name in path:
        if value is None:
            return None
        if not isinstance(value, _Pairs):
            raise _Refused
        value = _unique(value).get(name)
    return value


def _raw_at(s: str, start: int, record: Any, path: tuple[str, ...]) -> str | None:
    """The JSON text of the value at `path` of the record whose "{" is at `start` in `s`,
    exactly as it stands there; None where absent or null."""
    if _value_at(record, path) is None:
        return None
    end = start
    for name in path:  # each object on the way holds the name, once (checked above)
        start, end = _member_span(s, start, name)
    return s[start:end]


def _keys_at(record: Any, path: tuple[str, ...], keys: tuple[str, ...]) -> str | None:
    """Those of `keys` held as object keys within the value at `path`, at any depth, in the
    order of `keys`, joined by ","; None for none."""
    held: set[str] = set()
    _keys_within(_value_at(record, path), held)
    found = [key for key in keys if key in held]
    return ",".join(found) if found else None


def _keys_within(value: Any, held: set[str]) -> None:
    if isinstance(value, _Pairs):
        for key, member in value:
            held.add(key)
            _keys_within(member, held)
    elif isinstance(value, list):
        for item in value:
            _keys_within(item, held)


def _member_span(s: str, at: int, name: str) -> tuple[int, int]:
    """Where the value of member `name` lies in the object whose "{" is at `at`."""
    at = _space(s, at + 1)
    while True:
        key, at = _DECODER.raw_decode(s, at)
        at = _space(s, _expect(s, _space(s, at), ":"))
        _, end = _PAIRS_DECODER.raw_decode(s, at)
        if key == name:
            return at, end
        at = _space(s, _expect(s, _space(s, end), ","))


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
