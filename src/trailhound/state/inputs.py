"""What `trailhound watch` has read of each source: the items consumed (a file's size, an S3
object's ETag) and named positions (where an account and region's listing stands).

They are written in the same transaction as the decisions of the step that read them, so a
step killed before its commit is read again whole, and a committed one never again.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from trailhound.sources.polling import Poll
from trailhound.state.store import Store


class StoredCursor:
    """A source's `Cursor` over the state."""

    def __init__(self, store: Store, source: str) -> None:
        self._store = store
        self._source = source

    def versions(self, keys: Iterable[str]) -> dict[str, str]:
        wanted = pa.table({"key": pa.array(list(keys), pa.string())})
        if not wanted.num_rows:
            return {}
        with self._store.registered("_wanted", wanted):
            rows = self._store.con.execute(
                "SELECT key, version FROM inputs JOIN _wanted USING (key) WHERE source = ?",
                [self._source],
            ).fetchall()
        return {str(k): str(v) for k, v in rows}

    def mark(self, name: str) -> str | None:
        rows = self._store.con.execute(
            "SELECT value FROM marks WHERE source = ? AND name = ?", [self._source, name]
        ).fetchall()
        return str(rows[0][0]) if rows else None


def record(store: Store, source: str, poll: Poll) -> None:
    """Note what a poll's step consumed (call inside the step's transaction)."""
    if poll.consumed:
        table = pa.table(
            {
                "key": pa.array([c.key for c in poll.consumed], pa.string()),
                "version": pa.array([c.version for c in poll.consumed], pa.string()),
            }
        )
        with store.registered("_consumed_inputs", table):
            store.con.execute(
                "INSERT INTO inputs SELECT $source, key, version, now() FROM _consumed_inputs "
                "ON CONFLICT (source, key) DO UPDATE SET version = excluded.version, "
                "read_at = excluded.read_at",
                {"source": source},
            )
    for name, value in poll.marks.items():
        store.con.execute(
            "INSERT INTO marks VALUES (?, ?, ?) ON CONFLICT (source, name) "
            "DO UPDATE SET value = excluded.value",
            [source, name, value],
        )
    if poll.forget_before is not None:
        store.con.execute(
            "DELETE FROM inputs WHERE source = ? AND key < ?", [source, poll.forget_before]
        )
