"""The state of Spark scans as Parquet, at a folder the user chooses (`--spark-state`).

A cluster's driver often has no disk that outlives the job (an EMR step, a Databricks job), so
the state can live in a folder of its own: each committed step is one generation, the store's
tables exported as Parquet (DuckDB's `EXPORT DATABASE`), and the small file `CURRENT` names
the generation in force. A step writes its generation under a temporary name, renames it into
place, and only then replaces `CURRENT` (written aside, then renamed over it): a crash at any
instant leaves `CURRENT` naming a whole generation, the previous one or the new one. The run
itself decides on a DuckDB copy of the state in a scratch folder, so the decisions are the
same code and the same transaction as with a state file.

    state/
      CURRENT            "gen-000007"
      gen-000006/        the one before, kept until the next commit
      gen-000007/        schema.sql, load.sql, one Parquet file per table
      lock               held while a run uses the folder
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Protocol

import duckdb

from trailhound.errors import StateError, StateInUse
from trailhound.state.store import Store

CURRENT = "CURRENT"
_PREFIX = "gen-"


class StateFolder:
    """An open state folder: `store` is the working copy; `commit` makes it the new
    generation; `close` lets the folder go (uncommitted changes are dropped)."""

    def __init__(self, root: Path, store: Store, scratch: Path, lock: IO[bytes]) -> None:
        self.root = root
        self.store = store
        self._scratch = scratch
        self._lock = lock

    @classmethod
    def open(cls, root: Path) -> StateFolder:
        try:
            root.mkdir(parents=True, exist_ok=True)
            lock = (root / "lock").open("ab")
        except OSError as err:
            raise StateError(f"cannot use this folder for the state ({err.strerror})",
                             where=str(root)) from None  # fmt: skip
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StateInUse(
                "the state folder is in use by another trailhound; run again when it has "
                "finished", where=str(root),
            ) from None  # fmt: skip
        scratch = Path(tempfile.mkdtemp(prefix="trailhound-spark-state-"))
        try:
            store = _working_copy(root, scratch / "state.duckdb")
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            lock.close()
            raise
        return cls(root, store, scratch, lock)

    def commit(self) -> None:
        """The working copy as the new generation, in force once `CURRENT` names it."""
        current = current_generation(self.root)
        # past any generation a crash left unnamed by CURRENT (pruned below)
        number = max((generation_number(p.name) for p in self.root.glob(f"{_PREFIX}*")),
                     default=0) + 1  # fmt: skip
        name = generation_name(number)
        building = self.root / f".{name}.{os.getpid()}.partial"
        shutil.rmtree(building, ignore_errors=True)
        export(self.store, building)
        os.replace(building, self.root / name)
        _fsync(self.root)
        pointer = self.root / f".{CURRENT}.partial"
        pointer.write_text(name + "\n")
        _fsync(pointer)
        os.replace(pointer, self.root / CURRENT)
        _fsync(self.root)
        _prune(self.root, keep={name, current})

    def close(self) -> None:
        self.store.close()
        shutil.rmtree(self._scratch, ignore_errors=True)
        self._lock.close()


class StateHome(Protocol):
    """Where Spark scans keep their state: a folder here, or a place in S3 (`s3_state`)."""

    store: Store

    def commit(self) -> None: ...

    def close(self) -> None: ...


def open_state_home(spec: str) -> StateHome:
    """The state at `spec`: `s3://bucket/prefix` or a local (or mounted) folder."""
    if spec[:5].lower() == "s3://":
        from trailhound.spark.s3_state import S3StateFolder

        return S3StateFolder.open(spec)
    return StateFolder.open(Path(spec))


def generation_name(number: int) -> str:
    return f"{_PREFIX}{number:06d}"


def generation_number(name: str) -> int:
    digits = name.removeprefix(_PREFIX)
    return int(digits) if name.startswith(_PREFIX) and digits.isdigit() else 0


def current_generation(root: Path) -> str | None:
    try:
        name = (root / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    if not name.startswith(_PREFIX) or not (root / name).is_dir():
        raise StateError(f"{CURRENT} names no generation here ({name[:80]!r})", where=str(root))
    return name


def _working_copy(root: Path, path: Path) -> Store:
    current = current_generation(root)
    return working_copy(None if current is None else root / current, path, where=str(root))


def working_copy(generation: Path | None, path: Path, *, where: str) -> Store:
    """A store at `path` holding the exported `generation` (a fresh one for None)."""
    if generation is not None:
        con = duckdb.connect(str(path))
        try:
            con.execute(f"IMPORT DATABASE '{_sql_text(generation)}'")
        except duckdb.Error as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise StateError(f"cannot read the state generation {generation.name} ({reason})",
                             where=where) from None  # fmt: skip
        finally:
            con.close()
    return Store.open(path)


def export(store: Store, folder: Path) -> None:
    """The store's tables as Parquet files in `folder` (made by DuckDB), synced to disk."""
    store.con.execute(f"EXPORT DATABASE '{_sql_text(folder)}' (FORMAT parquet)")
    _fsync_tree(folder)


def _prune(root: Path, keep: set[str | None]) -> None:
    for entry in root.iterdir():
        if entry.name.startswith(_PREFIX) and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def _fsync_tree(folder: Path) -> None:
    for entry in folder.iterdir():
        _fsync(entry)
    _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
