"""Where a scan's CPU goes, step by step, on one core: the numbers behind bench/obstacles.md.

    python bench/stages.py DIR            # DIR: a corpus folder (holds AWSLogs/)
    python bench/stages.py DIR --files 2000

Runs the steps a scan worker runs (read and inflate, split and decode, select, normalize,
filter, thin and pack evidence) over the corpus in this one process, timing each with the
process's CPU clock, and prints two Markdown tables: microseconds per event read for each step,
and, for normalization, microseconds per record of each DynamoDB action (the columns wanted
differ by action). Between them, the CPU per event of one more pass through a worker's whole
stage (`Stage.run`), which adds what lies between the steps (the kept records' own copies of
their members, batching). The scanning process's own work (start-up, storing, deciding) is not here:
run.py measures the whole scan.

Last, the stage on a skimmer's columns (default on; `--no-skim` leaves it out): the same
files through `Stage.run` the way a scan reads them, records files through the compiled
skimmer and columnar normalization, against the usual way (every record decoded), in
alternating runs, with the skimmer's way step by step.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
from like_the_command import set_up

from trailhound.cloudtrail.ecs import Normalized, normalize
from trailhound.cloudtrail.envelopes import Found, split
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.partial import PartialNormalizer
from trailhound.cloudtrail.reader import DEFAULT_BATCH_SIZE, Skim, blobs_of
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import Skimmed, Skimmer, Together, skimmed_all, skimmed_together
from trailhound.cloudtrail.skim_rows import SkimNormalizer, SkimRows
from trailhound.engine import evidence
from trailhound.engine.eligibility import Eligibility
from trailhound.engine.filtering import ITEM, FilterPlan, Matcher
from trailhound.engine.prefilter import column_plan, stored_columns
from trailhound.engine.udfs import register
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.sources import Blob, open_source

T = TypeVar("T")
STEPS = (
    "read and inflate",
    "split and decode",
    "select",
    "normalize",
    "filter (rules' queries)",
    "thin and pack evidence",
)


class Clock:
    """CPU seconds spent per step."""

    def __init__(self) -> None:
        self.spent: defaultdict[str, float] = defaultdict(float)

    def time(self, step: str, work: Callable[[], T]) -> T:
        started = time.process_time()
        try:
            return work()
        finally:
            self.spent[step] += time.process_time() - started


def main() -> None:
    set_up()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=None, help="only the first N files")
    parser.add_argument("--no-skim", action="store_true", help="leave out the skimmer's stage")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each way")
    parser.add_argument(
        "--tasks", action="store_true",
        help="the skimmer's table with one `Stage.run` per 1 MB task, as a scan's workers run",
    )  # fmt: skip
    args = parser.parse_args()
    print(measure(args.corpus, args.files))
    if not args.no_skim:
        print()
        print(skim_table(args.corpus, args.files, args.rounds, tasks=args.tasks))


def measure(corpus: Path, files: int | None = None) -> str:
    """The two tables, for the first `files` files of the corpus (all by default)."""
    gc.disable()  # as in a scan: nothing here makes cycles
    rules = load_rules([shipped_pack_dir()]).rules
    run = _Run(rules)
    selected: list[Record] = []
    for records in _records(corpus, files, run.clock):
        run.events += len(records)
        selected += run.clock.time("select", lambda: [records[i] for i in run.pick(records)])  # noqa: B023
        if len(selected) >= DEFAULT_BATCH_SIZE:
            run.batch(selected)
            selected = []  # as in a worker, a batch's records (and their files) go
    if selected:
        run.batch(selected)
    steps = _steps_table(run.clock, run.events)
    whole = _whole_stage(rules, corpus, files)  # second: the first pass warms what is cached
    stage = (
        f"The same files through a worker's whole stage (`Stage.run`: the steps above, and the "
        f"bookkeeping between them, such as copying the kept records' members): "
        f"**{whole / run.events * 1e6:.2f} µs** per event."
    )
    return "\n\n".join([steps, stage, _actions_table(run.by_action)])


def _whole_stage(rules: list[Rule], corpus: Path, files: int | None) -> float:
    """CPU seconds of one pass of a worker's stage over the files."""
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    stage = Stage(StagePlan.build(rules, enricher=enricher, filters=filters, skim="off"))
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))[:files]
    started = time.process_time()
    for _ in stage.run(blobs, Report()):
        pass
    return time.process_time() - started


@dataclass
class ActionCost:
    records: int = 0
    seconds: float = 0.0
    columns: int = 0


class _Run:
    """The worker's steps over batches of selected records, timed; and, timed apart, the
    normalization of each batch's records action by action."""

    def __init__(self, rules: list[Rule]) -> None:
        self.clock = Clock()
        self.events = 0
        self.enricher = Enricher.create()
        self.enricher.warm_up()
        self.columns_for = column_plan(rules, []).columns_for
        self.normalizer = PartialNormalizer(self.columns_for)
        self.now = datetime.now(UTC)
        filters = FilterPlan.build(rules, now=self.now)
        # the stage's own selection: the picking and the counts a worker keeps of every record
        plan = StagePlan.build(rules, enricher=self.enricher, filters=filters)
        self.pick = Stage(plan)._select
        con = duckdb.connect()
        con.execute("SET threads = 1")
        register(con)
        self.matcher = Matcher(filters, con)
        self.keep = stored_columns(rules)
        self.eligibility = Eligibility.build(rules)
        self.by_action: dict[str, ActionCost] = defaultdict(ActionCost)

    def batch(self, records: list[Record]) -> None:
        clock = self.clock
        result = clock.time("normalize", lambda: self.normalizer(records, self.now, self.enricher))
        if result.order is not None:
            records = [records[i] for i in result.order]
        matched = clock.time("filter (rules' queries)",
                             lambda: self.matcher.match(result.batch, keep=self.keep))  # fmt: skip
        if matched is not None:
            clock.time("thin and pack evidence", lambda: self._thin_and_pack(matched, records))
        self._by_action(records)

    def _thin_and_pack(self, matched: pa.Table, records: list[Record]) -> bytes:
        masks = self.eligibility.masks(matched)
        rows = matched.filter(pa.array(masks.evidence & masks.store)).column(ITEM).to_pylist()
        return evidence.pack([records[i] for i in sorted(set(rows))])

    def _by_action(self, records: list[Record]) -> None:
        groups: dict[tuple[str | None, str | None], list[Record]] = defaultdict(list)
        for record in records:
            groups[(record.eventSource, record.eventName)].append(record)
        for (source, action), group in groups.items():
            fields = self.columns_for(source, action)
            started = time.process_time()
            normalize(group, ingested=self.now, enricher=self.enricher, fields=fields)
            cost = self.by_action[action or ""]
            cost.seconds += time.process_time() - started
            cost.records += len(group)
            cost.columns = len(fields)


def _records(corpus: Path, files: int | None, clock: Clock) -> Iterator[list[Record]]:
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))[:files]
    for blob in blobs:
        data = clock.time("read and inflate", lambda: b"".join(blob.chunks()))  # noqa: B023
        found = clock.time("split and decode", lambda: list(split([data])))  # noqa: B023
        for item in found:
            if isinstance(item, Found):
                yield item.records


SKIM_STEPS = (
    "skim (the compiled skimmer)",
    "select and count, from columns",
    "normalize (from columns; the rows left decoded and normalized)",
    "filter, thin and pack evidence",
)


def skim_table(corpus: Path, files: int | None, rounds: int, *, tasks: bool = False) -> str:
    """CPU per event of `Stage.run` the usual way and the skimmer's way, in alternating runs
    (the best of each), with the skimmer's way step by step. With `tasks`, each run takes the
    files as a scan cuts them for its workers (`pool.cut_into_tasks`), a `Stage.run` a task:
    a task of 1 MB is one batch of a few thousand rows, where fixed costs per batch weigh."""
    rules = load_rules([shipped_pack_dir()]).rules
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))[:files]
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    plans = {
        way: StagePlan.build(rules, enricher=enricher, filters=filters, skim=way)
        for way in ("off", "compiled")
    }
    if Stage(plans["compiled"])._skim is None:
        return "The compiled skimmer is not built here (`pip install -e .` with a C compiler)."
    runs = cut_into_tasks(blobs) if tasks else [blobs]
    usual: list[float] = []
    skimmed: list[tuple[float, Clock, int]] = []
    for _ in range(rounds):
        usual.append(_usual_stage(plans["off"], runs))
        skimmed.append(_skim_stage(plans["compiled"], runs))
    events = skimmed[0][2]
    best, clock, _ = min(skimmed, key=lambda run: run[0])
    lines = [
        f"The stage on the compiled skimmer's columns, {len(blobs):,} files, {events:,} "
        f"events{f' in {len(runs)} tasks' if tasks else ''} (best of {rounds} alternating "
        f"runs, CPU µs per event read):",
        "",
        "| way | µs per event |",
        "|---|---:|",
        f"| usual (decode every record, `Stage.run`) | {min(usual) / events * 1e6:.2f} |",
        f"| on the skimmer's columns (`Stage.run`) | {best / events * 1e6:.2f} |",
    ]
    lines += ["", "| step of the skimmer's way | µs per event |", "|---|---:|"]
    for step in SKIM_STEPS:
        lines.append(f"| {step} | {clock.spent[step] / events * 1e6:.2f} |")
    rest = best - sum(clock.spent.values())
    lines.append(f"| the rest (read, inflate, copy spans, batch) | {rest / events * 1e6:.2f} |")
    return "\n".join(lines)


def _usual_stage(plan: StagePlan, runs: list[list[Blob]]) -> float:
    stage = Stage(plan)
    gc.collect()
    started = time.process_time()
    for blobs in runs:
        for _ in stage.run(blobs, Report()):
            pass
    return time.process_time() - started


def _skim_stage(plan: StagePlan, runs: list[list[Blob]]) -> tuple[float, Clock, int]:
    """CPU seconds of `Stage.run` on the plan's skimmer, the time of its steps, and the
    events read."""
    clock = Clock()
    stage = Stage(plan)
    real = stage._skim
    assert real is not None
    stage._skim = Skim(
        _TimedSkimmer(real.skimmer, clock),
        lambda skimmed: clock.time(SKIM_STEPS[1], lambda: real.select(skimmed)),
        _TimedNormalizer(real.normalizer, clock),
    )  # fmt: skip
    matches = stage._matches
    stage._matches = lambda batch, records: clock.time(  # type: ignore[method-assign]
        SKIM_STEPS[3], lambda: matches(batch, records)
    )
    gc.collect()
    started = time.process_time()
    events = sum(out.events for blobs in runs for out in stage.run(blobs, Report()))
    return time.process_time() - started, clock, events


class _TimedSkimmer:
    """The stage's own skimmer, timed, taking one text a call or many as it does."""

    def __init__(self, real: Skimmer, clock: Clock) -> None:
        self._real, self._clock = real, clock

    def __call__(self, text: bytes) -> Skimmed | None:
        return self._clock.time(SKIM_STEPS[0], lambda: self._real(text))

    def many(self, texts: Sequence[bytes]) -> list[Skimmed | None]:
        return self._clock.time(SKIM_STEPS[0], lambda: skimmed_all(self._real, texts))

    def together(self, texts: Sequence[bytes]) -> Together:
        return self._clock.time(SKIM_STEPS[0], lambda: skimmed_together(self._real, texts))


class _TimedNormalizer(SkimNormalizer):
    """The stage's own normalizer, timed."""

    def __init__(self, real: SkimNormalizer, clock: Clock) -> None:
        self.__dict__.update(real.__dict__)
        self._real, self._clock = real, clock

    def __call__(self, rows: SkimRows, ingested: datetime, enricher: Enricher) -> Normalized:
        return self._clock.time(SKIM_STEPS[2], lambda: self._real(rows, ingested, enricher))


def _steps_table(clock: Clock, events: int) -> str:
    total = sum(clock.spent.values())
    lines = [
        f"One process, {events:,} events, CPU time per step (µs per event read):",
        "",
        "| step | µs per event | share |",
        "|---|---:|---:|",
    ]
    for step in STEPS:
        spent = clock.spent[step]
        lines.append(f"| {step} | {spent / events * 1e6:.2f} | {spent / total:.0%} |")
    lines.append(f"| **all** | **{total / events * 1e6:.2f}** | |")
    return "\n".join(lines)


def _actions_table(by_action: dict[str, ActionCost]) -> str:
    total = sum(cost.seconds for cost in by_action.values())
    lines = [
        "Normalizing the selected records, action by action (each action's records alone, with",
        "the columns the rules read for it):",
        "",
        "| action | records | µs per record | columns | share of normalizing |",
        "|---|---:|---:|---:|---:|",
    ]
    ranked = sorted(by_action.items(), key=lambda item: item[1].seconds, reverse=True)
    for action, cost in ranked[:10]:
        lines.append(
            f"| {action} | {cost.records:,} | {cost.seconds / cost.records * 1e6:.1f} | "
            f"{cost.columns} | {cost.seconds / total:.0%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
