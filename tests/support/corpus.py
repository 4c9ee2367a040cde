"""A simulated day of CloudTrail, `trailhound scan` run on it as a process, and that process
killed: after a delay chosen by the test, or by itself at a named point of its work.

Run as a module, `python -m support.corpus POINT scan ARGS...` runs `trailhound scan ARGS...`
and SIGKILLs itself at POINT, or says it reached it (see `CRASH_POINTS`); `tests` must be on
PYTHONPATH (`environment` puts it there).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

TESTS = Path(__file__).resolve().parent.parent
MARK = "TRAILHOUND_TEST_MARK"

CRASH_POINTS: dict[str, str] = {
    "creating-state": "DuckDB created the state file (open O_CREAT) and wrote nothing yet",
    "reading": "the first matches read were handed to the detector, the transaction not committed",
    "decided": "every alert decided and written to the state, the transaction not committed",
    "announce-decided": "not killed: creates the file $TRAILHOUND_TEST_MARK once every alert is "
    "decided, just before the commit, for a test that watches the commit from outside",
    "interrupt-decided": "not killed: a SIGINT (Ctrl-C) to itself once every alert is decided, "
    "before the commit",
    "interrupt-making": "not killed: a SIGINT (Ctrl-C) to itself as it makes its first part "
    "of the alerts beside the helper (parts of two alerts, so that the helper has some)",
    "interrupt-making-served": "not killed: as interrupt-making, its workers and helper from "
    "the fork server (as a library's scan gets them), the helper stopped (SIGSTOP) first",
    "committed": "the scan committed, delivery not started",
    "watch-read": "a watch step decided and noted what it read, the transaction not committed",
    "watch-committed": "a watch step committed, its delivery not started",
    "torn-write": "the output file written up to half a line, nothing fsynced or settled",
    "delivered": "the output file written and fsynced, the outbox not settled",
    "mid-checkpoint": "5 ms into closing the state, inside DuckDB's checkpoint (or at its end)",
}


def simulate_day(folder: Path, env: Mapping[str, str]) -> Path:
    """`trailhound simulate --days 1` into `folder`; returns its CloudTrail (`AWSLogs`)."""
    subprocess.run(
        [sys.executable, "-m", "trailhound", "simulate", "--days", "1", "--out", str(folder),
         "--quiet"],
        env=env, check=True, timeout=120,
    )  # fmt: skip
    return folder / "AWSLogs"


def environment(folder: Path) -> dict[str, str]:
    """The environment for trailhound processes: user folders inside `folder`, and `tests`
    importable (for `python -m support.corpus`)."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "XDG_STATE_HOME": str(folder / "state"),
        "XDG_CACHE_HOME": str(folder / "cache"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "PYTHONPATH": path,
    }


@contextlib.contextmanager
def started(command: Sequence[str | Path], env: Mapping[str, str],
            **options: Any) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """A process that is killed and reaped when the block ends, whatever happened."""
    process = subprocess.Popen([str(c) for c in command], env=env, **options)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def kill_after(command: Sequence[str | Path], env: Mapping[str, str], seconds: float) -> bool:
    """Start `command` and SIGKILL it `seconds` later; False when it had already ended."""
    with started(command, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
    return False


def read_alerts(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON lines file, each of which must be a whole JSON object."""
    data = path.read_bytes() if path.exists() else b""
    assert not data or data.endswith(b"\n"), f"{path} ends in a torn line"
    alerts = []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            alert = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            raise AssertionError(f"{path}:{number} is not JSON ({err}): {line[:80]!r}") from None
        assert isinstance(alert, dict), f"{path}:{number} is not an object"
        alerts.append(alert)
    return alerts


def comparable(alert: Mapping[str, Any]) -> dict[str, Any]:
    """An alert without what depends on when it was decided: each evidence document's
    `event.ingested` (ECS: when the pipeline read the event, the time of the scan)."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(alert))
    for document in copy.get("evidence", []):
        document.get("event", {}).pop("ingested", None)
    return copy


# ---------------------------------------------------------------------------------------------
# In the process under test: `python -m support.corpus POINT scan ARGS...`


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _die_after(seconds: float) -> None:
    """SIGALRM without a handler ends the process like SIGKILL, at that instant, even in C++."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _after(owner: Any, name: str, then: Callable[[], None]) -> None:
    original = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        then()
        return result

    setattr(owner, name, patched)


def _before(owner: Any, name: str, first: Callable[[], None]) -> None:
    original = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        first()
        return original(*args, **kwargs)

    setattr(owner, name, patched)


class _TearingOs:
    """`os` for the file outputs, whose fsync cuts what this delivery wrote in the middle
    (a write that the kill cut short) and dies before anything is fsynced."""

    def __init__(self, sizes: list[int]) -> None:
        self._sizes = sizes

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fsync(self, fd: int) -> None:
        before, after = self._sizes[-1], os.fstat(fd).st_size
        os.ftruncate(fd, before + (after - before) // 2)
        _die()


def _arm_served_making() -> None:
    """`interrupt-making-served`: the helper, a child of the fork server (stopped by now),
    stopped as it makes its first parts, then Ctrl-C here: only its pidfd can end it."""
    from trailhound.engine import alert_making
    from trailhound.pipeline import cores, helper, pool

    setattr(alert_making, "SHARED_PER_PART", 2)  # noqa: B010
    setattr(cores, "spare", lambda since: True)  # noqa: B010  (however busy the machine)
    setattr(pool, "alone", lambda: False)  # noqa: B010  (workers from the fork server)
    make_here = helper.Making._make_here

    def stop_then_interrupt(making: Any, index: int) -> None:
        for kept in making.helpers.values():
            os.kill(kept.process.pid, signal.SIGSTOP)
        os.kill(os.getpid(), signal.SIGINT)
        make_here(making, index)

    setattr(helper.Making, "_make_here", stop_then_interrupt)  # noqa: B010


def _arm(point: str) -> None:
    from trailhound.engine.detector import Detector
    from trailhound.outputs import files
    from trailhound.pipeline import deliver as delivery
    from trailhound.pipeline import watch
    from trailhound.state import inputs, outbox
    from trailhound.state.store import Store

    if point == "creating-state":
        import duckdb

        def create_and_die(database: str, *args: Any, **kwargs: Any) -> None:
            os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o666))  # DuckDB's first step
            _die()

        setattr(duckdb, "connect", create_and_die)  # noqa: B010
    elif point == "reading":
        _after(Detector, "add_matches", _die)
    elif point == "decided":
        _after(Detector, "finish", _die)
    elif point == "announce-decided":
        _after(Detector, "finish", lambda: Path(os.environ[MARK]).touch())
    elif point == "interrupt-decided":
        _after(Detector, "finish", lambda: os.kill(os.getpid(), signal.SIGINT))
    elif point == "interrupt-making":
        from trailhound.engine import alert_making
        from trailhound.pipeline import cores, helper

        setattr(alert_making, "SHARED_PER_PART", 2)  # noqa: B010
        setattr(cores, "spare", lambda since: True)  # noqa: B010  (however busy the machine)
        _before(helper.Making, "_make_here", lambda: os.kill(os.getpid(), signal.SIGINT))
    elif point == "interrupt-making-served":
        _arm_served_making()
    elif point == "committed":
        _before(delivery, "deliver", _die)  # the scan command's, imported as it runs
    elif point == "watch-read":
        _after(inputs, "record", _die)
    elif point == "watch-committed":
        _before(watch, "deliver", _die)
    elif point == "torn-write":
        sizes: list[int] = []
        ids_in = files._ids_in

        def noting_size(path: Path) -> set[str]:
            present = ids_in(path)
            sizes.append(path.stat().st_size if path.exists() else 0)
            return present

        setattr(files, "_ids_in", noting_size)  # noqa: B010
        setattr(files, "os", _TearingOs(sizes))  # noqa: B010
    elif point == "delivered":
        _before(outbox, "settle", _die)
    elif point == "mid-checkpoint":
        _before(Store, "close", lambda: _die_after(0.005))
        _after(Store, "close", _die)  # should the checkpoint take less
    else:
        raise SystemExit(f"unknown crash point {point!r}; known: {', '.join(CRASH_POINTS)}")


if __name__ == "__main__":
    _arm(sys.argv[1])
    from trailhound.cli import main

    main(args=sys.argv[2:], prog_name="trailhound")
