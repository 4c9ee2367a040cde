"""An event's `resources` as Elastic keeps them, and the DynamoDB tables among them.

Both normalizers (`ecs.py`, `columnar.py`) read `resources` once per distinct raw JSON value: a
trail repeats the same few tables' resources thousands of times.
"""

from __future__ import annotations

from functools import cache
from typing import Final

import pyarrow as pa

from trailhound.cloudtrail import dynamodb
from trailhound.cloudtrail.payloads import java_order, payload

# aligned tuples: ARNs, types, account ids
Resources = tuple[tuple[str | None, ...], ...]
# the ECS columns of the three, in that order
RESOURCE_COLUMNS: Final = (
    "aws.cloudtrail.resources.arn",
    "aws.cloudtrail.resources.type",
    "aws.cloudtrail.resources.account_id",
)


def resources_of(raw: bytes | None) -> Resources | None:
    """Elastic's de-duplicated resources as three aligned tuples: ARNs, types, account ids."""
    value = payload(raw).value if raw else None
    if not isinstance(value, list):
        return None
    unique: dict[str, tuple[str | None, str | None, str | None]] = {}
    for item in value:
        if isinstance(item, dict):
            entry = (_text(item.get("ARN")), _text(item.get("type")), _text(item.get("accountId")))
            unique["_".join(part or "" for part in entry)] = entry
    if not unique:
        return None
    # Elastic collects them in a Java HashMap keyed by "arn_account_type"; keep its order.
    ordered = [unique[key] for key in java_order(tuple(unique), len(unique))]
    return tuple(zip(*ordered, strict=True))


def tables_in_resources(resources: Resources | None) -> tuple[str, ...]:
    """The DynamoDB tables the resources name, in order."""
    if not resources:
        return ()
    return tuple(dynamodb.resource_tables(zip(resources[0], resources[1], strict=True)))


def resource_list(position: int, resources: Resources | None) -> list[str | None] | None:
    """One of the three as a column value: ARNs (0), types (1) or account ids (2)."""
    return list(resources[position]) if resources else None


@cache
def table_sources() -> pa.Array:
    """The event sources whose events may name a table, as an Arrow value set."""
    return pa.array(sorted(dynamodb.TABLE_SOURCES))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


__all__ = [
    "RESOURCE_COLUMNS",
    "Resources",
    "resource_list",
    "resources_of",
    "table_sources",
    "tables_in_resources",
]
