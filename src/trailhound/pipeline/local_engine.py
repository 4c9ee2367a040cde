"""The `duckdb` engine: the stage on this machine, in this process or in worker processes
(`pipeline.pool`), and the guess, before the input is listed, of whether a scan will use
workers (`workers_likely`), so that they can start before the state is opened."""

from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trailhound.pipeline import cores

if TYPE_CHECKING:
    from trailhound.cloudtrail.report import Report
    from trailhound.engine.part_making import Helpers
    from trailhound.pipeline.pool import Crew
    from trailhound.pipeline.stage import StageOutput, StagePlan
    from trailhound.sources import Blob
    from trailhound.state.store import Store

# The stage (pyarrow, DuckDB and the reader) is imported when the engine runs, not with this
# module: a scan of one small file need not load the pool.

AUTO_WORKERS_BYTES = 32 << 20
"""Stored bytes from which `workers=None` reads with one process per usable CPU (about 200,000
events of CloudTrail as S3 delivers it: a second or more of work per core)."""

HOSTED_BYTES = 1 << 20
"""Stored bytes up to which this process filters what it reads in the state's database
(`LocalEngine.host`). A longer read keeps a database of its own: its filters' statements,
autocommitted beside the scan's open transaction, grew dearer (a 250k-event scan in one
process, 4 alternating pairs: 4.37 CPU-s against 3.70, median)."""

HELPED_EVENTS = 2_000_000
"""A run that read more events than this decides and makes its alerts without the helper.
Its idle PSS grows at the end (~26 MB at 4M events, once the readers that shared its pages
are gone; ~50 once it has made parts), and a large run's end is its peak (at 4M events the
tree's peak rose from 346-373 MB to 384-404 with it, against a 400 MB target), while its gain
is fixed (0.1-0.15 s of `finish`), a fraction of a large run's."""


class LocalEngine:
    """The stage on this machine: in this process, or in `workers` processes (None: one per
    core when the input is large enough to repay starting them, `AUTO_WORKERS_BYTES`)."""

    def __init__(self, workers: int | None = 1) -> None:
        self.workers = workers
        self._crew: Crew | None = None
        self._crew_plan: StagePlan | None = None
        self._host: Store | None = None
        self._begun: _Begun | None = None
        self._keep = False
        self._kept: Crew | None = None

    def host(self, store: Store) -> None:
        """Filter a small input that this process reads itself (`HOSTED_BYTES`) in the
        database of `store`, on a connection of its own to it (an error there does not
        abort the store's transaction), rather than in a database of its own, whose making
        costs about 20 ms of CPU."""
        self._host = store

    def start(self, plan: StagePlan, *, before_duckdb: bool = False) -> None:
        """Start the workers for `plan` now, before the input is known, so that their set-up
        overlaps the caller's (opening the state, listing the input): when a number of them
        was given and their fork server runs, or when the caller has opened no DuckDB
        database yet (`before_duckdb`: then they are forked from this process, and with
        `workers=None` there is one per core, the caller having judged the input large
        enough: `workers_likely`). `stage_outputs` with the same plan uses them; `dismiss`
        lets them go unused."""
        from trailhound.pipeline.pool import Crew, server_running

        count = self.workers or (cores.worker_cores() if before_duckdb else 1)
        if self._crew is None and count > 1 and (before_duckdb or server_running()):
            self._crew = Crew.start(plan, count, fork_here=before_duckdb)
            self._crew_plan = plan

    def begin(self, blobs: Iterable[Blob]) -> None:
        """List `blobs` and give the workers that `start` began their first tasks now, so
        that they read while the caller opens its state and makes its detector (~0.1 s of
        wall); `stage_outputs`, with the same plan, takes their answers and lists nothing
        again (the `blobs` it is given are not read). Nothing without such workers. Should
        the input prove not worth them (one blob; with `workers=None`, too few bytes), they
        are let go now and `stage_outputs` reads what was listed here. On an error, or
        Ctrl-C, here or before `stage_outputs`, `dismiss` ends them."""
        crew = self._crew
        if crew is None or self._begun is not None:
            return
        try:
            self._begun = _begin(crew, iter(blobs), judged=self.workers is None)
        except BaseException:
            self.dismiss()
            raise
        if self._begun.listed is not None:  # read here: the workers go unused
            self._crew = None
            crew.dismiss()

    @property
    def begun(self) -> bool:
        """Whether `begin` gave workers their tasks, whose answers `stage_outputs` takes."""
        return self._begun is not None and self._crew is not None

    def keep_workers(self) -> None:
        """Keep the workers that read the input until `release`, to make alerts at the end
        of the run (`kept`)."""
        self._keep = True

    def release_if_large(self, events: int) -> None:
        """End the helper kept (`keep_workers`) now, before deciding, if the run read more
        than `HELPED_EVENTS`."""
        if events > HELPED_EVENTS:
            self.release()

    @property
    def kept(self) -> Helpers | None:
        """The helper kept (`keep_workers`) once the stage is done, if any still is."""
        return self._kept

    def release(self) -> None:
        """End the workers kept, if any. Ended, not told to end: they hold nothing to write,
        and an exit that tears down their interpreter would be waited for."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.release()

    def dismiss(self) -> None:
        """End workers that `start` began and no `stage_outputs` took (nothing if none)."""
        crew, self._crew, self._crew_plan, self._begun = self._crew, None, None, None
        if crew is not None:
            crew.dismiss()

    def stage_outputs(
        self, blobs: Iterable[Blob], plan: StagePlan, report: Report
    ) -> Iterator[StageOutput]:
        workers = self.workers
        if self._begun is None:
            if self._crew_plan is not plan:  # none started, or for another plan
                self.dismiss()
                if workers is not None and workers > 1:
                    self.start(plan)
            self.begin(blobs)
        elif self._crew_plan is not plan:
            self.dismiss()  # their answers are for a plan nobody will decide
            raise ValueError("the workers were given their tasks for another plan")
        begun, crew = self._begun, self._crew
        self._begun, self._crew, self._crew_plan = None, None, None
        if crew is not None and begun is not None:  # the workers have their tasks
            _warm_up(plan)
            here = functools.partial(self._here, plan=plan, report=report)
            if self._keep:
                self._kept = crew
            return _streamed(crew, begun.rest, here, keep=self._keep)
        if begun is not None and begun.listed is not None:
            blobs = begun.listed
        if workers is None or workers > 1:
            listed = list(blobs)
            workers = workers or _automatic_workers(listed)
            if workers > 1 and len(listed) > 1 and all(b.portable for b in listed):
                _warm_up(plan)
                return _in_workers(listed, plan, workers)
            _stop_server()  # the scan may have started it early, before the input was listed
            blobs = listed
        return self._here(blobs, plan, report)

    def _here(
        self, blobs: Iterable[Blob], plan: StagePlan, report: Report
    ) -> Iterator[StageOutput]:
        """The stage in this process, in the host's database when the input is small; that
        database is on one thread meanwhile, as a stage's own is (its filters' statements
        are small, and storing matches sets one thread anyway)."""
        from trailhound.pipeline.stage import Stage

        if self._host is None or not _small(blobs):
            yield from Stage(plan).run(blobs, report)
            return
        with self._host.one_thread():
            con = self._host.con.cursor()
            try:
                yield from Stage(plan, con).run(blobs, report)
            finally:
                con.close()  # its temporary tables go with it, before the store commits


def _stop_server() -> None:
    """Stop the fork server if one was started: only the pool's module starts it, and a
    scan that never imported it (a small one) need not import multiprocessing to know."""
    if "trailhound.pipeline.pool" in sys.modules:
        from trailhound.pipeline.pool import stop_server

        stop_server()


def _small(blobs: Iterable[Blob]) -> bool:
    """Whether `blobs` are listed and known to hold at most `HOSTED_BYTES`."""
    if not isinstance(blobs, list) or any(b.size is None for b in blobs):
        return False
    return sum(b.size or 0 for b in blobs) <= HOSTED_BYTES


def _warm_up(plan: StagePlan) -> None:
    """This process mostly waits for the workers: it prepares what evidence will need."""
    threading.Thread(target=plan.enricher.warm_up, daemon=True).start()


def _in_workers(listed: list[Blob], plan: StagePlan, workers: int) -> Iterator[StageOutput]:
    from trailhound.pipeline.pool import run_in_workers

    return run_in_workers(listed, plan, workers)


@dataclass
class _Begun:
    """What `LocalEngine.begin` made of the input: the workers' tasks handed out, with `rest`
    to read here after their part (filled as the listing reaches a blob no other process
    can read); or, the workers let go, the input as `listed`, to read here."""

    rest: list[Blob]
    listed: list[Blob] | None = None


def _begin(crew: Crew, blobs: Iterator[Blob], *, judged: bool) -> _Begun:
    """The workers of `crew` given tasks while the input is still being listed (9,147 files:
    0.07 to 0.13 s), so that they read from the first full task on; unless the input proves
    to be one blob, or (`judged`: workers started on a guess) not worth workers by the rule
    any input is judged by. A blob no other process can read (standard input) and all that
    follow it are left to this process, after the workers' part."""
    from trailhound.pipeline.pool import tasks_of

    if judged:
        listed = list(blobs)
        if _automatic_workers(listed) < 2:
            return _Begun([], listed)
        blobs = iter(listed)
    first = list(itertools.islice(blobs, 2))
    if len(first) < 2:
        return _Begun([], first)
    rest: list[Blob] = []
    crew.begin(tasks_of(_portable_part(itertools.chain(first, blobs), rest)))
    return _Begun(rest)


def _streamed(
    crew: Crew, rest: list[Blob], here: Callable[[list[Blob]], Iterator[StageOutput]],
    *, keep: bool = False,
) -> Iterator[StageOutput]:  # fmt: skip
    """The outputs of the tasks `crew` was given, then of `rest`, read here (`here`); the
    crew's helper kept after a complete run if `keep`."""
    from trailhound.pipeline.pool import stop_server

    yield from crew.outputs(keep=keep)
    if rest:
        stop_server()
        yield from here(rest)


def _portable_part(blobs: Iterator[Blob], rest: list[Blob]) -> Iterator[Blob]:
    """`blobs` up to the first that only this process can read; that one and the blobs after
    it go to `rest`, once these are all taken."""
    for blob in blobs:
        if not blob.portable:
            rest.append(blob)
            rest.extend(blobs)
            return
        yield blob


def _automatic_workers(blobs: Sequence[Blob]) -> int:
    """One per usable CPU for an input worth it; starting workers costs about half a second."""
    stored = sum(b.size or 0 for b in blobs)
    return cores.worker_cores() if stored >= AUTO_WORKERS_BYTES else 1


def workers_likely(paths: Sequence[str], workers: int | None) -> bool:
    """Whether a scan of `paths` will most likely read with worker processes, known before its
    input is listed, so that they can start at once (`LocalEngine.start`). Not for one file or
    standard input, which this process reads; else `workers` as given; with None, whether the
    local files and folders among `paths` hold `AUTO_WORKERS_BYTES` (a look that stops there,
    skipping hidden files and folders as the listing does; globs and buckets are not looked
    at). Only a guess: workers started on it are let go when the listed input is a single
    blob or, with `workers` None, holds less than `AUTO_WORKERS_BYTES`."""
    if workers == 1 or not _several(paths):  # one file or standard input: read here
        return False
    if workers is not None:
        return workers > 1
    if cores.worker_cores() < 2:
        return False
    stored = 0
    for path in paths:
        for size in _sizes(path):
            stored += size
            if stored >= AUTO_WORKERS_BYTES:
                return True
    return False


def _several(paths: Sequence[str]) -> bool:
    """Whether `paths` may name more than one blob (the engine reads one in this process)."""
    return len(paths) > 1 or any(p != "-" and not os.path.isfile(p) for p in paths)


def _sizes(path: str) -> Iterator[int]:
    if os.path.isfile(path):
        yield os.path.getsize(path)
        return
    for folder, dirs, names in os.walk(path):  # nothing for what is no folder
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # as the input's listing skips them
        for name in names:
            if name.startswith("."):
                continue
            try:
                yield os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
