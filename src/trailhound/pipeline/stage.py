"""Blobs in, matched rows out: read, skip what no rule can match, normalize, filter.

Everything here is a pure function of the blobs it is given, so it runs the same in the
scanning process or in a worker process (`trailhound.pipeline.pool`). What leaves it is small:
the rows some rule matched (only the columns deciding the rules reads), one evidence pack of
the records behind them, and counts. Decisions (windows, terms, alerts) are never made here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import duckdb
import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trailhound.cloudtrail import columnar
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.kept import KeptRows
from trailhound.cloudtrail.partial import PartialNormalizer
from trailhound.cloudtrail.reader import DEFAULT_BATCH_SIZE, Skim, read_selected
from trailhound.cloudtrail.record import Record, parse_event_time
from trailhound.cloudtrail.report import Changed, Report, SetAside, Skipped
from trailhound.cloudtrail.skim import MakeSkimmer, Skimmed, compiled_skimmer
from trailhound.cloudtrail.skim_reference import reference_skimmer
from trailhound.cloudtrail.skim_rows import SkimNormalizer
from trailhound.engine import evidence
from trailhound.engine.codes import CodedColumns
from trailhound.engine.eligibility import Eligibility, Matched
from trailhound.engine.filtering import ITEM, RULE_ID, FilterPlan, Matcher
from trailhound.engine.prefilter import (
    ColumnPlan,
    Selection,
    column_plan,
    selection,
    stored_columns,
)
from trailhound.engine.udfs import register
from trailhound.pipeline.coverage import COUNTED_PATHS, DYNAMODB, TIMELINE_STEP, Counted, Coverage
from trailhound.rules.model import Rule, RuleException
from trailhound.sources import Blob
from trailhound.sources.ahead import fetched_ahead

_TIMESTAMP = pa.timestamp("us", tz="UTC")

SKIMMERS: Final[dict[str, MakeSkimmer]] = {
    "compiled": compiled_skimmer,  # None until the extension is built: then the usual way
    "reference": reference_skimmer,  # slow: for tests that hold the two ways to one answer
}
"""How a stage may read records files into columns; any other name (`off`) reads every file
the usual way."""
SKIM_VARIABLE: Final = "TRAILHOUND_SKIM"
"""Names the skimmer a scan's stages use (default `compiled`): a switch for tests and the
benchmark, read when a plan is built."""


@dataclass(frozen=True, slots=True)
class StagePlan:
    """What the stage needs to know, worked out once from the rules; picklable."""

    filters: FilterPlan
    selection: Selection
    columns: ColumnPlan
    stored: frozenset[str]
    eligibility: Eligibility
    enricher: Enricher
    batch_size: int = DEFAULT_BATCH_SIZE
    skim: str = "compiled"  # a name in `SKIMMERS`, or `off`

    @classmethod
    def build(
        cls,
        rules: Sequence[Rule],
        *,
        enricher: Enricher,
        filters: FilterPlan,
        exceptions: Sequence[RuleException] = (),
        batch_size: int = DEFAULT_BATCH_SIZE,
        skim: str | None = None,
    ) -> StagePlan:
        """The plan for `rules` with the exceptions, whose filters (`FilterPlan.build` with
        the same rules, exceptions and time window) the caller already has. `skim` defaults
        to `$TRAILHOUND_SKIM`, else `compiled`."""
        return cls(
            filters=filters,
            selection=selection(rules),
            columns=column_plan(rules, exceptions),
            stored=stored_columns(rules),
            eligibility=Eligibility.build(rules),
            enricher=enricher,
            batch_size=batch_size,
            skim=skim if skim is not None else os.environ.get(SKIM_VARIABLE, "compiled"),
        )


@dataclass
class Problems:
    """What a stage told its report, kept to be told again to the report that counts."""

    set_aside: list[tuple[str, str, str | None, str, int | None]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)

    def report(self) -> Report:
        return Report(
            on_problem=self._problem, on_skip=self.skipped.append, on_change=self.changed.append
        )

    def _problem(self, p: SetAside) -> None:
        self.set_aside.append((p.reason, p.where or "", p.position, p.detail, p.records))

    def replay(self, report: Report) -> None:
        for reason, where, position, detail, records in self.set_aside:
            report.set_aside(
                SetAside(reason, where=where, position=position, detail=detail, records=records)
            )
        for skipped in self.skipped:
            report.skip(skipped)
        for changed in self.changed:
            report.change(changed)


@dataclass
class StageOutput:
    """One normalized batch's worth of results (or, last, only the counts left over)."""

    matched: pa.Table | None = None
    records: bytes | None = None  # the evidence pack; a row's `evidence_item` indexes it
    events: int = 0  # records read, whether kept or not
    latest: int | None = None  # the newest event time read (epoch µs)
    dynamodb: Counter[str] = field(default_factory=Counter)  # for Coverage
    dynamodb_times: Counter[int] = field(default_factory=Counter)  # Coverage.timeline
    dynamodb_places: Counter[tuple[str, str]] = field(default_factory=Counter)  # Coverage.places
    hits: Counter[str] = field(default_factory=Counter)  # rows each rule matched, by rule id
    files_read: int = 0
    stored_bytes: int = 0  # of the blobs taken up since the last output (as stored)
    records_normalized: int = 0
    problems: Problems | None = None  # set when the stage had its own report
    failed: dict[str, str] = field(default_factory=dict)  # rule id -> why its filter failed

    def __getstate__(self) -> dict[str, object]:
        """The output as a worker sends it, its matches as one Arrow IPC stream: a pickled
        table is rebuilt column by column in Python when the scanning process takes it (0.05
        CPU-s of it at 1M events), a stream in one call over the bytes received."""
        state = dict(self.__dict__)
        if self.matched is not None:
            state["matched"] = _stream_bytes(_coded(self.matched))
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        matched = state["matched"]
        if isinstance(matched, bytes):
            state["matched"] = pa.ipc.open_stream(matched).read_all()
        self.__dict__.update(state)


REPEATING: Final = (RULE_ID, "cloud.account.id", "event.action", "user.name")
"""Matched columns of a few values repeated over many rows, which a worker sends coded as
dictionaries: the scanning process holds its pending matches until it stores them (~100k
rows, 22 MB as plain text at a time, 8 MB of it these four), and each output crosses the pipe
in fewer bytes (a 2,000-row output of a 1M scan: 273 kB against 438)."""


def _coded(table: pa.Table) -> pa.Table:
    """`table` with its `REPEATING` text columns as dictionaries."""
    for name in REPEATING:
        at = table.schema.get_field_index(name)
        if at >= 0 and table.schema.field(at).type == pa.string():
            table = table.set_column(at, name, pc.dictionary_encode(table.column(at)))
    return table


def _stream_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()
    return data


class Stage:
    """Runs a `StagePlan` over blobs; holds the per-process things (DuckDB, caches)."""

    def __init__(self, plan: StagePlan, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """`con`: a connection to filter on, to a database that has trailhound's functions
        (`register`) and whose threads are set; else a database of its own."""
        self.plan = plan
        if con is None:
            con = duckdb.connect()
            con.execute("SET threads = 1")
            register(con)
        self.con = con
        self.matcher = Matcher(plan.filters, self.con)
        self.normalizer = PartialNormalizer(plan.columns.columns_for)
        self._pick = plan.selection.picker()
        self._pick_columns = plan.selection.column_picker()
        self._skim = self._skim_step(plan)
        self._pending = StageOutput()
        self._times: list[str] = []  # event times read since the last output
        self._dynamodb: Counter[tuple[str | None, str | None]] = Counter()
        self._dynamodb_rows: list[bool] = []  # per time in `_times`: a DynamoDB record's
        self._dynamodb_places: Counter[tuple[str, str]] = Counter()
        self._counted = Counted()  # the same, of skimmed files, as columns
        self._labels = _Labels.of(plan.filters)  # what a matched row is labelled with

    def _skim_step(self, plan: StagePlan) -> Skim | None:
        """Reading through a skimmer, when the plan names one that is built: its paths are
        what selecting, counting and normalizing read."""
        make = SKIMMERS.get(plan.skim)
        if make is None:
            return None
        normalizer = SkimNormalizer(
            plan.columns.columns_for, columnar.normalized_columns, columnar.PATHS,
            takes=columnar.takes, paths_for=columnar.paths_for, raw_paths=columnar.RAW_PATHS,
        )  # fmt: skip
        # the rows no rule can match are only counted: the skimmer copies out the rest of
        # their values for nothing, and picks the others itself
        admission = plan.selection.admission((*SELECTED_PATHS, *COUNTED_PATHS))
        skimmer = make(skim_paths(normalizer), raw=normalizer.raw_paths, admission=admission)
        return None if skimmer is None else Skim(skimmer, self._select_skimmed, normalizer)

    def run(self, blobs: Iterable[Blob], report: Report | None = None) -> Iterator[StageOutput]:
        """Outputs per batch; with no `report`, problems travel in the outputs."""
        problems = Problems() if report is None else None
        report = report if problems is None else problems.report()
        assert report is not None
        held: StageOutput | None = None  # the last output waits for the counts after it
        for part in read_selected(
            self._sized(fetched_ahead(blobs)), enricher=self.plan.enricher, report=report,
            select=self._select, normalizer=self.normalizer, batch_size=self.plan.batch_size,
            skim=self._skim,
        ):  # fmt: skip
            if held is not None:
                yield held
            held = self._take(report)
            held.matched, held.records, held.hits = self._matches(part.batch, part.records)
            # the loop variable would keep this batch's records, and the whole files' text they
            # point into, alive while the next batch is read
            del part
        rest = self._take(report)
        rest.problems = problems
        yield rest if held is None else _merged(held, rest)

    def _sized(self, blobs: Iterable[Blob]) -> Iterator[Blob]:
        """The blobs, each counted (as stored) when the reader takes it up: progress by bytes."""
        for blob in blobs:
            self._pending.stored_bytes += blob.size or 0
            yield blob

    def _take(self, report: Report) -> StageOutput:
        out, self._pending = self._pending, StageOutput()
        out.failed = dict(self.matcher.failed)
        counted, self._counted = self._counted, Counted()
        texts, dynamodb = _joined(
            [pa.array(self._times, pa.string()), *counted.times()],
            [np.array(self._dynamodb_rows, bool), counted.dynamodb_mask()],
        )
        out.latest, out.dynamodb_times = _times_counted(texts, dynamodb)
        out.dynamodb = _categories(self._dynamodb + counted.dynamodb())
        out.dynamodb_places = self._dynamodb_places + counted.dynamodb_places()
        self._times, self._dynamodb, self._dynamodb_rows = [], Counter(), []
        self._dynamodb_places = Counter()
        out.files_read, report.files_read = report.files_read, 0
        out.records_normalized, report.records_normalized = report.records_normalized, 0
        return out

    def _select(self, records: list[Record]) -> list[int]:
        self._pending.events += len(records)
        self._times += [r.eventTime for r in records]
        dynamodb = [r for r in records if r.eventSource == DYNAMODB]
        self._dynamodb.update((r.eventCategory, r.eventName) for r in dynamodb)
        self._dynamodb_rows += [r.eventSource == DYNAMODB for r in records]
        self._dynamodb_places.update(
            (r.recipientAccountId or "", r.awsRegion or "") for r in dynamodb
        )
        return self._pick(records)

    def _select_skimmed(self, skimmed: Skimmed) -> list[int]:
        """`_select` for skimmed rows (of all the files skimmed in one call), from their
        columns."""
        self._pending.events += len(skimmed)
        self._counted.add(skimmed.columns)
        if skimmed.picked is not None:  # picked by the skimmer's admission
            return skimmed.picked.tolist()  # type: ignore[no-any-return]
        columns = skimmed.columns
        return self._pick_columns(columns[SELECTED_PATHS[0]], columns[SELECTED_PATHS[1]])

    def _matches(
        self, batch: pa.RecordBatch, records: KeptRows
    ) -> tuple[pa.Table | None, bytes | None, Counter[str]]:
        """`kept_matches` of the batch's matches, whose stored columns are taken only at the
        rows kept: thinning reads a few of them, and leaves out about half the rows."""
        found = self.matcher.rows(batch)
        if found is None:
            return None, None, Counter()
        which, taken = found
        stored = self.plan.stored
        masks = self.plan.eligibility.masks_of(self._labels.matched(batch, which, taken, stored))
        store = masks.store
        matched = self.matcher.table(batch, which[store], taken[store], stored)
        return _packed(matched, masks.evidence[store], _texts_packer(records),
                       self._labels.hits(which))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Labels:
    """Each filter's rule (a place in `rules`) and step: what a matched row is labelled with,
    read here from the matcher's own row numbers (its filter, its row in the batch) rather than
    from a table of them."""

    rules: list[str]
    rule: np.ndarray
    step: np.ndarray

    @classmethod
    def of(cls, filters: FilterPlan) -> _Labels:
        rules = list(dict.fromkeys(f.rule_id for f in filters.filters))
        rule = np.array([rules.index(f.rule_id) for f in filters.filters], np.int64)
        return cls(rules, rule, np.array([f.step for f in filters.filters], np.int32))

    def matched(
        self, batch: pa.RecordBatch, which: np.ndarray, taken: np.ndarray, stored: frozenset[str]
    ) -> Matched:
        """The rows `Matcher.rows` found (its filter and batch row of each), as thinning reads
        them: the events' columns are the batch's own, those stored (as in the table of them)."""
        epochs = pc.cast(batch.column("@timestamp"), pa.int64())
        if epochs.null_count:  # never at a matched row: the matcher leaves those out
            epochs = pc.fill_null(epochs, 0)
        return Matched(
            self.rules, self.rule[which], self.step[which], epochs.to_numpy()[taken],
            taken.astype(np.int32), taken,
            CodedColumns(batch.select([c for c in batch.schema.names if c in stored])),
        )  # fmt: skip

    def hits(self, which: np.ndarray) -> Counter[str]:
        """The rows each rule matched, by rule id, of rows matched by these filters."""
        counts = np.bincount(self.rule[which], minlength=len(self.rules)).tolist()
        return Counter({rule_id: n for rule_id, n in zip(self.rules, counts, strict=True) if n})


SELECTED_PATHS: Final = ("eventSource", "eventName")
"""The members a selection reads, as skim paths: (provider, action)."""
Items = Callable[[list[int]], Sequence[msgspec.Struct | msgspec.Raw]]
Packer = Callable[[list[int]], bytes]
"""The evidence pack of a batch's records at these rows (`evidence_item`s), in this order."""


def skim_paths(normalizer: SkimNormalizer) -> list[str]:
    """The text paths a stage's skimmer reads: what selecting, counting and `normalizer` read
    but the normalizer's raw paths, which the skimmer is asked for apart."""
    text = {*SELECTED_PATHS, *COUNTED_PATHS, *normalizer.paths}.difference(normalizer.raw_paths)
    return sorted(text)


def kept_matches(
    matched: pa.Table, eligibility: Eligibility, items: Items
) -> tuple[pa.Table, bytes | None, Counter[str]]:
    """Of a batch's matched rows, those it must store, with their evidence pack and the rows
    each rule matched. `items` gives the records at these `evidence_item`s of the batch.
    Any engine that filters batches finishes them with this."""
    hits = _hits(matched)
    masks = eligibility.masks(matched)
    store = masks.store
    return _packed(matched.filter(pa.array(store)), masks.evidence[store], _packer(items), hits)


def _packer(items: Items) -> Packer:
    """The pack of the records `items` gives at these rows."""
    return lambda rows: evidence.pack(items(rows))


def _texts_packer(records: KeptRows) -> Packer:
    """`_packer` of `records.take`, made from the records' texts: no `msgspec.Raw` of each."""
    return lambda rows: evidence.pack_texts(records.texts(rows))


def _hits(matched: pa.Table) -> Counter[str]:
    """The rows each rule matched, by rule id."""
    counts = pc.value_counts(matched.column(RULE_ID)).to_pylist()
    return Counter({c["values"]: c["counts"] for c in counts})


def _packed(
    matched: pa.Table, evidence_rows: np.ndarray, pack: Packer, hits: Counter[str]
) -> tuple[pa.Table, bytes | None, Counter[str]]:
    """The stored rows, their `evidence_item` made a position in their pack, with the pack
    (of the rows that may become evidence) and the hits."""
    # one evidence item per record that may become evidence, however many rules matched it,
    # in the order the rows first name them
    rows = matched.column(ITEM).to_numpy()
    wanted, first = np.unique(rows[evidence_rows], return_index=True)
    wanted = wanted[np.argsort(first)]
    position = np.zeros(int(rows.max(initial=-1)) + 1, np.int32)
    position[wanted] = np.arange(len(wanted), dtype=np.int32)
    positions = pa.array(position[rows], mask=~evidence_rows)
    matched = matched.set_column(matched.schema.get_field_index(ITEM), ITEM, positions)
    if not len(wanted):
        return matched, None, hits
    return matched, pack(wanted.tolist()), hits


def _merged(out: StageOutput, rest: StageOutput) -> StageOutput:
    """`out` with the counts of `rest` (which has no matches) added."""
    out.events += rest.events
    if rest.latest is not None and (out.latest is None or rest.latest > out.latest):
        out.latest = rest.latest
    out.dynamodb.update(rest.dynamodb)
    out.dynamodb_times.update(rest.dynamodb_times)
    out.dynamodb_places.update(rest.dynamodb_places)
    out.files_read += rest.files_read
    out.stored_bytes += rest.stored_bytes
    out.records_normalized += rest.records_normalized
    out.problems = rest.problems
    out.failed.update(rest.failed)
    return out


def _joined(times: list[pa.Array], dynamodb: list[np.ndarray]) -> tuple[pa.Array, np.ndarray]:
    """The times and DynamoDB flags of both ways of reading as one of each; one way alone is
    taken as it is (joining copies every time's text)."""
    some = [n for n, chunk in enumerate(times) if len(chunk)]
    if len(some) == 1:
        return times[some[0]], dynamodb[some[0]]
    return pa.concat_arrays(times), np.concatenate(dynamodb)


def _times_counted(texts: pa.Array, dynamodb: np.ndarray) -> tuple[int | None, Counter[int]]:
    """The newest of these event times (epoch µs), and how many of the DynamoDB ones fall in
    each `TIMELINE_STEP` interval; unparseable times are left out. The times are parsed once
    for both (parsing was most of the counting): the DynamoDB ones are taken from all of them
    parsed, unless some time of the output is not Arrow's to parse, when they are parsed
    apart, as they always were."""
    if not len(texts):
        return None, Counter()
    epochs = _arrow_epoch_us(texts)
    if epochs is None:
        epochs = _python_epoch_us(texts)
        ours = _epoch_us(texts.filter(pa.array(dynamodb)))
    else:
        ours = epochs.filter(pa.array(dynamodb))
    latest = pc.max(epochs).as_py()
    return None if latest is None else int(latest), _intervals(ours)


def _intervals(epochs: pa.Array) -> Counter[int]:
    """How many of these times (epoch µs) fall in each `TIMELINE_STEP` interval, keyed by its
    start; nulls are left out."""
    if not len(epochs):
        return Counter()
    starts = pc.multiply(pc.divide(epochs, TIMELINE_STEP), TIMELINE_STEP)
    counts = pc.value_counts(starts.drop_null()).to_pylist()
    return Counter({item["values"]: item["counts"] for item in counts})


def _arrow_epoch_us(texts: pa.Array) -> pa.Array | None:
    """The times as epoch µs, when Arrow can parse every one of them; else None."""
    try:
        return pc.cast(texts.cast(_TIMESTAMP), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _epoch_us(texts: pa.Array) -> pa.Array:
    epochs = _arrow_epoch_us(texts)
    return _python_epoch_us(texts) if epochs is None else epochs


def _python_epoch_us(texts: pa.Array) -> pa.Array:
    times = pa.array([parse_event_time(t) for t in texts.to_pylist()], _TIMESTAMP)
    return pc.cast(times, pa.int64())


def _categories(seen: Counter[tuple[str | None, str | None]]) -> Counter[str]:
    """DynamoDB events by the category `Coverage` files them under, from (category, action)
    counts."""
    coverage = Coverage()
    for (category, action), count in seen.items():
        coverage.count(category, action, count)
    return coverage.dynamodb
