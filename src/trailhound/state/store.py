"""The state store: one DuckDB file holding everything that must survive between runs.

- `matches`: events a rule matched that are not decided yet, or that a later event may still
  join (a threshold window, a sequence). Same columns as the events, plus the rule and time.
- `terms`: for new_terms rules, each term and when it was last seen.
- `clocks`: when each rule first saw an event (learning periods count from there).
- `baseline_windows`, `baseline_events`: for baseline rules, each group's count per window of
  its history and the events counted (`trailhound.state.baselines`).
- `facts`: for correlation rules, what their fact sources taught and when
  (`trailhound.state.facts`).
- `ledger`: every alert already emitted, so a rerun never emits it again.
- `suppression_windows`: each alert group's suppression windows of the last day of event time
  (`trailhound.state.windows`).
- `evidence`: packs of the raw records behind matches (`trailhound.engine.evidence`), so that
  a match needs only the columns its rule reads and the evidence can still show everything.
- `counted`: which events each rule has counted, so an event delivered twice counts once
  (`trailhound.state.counted`).
- `outbox`: per alert and output, whether it was delivered (`trailhound.state.outbox`).
- `inputs`, `marks`: what `watch` has read of each source, and where its listings stand
  (`trailhound.state.inputs`).

A run changes the state inside one transaction (`Store.transaction`): a crash at any instant
leaves the file as it was before the run's step or after it, never between.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from trailhound.cloudtrail.schema import arrow_schema
from trailhound.engine.udfs import register
from trailhound.errors import StateError, StateInUse
from trailhound.userdirs import state_folder

SCHEMA_VERSION = "6"
# A new alert is deflated already (`ledger.Batch`): the analysis of 1,541 such blobs at 1M
# found nothing and was half of closing the store (its checkpoint, 0.09 CPU-s to 0.04).
_LEDGER = """alert_id VARCHAR PRIMARY KEY, rule_id VARCHAR, alert_time BIGINT,
    emitted_at TIMESTAMPTZ, alert VARCHAR, packed BLOB USING COMPRESSION uncompressed,
    rule_name VARCHAR"""
_UPGRADES = {
    # 1 -> 2: `baseline_events` without its key. Each event is entered once, after an anti-join
    # that leaves out those already there, so the key never refused a row, and keeping its
    # index up to date was most of the cost of entering 145,000 counted events at 1M.
    "1": "CREATE TABLE _baseline_events AS SELECT rule_id, event_id, ts FROM baseline_events; "
    "DROP TABLE baseline_events; ALTER TABLE _baseline_events RENAME TO baseline_events;",
    # 2 -> 3: the ledger's alert as text, not JSON. orjson writes it, so DuckDB's check of
    # every document on entry found nothing and cost about 0.1 s per 40 MB of alerts (85 MB
    # at 4M events); the JSON functions that read it take text alike.
    "2": "ALTER TABLE ledger ALTER alert TYPE VARCHAR;",
    # 3 -> 4: new alerts deflated in `packed` (`alert` NULL), with their rule's name beside
    # them for `alerts list --rule`. A run's alerts are uncommitted until its end, and DuckDB
    # held their text in memory: 81 MB at 4M events, 12 MB deflated. Older alerts keep their
    # text; `ledger.documents` reads either.
    "3": "ALTER TABLE ledger ADD COLUMN IF NOT EXISTS packed BLOB; "
    "ALTER TABLE ledger ADD COLUMN IF NOT EXISTS rule_name VARCHAR; "
    "UPDATE ledger SET rule_name = json_extract_string(alert, '$.rule.name');",
    # 4 -> 5: evidence packs stored in pieces, each with its place in its pack and the pack's
    # number of pieces (`matches.PIECE`), their bytes as they are, uncompressed (see
    # `evidence` in `_TABLES`). Older rows are whole packs: each its pack's only piece.
    "4": "CREATE TABLE _evidence (chunk BIGINT, piece INTEGER, pieces INTEGER, "
    "data BLOB USING COMPRESSION uncompressed); "
    "INSERT INTO _evidence SELECT chunk, 0, 1, data FROM evidence; "
    "DROP TABLE evidence; ALTER TABLE _evidence RENAME TO evidence;",
    # 5 -> 6: deflated alerts kept uncompressed (see `_LEDGER`); DuckDB sets a column's
    # compression only when it makes the table.
    "5": f"CREATE TABLE _ledger ({_LEDGER}); "
    "INSERT INTO _ledger SELECT alert_id, rule_id, alert_time, emitted_at, alert, packed, "
    "rule_name FROM ledger; DROP TABLE ledger; ALTER TABLE _ledger RENAME TO ledger;",
}
"""Per older schema version: the SQL that brings a state file of it to the next version."""

_TABLES = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS terms (
    rule_id VARCHAR, term VARCHAR, first_seen BIGINT, last_seen BIGINT,
    PRIMARY KEY (rule_id, term));
CREATE TABLE IF NOT EXISTS clocks (rule_id VARCHAR PRIMARY KEY, first_event BIGINT);
CREATE TABLE IF NOT EXISTS ledger ({_LEDGER});
CREATE TABLE IF NOT EXISTS suppression_windows (
    rule_id VARCHAR, group_key VARCHAR, window_start BIGINT, window_end BIGINT,
    absorbed BIGINT, PRIMARY KEY (rule_id, group_key, window_start));
-- a pack's pieces (`matches.PIECE`) are deflated already: DuckDB's dictionary and FSST
-- analysis of thousands of small blobs found nothing and tripled a 4M run's checkpoint
CREATE TABLE IF NOT EXISTS evidence (
    chunk BIGINT, piece INTEGER, pieces INTEGER, data BLOB USING COMPRESSION uncompressed);
CREATE TABLE IF NOT EXISTS inputs (
    source VARCHAR, key VARCHAR, version VARCHAR, read_at TIMESTAMPTZ,
    PRIMARY KEY (source, key));
CREATE TABLE IF NOT EXISTS marks (
    source VARCHAR, name VARCHAR, value VARCHAR, PRIMARY KEY (source, name));
CREATE TABLE IF NOT EXISTS outbox (
    alert_id VARCHAR, output VARCHAR, queued_at TIMESTAMPTZ, attempts INTEGER,
    last_error VARCHAR, delivered_at TIMESTAMPTZ, PRIMARY KEY (alert_id, output));
CREATE TABLE IF NOT EXISTS counted (
    rule_id VARCHAR, step INTEGER, account VARCHAR, event_id VARCHAR, ts BIGINT);
CREATE TABLE IF NOT EXISTS baseline_windows (
    rule_id VARCHAR, group_key VARCHAR, window_start BIGINT, count BIGINT, first_event BIGINT,
    alerted BOOLEAN, PRIMARY KEY (rule_id, group_key, window_start));
CREATE TABLE IF NOT EXISTS baseline_events (rule_id VARCHAR, event_id VARCHAR, ts BIGINT);
CREATE TABLE IF NOT EXISTS facts (
    rule_id VARCHAR, fact_key VARCHAR, value_field VARCHAR, fact_value VARCHAR,
    first_seen BIGINT, last_seen BIGINT,
    PRIMARY KEY (rule_id, fact_key, value_field, fact_value));
CREATE SEQUENCE IF NOT EXISTS match_seq;
"""

# Event columns are added as rules need them (`ensure_columns`): a narrow table is several
# times cheaper to append to than one with every column of the schema.
_MATCHES_COLUMNS = """seq BIGINT, rule_id VARCHAR, step INTEGER, ts BIGINT,
    evidence_chunk BIGINT, evidence_item INTEGER"""
_MATCHES = f"CREATE TABLE IF NOT EXISTS matches ({_MATCHES_COLUMNS});"

_DUCKDB_TYPES: Mapping[pa.DataType, str] = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.list_(pa.string()): "VARCHAR[]",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP WITH TIME ZONE",
}
"""The DuckDB type of each Arrow type of the event schema, as DuckDB names it when it reads
such a column (a test holds them to that)."""

_FIRST_META = f"INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}');"
"""What a new state holds from the start: its schema's version (see `_check_ours`)."""


def default_state_path() -> Path:
    """Per-user state: $XDG_STATE_HOME/trailhound/state.duckdb (or ~/.local/state/...)."""
    return state_folder() / "state.duckdb"


MEMORY_LIMIT = "192MB"
"""DuckDB's memory for the state while a scan reads. Beyond it, matches and evidence spill to a
temporary file (next to the state file, or in a temporary folder for a store in memory), so a
scan's memory stays flat however long the input. Entering alerts in the ledger and committing
them is not held to it (`Store.lift_memory_limit`)."""


READING_LIMIT = "32MB"
"""DuckDB's memory for the state while a scan's workers read (`Store.reading`). What a scan
stores then (matches and evidence packs, uncommitted) is needed again only at its end, so it
can spill at once: at 4M events it held 115 MB of DuckDB's buffers under `MEMORY_LIMIT`, in
the same seconds as the workers' peak. The end of the run gets `MEMORY_LIMIT` back.

At 32 MB instead of 64 the 4M scan's tree peaked 20-30 MB lower while reading: DuckDB spills
the partial row group an insert leaves and its overflow strings sooner. An insert's exact
duplicate check (`counted.first_counts`) gets `CHECKING_LIMIT` instead (`Store.checking`)."""


CHECKING_LIMIT = "64MB"
"""DuckDB's memory for an insert's exact duplicate check while a scan reads. A fresh scan sends
few candidates through it (those whose key's hash the state may hold already), and a 4M scan
passed with all of reading held to 16 MB; but a second scan of the same files into its state
sends every candidate (an insert's 100,000), and that failed at 16 MB and passed at 32. At
64 MB, the reading limit this check always had, it keeps the margin it had."""


class Store:
    """Owns the DuckDB connection; the engine runs all its SQL through `con`."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        scratch: Path | None = None,
        memory_limit: str = MEMORY_LIMIT,
        empty: bool = False,
    ) -> None:
        """The store of the database `con`; `empty` says it was made just now, in memory or
        as a new file, and has nothing in it yet."""
        self.con = con
        self.where: str | None = None  # the state file, for errors that name it (`open`)
        self._scratch = scratch
        self.memory_limit = memory_limit
        self._lifted = False  # the limit is DuckDB's own, not `memory_limit`
        self._held_to: str | None = None  # the limit of the `reading` block running, if any
        # DuckDB's threads outside `one_thread` (read at its first use: only it sets them),
        # and whether a `one_thread` block is running
        self._threads: int | None = None
        self._one_thread = False
        # `matches` as `_MATCHES` made it, empty and never given a column (`ensure_columns`)
        self._bare_matches = empty
        register(con)
        if empty:
            # nothing to check, upgrade or carry over: the schema in one statement (each
            # costs ~1 ms, the version's check and upsert 6: a third of a store in memory)
            self.con.execute(_TABLES + _MATCHES + _FIRST_META)
            return
        self._check_ours()
        self.con.execute(_TABLES)
        self._check_version()
        self._carry_over()
        self._create_matches()

    @classmethod
    def open(cls, path: Path | None, *, memory_limit: str = MEMORY_LIMIT) -> Store:
        """A store in `path`, or in memory when `path` is None (nothing survives the run).

        Either way DuckDB keeps at most `memory_limit` in memory and spills the rest to disk:
        next to the state file, or to a temporary directory that `close` removes."""
        scratch = None
        if path is None:
            con = duckdb.connect()
            # in memory, DuckDB would spill to `.tmp` in the working directory
            scratch = Path(tempfile.mkdtemp(prefix="trailhound-"))
            con.execute(f"SET temp_directory = {_quoted(str(scratch))}; "
                        f"SET memory_limit = {_quoted(memory_limit)}")  # fmt: skip
        else:
            try:
                folder = path.is_dir()
                fresh = not folder and (not path.exists() or path.stat().st_size == 0)
            except OSError as err:  # a folder on the way that this user may not enter
                raise StateError(_unreadable(err), where=str(path)) from None
            if folder:
                raise StateError(
                    "this is a folder, not a state file; name a file, such as "
                    f"{path / 'state.duckdb'}",
                    where=str(path),
                )
            if fresh:
                cls._create(path)
            con = _connect(path)
            con.execute("SET memory_limit = ?", [memory_limit])
        try:
            store = cls(con, scratch=scratch, memory_limit=memory_limit, empty=path is None)
        except duckdb.Error as err:
            con.close()
            raise StateError(_unreadable(err), where=str(path or "memory")) from None
        except StateError as err:
            con.close()
            err.where = err.where or str(path or "memory")
            raise
        store.where = str(path or "memory")
        if scratch is not None:
            weakref.finalize(store, shutil.rmtree, scratch, ignore_errors=True)
        return store

    @classmethod
    def _create(cls, path: Path) -> None:
        """Make a new state file whole, or not at all: DuckDB creates its file before writing
        its headers, and a file killed in between is refused by every later run. So it is
        made under another name and renamed into place. An empty file at `path` never held
        anything (such a kill left it) and is replaced."""
        building = path.with_name(f".{path.name}.{os.getpid()}.creating")
        try:
            con = _connect(building)
            con.begin()  # its tables in one commit: one sync of the log, not one per table
            cls(con, empty=True)
            con.commit()
            con.close()
            os.replace(building, path)
        except OSError as err:
            raise StateError(_unreadable(err), where=str(path)) from None
        except StateError as err:  # it names the temporary file; the user named `path`
            err.where = str(path)
            raise
        finally:
            # on a path that cannot hold the file (its folder is a file) these fail too, and
            # must not hide the StateError that says why
            with contextlib.suppress(OSError):
                building.unlink(missing_ok=True)
                building.with_name(building.name + ".wal").unlink(missing_ok=True)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (an exception rolls it back)."""
        if self._lifted:
            self._lower()
        self.con.begin()
        try:
            yield
        except BaseException:
            self.con.rollback()
            self._lower()
            raise
        self.con.commit()
        if self._lifted:
            self._lower()

    @contextmanager
    def reading(self, limit: str = READING_LIMIT) -> Iterator[None]:
        """DuckDB held to `limit` (or the store's own limit, if lower) inside the block, then
        to the limit of the `reading` block around it, if any, else to the store's own. A
        lifted limit is left as it is: what the transaction holds may not fit under `limit`."""
        if self._lifted or _bytes(limit) >= _bytes(self.memory_limit):
            yield
            return
        outer, self._held_to = self._held_to, limit
        self.con.execute("SET memory_limit = ?", [limit])
        with self._undone_after(lambda: self._held_again(outer)):
            yield

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Inside `reading`, DuckDB held to `CHECKING_LIMIT` instead for the block (an
        insert's exact duplicate check); elsewhere the limit is left as it is."""
        if self._held_to is None or _bytes(self._held_to) >= _bytes(CHECKING_LIMIT):
            yield
            return
        with self.reading(CHECKING_LIMIT):
            yield

    def _held_again(self, outer: str | None) -> None:
        """The limit after a `reading` block: the one around it, or the store's own."""
        self._held_to = outer
        if self._lifted:
            return
        if outer is None:
            self._lower()
        else:
            self.con.execute("SET memory_limit = ?", [outer])

    @contextmanager
    def one_thread(self) -> Iterator[None]:
        """DuckDB on one thread for the block. Storing matches runs while the workers read, on
        the cores they need, and deciding's statements are small or write: a second thread
        costs CPU in both (storing at 1M events: 1.05 CPU-s on two threads, 0.78 on one; the
        baseline rule's deciding 0.2 and 0.1).

        Each setting is a statement of its own (~0.4 ms), and a small scan enters several
        blocks: the threads are asked for once, and a block inside another sets nothing."""
        if self._one_thread:
            yield
            return
        if self._threads is None:
            rows = self.con.execute("SELECT current_setting('threads')").fetchall()
            self._threads = int(rows[0][0])
        if self._threads == 1:
            yield
            return
        self._one_thread = True
        try:
            with self._set_for_block("threads", "1", str(self._threads)):
                yield
        finally:
            self._one_thread = False

    @contextmanager
    def held_until_commit(self) -> Iterator[None]:
        """Rows inserted inside the block stay in DuckDB's memory until the commit, which
        writes only those still there, instead of being compressed into the file a row group
        at a time as they come. For an insert whose rows the transaction mostly deletes again
        (the matches stored just before deciding). Not while a scan reads: all of a run's
        matches would then be held, beyond the reading limit."""
        rows = self.con.execute("SELECT current_setting('enable_optimistic_write')").fetchall()
        was = str(bool(rows[0][0])).lower()
        with self._set_for_block("enable_optimistic_write", "false", was):
            yield

    @contextmanager
    def _set_for_block(self, name: str, value: str, restored: str) -> Iterator[None]:
        """DuckDB's setting `name` at `value` inside the block, then at `restored`."""
        self.con.execute(f"SET {name} = {value}")
        with self._undone_after(lambda: self.con.execute(f"SET {name} = {restored}")):
            yield

    @contextmanager
    def _undone_after(self, undo: Callable[[], object]) -> Iterator[None]:
        """`undo` once the block ends. After a failed block DuckDB may refuse it (an aborted
        transaction refuses settings and unregistering): the block's own error is the one that
        says what went wrong (an interrupted query's, which the command answers as Ctrl-C,
        among them), and the rollback that follows restores the rest."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                undo()
            raise
        undo()

    def lift_memory_limit(self) -> None:
        """DuckDB's own memory limit (most of the machine's memory) until the transaction ends.

        Within the store's limit, stored matches spill to disk while a scan reads. What a
        transaction has not committed spills only in part: a run's alerts (their JSON with
        evidence, 30 kB each) must stay in memory until the commit, which needs them too, and
        a statement that does not fit fails and takes the run's whole transaction with it.
        Entering alerts in the ledger therefore lifts the limit; it needs what the run
        decided, not what it read. Lifted once, it stays so: each part of a run's alerts
        enters the ledger, and every RESET was a statement (about 2 ms) for nothing."""
        if self._lifted:
            return
        self.con.execute("RESET memory_limit")
        self._lifted = True

    def _lower(self) -> None:
        """The store's memory limit again, once DuckDB can free enough memory to keep it
        (what a large run left in its caches may take until the next transaction)."""
        try:
            self.con.execute("SET memory_limit = ?", [self.memory_limit])
        except duckdb.OutOfMemoryException:
            return
        self._lifted = False

    @contextmanager
    def registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """`table` readable by the statements inside as the view `name`.

        A view dropped inside a transaction stays in DuckDB's catalog until the transaction
        ends, and so does what it shows: a scan's every batch of stored matches and evidence
        lived until its commit (250 MB of the scanning process at 1M events). DuckDB is lent
        a stand-in instead, which lets go of the table when the block ends."""
        lent = _Lent(table)
        self.con.register(name, lent)

        def release() -> None:
            lent.table = None  # first: the table goes even if unregistering is refused
            self.con.unregister(name)

        with self._undone_after(release):
            yield

    def close(self) -> None:
        self.con.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _check_ours(self) -> None:
        """Refuse a DuckDB database that another program made: every state file trailhound
        writes has its schema version in `meta` from the start, and adding our tables to
        someone else's database would change it behind their back. An empty database is
        taken (nothing in it can be harmed)."""
        tables = sorted(
            str(row[0])
            for row in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
        )
        if not tables:
            return
        # the catalog first: reading a damaged file's rows fails, and must say "damaged"
        columns = self.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'meta' "
            "AND database_name = current_database()"
        ).fetchall()
        ours = {"key", "value"} <= {c for (c,) in columns} and self.get_meta("schema") is not None
        if not ours:
            more = f" and {len(tables) - 5} more" if len(tables) > 5 else ""
            shown = ", ".join(tables[:5]) + more
            raise StateError(
                f"not a trailhound state file: a DuckDB database of another program (tables "
                f"{shown}); name another --state file, or move this one aside if it is yours"
            )

    def _check_version(self) -> None:
        found = self.get_meta("schema")
        if found is None:
            self.set_meta("schema", SCHEMA_VERSION)
            return
        while found in _UPGRADES:
            found = self._upgrade(found)
        if found != SCHEMA_VERSION:
            raise StateError(
                f"state was written by another trailhound version (schema {found}, "
                f"this one reads {SCHEMA_VERSION}); use a new --state file"
            )

    def _upgrade(self, version: str) -> str:
        """Bring the state file from `version` to the next, in one transaction; an older
        trailhound then refuses it by its version instead of failing on its tables."""
        upgraded = str(int(version) + 1)
        with self.transaction():
            self.con.execute(_UPGRADES[version])
            self.set_meta("schema", upgraded)
        return upgraded

    def _carry_over(self) -> None:
        """State written before groups kept several windows has one per group, in a table of
        its own: carried over once."""
        found = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'suppression' "
            "AND database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
        if found[0][0]:
            self.con.execute(
                "INSERT INTO suppression_windows SELECT rule_id, group_key, window_start, "
                "window_end, absorbed FROM suppression ON CONFLICT DO NOTHING; "
                "DROP TABLE suppression"
            )

    def _create_matches(self) -> None:
        self.con.execute(_MATCHES)
        # state written before matches were narrow has every event column but these two
        self.con.execute("ALTER TABLE matches ADD COLUMN IF NOT EXISTS evidence_chunk BIGINT")
        self.con.execute("ALTER TABLE matches ADD COLUMN IF NOT EXISTS evidence_item INTEGER")

    def ensure_columns(self, names: Iterable[str]) -> None:
        """Give `matches` these event columns (schema names), if it lacks any."""
        wanted = set(names)
        if self._bare_matches and self._still_bare():
            # a new store's first call: the table made again with them is one statement,
            # where each ALTER costs ~0.3 ms (12 of them, 4 ms of a one-file scan)
            self._bare_matches = False
            added = self._kinds([f for f in arrow_schema() if f.name in wanted])
            columns = "".join(f', "{name}" {kind}' for name, kind in added)
            self.con.execute(f"CREATE OR REPLACE TABLE matches ({_MATCHES_COLUMNS}{columns})")
            return
        self._bare_matches = False
        present = {r[0] for r in self.con.execute("DESCRIBE matches").fetchall()}
        missing = [f for f in arrow_schema() if f.name in wanted - present]
        for name, kind in self._kinds(missing):
            self.con.execute(f'ALTER TABLE matches ADD COLUMN IF NOT EXISTS "{name}" {kind}')

    def _still_bare(self) -> bool:
        """Whether `matches` has no rows yet: only then may it be made again (a caller may
        have written to the store it was handed before its detector asked for columns)."""
        return not self.con.execute("SELECT count(*) FROM matches").fetchall()[0][0]

    def _kinds(self, fields: list[pa.Field]) -> list[tuple[str, str]]:
        """Each field's name and DuckDB type. The schema's types are named here; another
        (none now) is asked of DuckDB, from an empty table of it, registering which costs
        ~2.5 ms."""
        named = [(f.name, _DUCKDB_TYPES.get(f.type)) for f in fields]
        if all(kind is not None for _, kind in named):
            return [(name, kind) for name, kind in named if kind is not None]
        empty = pa.table({f.name: pa.array([], f.type) for f in fields})
        with self.registered("_empty_events", empty):
            types = self.con.execute("DESCRIBE SELECT * FROM _empty_events").fetchall()
        return [(str(name), str(kind)) for name, kind, *_ in types]

    def get_meta(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.set_metas({key: value})

    def set_metas(self, values: Mapping[str, str]) -> None:
        """Several keys in one statement: each upsert has a fixed cost (2 to 3 ms)."""
        if not values:
            return
        rows = ", ".join("(?, ?)" for _ in values)
        self.con.execute(
            f"INSERT INTO meta VALUES {rows} "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [part for pair in values.items() for part in pair],
        )


class _Lent:
    """A table lent to DuckDB as an Arrow stream, for as long as its owner says."""

    __slots__ = ("table",)

    def __init__(self, table: pa.Table) -> None:
        self.table: pa.Table | None = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        if self.table is None:
            raise RuntimeError("a table was read after the block that lent it")
        return self.table.__arrow_c_stream__(requested_schema)


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


def _bytes(limit: str) -> float:
    """A memory limit as DuckDB takes it ("192MB", "1.5 GiB") in bytes; inf if unreadable
    (such a limit is not compared, DuckDB itself judges it)."""
    number = limit.strip().rstrip("BbIiKkMmGgTt ")
    unit = limit.strip()[len(number) :].strip().upper()
    try:
        return float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        return float("inf")


def _quoted(text: str) -> str:
    """`text` as an SQL string literal, for a setting in a script of several statements
    (which takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(path))
    except (duckdb.Error, OSError) as err:
        if _locked(err):
            raise StateInUse(
                f"the state file is in use by another trailhound ({_first_line(err)}); "
                "run again when it has finished, or name another --state file",
                where=str(path),
            ) from None
        raise StateError(_unreadable(err), where=str(path)) from None


def _locked(err: BaseException) -> bool:
    return "lock" in _first_line(err).lower()


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _unreadable(err: BaseException) -> str:
    first = _first_line(err)
    if isinstance(err, PermissionError) or "permission denied" in first.lower():
        return (
            f"cannot open the state file: permission denied ({first}); run as the user who "
            "owns it, give this user read and write access to it and its folder, or name "
            "another --state file"
        )
    if isinstance(err, OSError):
        return f"cannot create or open the state file here ({first}); name another --state file"
    return (
        f"cannot use the state file ({first}); if it is damaged, move it aside and run again "
        "(terms seen, open windows and the list of alerts already sent start afresh)"
    )
