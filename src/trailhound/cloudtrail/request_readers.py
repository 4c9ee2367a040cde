"""Who reads a batch's or transaction's request for its tables and operations: the registry the
columnar step asks, per DynamoDB action.

The Python readers (`record_members`) are the reference. The compiled ones (`_requests.c`,
built when a compiler was at hand) read the same JSON texts straight from the Arrow buffers and
answer exactly as they do, or refuse a whole array, which the Python reader then reads: a
refusal is never an answer, so a doubt costs time, never a difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache, partial
from types import ModuleType
from typing import Any, Final

import numpy as np
import pyarrow as pa

from trailhound.cloudtrail import dynamodb, extensions
from trailhound.cloudtrail.record_members import (
    BatchWrites,
    read_batch_gets,
    read_batch_writes,
    read_parsed,
)

RequestReader = Callable[[pa.Array, np.ndarray], "BatchWrites | None"]
"""`(texts, positions)`: the requests of one action's calls, the JSON texts (null where none) at
those positions (int64, in any order) of `texts`, to their tables and operations, or None when
they are not all read here (the rows then go the old way). One array taken for every action's
calls serves them all."""

BATCH_WRITE: Final = "BatchWriteItem"
BATCH_GET: Final = "BatchGetItem"
TRANSACT_WRITE: Final = "TransactWriteItems"
TRANSACT_GET: Final = "TransactGetItems"

_NAME: Final = "_requests"
# `_requests.c`'s modes
_MODES: Final = {BATCH_WRITE: 0, BATCH_GET: 1, TRANSACT_WRITE: 2, TRANSACT_GET: 3}
# the request keys that name tables each mode reads itself; the others must hold null
_ITEM_LISTS: Final = frozenset({"requestItems", "RequestItems", "transactItems", "TransactItems"})
_READ_BY_MODE: Final = {
    BATCH_WRITE: frozenset({"requestItems"}),
    BATCH_GET: frozenset({"requestItems"}),
    TRANSACT_WRITE: _ITEM_LISTS,
    TRANSACT_GET: _ITEM_LISTS,
}


def _transactions(action: str, requests: pa.Array) -> BatchWrites:
    return read_parsed([action] * len(requests), requests)


# the reference: `record_members`'s readers, each of one action's requests alone
_READ_ALONE: Final[Mapping[str, Callable[[pa.Array], BatchWrites | None]]] = {
    BATCH_WRITE: read_batch_writes,
    BATCH_GET: read_batch_gets,
    TRANSACT_WRITE: partial(_transactions, TRANSACT_WRITE),
    TRANSACT_GET: partial(_transactions, TRANSACT_GET),
}


def _python(action: str, texts: pa.Array, positions: np.ndarray) -> BatchWrites | None:
    return _READ_ALONE[action](_taken(texts, positions))


def _taken(texts: pa.Array, positions: np.ndarray) -> pa.Array:
    """The texts at the positions (every one in order: the array itself, not copied)."""
    if len(positions) == len(texts) and np.array_equal(positions, np.arange(len(texts))):
        return texts
    return texts.take(pa.array(positions, pa.int64()))


PYTHON_READERS: Final[Mapping[str, RequestReader]] = {
    action: partial(_python, action) for action in _READ_ALONE
}


def readers() -> Mapping[str, RequestReader]:
    """The readers to use: the compiled ones where the extension was built, else Python's."""
    compiled = compiled_readers()
    return compiled if compiled is not None else PYTHON_READERS


def compiled_readers() -> Mapping[str, RequestReader] | None:
    """Per action, the compiled reader falling back on the Python one; None without the
    extension (or with it switched off: `extensions.off("_requests")`)."""
    module = extensions.loaded(_NAME)
    return None if module is None else _compiled_readers(module)


@cache
def _compiled_readers(module: ModuleType) -> Mapping[str, RequestReader]:
    return {action: partial(_compiled, module, action) for action in PYTHON_READERS}


def compiled_only(
    action: str, texts: pa.Array, positions: np.ndarray | None = None
) -> BatchWrites | None:
    """The compiled reader's own answer, None where it refuses (for tests: no fallback)."""
    module = extensions.loaded(_NAME)
    if module is None:
        raise RuntimeError("the _requests extension is not built or is switched off")
    return _read(module, action, texts, positions)


def _compiled(
    module: Any, action: str, texts: pa.Array, positions: np.ndarray
) -> BatchWrites | None:
    read = _read(module, action, texts, positions)
    return read if read is not None else _python(action, texts, positions)


def _read(
    module: Any, action: str, texts: pa.Array, positions: np.ndarray | None
) -> BatchWrites | None:
    plain = _plain_strings(texts)
    validity, offsets, data = plain.buffers()
    at = None if positions is None else np.ascontiguousarray(positions, np.int64)
    answer = module.read(
        _MODES[action],
        len(plain),
        plain.offset,
        validity if plain.null_count else None,
        offsets,
        data if data is not None else b"",
        at,
        *_keys(action),
    )
    if answer is None:
        return None
    return _batch_writes(len(plain) if at is None else len(at), *answer)


def _plain_strings(requests: pa.Array) -> pa.Array:
    """The texts as an array of 32-bit offsets (what the extension reads)."""
    if isinstance(requests, pa.ChunkedArray):
        requests = requests.combine_chunks()
    if requests.type in (pa.string(), pa.binary()):
        return requests
    return requests.cast(pa.string())


@cache
def _keys(action: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The keys the extension is told of: other table-naming request keys (each must hold null),
    and an item's keys naming a table or holding a statement (`dynamodb`'s own lists)."""
    others = tuple(sorted(dynamodb.REQUEST_KEYS - _READ_BY_MODE[action]))
    return others, dynamodb.ITEM_NAME_KEYS, dynamodb.ITEM_STATEMENT_KEYS


def _batch_writes(
    n: int,
    validity: bytes,
    offsets: bytes,
    value_offsets: bytes,
    text: bytes,
    tables: bytes,
    distinct: list[Any],
) -> BatchWrites:
    count = len(value_offsets) // 4 - 1
    values = pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(value_offsets), pa.py_buffer(text)]
    )
    buffers = [pa.py_buffer(validity), pa.py_buffer(offsets)]
    operations = pa.Array.from_buffers(pa.list_(pa.string()), n, buffers, children=[values])
    named = [distinct[code] for code in np.frombuffer(tables, np.int32).tolist()]
    return BatchWrites(named, operations)


__all__ = [
    "PYTHON_READERS",
    "RequestReader",
    "compiled_only",
    "compiled_readers",
    "readers",
]
