"""The end of a run beside a helper: a process forked with a scan's workers, reading nothing,
kept after they end to make part of the alerts (their evidence documents and ledger text)
while the scanning process makes the rest (`Making`), which it alone enters in the ledger.

The helper is ended (`end_now`) once the parts are in, when it fails or hangs, or when the run
does without it, in either way it was started (forked from the scanning process, or from the
fork server, which is stopped before the end).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trailhound.engine.part_making import Made, Part
    from trailhound.pipeline.stage import StagePlan

_HELPER_LEAD = 2
"""Parts a helper is given at a time: the one it makes and the next, already in its pipe, so
that it starts the next as soon as it has sent an answer. Given one at a time, it waited for
the scanning process to end a part of its own before it got another: at 1M events it was idle
~60% of the making (CPU 0.28 s of 0.77 s)."""

_SEND_BUFFER = 4 << 20
"""Bytes the scanning process's end of a helper's socket may hold unread (the kernel caps it at
`net.core.wmem_max`): a part (rows and records, up to about 1 MB) is sent whole while the
helper still makes the one before, instead of the send waiting for it to read."""


HELPER_PATIENCE = 5.0
"""Seconds at least that the scanning process, with no part of its own left, waits for an
answer of the helper before it takes the helper for hung (stopped, deadlocked), ends it and
makes its parts itself: a part takes milliseconds (~30 ms at 1M events)."""
_SLOWER = 20
"""How many times longer than this process takes for a part the helper may take for each part
it holds, where that is longer than `HELPER_PATIENCE` (a busy machine, a large part)."""


class Making:
    """Parts of a run's alerts made by the helper and by the scanning process at once: the
    helper is kept given the last parts not yet taken, `_HELPER_LEAD` at a time (parts' costs
    come in streaks, so it takes the next as it is free), while the scanning process makes
    parts from the first on. Once none is left to take, the scanning process takes back the
    part a helper has queued last and makes it too (the first of the two made is kept), so
    that it does not wait for a whole part of the helper's at the end. A part the helper fails
    to make (it died, or raised) is made at home, and that helper is given nothing more; what
    each part made is returned in part order, for the scanning process to enter. (Written for
    any number of helpers; a scan has one: the readers are not kept, their heaps would be the
    end's peak, 130 MB of PSS each at 4M events.)"""

    def __init__(
        self, helper: Helper | None, part: Callable[[int], Part],
        at_home: Callable[[Part], list[Made]],
    ) -> None:  # fmt: skip
        self.part, self.at_home = part, at_home
        # A helper's connection alone tells that it died (EOF): the sentinel of one forked
        # by the fork server reads as ended once the server is stopped, which it is by now.
        self.helpers: dict[Connection, Helper] = {}
        self.given: dict[Connection, list[int]] = {}  # per helper, in the order it makes them
        if helper is not None:
            _widen(helper.conn)
            self.helpers[helper.conn], self.given[helper.conn] = helper, []
        self.made: dict[int, list[Made]] = {}
        self.home = [0.0, 0]  # seconds spent making parts here, and their count (`_patience`)
        # a part is made once (`part` hands each record over once): one a worker failed, or
        # one taken back, is made at home from what it was sent
        self.sent: dict[int, Part] = {}

    def run(self, count: int) -> list[list[Made]]:
        waiting = list(range(count))
        while len(self.made) < count:
            self._give(waiting)
            if waiting:
                self._make_here(waiting.pop(0))
            elif (queued := self._taken_back()) is not None:
                self._make_here(queued)
            if len(self.made) < count:
                self._collect(waiting, block=not waiting and self._taken_back() is None)
        return [self.made[i] for i in range(count)]

    def _make_here(self, index: int) -> None:
        start = time.monotonic()
        part = self.sent.pop(index, None) or self.part(index)
        self.made[index] = self.at_home(part)
        self.home[0] += time.monotonic() - start
        self.home[1] += 1

    def _give(self, waiting: list[int]) -> None:
        """Each helper given the last parts waiting, up to `_HELPER_LEAD`; the first part
        is left for this process."""
        for conn, given in list(self.given.items()):
            while len(given) < _HELPER_LEAD and len(waiting) > 1:
                if not self._send(self.helpers[conn], waiting.pop(), waiting):
                    break

    def _send(self, helper: Helper, index: int, waiting: list[int]) -> bool:
        """Part `index` given to `helper`; False if it is gone (its parts are made here)."""
        part = self.sent[index] = self.sent.get(index) or self.part(index)
        try:
            helper.conn.send((index, part))
        except OSError:
            waiting.append(index)
            self._drop(helper.conn, waiting)
            return False
        self.given[helper.conn].append(index)
        return True

    def _taken_back(self) -> int | None:
        """A part queued behind another at a helper, not yet made: the last such."""
        for given in self.given.values():
            for index in reversed(given[1:]):
                if index not in self.made:
                    return index
        return None

    def _collect(self, waiting: list[int], *, block: bool) -> None:
        """The answers in (waiting for one if `block`, at most `_patience`: a helper that
        sends none by then is ended, and its parts go back to `waiting`)."""
        if not self.given:  # (a wait on nothing would never end)
            return
        ready = wait(list(self.given), timeout=self._patience() if block else 0)
        for conn in ready:
            self._take(conn, waiting)  # type: ignore[arg-type]
        if block and not ready:
            for conn in list(self.given):
                helper = self.helpers[conn]
                self._drop(conn, waiting)
                end_now(helper)  # a stopped or hung process, of no more use

    def _patience(self) -> float:
        """Seconds to wait for an answer of a helper holding the parts it holds."""
        spent, count = self.home
        held = max(len(given) for given in self.given.values())
        return max(HELPER_PATIENCE, _SLOWER * held * spent / max(count, 1))

    def _take(self, conn: Connection, waiting: list[int]) -> None:
        """Every answer a helper has sent; one that ended, or failed a part, is dropped."""
        given = self.given[conn]
        try:
            while given and conn.poll():
                index, made = conn.recv()
                if index != given[0] or isinstance(made, BaseException):
                    raise EOFError(index)  # its parts are made here
                given.pop(0)
                self.made.setdefault(index, made)  # one taken back may be made already
                self.sent.pop(index, None)
        except (EOFError, OSError):
            self._drop(conn, waiting)

    def _drop(self, conn: Connection, waiting: list[int]) -> None:
        """A helper given nothing more: its parts not yet made go first in `waiting`."""
        self.helpers.pop(conn, None)
        lost = [i for i in self.given.pop(conn, []) if i not in self.made]
        waiting[:0] = sorted(lost)


def _widen(conn: Connection) -> None:
    """The scanning process's end of a helper's socket given room for `_SEND_BUFFER` bytes
    unread (as far as the kernel allows; left as it is where it cannot be set), and a deadline
    on each read: `wait` tells only that an answer has begun, and a helper stopped part-way
    through sending a large one would hold `recv`, and the state's transaction, for ever; a
    read that waits longer than `HELPER_PATIENCE` raises instead, and the helper is dropped."""
    with (
        suppress(OSError),
        socket.fromfd(conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as sock,
    ):  # a second handle of the same socket: its options are the socket's
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        seconds = int(HELPER_PATIENCE)
        microseconds = int((HELPER_PATIENCE - seconds) * 1e6)
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, microseconds)
        )


@dataclass
class Helper:
    """The helper process and the scanning process's end of its pipe."""

    process: BaseProcess
    conn: Connection
    pidfd: int | None = None  # a handle on its process (`watched`), to end it by

    @classmethod
    def watched(cls, process: BaseProcess, conn: Connection) -> Helper:
        """The helper with a pidfd of its process, opened while the process it was forked
        from (this one, or the fork server) still waits for it. The helper outlives the fork
        server, and then neither its sentinel (which reads as ended, exit code 255, once the
        server is gone) nor its pid (init reaps it, and the pid may be reused) can end it:
        its pidfd can. None where there are no pidfds (not Linux), or it has ended already."""
        helper = cls(process, conn)
        pid = process.pid
        try:
            pidfd = os.pidfd_open(pid) if pid is not None else None
        except (AttributeError, OSError):
            return helper
        if pidfd is not None and process.exitcode is None:  # not reaped before: its own pid
            helper.pidfd = pidfd
        elif pidfd is not None:
            os.close(pidfd)
        return helper


def end_now(helper: Helper) -> None:
    """The helper killed, and waited for: it holds nothing to write; SIGTERM would wait while
    it is stopped, and an exit that tears down its interpreter would be waited for."""
    pidfd, helper.pidfd = helper.pidfd, None
    if pidfd is not None:
        _kill(pidfd)
    else:
        with suppress(OSError):  # a pid reaped already
            if helper.process.exitcode is None:
                helper.process.kill()
    helper.process.join()  # reaped, if it is this process's child
    helper.conn.close()


def _kill(pidfd: int) -> None:
    """The process of `pidfd` killed and waited for (its pidfd reads as ready once it has
    ended, whichever process reaps it); the pidfd closed. Waited for by `poll`, not `select`,
    which refuses a descriptor numbered 1024 or more: a library's caller may hold that many
    files open."""
    try:
        with suppress(ProcessLookupError):  # it has ended already
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        ended = select.poll()
        ended.register(pidfd, select.POLLIN)
        ended.poll()
    finally:
        os.close(pidfd)


def make(part: Part, plan: StagePlan) -> list[Made]:
    """A part of the alerts at the end of a run, made in the helper for the scanning process."""
    from trailhound import heap
    from trailhound.cloudtrail.documents import rebuilt_documents
    from trailhound.engine import part_making

    made = part_making.made(part, rebuilt_documents(plan.enricher))
    heap.give_back()  # a part's documents (up to 40 kB each) are not held until the next
    return made
