"""The ledger takes a run's alerts whatever their number (they go in several inserts), each
once, with its outbox rows."""

from __future__ import annotations

from pathlib import Path

from trailhound.state import ledger
from trailhound.state.store import Store


def _entry(i: int, outputs: tuple[str, ...]) -> ledger.Entry:
    evidence = [{"event.id": f"e{i}", "note": "caf\u00e9 \u202e"}]  # text that is not ASCII
    return ledger.Entry(f"id{i:04}", "rule", i, {"id": f"id{i:04}", "evidence": evidence}, outputs)


def test_a_run_of_many_alerts_enters_each_once_with_its_outbox_rows(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    try:
        entries = [_entry(i, ("stdout", "jsonl") if i % 2 else ()) for i in range(1200)]
        with store.transaction():
            ledger.record(store, entries)
            ledger.record(store, entries[495:505])  # already there: nothing doubles
        kept = ledger.stored(store)
        assert [a.alert_id for a in kept] == [e.alert_id for e in entries]
        assert kept[701].alert == entries[701].alert
        assert [a.pending for a in kept[:2]] == [(), ("jsonl", "stdout")]
        assert ledger.known(store, ["id0003", "id1199", "nope"]) == {"id0003", "id1199"}
        assert ledger.stored(store, pending_only=True)[-1].alert_id == "id1199"
        assert len(ledger.stored(store, pending_only=True)) == 600
    finally:
        store.close()
