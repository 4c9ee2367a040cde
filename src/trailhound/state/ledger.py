"""The alert ledger: every alert ever decided, and the outbox rows that carry it to outputs.

An alert enters the ledger and the outbox in the same transaction as the decisions that made
it (`Store.transaction`): once committed it is never decided again, and it stays in the outbox
until each output has it. Alerts are kept as the JSON they are delivered as, deflated (a run's
alerts wait uncommitted in memory until its end; older state files hold them as text, and
`documents` reads both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import orjson
import pyarrow as pa
from isal import isal_zlib
from msgspec import Struct, field

from trailhound.errors import StateError
from trailhound.escaping import json_bytes
from trailhound.state.store import Store

# Alerts per insert or read: an alert with its evidence is about 10 kB of JSON (up to 50), and
# one statement over thousands would hold all of it at once within the store's memory limit.
_PAGE = 500


class Entry(Struct, frozen=True):
    """A new alert and the outputs it is queued for."""

    alert_id: str
    rule_id: str
    time: int  # epoch µs, the alert's event time
    alert: Mapping[str, Any]  # `Alert.to_dict()`
    outputs: tuple[str, ...]


class Packed(Struct, frozen=True):
    """A new alert as the ledger keeps it (its JSON deflated, `pack`), and the outputs it is
    queued for: what a worker that made the alert hands back (`engine.part_making`)."""

    alert_id: str
    rule_id: str
    time: int  # epoch µs, the alert's event time
    packed: bytes
    rule_name: str | None
    outputs: tuple[str, ...]


def pack(alert: Mapping[str, Any]) -> bytes:
    """An alert's JSON (`Alert.to_dict()`) deflated as the ledger keeps it. ISA-L's fastest
    level: 81 MB of alerts at 4M events in 0.09 CPU-s, to 12 MB."""
    return isal_zlib.compress(json_bytes(alert), 1)


def packed(entry: Entry) -> Packed:
    alert = entry.alert
    return Packed(entry.alert_id, entry.rule_id, entry.time, pack(alert), _rule_name(alert),
                  entry.outputs)  # fmt: skip


class StoredAlert(Struct, frozen=True):
    alert_id: str
    alert: dict[str, Any]
    decided_at: datetime
    pending: tuple[str, ...]  # outputs that do not have it yet
    delivered: tuple[str, ...]


def known(store: Store, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the ledger already holds."""
    if not ids:
        return set()
    with store.registered("_ids", pa.table({"alert_id": pa.array(list(ids), pa.string())})):
        rows = store.con.execute("SELECT alert_id FROM ledger JOIN _ids USING (alert_id)")
        return {r[0] for r in rows.fetchall()}


def record(store: Store, entries: Sequence[Entry]) -> None:
    """Add alerts to the ledger and queue each for its outputs (call inside a transaction)."""
    batch = Batch()
    for start in range(0, len(entries), _PAGE):
        batch.add(entries[start : start + _PAGE])
    batch.enter(store)


class Batch(Struct):
    """Alerts to enter, deflated as they are added (a part of a run's alerts at a time, each
    let go with its evidence) and entered in the ledger by one statement for all, with one more
    for their outbox rows: each statement has a fixed cost, and a run entering 1,541 alerts a
    part of 256 at a time spent about 0.07 CPU-s of its 0.2 in fourteen. Deflated, 3,071
    alerts at 4M events are about 12 MB."""

    alerts: list[pa.Table] = field(default_factory=list)
    queued: list[pa.Table] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)  # an insert must not hold one twice

    def add(self, entries: Sequence[Entry]) -> None:
        """Take these alerts; an id already taken keeps its first entry."""
        self.add_packed([packed(e) for e in entries if e.alert_id not in self.ids])

    def add_packed(self, entries: Sequence[Packed]) -> None:
        """Take these alerts, already packed; an id already taken keeps its first entry."""
        firsts = []
        for entry in entries:
            if entry.alert_id not in self.ids:
                self.ids.add(entry.alert_id)
                firsts.append(entry)
        if firsts:
            self.alerts.append(_alerts(firsts))
            self.queued.append(_queued(firsts))

    def enter(self, store: Store) -> None:
        """Enter the alerts taken, less those the ledger already holds."""
        if not self.alerts:
            return
        store.lift_memory_limit()  # uncommitted, they stay in memory until the commit
        alerts, queued = pa.concat_tables(self.alerts), pa.concat_tables(self.queued)
        self.alerts, self.queued = [], []
        with store.registered("_new_alerts", alerts), store.registered("_queued", queued):
            store.con.execute(
                # alerts already there are left out by a join on their ids: `ON CONFLICT DO
                # NOTHING` checked each row against the key's index instead, and took twice
                # as long as the insert itself (alerts of tens of kB)
                "INSERT INTO ledger (alert_id, rule_id, alert_time, emitted_at, packed, "
                "rule_name) SELECT alert_id, rule_id, alert_time, now(), packed, rule_name "
                "FROM _new_alerts ANTI JOIN ledger USING (alert_id)"
            )
            if queued.num_rows:
                store.con.execute(
                    "INSERT INTO outbox SELECT alert_id, output, now(), 0, NULL, NULL "
                    "FROM _queued ON CONFLICT DO NOTHING"
                )


def _alerts(entries: Sequence[Packed]) -> pa.Table:
    return pa.table(
        {
            "alert_id": pa.array([e.alert_id for e in entries], pa.string()),
            "rule_id": pa.array([e.rule_id for e in entries], pa.string()),
            "alert_time": pa.array([e.time for e in entries], pa.int64()),
            "packed": pa.array([e.packed for e in entries], pa.binary()),
            "rule_name": pa.array([e.rule_name for e in entries], pa.string()),
        }
    )


def _queued(entries: Sequence[Packed]) -> pa.Table:
    return pa.table(
        {
            "alert_id": pa.array([e.alert_id for e in entries for _ in e.outputs], pa.string()),
            "output": pa.array([o for e in entries for o in e.outputs], pa.string()),
        }
    )


def _rule_name(alert: Mapping[str, Any]) -> str | None:
    rule = alert.get("rule")
    name = rule.get("name") if isinstance(rule, Mapping) else None
    return name if isinstance(name, str) else None


def stored(
    store: Store,
    *,
    since: int | None = None,
    until: int | None = None,
    rule: str | None = None,
    pending_only: bool = False,
    ids: Iterable[str] = (),
) -> list[StoredAlert]:
    """Alerts from the ledger in event-time order: filtered by event time (epoch µs), rule
    (name or id), undelivered ones only, or id prefixes."""
    where: list[str] = ["TRUE"]
    params: dict[str, object] = {}
    if since is not None:
        where.append("l.alert_time >= $since")
        params["since"] = since
    if until is not None:
        where.append("l.alert_time < $until")
        params["until"] = until
    if rule is not None:
        where.append("(l.rule_id = $rule OR l.rule_name = $rule)")
        params["rule"] = rule
    prefixes = list(ids)
    if prefixes:
        where.append("len(list_filter($ids, lambda p: starts_with(l.alert_id, p))) > 0")
        params["ids"] = prefixes
    having = "HAVING count(*) FILTER (WHERE o.output IS NOT NULL AND o.delivered_at IS NULL) > 0"
    rows = store.con.execute(
        "SELECT l.alert_id, l.emitted_at, "
        "list(o.output ORDER BY o.output) FILTER (WHERE o.delivered_at IS NULL "
        "AND o.output IS NOT NULL), "
        "list(o.output ORDER BY o.output) FILTER (WHERE o.delivered_at IS NOT NULL) "
        "FROM ledger l LEFT JOIN outbox o USING (alert_id) "
        f"WHERE {' AND '.join(where)} GROUP BY l.alert_id, l.emitted_at, l.alert_time "
        f"{having if pending_only else ''} "
        "ORDER BY l.alert_time, l.alert_id",
        params,
    ).fetchall()
    texts = documents(store, [aid for aid, *_ in rows])
    return [
        StoredAlert(aid, orjson.loads(texts[aid]), at, tuple(p or ()), tuple(d or ()))
        for aid, at, p, d in rows
    ]


def documents(store: Store, ids: Sequence[str]) -> dict[str, bytes]:
    """The alerts' JSON (UTF-8) by id. Queries that sort or group alerts do it by their ids
    alone and read the documents here, from one query streamed a page at a time: sorting or
    grouping thousands of large documents at once could exceed the store's memory limit, and
    a query per page would read every alert's text once per page."""
    out: dict[str, bytes] = {}
    if not ids:
        return out
    with store.registered("_wanted", pa.table({"alert_id": pa.array(list(ids), pa.string())})):
        query = store.con.sql(
            "SELECT alert_id, coalesce(encode(alert), packed), alert IS NULL "
            "FROM ledger SEMI JOIN _wanted USING (alert_id)"
        )
        # closed on the way out, whatever happens: an open result refuses the unregistering
        with query.to_arrow_reader(_PAGE) as reader:
            for page in reader:
                found, data, deflated = (page.column(i).to_pylist() for i in range(3))
                out.update(
                    (i, _inflated(store, i, d) if z else d)
                    for i, d, z in zip(found, data, deflated, strict=True)
                )
    return out


_DAMAGED = cast(type[Exception], isal_zlib.error)  # the stub types it as an instance


def _inflated(store: Store, alert_id: str, packed: bytes) -> bytes:
    try:
        return isal_zlib.decompress(packed)
    except _DAMAGED as err:
        raise StateError(
            f"the ledger's alert {alert_id} is damaged ({err}): the state file cannot be "
            "read whole; restore it from a copy, or move it aside to start afresh",
            where=store.where,
        ) from None


def requeue(store: Store, ids: Sequence[str], outputs: Sequence[str]) -> int:
    """Queue these alerts again for these outputs, delivered or not; returns rows queued."""
    if not ids or not outputs:
        return 0
    pairs = pa.table(
        {
            "alert_id": [i for i in ids for _ in outputs],
            "output": [o for _ in ids for o in outputs],
        }
    )
    with store.transaction(), store.registered("_requeue", pairs):
        store.con.execute(
            "INSERT INTO outbox SELECT alert_id, output, now(), 0, NULL, NULL "
            "FROM _requeue JOIN ledger USING (alert_id) ON CONFLICT (alert_id, output) "
            "DO UPDATE SET delivered_at = NULL, attempts = 0, last_error = NULL, "
            "queued_at = now()"
        )
        count = store.con.execute(
            "SELECT count(*) FROM _requeue JOIN ledger USING (alert_id)"
        ).fetchall()
    return int(count[0][0])
