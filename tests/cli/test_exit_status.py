"""What a user sees when a run cannot finish: one line on stderr, never a traceback, and an exit
status of its own (70 a bug, 74 an unusable state file, 75 a state file in use, 130 Ctrl-C),
apart from the flags of a finished run (+1 alerts, +4 set aside, +8 delivery pending, 2 usage).

Ctrl-C during a scan is tested in tests/pipeline/test_crash.py, next to the kills.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from support.cli import trailhound
from trailhound.errors import StateError
from trailhound.state.store import Store

INTERNAL_ERROR, STATE_UNUSABLE, STATE_IN_USE, INTERRUPTED = 70, 74, 75, 130


@pytest.fixture
def logs(shared_data: Path) -> Path:
    return shared_data / "dynamodb-real"




def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def not_duckdb(path: Path) -> None:
    path.write_text("these are my notes, not a database\n")


def truncated(path: Path) -> None:
    Store.open(path).close()
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def a_folder(path: Path) -> None:
    path.mkdir()


def under_a_file(path: Path) -> None:
    path.parent.mkdir()
    (path.parent / "notes").write_text("x")


def another_version(path: Path) -> None:
    store = Store.open(path)
    store.set_meta("schema", "0")
    store.close()


BAD_STATE: dict[str, tuple[Callable[[Path], None], str]] = {
    "not-duckdb": (not_duckdb, "move it aside"),
    "truncated": (truncated, "move it aside"),
    "a-folder": (a_folder, "this is a folder, not a state file"),
    "under-a-file": (under_a_file, "name another --state file"),
    "another-version": (another_version, "use a new --state file"),
}


@pytest.mark.parametrize("damage", BAD_STATE, ids=str)
def test_a_state_file_that_cannot_be_used_is_named_with_what_to_do(
    logs: Path, tmp_path: Path, damage: str
) -> None:
    make, advice = BAD_STATE[damage]
    state = tmp_path / ("folder" if damage == "under-a-file" else "") / "state.duckdb"
    make(state)
    target = state.parent / "notes" / "state.duckdb" if damage == "under-a-file" else state
    for command in (["scan", logs, "-q"], ["alerts", "list"], ["watch", "--once", logs, "-q"]):
        done = trailhound(*command, "--state", target)
        assert done.returncode == STATE_UNUSABLE, (command, done.stderr)
        line = one_line(done.stderr)
        assert line.startswith(f"trailhound: {target}: "), line
        assert advice in line


def test_a_duckdb_database_of_another_program_is_refused_and_left_as_it_was(
    logs: Path, tmp_path: Path
) -> None:
    theirs = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(theirs))
    con.execute("CREATE TABLE meta (x INTEGER); CREATE TABLE sales (amount INTEGER)")
    con.close()
    done = trailhound("scan", logs, "-q", "--state", theirs)
    assert done.returncode == STATE_UNUSABLE
    line = one_line(done.stderr)
    assert "not a trailhound state file" in line and "meta, sales" in line
    con = duckdb.connect(str(theirs), read_only=True)
    try:
        assert sorted(t for (t,) in con.execute("SHOW TABLES").fetchall()) == ["meta", "sales"]
    finally:
        con.close()


def test_a_damaged_alert_in_the_ledger_is_named_with_what_to_do(
    logs: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    trailhound("scan", logs, "-q", "--state", state)
    con = duckdb.connect(str(state))
    damaged = con.execute("SELECT min(alert_id) FROM ledger WHERE packed IS NOT NULL").fetchall()
    con.execute("UPDATE ledger SET packed = '\\x00\\x01'::BLOB WHERE alert_id = ?", damaged[0])
    con.close()
    done = trailhound("alerts", "list", "--state", state)
    assert done.returncode == STATE_UNUSABLE, done.stderr
    line = one_line(done.stderr)
    assert line.startswith(f"trailhound: {state}: "), line
    assert damaged[0][0] in line and "move it aside" in line


def test_a_state_file_in_use_by_another_process_says_to_run_again_later(
    logs: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    Store.open(state).close()
    holder = duckdb.connect(str(state))  # DuckDB locks the file against other processes
    try:
        done = trailhound("scan", logs, "-q", "--state", state)
    finally:
        holder.close()
    assert done.returncode == STATE_IN_USE
    assert "in use by another trailhound" in one_line(done.stderr)
    assert trailhound("scan", logs, "-q", "--state", state).returncode == 1  # and later it works


def test_a_state_file_this_user_may_not_read_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as root (as CI is), file modes do not stop anything: DuckDB's refusal is staged."""
    state = tmp_path / "state.duckdb"
    Store.open(state).close()

    def refuse(database: str, *args: object, **kwargs: object) -> None:
        raise duckdb.IOException(f'IO Error: Cannot open file "{database}": Permission denied')

    monkeypatch.setattr(duckdb, "connect", refuse)
    with pytest.raises(StateError) as raised:
        Store.open(state)
    assert str(raised.value).startswith(f"{state}: cannot open the state file: permission denied")
    assert "read and write access" in str(raised.value)


CRASHING_SCAN = """
import sys
import trailhound.pipeline.scan as pipeline_scan
def crash(*args, **kwargs):
    raise ValueError("an unexpected value\\nand a second line")
pipeline_scan.scan = crash  # the scan command imports it as it runs
from trailhound.cli import main
main(sys.argv[1:], prog_name="trailhound")
"""


def test_a_bug_says_one_line_and_exits_70_and_the_traceback_is_there_on_request(
    logs: Path,
) -> None:
    command = [sys.executable, "-c", CRASHING_SCAN, "scan", str(logs), "--no-state"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == INTERNAL_ERROR
    assert one_line(done.stderr) == (
        "trailhound: internal error: ValueError: an unexpected value; this is a bug, please "
        "report it (rerun with TRAILHOUND_DEBUG=1 for the traceback)"
    )
    debug = subprocess.run(command, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "TRAILHOUND_DEBUG": "1"})  # fmt: skip
    assert debug.returncode == INTERNAL_ERROR
    assert "Traceback" in debug.stderr and "in crash" in debug.stderr


INTERRUPTED_LISTING = """
import sys
import trailhound.cli.rules_cmd as rules_cmd
def interrupted(*args, **kwargs):
    raise KeyboardInterrupt
rules_cmd.load_rules = interrupted
from trailhound.cli import main
main(["rules", "list"], prog_name="trailhound")
"""


def test_ctrl_c_in_any_command_is_one_line_and_130() -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_LISTING], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == INTERRUPTED
    assert one_line(done.stderr) == "trailhound: interrupted"
