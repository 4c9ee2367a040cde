"""The outbox: alerts waiting for an output, and the record of what each output received.

Delivery reads the pending rows of an output, hands them to it, and settles each alert once
its fate is known: delivered (never handed to that output again) or failed (kept, with the
reason and the number of attempts, for the next run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from trailhound.outputs.base import Pending
from trailhound.state.ledger import documents
from trailhound.state.store import Store


def pending(store: Store, output: str) -> list[Pending]:
    """What `output` has not received, in the order the alerts happened (then by rule name).
    Each carries its JSON text as stored; it is parsed only if the output asks for fields."""
    # ordered by the ledger's own columns and the texts read after: reading the rule name out
    # of every text cost ~0.02 CPU-s of a 1M scan's end, and sorting the texts in DuckDB
    # would need memory in proportion to all of them at once
    rows = store.con.execute(
        "SELECT o.alert_id, o.attempts, l.alert_time, coalesce(l.rule_name, '') "
        "FROM outbox o JOIN ledger l USING (alert_id) "
        "WHERE o.output = ? AND o.delivered_at IS NULL",
        [output],
    ).fetchall()
    rows.sort(key=lambda r: (r[2], r[3], r[0]))  # in Python, as before: its order of text
    texts = documents(store, [aid for aid, *_ in rows])
    return [Pending(aid, attempts=attempts or 0, text=texts[aid]) for aid, attempts, *_ in rows]


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
