"""The simulation run: slot by slot, generate, judge against the answer key, deliver.

Time advances in 5-minute slots. Each slot gathers the steady workloads' calls, the scheduled
activity and the attack steps that fall in it, orders them by event time, lets the answer-key
oracle see every DynamoDB call, and hands each kept record to delivery. Nothing but the
current slot, the day's schedule and the not-yet-delivered records is held in memory, so the
run streams whatever the volume.
"""

from __future__ import annotations

import gc
import heapq
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import iptocc
import orjson

from trailhound.errors import TrailhoundError
from trailhound.simulate import attacks, expected, schedule
from trailhound.simulate.background import SteadyTraffic
from trailhound.simulate.facts import DYNAMODB, Facts
from trailhound.simulate.oracle import ExpectedAlert, Oracle
from trailhound.simulate.records import Record, Recorder
from trailhound.simulate.writer import DELIVERY_SECONDS, DeliveryWriter

DEFAULT_DAYS = 4
DEFAULT_START = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday: four working days by default
DEFAULT_EVENTS_PER_DAY = 25_000
# What the schedule adds per working day and per weekend day, measured; it does not scale
# with --events, so the steady workloads get what remains of the requested total.
SCHEDULED_PER_WORKDAY = 340
SCHEDULED_PER_WEEKEND_DAY = 40
ANSWER_KEY = "answer_key.json"
ANSWER_KEY_MARK = "trailhound_answer_key"
"""The answer key is `{"trailhound_answer_key": 1, "alerts": [...]}`: the reader knows the
member and skips the file with one note, so a scan of the simulator's folder reads the logs
and says nothing worse about the key beside them."""

_ATTACK, _SCHEDULED, _STEADY = 0, 1, 2  # order of records that share a second
MAX_NUDGE = 300  # a call still undecidable this many seconds after its time is left out


class SimulationError(TrailhoundError):
    """The simulation cannot run with these options or into this folder."""


@dataclass(frozen=True, slots=True)
class SimulationResult:
    out_dir: Path
    answer_key: Path
    start: datetime
    days: int
    seed: int
    events: int  # records written
    dynamodb_events: int
    files: int
    late_records: int
    bytes_written: int
    max_records_per_file: int
    nudged: int  # calls moved a second later so that no tie or window edge decides the key
    dropped: int  # calls left out after MAX_NUDGE seconds of such moves
    alerts: tuple[ExpectedAlert, ...]
    seconds: float


def simulate(
    out_dir: Path,
    *,
    days: int = DEFAULT_DAYS,
    seed: int = 0,
    events: int | None = None,
    start: datetime | None = None,
) -> SimulationResult:
    """Write `days` of CloudTrail with the attacks of the shipped pack, and its answer key."""
    began = time.perf_counter()
    moment = _check(out_dir, days, events, start)
    origin = int(moment.timestamp())
    total = events if events is not None else DEFAULT_EVENTS_PER_DAY * days
    rng = random.Random(f"trailhound-simulate/{seed}")
    recorder = Recorder(rng, seed)
    writer = DeliveryWriter(out_dir, random.Random(f"trailhound-delivery/{seed}"), origin)
    oracle = Oracle(expected.checks())
    planned = attacks.plan(recorder, origin, days)
    steady_total = max(0, total - _scheduled_estimate(origin, days) - len(planned))
    run = _Run(recorder, writer, oracle, origin, days, steady_total, planned)
    with _no_cyclic_gc():
        run.go()
    alerts = oracle.alerts()
    key_path = out_dir / ANSWER_KEY
    key = {ANSWER_KEY_MARK: 1, "alerts": [a.to_json() for a in alerts]}
    key_path.write_bytes(orjson.dumps(key, option=orjson.OPT_INDENT_2))
    stats = writer.stats
    return SimulationResult(
        out_dir, key_path, moment, days, seed, stats.records, run.dynamodb, stats.files,
        stats.late_records, stats.bytes_written, stats.max_records_per_file, run.nudged,
        run.dropped, tuple(alerts), time.perf_counter() - began,
    )


def read_answer_key(path: Path) -> list[dict[str, Any]]:
    """The alerts an answer key written by `simulate` lists."""
    key = orjson.loads(path.read_bytes())
    if not isinstance(key, dict) or key.get(ANSWER_KEY_MARK) != 1:
        raise SimulationError("not an answer key written by trailhound simulate", where=str(path))
    alerts: list[dict[str, Any]] = key["alerts"]
    return alerts


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Records hold no reference cycles; the cyclic collector would only rescan them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _check(out_dir: Path, days: int, events: int | None, start: datetime | None) -> datetime:
    if days < 1:
        raise SimulationError(f"--days must be at least 1, not {days}")
    if events is not None and events < 1:
        raise SimulationError(f"--events must be positive, not {events}")
    if out_dir.exists() and ((out_dir / "AWSLogs").exists() or (out_dir / ANSWER_KEY).exists()):
        raise SimulationError("already holds a simulation; choose an empty folder",
                              where=str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    moment = start or DEFAULT_START
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _scheduled_estimate(origin: int, days: int) -> int:
    total = 0
    for d in range(days):
        weekday = ((origin + d * 86400) // 86400 + 3) % 7
        total += SCHEDULED_PER_WORKDAY if weekday < 5 else SCHEDULED_PER_WEEKEND_DAY
    return total


@lru_cache(maxsize=4096)
def _country(address: str) -> str | None:
    try:
        return iptocc.country_code(address)
    except ValueError:
        return None


Item = tuple[int, int, int, Record]  # event time, kind, sequence number, record


class _Run:
    def __init__(self, recorder: Recorder, writer: DeliveryWriter, oracle: Oracle, origin: int,
                 days: int, steady_total: int, planned: list[tuple[int, Record]]) -> None:
        self.recorder = recorder
        self.writer = writer
        self.oracle = oracle
        self.origin = origin
        self.end = origin + days * 86400
        self.slots = days * 86400 // DELIVERY_SECONDS
        self.steady = SteadyTraffic(steady_total, origin, self.slots, DELIVERY_SECONDS)
        self.queue: list[Item] = []  # scheduled and attack steps, and calls nudged past a slot
        self._seq = 0
        self._push(planned, _ATTACK)
        self._day_loaded = -1
        self.dynamodb = 0
        self.nudged = 0
        self.dropped = 0
        self._nudged_from: dict[int, int] = {}  # sequence number -> time before any nudge

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _push(self, items: list[tuple[int, Record]], kind: int) -> None:
        for t, rec in items:
            if self.origin <= t < self.end:
                heapq.heappush(self.queue, (t, kind, self._next_seq(), rec))

    def go(self) -> None:
        for slot in range(self.slots):
            t0 = self.origin + slot * DELIVERY_SECONDS
            self._load_day(t0)
            self._emit(self._slot_events(slot, t0), t0 + DELIVERY_SECONDS)
            self.writer.flush_before(slot + 1)
        self.writer.close()

    def _load_day(self, t0: int) -> None:
        day = t0 - t0 % 86400
        if day != self._day_loaded:
            self._day_loaded = day
            self._push(schedule.day_plan(self.recorder, day), _SCHEDULED)

    def _slot_events(self, slot: int, t0: int) -> list[Item]:
        steady: list[tuple[int, Record]] = []
        self.steady.events(self.recorder, slot, t0, steady)
        items = [(t, _STEADY, self._next_seq(), rec) for t, rec in steady]
        limit = t0 + DELIVERY_SECONDS
        while self.queue and self.queue[0][0] < limit:
            items.append(heapq.heappop(self.queue))
        items.sort(key=_order)
        return items

    def _emit(self, items: list[Item], limit: int) -> None:
        """Deliver the slot's calls in time order; a call the key could not judge for certain
        (a tie or a window edge) is moved one second later and judged again."""
        later: list[Item] = []
        for item in items:
            while later and later[0] < item:
                self._judge(heapq.heappop(later), later)
            self._judge(item, later)
        while later:
            item = heapq.heappop(later)
            if item[0] < limit:
                self._judge(item, later)
            else:
                heapq.heappush(self.queue, item)

    def _judge(self, item: Item, later: list[Item]) -> None:
        t, _, _, rec = item
        source, oracle = rec["eventSource"], self.oracle
        if oracle.interested(source, rec["eventName"]) and not oracle.offer(
                Facts(rec, t, _country)):
            self._nudge(item, later)
            return
        if source == DYNAMODB:
            self.dynamodb += 1
        self.writer.add(rec, t)

    def _nudge(self, item: Item, later: list[Item]) -> None:
        t, kind, seq, rec = item
        first = self._nudged_from.pop(seq, t)
        if t + 1 - first > MAX_NUDGE:
            self.dropped += 1  # never judged, never written: the key does not know it
            return
        self.nudged += 1
        rec["eventTime"] = self.recorder.time_text(t + 1)
        moved = (t + 1, kind, self._next_seq(), rec)
        self._nudged_from[moved[2]] = first
        heapq.heappush(later, moved)


def _order(item: Item) -> tuple[int, int, int]:
    return item[0], item[1], item[2]
