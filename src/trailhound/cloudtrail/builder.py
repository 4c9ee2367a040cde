"""What a module deriving fields of its own (operations, entities) may use of the ECS builder in
`ecs.py`: typed as protocols, so those modules need not import the builder itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec
import pyarrow as pa


class Columns(Protocol):
    """The columns being built."""

    def wants(self, *names: str) -> bool: ...

    def put(self, name: str, values: pa.Array | list[Any]) -> None: ...


class Rows(Protocol):
    """The records being normalized."""

    n: int
    action: pa.Array
    source: pa.Array
    records: Sequence[Any]

    def value_at(self, member: str, raw: msgspec.Raw, i: int) -> Any: ...

    def request_items_at(self, i: int) -> Any: ...

    def tables_found(self, i: int) -> tuple[tuple[str, ...], list[str] | None] | None: ...
