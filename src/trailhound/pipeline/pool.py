"""`--workers N`: the stage (read, select, normalize, filter) in N processes.

Blobs are cut into tasks of consecutive blobs; each worker runs the stage over whole tasks and
sends back only matched rows, evidence packs and counts. Results come back in task order, so
the scanning process stores matches in the same order whatever the number of workers, and it
alone decides alerts: state stays correct by construction.

Workers are forked from the scanning process itself when it has imported the stage but opened
no DuckDB database and runs no other thread (the scan command, before it opens the state):
they share its imported pages, and no second process imports it all again. Otherwise (a
caller with DuckDB open or threads running, or no `fork`) they start from a fork server that
has imported the stage: DuckDB's threads and state do not survive a fork.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from trailhound.arrow_setup import own_process
from trailhound.pipeline import cores, helper

if TYPE_CHECKING:
    from trailhound.engine.part_making import Made, Part
    from trailhound.pipeline.stage import Stage, StageOutput, StagePlan
    from trailhound.sources import Blob

# The stage and pyarrow are imported by the workers (from the process they are forked from),
# not with this module: a one-file scan never needs them in another process.

TASK_BYTES = 1_000_000
"""Stored (compressed) bytes per task as `counted_size` counts them, about 7,500 events: enough
that the filter runs over a couple of thousand kept rows at a time, few enough that the last
tasks still spread over the workers and a worker holds little at once (a worker keeps a task's
outputs until it is done: with 3 MB tasks each worker peaked 25 to 35 MB higher, for no CPU
saved). A round million, not 1 MiB: counted bytes, the 1M and 4M corpora's tasks hold as many
events as 1 MiB of stored bytes gave (129 and 454 tasks, 130 and 445 before; at 1 MiB each
worker's peak was ~6 MB higher at 4M)."""
_UNKNOWN_SIZE = 64 << 10  # what a blob of unknown size counts for
FILE_SHARE = 1200
"""Of a file's stored bytes, those a task counts as the file's own, not its events': a gzip'd
records file is ~1.2 KB plus ~133 bytes an event (its head, and the first kilobytes deflate
packs before its window has learnt the records' keys). Counted whole, the bucket layout's
files of ~27 events gave a 1 MB task ~5,800 events against ~7,700 for files of ~170, and a
task's fixed ~6 ms of normalizing, filtering and packing fell on a quarter fewer events (now
~7,300 and ~7,750: the bucket's 43 tasks are 34)."""
_AHEAD = 2
"""Tasks a worker is given at a time: it starts the next as soon as it has sent a result."""
_LEAD = 8
"""Tasks a worker may be given that the caller has not yet taken the answers of. While the
caller stores matches (0.1 to 0.3 s an insert at 1M events) the workers read on about this
many tasks of ~35-40 ms each; their answers wait in the scanning process meanwhile, so this
bounds what piles up there whatever the input's size (at 4M events with two workers: at most
16 answers, 11 MB; with 4 a worker 8 MB, and half the waiting removed)."""

# The stage of this worker process, made once by `_start` (none in the helper).
_stage: Stage | None = None


_SERVER_IMPORTS = (
    "__main__",  # once in the server, not again in each worker
    "trailhound.pipeline.stage",
    # What each worker would otherwise import on first use, after the fork (25 to 40 ms of a
    # worker's CPU, before its first output): the tasks' file openers (unpickling the first
    # task), the compiled skimmer, numpy.ma (pyarrow looks for masked arrays the first time it
    # takes a NumPy array: importing it builds its docstrings, the most of this), and what
    # pyarrow's first Python sequence imports. A name that does not import is skipped.
    "trailhound.sources.files",
    "trailhound.cloudtrail._skim",
    "numpy.ma",
    "dateutil.relativedelta",
    "encodings.utf_16_le",
)
"""Modules imported before any worker is forked, by the fork server or by the scanning process
that forks them itself (`_import_ahead`): plan-independent, so that the workers share them
instead of each importing them."""


_FORK_SAFE_THREADS = frozenset({"jemalloc_bg_thd"})
"""Threads that a fork leaves sound: jemalloc's background thread, which importing pyarrow
starts (its allocator takes its own locks around a fork and starts the thread again in the
child when it needs it; the fork server has always forked with it running)."""


def alone() -> bool:
    """Whether this process may fork workers itself: a Linux process (whose /proc lists the
    threads of every library, DuckDB's and BLAS's included, not only Python's) running no
    thread but this one and `_FORK_SAFE_THREADS`. A fork copies only the calling thread: a
    lock another thread held would stay held in the child for ever."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        others = [t for t in os.listdir("/proc/self/task") if int(t) != threading.get_native_id()]
        return all(_thread_name(t) in _FORK_SAFE_THREADS for t in others)
    except OSError:  # no /proc: not Linux, so not a platform to fork a library's process on
        return False


def _thread_name(task: str) -> str:
    with open(f"/proc/self/task/{task}/comm", encoding="utf-8") as comm:
        return comm.read().strip()


def _import_ahead() -> None:
    """What the fork server would have imported for the workers (`_SERVER_IMPORTS`), here,
    so that workers forked from this process share it rather than each import it."""
    for name in _SERVER_IMPORTS:
        if name == "__main__":  # this process's own
            continue
        with suppress(ImportError):
            importlib.import_module(name)


def start_server() -> None:
    """Start the fork server now, so that its imports overlap with the caller's own work."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_SERVER_IMPORTS))
    with _ctrl_c_ignored():
        forkserver.ensure_running()


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored while the fork server starts: it inherits that, so a Ctrl-C at the
    terminal, which reaches the whole process group, leaves the server (and the workers it
    forks) to the scanning process, instead of interrupting its imports with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; nor does it get SIGINT then
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """A SIGINT that arrives inside the block raises KeyboardInterrupt once it is over."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def run_in_workers(
    blobs: Sequence[Blob], plan: StagePlan, workers: int, *, task_bytes: int = TASK_BYTES
) -> Iterator[StageOutput]:
    """The stage's outputs over `blobs`, computed by `workers` processes, in blob order. A
    worker that ends before its work is done ends the scan with a RuntimeError."""
    tasks = cut_into_tasks(blobs, task_bytes)
    crew = Crew.start(plan, max(1, min(workers, len(tasks))))
    crew.begin(tasks)
    yield from crew.outputs()


class Crew:
    """Workers started before their input is known, so that their set-up (0.1 to 0.15 CPU-s
    each: the stage's DuckDB database, its functions) runs while the scanning process lists
    the input; then given their tasks (`begin`, which may come before the caller is ready
    for the answers) and their answers taken (`outputs`), or let go (`dismiss`)."""

    def __init__(self, team: _Team) -> None:
        self._team = team
        self._hand_out: _HandOut | None = None
        self._read_at: tuple[int, int] | None = None  # the machine's CPU times then (`spare`)

    @classmethod
    def start(cls, plan: StagePlan, workers: int, *, fork_here: bool = False) -> Crew:
        """`fork_here`: the caller has opened no DuckDB database (its threads, or a copy of
        its state, would be in every worker): the workers are then forked from this process
        if it runs no other thread (`alone`), else from the fork server."""
        if fork_here:
            _import_ahead()  # before the look at the threads: an import might start one
        context: Any
        if fork_here and alone():
            context = multiprocessing.get_context("fork")
        else:
            start_server()
            context = multiprocessing.get_context("forkserver")
        # A worker started while Ctrl-C interrupts would outlive the scan: Ctrl-C waits for them.
        with _ctrl_c_deferred():
            return cls(_Team.start(context, plan, workers, helped=cores.may_help()))

    def begin(self, tasks: Iterable[list[Blob]]) -> None:
        """Hand out `tasks` from now on, on a thread of this process (`_HandOut`): the workers
        read while the caller does other things (opens its state); what they answer waits
        for `outputs`, at most `_LEAD` tasks a worker. `tasks` may be cut while the input
        is still being listed (by that thread): the next is taken when a worker is ready."""
        assert self._hand_out is None, "the crew's tasks were given already"
        self._hand_out = _HandOut(self._team.workers, tasks)

    def outputs(self, *, keep: bool = False) -> Iterator[StageOutput]:
        """The stage's outputs over the tasks `begin` was given, in their order (a worker
        left without a task ends at once). The crew's helper, which reads nothing, ends with
        them, unless `keep`: then it stays, after a complete run, to make alerts at the end
        of it (`make_parts`) until `release`. A worker that ends before its work is done
        raises a RuntimeError."""
        hand_out = self._hand_out
        assert hand_out is not None, "the crew was given no tasks (`begin`)"
        finished = False
        try:
            while (outputs := hand_out.next_answer()) is not None:
                yield from outputs
            finished = True
        finally:
            self._end(finished, keep=keep)

    def spare(self) -> bool:
        """`Helpers.spare`: whether this process may use two cores and the machine had one
        idle since the reading ended (`cores.spare`), and the helper can be ended for certain
        (its pidfd: where `pidfd_open` exists but fails, as under gVisor or an old seccomp
        profile, one from the fork server could not be); if not, the helper is ended now."""
        helper = self._team.helper
        if helper is not None and helper.pidfd is not None and cores.spare(self._read_at):
            return True
        self._team.end_helper()
        return False

    def make_parts(
        self, count: int, part: Callable[[int], Part], at_home: Callable[[Part], list[Made]]
    ) -> list[list[Made]]:
        """`Helpers.make_parts` with the helper kept (`outputs(keep=True)`), which is ended
        once the parts are in: the ledger's insert and forgetting that follow are the end's
        peak at 4M events, and the helper's PSS (~50 MB once it has made parts) would add to
        it. A second call makes every part here."""
        try:
            return helper.Making(self._team.helper, part, at_home).run(count)
        finally:
            self._team.end_helper()

    def release(self) -> None:
        """End the helper kept, if any."""
        self._team.end_helper()

    def dismiss(self) -> None:
        """End the workers and their server, whatever they were given: their work is not
        wanted (the caller failed before it took their answers, or has none for them)."""
        self._end(False)

    def _end(self, finished: bool, *, keep: bool = False) -> None:
        hand_out, self._hand_out = self._hand_out, None
        if hand_out is not None:
            hand_out.close()  # before the workers end: it waits on their pipes
        self._team.stop(finished)
        if not (finished and keep):
            self._team.end_helper()
        self._read_at = cores.cpu_times()
        stop_server()


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    given: int = 0  # tasks sent and not yet answered
    told_to_end: bool = False  # sent None: it ends once its tasks are answered


class _Team:
    """Worker processes, each with a connection of its own, in place of `multiprocessing.Pool`.

    Pool's thread that watches its workers also waits on the pipe of results, so it spins for
    as long as a result lies there unread: with batches of matches 0.3 to 0.4 CPU-s of the
    scanning process at 1M events, on the cores the workers need. Here one thread of the
    scanning process waits on the workers' pipes and reads each result as it comes
    (`_HandOut`), and a worker sends from a thread of its own, so that it reads on while the
    scanning process stores."""

    def __init__(self, workers: list[_Worker], kept: helper.Helper | None) -> None:
        self.workers = workers
        self.helper = kept  # reads nothing: makes alerts at the end of the run (`Making`)

    @classmethod
    def start(cls, context: Any, plan: StagePlan, count: int, *, helped: bool) -> _Team:
        """`count` workers and, if `helped`, the helper, started beside them so that it
        shares what they share (it is a copy of the same process, not a later fork of a
        larger one)."""
        workers: list[_Worker] = []
        for helps in [False] * count + [True] * helped:
            ours, theirs = context.Pipe()
            target: Callable[..., None]
            args: tuple[object, ...]
            if context.get_start_method() == "fork":
                strangers = [*(w.conn for w in workers), ours]
                target, args = _serve_forked, (theirs, plan, strangers, helps)
            else:
                target, args = _serve, (theirs, plan, helps)
            process = context.Process(target=target, args=args, daemon=True)
            process.start()
            theirs.close()
            workers.append(_Worker(process, ours))
        if not helped:
            return cls(workers, None)
        last = workers[-1]
        return cls(workers[:-1], helper.Helper.watched(last.process, last.conn))

    def end_helper(self) -> None:
        """End the helper: at once (it holds nothing to write, and an exit that tears down
        its interpreter would be waited for)."""
        kept, self.helper = self.helper, None
        if kept is not None:
            helper.end_now(kept)

    def stop(self, finished: bool) -> None:
        """Let the workers go: told to end after a complete run, ended at once otherwise
        (an error or Ctrl-C: their work is not wanted)."""
        for worker in self.workers:
            if finished:
                _tell_to_end(worker)
            elif worker.process.is_alive():  # not one that ended when its tasks did: its
                worker.process.terminate()  # pid may be another process's by now
        for worker in self.workers:
            worker.process.join()
            worker.conn.close()


class _HandOut:
    """The thread of the scanning process that receives the workers' answers and gives each
    worker its next task as soon as it answers, whatever the caller does meanwhile (storing
    matches takes 0.1 to 0.3 s an insert, longer than the `_AHEAD` tasks a worker holds:
    when the caller gave the tasks, both workers then waited). The caller takes the answers
    in task order (`next_answer`); a worker's death, an exception in a worker, or one raised
    while the tasks are listed reaches it there. At most `_LEAD` tasks a worker are given and
    not yet taken, so that what waits here stays bounded whatever the input."""

    def __init__(self, workers: list[_Worker], tasks: Iterable[list[Blob]]) -> None:
        self._workers = workers
        self._waiting = enumerate(tasks)
        self._room = _LEAD * len(workers)
        self._done: dict[int, list[StageOutput]] = {}
        self._given = 0  # tasks given so far (only the thread counts them)
        self._taken = 0  # answers the caller took so far
        self._listed = False  # every task was given
        self._short = False  # the thread waits for the caller to take an answer
        self._stopping = False
        self._error: BaseException | None = None
        self._over = False  # the thread has ended
        self._changed = threading.Condition()
        self._woken, self._wake = os.pipe()  # how the caller reaches the thread in `wait`
        self._thread = threading.Thread(target=self._serve, name="hand-out", daemon=True)
        self._thread.start()

    def next_answer(self) -> list[StageOutput] | None:
        """The next task's outputs, once answered; None once every task was."""
        with self._changed:
            while self._taken not in self._done:
                if self._error is not None:
                    raise self._error
                if self._over:
                    return None
                self._changed.wait()
            outputs = self._done.pop(self._taken)
            self._taken += 1
            if self._short:
                self._short = False
                os.write(self._wake, b".")
        return outputs

    def close(self) -> None:
        """End the thread (at once when tasks are left: the caller wants no more answers)."""
        self._stopping = True
        os.write(self._wake, b".")
        self._thread.join()
        os.close(self._wake)
        os.close(self._woken)

    def _serve(self) -> None:
        error: BaseException | None = None
        try:
            while not self._stopping:
                self._give_all()
                if self._listed and not any(w.given for w in self._workers):
                    break  # every task answered
                self._receive()
        except BaseException as exc:  # the caller raises it
            error = exc
        with self._changed:
            self._error = error
            self._over = True
            self._changed.notify()

    def _give_all(self) -> None:
        """Tasks to every worker that has fewer than `_AHEAD`, while there is room, one to
        each in turn: every worker has a first task before any has a second (a task's
        pickle, up to ~120 KB on a bucket's small files, may not fit in a pipe whose worker
        is still setting up, and the send waits for that worker to take it). With none
        left, word to every worker that it may end after the ones it has, so that its
        memory (130 to 190 MB of PSS) is given back while the others finish theirs and the
        scanning process stores them, not when the last answer is in."""
        for depth in range(1, _AHEAD + 1):
            for worker in self._workers:
                if worker.given < depth and not self._give_next(worker):
                    return

    def _give_next(self, worker: _Worker) -> bool:
        """The next task to `worker`; False when there is no room or no task left."""
        if self._listed or not self._room_left():
            return False
        task = next(self._waiting, None)
        if task is None:
            self._listed = True
            for each in self._workers:
                _tell_to_end(each)
            return False
        _give(worker, task)
        self._given += 1
        return True

    def _room_left(self) -> bool:
        with self._changed:
            self._short = self._given - self._taken >= self._room
            return not self._short

    def _receive(self) -> None:
        """The answers that are in (or a word from the caller), each filed under its task."""
        busy = {w.conn: w for w in self._workers if w.given}
        ended = {w.process.sentinel: w for w in busy.values()}
        for ready in wait([*busy, *ended, self._woken]):
            if ready == self._woken:
                os.read(self._woken, 4096)
                continue
            worker = busy.get(ready)  # type: ignore[call-overload]
            if worker is None:
                continue  # a worker that ended: its connection says how (EOF, or a last answer)
            try:
                index, answer = worker.conn.recv()
            except (EOFError, OSError):  # OSError: it died with our task unread
                raise _ended(worker) from None
            worker.given -= 1
            if isinstance(answer, BaseException):
                raise answer
            with self._changed:
                self._done[index] = answer
                self._changed.notify()


def _give(worker: _Worker, task: tuple[int, list[Blob]]) -> None:
    try:
        worker.conn.send(task)
    except OSError:  # it died before this task: a broken pipe that is not the output's
        raise _ended(worker) from None
    worker.given += 1


def _ended(worker: _Worker) -> RuntimeError:
    """The error of a worker that ended before its work was done (once it is reaped)."""
    worker.process.join()
    code = worker.process.exitcode
    return RuntimeError(f"a worker process ended unexpectedly (exit code {code})")


def _tell_to_end(worker: _Worker) -> None:
    if not worker.told_to_end:
        worker.told_to_end = True
        with suppress(OSError):  # it is gone already
            worker.conn.send(None)


def _serve_forked(
    conn: Connection, plan: StagePlan, strangers: list[Connection], helps: bool
) -> None:
    """`_serve` in a worker forked from the scanning process. It lets go of what it copied
    that is not its own: the scanning process's ends of its pipe and of the pipes of the
    workers forked before it (held open here, they would keep a worker waiting for a task
    for ever once the scanning process is gone: kill -9 left both workers running) and a
    handler the command set (`terminate` must end it as it ends any worker)."""
    for stranger in strangers:
        stranger.close()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _serve(conn, plan, helps)


def _serve(conn: Connection, plan: StagePlan, helps: bool) -> None:
    """A worker process: tasks in, (task number, outputs or the exception) out, until told to
    end or the scanning process is gone. The helper (`helps`) is given only parts of alerts,
    and makes no stage."""
    _start(plan, helps)
    answers: queue.SimpleQueue[tuple[int, object] | None] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(conn, answers), daemon=True)
    sender.start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            break
        if task is None:
            break
        index, work = task
        try:
            answers.put((index, _run(work) if isinstance(work, list) else helper.make(work, plan)))
        except Exception as exc:  # the scanning process raises it, as it would have here
            answers.put((index, exc))
    answers.put(None)
    sender.join()


def _send_all(conn: Connection, answers: queue.SimpleQueue[tuple[int, object] | None]) -> None:
    while (answer := answers.get()) is not None:
        try:
            conn.send(answer)
        except OSError:
            return  # the scanning process is gone
        except Exception:  # an exception that cannot be pickled: its text can
            conn.send((answer[0], RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))


def server_running() -> bool:
    """Whether this process has a fork server running (`start_server`, not yet stopped)."""
    server = getattr(forkserver, "_forkserver", None)
    return getattr(server, "_forkserver_pid", None) is not None


def stop_server() -> None:
    """End the fork server: once the workers are done it only holds memory (its imports,
    60 to 90 MB) through the end of the run, when the scanning process needs the most. The
    next pool starts another.

    It is killed, not asked to exit: an exit tears its interpreter down, pyarrow, NumPy and
    DuckDB included, which the scanning process waited for (60 to 75 ms, about 30 ms of the
    server's CPU) between its last output and the end of the run. The server holds nothing
    that must be written: it only forks, and its workers have ended by now."""
    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)  # CPython's own, which its tests use
    if stop is None:
        return
    pid = getattr(server, "_forkserver_pid", None)
    if isinstance(pid, int):  # our child, not yet reaped (`stop` does): the pid is its own
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    stop()


def cut_into_tasks(blobs: Iterable[Blob], task_bytes: int = TASK_BYTES) -> list[list[Blob]]:
    """Consecutive blobs, cut into tasks of about `task_bytes` stored bytes each, a file's
    own share aside (`counted_size`): so about as many events a task however small the
    files."""
    return list(tasks_of(blobs, task_bytes))


def tasks_of(blobs: Iterable[Blob], task_bytes: int = TASK_BYTES) -> Iterator[list[Blob]]:
    """`cut_into_tasks` as the blobs come: a task is handed on once it is full (or the blobs
    end), so that workers may read the first while the rest of the input is listed."""
    task: list[Blob] = []
    size = 0
    for blob in blobs:
        if size >= task_bytes:
            yield task
            task, size = [], 0
        task.append(blob)
        size += _UNKNOWN_SIZE if blob.size is None else counted_size(blob.size)
    if task:
        yield task


def counted_size(stored: int) -> int:
    """A file's stored bytes as a task counts them: less the file's own share (`FILE_SHARE`),
    but never under half of them, so that a task of files of a few events each (a quiet
    account's, ~1.6 KB) holds at most twice the events it did, not four times."""
    return max(stored - FILE_SHARE, stored // 2)


def _start(plan: StagePlan, helps: bool) -> None:
    global _stage
    # Ctrl-C reaches every process of the terminal's group: the scanning process alone
    # answers it (it ends the workers), so a worker neither prints a traceback nor dies mid-task
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from trailhound import heap
    from trailhound.pipeline.stage import Stage

    # Arrow's own allocator keeps what a task freed for later; the system's gives it back
    # (`own_process`), and its threads share one arena of it rather than each keeping one
    own_process()
    heap.one_arena()
    if not helps:
        _stage = Stage(plan)
    # a worker holds no cycles worth collecting; the collector would only walk its objects
    gc.disable()


def _run(blobs: list[Blob]) -> list[StageOutput]:
    assert _stage is not None, "the worker's stage was not made"
    # No malloc_trim between tasks: the next task needs the same memory again, and handing it
    # back made the workers fault it in anew, a sixth of their time, for no lower peak.
    return list(_stage.run(blobs))
