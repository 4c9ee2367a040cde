"""The end of a run beside the scan's helper (`Crew.outputs(keep=True)`, `part_making`): the
ledger and the outbox get what a scan in one process gives them, and a helper that dies while
it makes a part costs no alert and enters none twice."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from trailhound.engine import alert_making, part_making
from trailhound.outputs.base import SEVERITIES
from trailhound.outputs.files import JsonLinesFile
from trailhound.pipeline import cores, helper, local_engine, pool
from trailhound.pipeline.scan import scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources.files import open_local
from trailhound.state import ledger
from trailhound.state.store import Store

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")

_PER_PART = 8  # many parts from a small corpus, so that the helper takes some


@pytest.fixture(autouse=True)
def spare_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper used however busy the machine running the tests is, and whatever its CPUs."""
    monkeypatch.setattr(cores, "spare", lambda since: True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=2, seed=5, events=12_000)
    return out


def _ledger(folder: Path, out: Path, workers: int) -> tuple[list[str], dict[str, Any]]:
    """The ids of the alerts a scan returns, and what its ledger holds of each (the read time
    aside: it is each scan's own clock) with the outputs it is queued for."""
    store = Store.open(None)
    try:
        result = scan(
            [open_local(str(folder))], load_rules([shipped_pack_dir()]).rules, store=store,
            workers=workers, keep_evidence=False,
            outputs=[JsonLinesFile("file", out, SEVERITIES.index("high"))],
        )  # fmt: skip
        entries = ledger.stored(store)
    finally:
        store.close()
    held = {e.alert_id: (_without_read_time(e.alert), e.pending) for e in entries}
    assert len(held) == len(entries)  # none entered twice
    return [a.id for a in result.alerts], held


def _without_read_time(alert: dict[str, Any]) -> dict[str, Any]:
    for document in alert["evidence"]:
        document.get("event", {}).pop("ingested", None)
    return alert


def _parts_made_here(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the parts this process makes for the workers' kind of end (`part_making.made`)."""
    counted: Counter[str] = Counter()
    made = part_making.made

    def counting(part: part_making.Part, to_documents: part_making.DocumentMaker) -> Any:
        counted["parts"] += 1
        return made(part, to_documents)

    monkeypatch.setattr(part_making, "made", counting)
    return counted


def test_alerts_made_by_the_helper_enter_the_ledger_as_made_here(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_parts(monkeypatch)
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)
    here = _parts_made_here(monkeypatch)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    parts = -(-len(alone) // _PER_PART)
    assert parts > 4 and 0 < here["parts"] < parts  # the helper made the others
    assert ids == alone_ids
    assert shared == alone
    assert any(pending for _, pending in alone.values())  # routed, by severity
    assert not all(pending for _, pending in alone.values())


def test_a_helper_killed_while_it_makes_a_part_loses_no_alert_and_enters_none_twice(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)
    killed = _signalled_at_its_first_part(monkeypatch, signal.SIGKILL)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert killed
    assert ids == alone_ids
    assert shared == alone


def test_a_helper_stopped_while_it_makes_a_part_is_ended_and_its_parts_made_here(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung helper (here: stopped) holds up the end only for `HELPER_PATIENCE`; its parts
    are then made here, each entered once, and it is ended."""
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)
    stopped = _signalled_at_its_first_part(monkeypatch, signal.SIGSTOP)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert stopped and not _running(stopped[0])
    assert ids == alone_ids
    assert shared == alone


def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_making, "ALERTS_PER_PART", _PER_PART)
    monkeypatch.setattr(alert_making, "SHARED_PER_PART", _PER_PART)


def _helpers_asked(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """The helper each crew had when asked whether it may be used (`Crew.spare`), and every
    part sent to one (recorded, not sent)."""
    spare, sent = pool.Crew.spare, []
    helpers: list[Any] = []

    def asked(crew: pool.Crew) -> bool:
        helpers.append(crew._team.helper)
        return spare(crew)

    monkeypatch.setattr(pool.Crew, "spare", asked)
    monkeypatch.setattr(helper.Making, "_send", lambda *args: sent.append(args) or True)
    return helpers, sent


def _signalled_at_its_first_part(monkeypatch: pytest.MonkeyPatch, signum: int) -> list[int]:
    """Small parts, and the helper sent `signum` as it is given its first (never continued):
    the list gets its pid once that happens."""
    _small_parts(monkeypatch)
    send = helper.Making._send
    signalled: list[int] = []

    def send_then_signal(making: Any, worker: Any, index: int, waiting: list[int]) -> bool:
        sent = send(making, worker, index, waiting)
        if not signalled:
            signalled.append(worker.process.pid)
            os.kill(worker.process.pid, signum)
        return sent

    monkeypatch.setattr(helper.Making, "_send", send_then_signal)
    return signalled


def test_a_part_the_helper_fails_is_made_here_and_the_alerts_are_as_made_here(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_parts(monkeypatch)
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)
    send = helper.Making._send
    spoilt: list[int] = []

    def send_spoilt(making: Any, worker: Any, index: int, waiting: list[int]) -> bool:
        if spoilt:
            return send(making, worker, index, waiting)
        # the helper's first part arrives as something it cannot make: it answers an error
        spoilt.append(index)
        making.sent[index] = making.part(index)
        worker.conn.send((index, None))
        making.given[worker.conn].append(index)
        return True

    monkeypatch.setattr(helper.Making, "_send", send_spoilt)
    here = _parts_made_here(monkeypatch)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert spoilt
    assert here["parts"] == -(-len(alone) // _PER_PART)  # that helper was given no other
    assert ids == alone_ids
    assert shared == alone


def test_parts_queued_at_the_helper_are_taken_back_and_entered_once(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper holds two parts at a time; once nothing is left to give, this process makes
    the one queued behind the other too, and whichever is made first is entered, once."""
    _small_parts(monkeypatch)
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)
    taken_back, collect = helper.Making._taken_back, helper.Making._collect
    queued: list[int] = []

    def late(making: Any, waiting: list[int], *, block: bool) -> None:
        # the helper's answers read only once this process has no part of its own left, so
        # that, however fast the helper is, a part is still queued at it by then
        if not waiting:
            collect(making, waiting, block=block)

    def seen(making: Any) -> int | None:
        index = taken_back(making)
        if index is not None:
            queued.append(index)
        return index

    monkeypatch.setattr(helper.Making, "_taken_back", seen)
    monkeypatch.setattr(helper.Making, "_collect", late)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert queued
    assert ids == alone_ids
    assert shared == alone


def test_a_machine_without_a_spare_core_makes_every_part_here_and_ends_the_helper(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside other busy processes the helper would only take this process's core."""
    _small_parts(monkeypatch)
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)
    monkeypatch.setattr(cores, "spare", lambda since: False)
    helpers, sent = _helpers_asked(monkeypatch)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert helpers and helpers[0] is not None and _ends(helpers[0].process.pid)
    assert sent == []
    assert ids == alone_ids
    assert shared == alone


def test_a_helper_left_unused_by_a_single_part_is_gone_before_the_ledger(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose alerts make one part makes it here: the helper, spare but of no use, is
    ended before the ledger's insert, not kept to the end of the scan."""
    monkeypatch.setattr(alert_making, "SHARED_PER_PART", 100_000)
    monkeypatch.setattr(alert_making, "PART_BYTES", 1 << 40)
    monkeypatch.setattr(helper.Making, "run", lambda *args: pytest.fail("made beside the helper"))
    spare = pool.Crew.spare
    kept: list[Any] = []
    alive_at_enter: list[bool] = []

    def asked(crew: pool.Crew) -> bool:
        kept.append(crew._team.helper)
        return spare(crew)

    def entering(batch: ledger.Batch, store: Store) -> None:
        alive_at_enter.extend(_running(h.process.pid) for h in kept)
        enter(batch, store)

    enter = ledger.Batch.enter
    monkeypatch.setattr(pool.Crew, "spare", asked)
    monkeypatch.setattr(ledger.Batch, "enter", entering)
    _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert kept and kept[0] is not None
    assert alive_at_enter == [False]


def test_the_helper_is_gone_before_the_alerts_enter_the_ledger(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's insert is where the end of a large run needs the most memory: the helper
    (tens of MB once it has made parts) has handed its memory back by then."""
    monkeypatch.setattr(alert_making, "SHARED_PER_PART", _PER_PART)
    send, enter = helper.Making._send, ledger.Batch.enter
    helpers: list[Any] = []
    alive_at_enter: list[bool] = []

    def sending(making: Any, worker: Any, index: int, waiting: list[int]) -> bool:
        helpers.append(worker)
        return send(making, worker, index, waiting)

    def entering(batch: ledger.Batch, store: Store) -> None:
        # its pid, not `is_alive`: the sentinel of a process the fork server started reads
        # as ended once the server is stopped
        alive_at_enter.extend(not _ends(w.process.pid) for w in helpers)
        enter(batch, store)

    monkeypatch.setattr(helper.Making, "_send", sending)
    monkeypatch.setattr(ledger.Batch, "enter", entering)
    _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert helpers  # it made parts
    assert alive_at_enter and not any(alive_at_enter)


def test_a_helper_from_the_fork_server_is_gone_once_the_parts_are_made(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library's scan gets its workers from the fork server, stopped before the end: the
    helper, forked by it, is ended all the same by the time `make_parts` returns."""
    monkeypatch.setattr(alert_making, "SHARED_PER_PART", _PER_PART)
    make_parts = pool.Crew.make_parts
    kinds: list[str] = []
    running: list[bool] = []

    def making(crew: pool.Crew, *args: Any) -> Any:
        kept = crew._team.helper
        assert kept is not None
        kinds.append(type(kept.process).__name__)
        try:
            return make_parts(crew, *args)
        finally:
            running.append(_running(kept.process.pid))

    monkeypatch.setattr(pool.Crew, "make_parts", making)
    _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert kinds == ["ForkServerProcess"]
    assert running == [False]


def _running(pid: int) -> bool:
    """Whether the process is there now and not a zombie (by its pid: the exit code of a
    process the fork server started reads 255 once the server is stopped, whatever it does)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _ends(pid: int) -> bool:
    """Whether the process ends (or is a zombie) within a few seconds: a signal to end is
    delivered at once, but its death is not."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


def test_a_run_larger_than_the_helper_is_for_makes_every_part_here(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large run's end is its peak of memory: it ends the helper before deciding."""
    monkeypatch.setattr(alert_making, "SHARED_PER_PART", _PER_PART)
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)
    monkeypatch.setattr(local_engine, "HELPED_EVENTS", 1_000)
    sent: list[int] = []
    send = helper.Making._send

    def sending(making: Any, worker: Any, index: int, waiting: list[int]) -> bool:
        sent.append(index)
        return send(making, worker, index, waiting)

    monkeypatch.setattr(helper.Making, "_send", sending)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert sent == []
    assert ids == alone_ids
    assert shared == alone


def test_a_helper_without_a_pidfd_is_not_used_and_is_ended(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where `pidfd_open` exists but fails (gVisor, an old seccomp profile), a helper from the
    fork server could not be ended for certain once the server is gone: it is not used."""
    _small_parts(monkeypatch)
    alone_ids, alone = _ledger(corpus, tmp_path / "one.jsonl", 1)

    def refused(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", refused)
    helpers, sent = _helpers_asked(monkeypatch)
    ids, shared = _ledger(corpus, tmp_path / "two.jsonl", 2)
    assert helpers and helpers[0] is not None and helpers[0].pidfd is None
    assert _ends(helpers[0].process.pid)
    assert sent == []
    assert (ids, shared) == (alone_ids, alone)


def _stops_mid_answer(conn: Any) -> None:
    """A helper that takes a part, begins an answer longer than its socket holds and stops."""
    conn.recv()
    os.write(conn.fileno(), (1 << 20).to_bytes(4, "big") + b"x" * 1000)
    os.kill(os.getpid(), signal.SIGSTOP)


def test_a_helper_stopped_part_way_through_an_answer_is_dropped_and_its_parts_made_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`wait` says only that an answer has begun: the rest of it is waited for no longer
    than the helper's patience, then its parts are made here."""
    import multiprocessing

    monkeypatch.setattr(helper, "HELPER_PATIENCE", 0.5)
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    process = context.Process(target=_stops_mid_answer, args=(theirs,), daemon=True)
    process.start()
    theirs.close()
    stuck = helper.Helper.watched(process, ours)
    try:
        made = helper.Making(stuck, lambda i: ("part", i), lambda part: [part]).run(4)
    finally:
        helper.end_now(stuck)
    assert made == [[("part", i)] for i in range(4)]
    assert _ends(process.pid)
