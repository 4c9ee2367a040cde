"""Hand-made normalized events for engine tests (synthetic: built field by field)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from trailhound.cloudtrail.schema import arrow_schema
from trailhound.engine.detector import Detector
from trailhound.rules.model import Rule
from trailhound.state.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(
    n: int, at: timedelta, action: str = "DeleteTable", **fields: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "@timestamp": T0 + at,
        "event.id": f"ev-{n:04d}",
        "event.action": action,
        "event.provider": "dynamodb.amazonaws.com",
        "event.outcome": "success",
        "cloud.account.id": "111122223333",
        "user.name": "alice",
    }
    row.update({k.replace("__", "."): v for k, v in fields.items()})
    return row


def batch(rows: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    schema = arrow_schema()
    columns = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.RecordBatch.from_pydict(columns, schema=schema)


def rows_as_documents(b: pa.RecordBatch) -> Iterator[dict[str, Any]]:
    for row in b.to_pylist():
        yield {k: v for k, v in row.items() if v is not None}


def detector(rules: Sequence[Rule], store: Store | None = None, **kw: Any) -> Detector:
    return Detector(
        rules, store or Store.open(None), to_documents=rows_as_documents, now=T0, **kw
    )


def run(rules: Sequence[Rule], rows: Sequence[dict[str, Any]], **kw: Any) -> list[Any]:
    d = detector(rules, **kw)
    d.add(batch(rows))
    return d.finish(final=True)
