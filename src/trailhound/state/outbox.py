"""The outbox: alerts waiting for an output, and the record of what each output received.

Delivery reads the pending rows of an output, hands them to it, and settles each alert once
its fate is known: delivered (never handed to that output again) or failed (kept, with the
reason and the number of attempts, for the next run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import msgspec
import pyarrow as pa

from trailhound.outputs.base import Pending
from trailhound.state.ledger import documents
from trailhound.state.store import Store


def pending(store: Store, output: str) -> list[Pending]:
    """What `output` has not received, in the order the alerts happened (then by rule name).
    Each carries its JSON text as stored; it is parsed only if the output asks for fields."""
    # the documents are read a page at a time and ordered here: sorting them, or reading the
    # rule name out of each, inside DuckDB needs memory in proportion to all of them at once
    rows = store.con.execute(
        "SELECT o.alert_id, o.attempts, l.alert_time FROM outbox o JOIN ledger l "
        "USING (alert_id) WHERE o.output = ? AND o.delivered_at IS NULL",
        [output],
    ).fetchall()
    texts = documents(store, [aid for aid, _, _ in rows])
    waiting = [
        (Pending(aid, attempts=attempts or 0, text=texts[aid]), at, _rule_name(texts[aid]))
        for aid, attempts, at in rows
    ]
    waiting.sort(key=lambda w: (w[1], w[2], w[0].alert_id))
    return [p for p, _, _ in waiting]


class _RuleName(msgspec.Struct, frozen=True):
    name: str = ""


class _Named(msgspec.Struct, frozen=True):
    """The one member of an alert that ordering needs; the decoder skips the rest unbuilt."""

    rule: _RuleName = _RuleName()


@cache
def _names() -> msgspec.json.Decoder[_Named]:
    return msgspec.json.Decoder(_Named)


def _rule_name(text: bytes) -> str:
    """The alert's rule name, to order by; "" for a document that has none as text (a state
    file changed by hand must not stop delivery)."""
    try:
        return _names().decode(text).rule.name
    except msgspec.MsgspecError:
        return ""


def settle(store: Store, output: str, delivered: Sequence[str], failed: Mapping[str, str]) -> None:
    """Record what `output` received and what it did not (and why), in one transaction."""
    if not delivered and not failed:
        return
    table = pa.table(
        {
            "alert_id": [*delivered, *failed],
            "error": pa.array([None] * len(delivered) + list(failed.values()), pa.string()),
        }
    )
    with store.transaction(), store.registered("_settled", table):
        store.con.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = s.error, "
            "delivered_at = CASE WHEN s.error IS NULL THEN now() END "
            "FROM _settled s WHERE outbox.alert_id = s.alert_id AND outbox.output = $output",
            {"output": output},
        )


def backlog(store: Store) -> dict[str, int]:
    """Per output, how many alerts wait for it."""
    rows = store.con.execute(
        "SELECT output, count(*) FROM outbox WHERE delivered_at IS NULL GROUP BY output "
        "ORDER BY output"
    ).fetchall()
    return {str(name): int(n) for name, n in rows}
