"""The ledger takes a run's alerts whatever their number (they go in several inserts), each
once, with its outbox rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from trailhound.escaping import json_bytes
from trailhound.state import ledger, outbox
from trailhound.state.store import SCHEMA_VERSION, Store


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
            ledger.record(store, [_entry(1200, ()), _entry(1200, ("jsonl",))])  # nor here
        kept = ledger.stored(store)
        assert [a.alert_id for a in kept] == [e.alert_id for e in entries] + ["id1200"]
        assert kept[701].alert == entries[701].alert
        assert [a.pending for a in kept[:2]] == [(), ("jsonl", "stdout")]
        assert ledger.known(store, ["id0003", "id1199", "nope"]) == {"id0003", "id1199"}
        assert ledger.stored(store, pending_only=True)[-1].alert_id == "id1199"  # the first
        assert len(ledger.stored(store, pending_only=True)) == 600
    finally:
        store.close()


def test_alerts_far_larger_than_the_memory_limit_are_listed_and_handed_to_outputs(
    tmp_path: Path,
) -> None:
    """A long hunt leaves more alert JSON pending than the store may hold in memory: it is
    still listed, in order, and handed to its output whole."""
    store = Store.open(tmp_path / "state.duckdb")  # the default memory limit, 192 MB
    try:
        bulky = "x" * 40_000  # evidence makes alerts of tens of kB
        entries = [
            ledger.Entry(f"id{i:04}", "rule", 1_000 - i, {"id": f"id{i:04}", "e": bulky}, ("f",))
            for i in range(1_500)
        ]  # 60 MB of JSON: sorting it whole needs more than the limit
        with store.transaction():
            ledger.record(store, entries)
        waiting = outbox.pending(store, "f")
        assert [p.alert_id for p in waiting] == [e.alert_id for e in reversed(entries)]
        assert waiting[17].alert == dict(entries[-18].alert)
        assert len(ledger.stored(store, pending_only=True)) == 1_500
    finally:
        store.close()


def test_an_output_gets_the_stored_text_in_time_then_rule_name_order(tmp_path: Path) -> None:
    """What waits for an output is the JSON the ledger stored, escaped once, unparsed until an
    output asks for fields; alerts of one instant come in the order of their rules' names."""
    store = Store.open(tmp_path / "state.duckdb")
    try:
        names = ["Zeta", "Alpha \u202e", "Mid", "Alpha \u202e"]
        evidence = [{"note": "caf\u00e9 \u202e"}]
        entries = [
            ledger.Entry(f"id{i}", f"r{i}", 7 if i else 9,
                         {"id": f"id{i}", "rule": {"name": n}, "evidence": evidence}, ("f",))
            for i, n in enumerate(names)
        ]  # fmt: skip
        with store.transaction():
            ledger.record(store, entries)
        waiting = outbox.pending(store, "f")
        assert [p.alert_id for p in waiting] == ["id1", "id3", "id2", "id0"]
        for item in waiting:
            stored = entries[int(item.alert_id[2:])].alert
            assert item.text == json_bytes(stored)
            assert b"\\u202e" in item.text and "\u202e".encode() not in item.text
            assert item.alert == stored
    finally:
        store.close()


def test_a_run_may_decide_more_alert_json_than_the_memory_limit_and_commit_it(
    tmp_path: Path,
) -> None:
    """Uncommitted alerts stay in memory until the commit: 60 MB of them under a 16 MB limit
    failed to enter the ledger, and the run's whole transaction was lost with them."""
    store = Store.open(tmp_path / "state.duckdb", memory_limit="16MB")
    try:
        bulky = "x" * 40_000
        entries = [
            ledger.Entry(f"id{i:04}", "rule", i, {"id": f"id{i:04}", "e": bulky}, ("f",))
            for i in range(1_500)
        ]
        with store.transaction():
            ledger.record(store, entries)
        counts = store.con.execute(
            "SELECT (SELECT count(*) FROM ledger), (SELECT count(*) FROM outbox)"
        ).fetchall()
        assert counts == [(1_500, 1_500)]
        # the store's own limit holds again once its alerts are committed
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert limit == "15.2 MiB"
    finally:
        store.close()


def test_a_schema_2_ledger_keeps_its_alerts_when_upgraded_to_text(tmp_path: Path) -> None:
    """Schema 3 keeps an alert as text (DuckDB checked each JSON document on entry, for
    nothing: orjson wrote it); a state file of schema 2 keeps its alerts, still pending and
    found by rule name, and takes new ones."""
    path = tmp_path / "state.duckdb"
    store = Store.open(path)
    with store.transaction():
        ledger.record(store, [_entry(0, ("f",))])
    store.close()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE ledger ALTER alert TYPE JSON; UPDATE meta SET value = '2' "
                "WHERE key = 'schema'")  # fmt: skip
    con.close()

    store = Store.open(path)
    try:
        assert store.get_meta("schema") == SCHEMA_VERSION
        types = store.con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'ledger' "
            "AND column_name = 'alert'"
        ).fetchall()
        assert types == [("VARCHAR",)]
        with store.transaction():
            ledger.record(store, [_entry(1, ("f",))])
        assert [p.alert_id for p in outbox.pending(store, "f")] == ["id0000", "id0001"]
        assert ledger.stored(store, ids=["id0000"])[0].alert == _entry(0, ()).alert
        assert [a.alert_id for a in ledger.stored(store, rule="rule")] == ["id0000", "id0001"]
    finally:
        store.close()


def test_a_schema_3_ledger_of_text_alerts_is_read_beside_new_deflated_ones(
    tmp_path: Path,
) -> None:
    """Schema 4 deflates new alerts (a run's alerts wait in memory until its commit); a state
    file of schema 3 keeps its alerts as text: still listed, found by rule name and handed
    to outputs, beside the new ones."""
    path = tmp_path / "state.duckdb"
    old = _entry(0, ("f",))
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR); "
        "INSERT INTO meta VALUES ('schema', '3'); "
        "CREATE TABLE ledger (alert_id VARCHAR PRIMARY KEY, rule_id VARCHAR, "
        "alert_time BIGINT, emitted_at TIMESTAMPTZ, alert VARCHAR); "
        "CREATE TABLE outbox (alert_id VARCHAR, output VARCHAR, queued_at TIMESTAMPTZ, "
        "attempts INTEGER, last_error VARCHAR, delivered_at TIMESTAMPTZ, "
        "PRIMARY KEY (alert_id, output))"
    )
    named = {**old.alert, "rule": {"name": "Old rule"}}
    con.execute(
        "INSERT INTO ledger VALUES (?, 'rule', 0, now(), ?)",
        [old.alert_id, json_bytes(named).decode()],
    )
    con.execute("INSERT INTO outbox VALUES (?, 'f', now(), 0, NULL, NULL)", [old.alert_id])
    con.close()

    store = Store.open(path)
    try:
        assert store.get_meta("schema") == SCHEMA_VERSION == "6"
        new = ledger.Entry("id0001", "rule", 1, {**_entry(1, ()).alert, "rule": {"name": "New"}},
                           ("f",))  # fmt: skip
        with store.transaction():
            ledger.record(store, [new])
        texts = store.con.execute("SELECT alert IS NULL, packed IS NULL FROM ledger "
                                  "ORDER BY alert_id").fetchall()  # fmt: skip
        assert texts == [(False, True), (True, False)]  # the old as text, the new deflated
        assert [a.alert for a in ledger.stored(store)] == [named, new.alert]
        assert [a.alert_id for a in ledger.stored(store, rule="Old rule")] == ["id0000"]
        assert [a.alert_id for a in ledger.stored(store, rule="New")] == ["id0001"]
        assert [p.alert_id for p in outbox.pending(store, "f")] == ["id0000", "id0001"]
    finally:
        store.close()


def _packed_compressions(store: Store) -> list[tuple[str]]:
    store.con.execute("CHECKPOINT")
    return store.con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info('ledger') "
        "WHERE column_name = 'packed' AND segment_type = 'BLOB'"
    ).fetchall()


def test_a_schema_5_ledger_keeps_its_alerts_and_stores_new_ones_uncompressed(
    tmp_path: Path,
) -> None:
    """Schema 6 stores deflated alerts as they are (DuckDB's analysis of them found nothing
    and was half of closing the store); a schema 5 ledger, whose `packed` let DuckDB choose,
    is brought over with its alerts, still pending, each still entered once."""
    path = tmp_path / "state.duckdb"
    store = Store.open(path)
    entries = [_entry(i, ("f",)) for i in range(300)]
    store.con.execute(
        "DROP TABLE ledger; CREATE TABLE ledger (alert_id VARCHAR PRIMARY KEY, "
        "rule_id VARCHAR, alert_time BIGINT, emitted_at TIMESTAMPTZ, alert VARCHAR, "
        "packed BLOB, rule_name VARCHAR); UPDATE meta SET value = '5' WHERE key = 'schema'"
    )
    with store.transaction():
        ledger.record(store, entries[:200])
    store.close()

    store = Store.open(path)
    try:
        assert store.get_meta("schema") == SCHEMA_VERSION
        with store.transaction():
            ledger.record(store, entries[150:])  # the first fifty of them there already
        assert [a.alert for a in ledger.stored(store)] == [e.alert for e in entries]
        assert len(outbox.pending(store, "f")) == 300
        assert _packed_compressions(store) == [("Uncompressed",)]
        with pytest.raises(duckdb.ConstraintException):  # the key came over with the table
            store.con.execute("INSERT INTO ledger (alert_id) VALUES ('id0000')")
    finally:
        store.close()
