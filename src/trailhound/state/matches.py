"""Pending matches: events a rule matched that are not decided yet, or that a later event may
still join (a threshold window, a sequence), and the evidence packs of the records behind them.

The rule-type evaluators read these rows with their own queries (`trailhound.engine`); adding,
fetching and forgetting them happens here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa

from trailhound import arrow_kernels as kernels
from trailhound.state import counted
from trailhound.state.store import Store

CHUNK = "evidence_chunk"  # the column of a match naming its evidence pack

PIECE = 4096
"""Bytes of an evidence pack per row of `evidence`. A query that names a blob column makes
DuckDB bring in the blob of every row of each vector (2,048 rows) it scans, whatever its filter
keeps: whole packs (~130 kB) put a 4M run's 418 packs, 56 MB, in one vector, and reading even
one of them took ~150 MB. In pieces a vector holds at most 8 MB of packs: reading one then
takes ~45 MB, all of them ~100 MB against ~200. Each piece row says its place in its pack and
how many pieces the pack has, since a read that filters on many packs is a hash join, whose
rows come in no set order (`packs`); a state written before holds each pack as one row, its
only piece. Stored uncompressed (`store.py`): DuckDB's analysis of so many small deflated
blobs made a 4M run's checkpoint 0.5 CPU-s dearer, and one pack's read is then +9 MB on 56 MB
of synthetic packs (+17 compressed)."""
_PIECES_PER_PACK = 32  # about: a read's batch in rows (a 4M run's packs are 134 kB on average)


def next_seq(store: Store) -> int:
    """Match numbers keep growing across runs: a later match sorts after an earlier one."""
    rows = store.con.execute("SELECT coalesce(max(seq) + 1, 1) FROM matches").fetchall()
    return max(int(rows[0][0]), int(store.get_meta("next_seq") or 1))


def next_pack(store: Store) -> int:
    rows = store.con.execute("SELECT coalesce(max(chunk) + 1, 0) FROM evidence").fetchall()
    return int(rows[0][0])


def append(
    store: Store,
    tables: Sequence[pa.Table],
    packs: Sequence[tuple[int, bytes]],
    *,
    last: bool = False,
    known: counted.KnownKeys | None = None,
) -> int:
    """Store matched rows (each insert has a fixed cost: give many at once) and packs; returns
    how many rows were left out as events already counted (`trailhound.state.counted`), of
    which `known` holds the run's keys, if given.

    `last`: the transaction stores no more matches, and what it decides next forgets most of
    them. DuckDB then keeps this insert's rows in memory until the commit, which writes only
    those still there, instead of compressing every row group it fills into the file now (a
    1M-event scan's last insert: ~0.17 to 0.08-0.10 CPU-s, at the serial end of the run)."""
    held = store.held_until_commit() if last else contextlib.nullcontext()
    with store.one_thread(), held:
        return _append(store, tables, packs, known)


def _append(
    store: Store,
    tables: Sequence[pa.Table],
    packs: Sequence[tuple[int, bytes]],
    known: counted.KnownKeys | None,
) -> int:
    repeated = 0
    if tables:
        given = _joined(tables)
        matched = counted.first_counts(store, given, known)
        repeated = given.num_rows - matched.num_rows
        with store.registered("_matched", matched):
            store.con.execute("INSERT INTO matches BY NAME SELECT * FROM _matched")
    if packs:
        with store.registered("_packs", _in_pieces(packs)):
            store.con.execute("INSERT INTO evidence BY NAME SELECT * FROM _packs")
    return repeated


def _joined(tables: Sequence[pa.Table]) -> pa.Table:
    """The tables as one. A worker sends some text columns as dictionaries, the stage run
    in this process as plain text: should both meet, the dictionaries are decoded, as Arrow
    joins a column only of one type."""
    if len({table.schema for table in tables}) > 1:
        tables = [_decoded(table) for table in tables]
    return pa.concat_tables(tables, promote_options="default")


def _decoded(table: pa.Table) -> pa.Table:
    """`table` with its dictionary columns as their values."""
    for at, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type):
            values = kernels.cast(table.column(at), column.type.value_type)
            table = table.set_column(at, column.name, values)
    return table


def _in_pieces(packs: Sequence[tuple[int, bytes]]) -> pa.Table:
    """The packs as rows of `evidence`: each cut into pieces of `PIECE` bytes, each piece
    with its place in its pack and the pack's number of pieces."""
    chunks: list[int] = []
    places: list[int] = []
    counts: list[int] = []
    pieces: list[bytes] = []
    for chunk, data in packs:
        cut = [data[at : at + PIECE] for at in range(0, len(data), PIECE)] or [data]
        chunks += [chunk] * len(cut)
        places += range(len(cut))
        counts += [len(cut)] * len(cut)
        pieces += cut
    return pa.table(
        {
            "chunk": pa.array(chunks, pa.int64()),
            "piece": pa.array(places, pa.int32()),
            "pieces": pa.array(counts, pa.int32()),
            "data": pa.array(pieces, pa.binary()),
        }
    )


def rules_with_rows(store: Store) -> set[str]:
    """The rules that have stored matches, decided or not."""
    return {str(r[0]) for r in store.con.execute("SELECT DISTINCT rule_id FROM matches").fetchall()}


def rows(store: Store, seqs: Sequence[int]) -> pa.Table:
    """The stored event columns of these matches (and seq, pack and item)."""
    with store.registered("_seqs", pa.table({"seq": pa.array(seqs, pa.int64())})):
        table: pa.Table = store.con.sql(
            "SELECT m.* EXCLUDE (rule_id, step, ts) FROM matches m JOIN _seqs USING (seq)"
        ).to_arrow_table()
    return table


def packs(store: Store, chunks: Sequence[int], per_read: int) -> Iterator[tuple[int, bytes]]:
    """The evidence packs of `chunks`, each once it is whole, in no set order: read about
    `per_read` packs at a time (a pack can be a few hundred kB; one query, since each has a
    fixed cost) and put together again from their pieces (`PIECE`). The pieces come in no
    set order either: DuckDB answers a filter on many packs with a hash join, which does not
    keep the order rows were stored in."""
    reader = store.con.sql(
        "SELECT chunk, piece, pieces, data FROM evidence WHERE list_contains($chunks, chunk)",
        params={"chunks": list(chunks)},
    ).to_arrow_reader(per_read * _PIECES_PER_PACK)
    partial: dict[int, dict[int, bytes]] = {}
    for batch in reader:
        columns = [column.to_pylist() for column in batch.columns]
        for chunk, piece, count, data in zip(*columns, strict=True):
            got = partial.setdefault(chunk, {})
            got[piece] = data
            if len(got) == count:
                del partial[chunk]
                yield chunk, b"".join(got[k] for k in range(count))


def forget(
    store: Store,
    cutoff: int,
    retain_from: Mapping[str, int],
    consumed: Sequence[int],
    counting_since: Mapping[str, int] | None = None,
) -> None:
    """Delete decided rows no later event can need: per rule, those at or before `cutoff`
    that are older than its `retain_from` or were `consumed` as evidence; then the packs no
    row points to any more. The keys of deleted rows a rule may still count again (no older
    than `counting_since[rule_id]`; all without it) are kept (`trailhound.state.counted`)."""
    rules = pa.table(
        {
            "rule_id": pa.array(list(retain_from), pa.string()),
            "retain": pa.array(list(retain_from.values()), pa.int64()),
        }
    )
    used = pa.table({"seq": pa.array(sorted(consumed), pa.int64())})
    doomed = (
        "matches.rule_id = f.rule_id AND matches.ts <= $cutoff AND "
        "(matches.ts < f.retain OR matches.seq IN (SELECT seq FROM _consumed))"
    )
    with store.registered("_forget_rules", rules), store.registered("_consumed", used):
        params = {"cutoff": cutoff}
        counted.keep(store, "_forget_rules f", doomed, params, counting_since)
        store.con.execute(f"DELETE FROM matches USING _forget_rules f WHERE {doomed}", params)
    store.con.execute(
        f"DELETE FROM evidence WHERE chunk NOT IN "
        f"(SELECT {CHUNK} FROM matches WHERE {CHUNK} IS NOT NULL)"
    )
