"""Blind spots said out loud: which rules the input cannot feed.

Item-level DynamoDB calls (GetItem, PutItem, Scan, PartiQL...) are CloudTrail *data events*,
which trails do not log unless asked. A scan that sees DynamoDB management events but no data
events names the rules that cannot fire and the setting that turns the events on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
from msgspec import Struct, field

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail import compiled_columns
from trailhound.engine.codes import combined, dictionary_codes
from trailhound.numpy_arrow import arrow_array
from trailhound.rules import kql_ast as k
from trailhound.rules.model import Rule, SequenceSpec
from trailhound.rules.parameters import not_configured

DYNAMODB = "dynamodb.amazonaws.com"
COUNTED_PATHS: Final = (
    "eventTime", "eventSource", "eventCategory", "eventName", "recipientAccountId", "awsRegion",
)  # fmt: skip
"""The members of every record read that a stage counts (as a skimmer's paths)."""
_GROUPED: Final = ["eventCategory", "eventName", "recipientAccountId", "awsRegion"]
_COUNTED_SCHEMA: Final = pa.schema([pa.field(p, pa.string()) for p in COUNTED_PATHS])
DATA_EVENT_ACTIONS = frozenset(
    {
        "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
        "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
        "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
        "GetRecords", "GetShardIterator", "DescribeStream", "ListStreams",
    }
)  # fmt: skip
TIMELINE_STEP = 5 * 60 * 1_000_000
"""The interval (µs) in which DynamoDB events are counted for a report's timeline: a year of
input is about 105,000 counts, small enough to keep whole."""
HOW_TO_ENABLE = (
    "turn on DynamoDB data events in the trail: CloudTrail console > Trails > Data events > "
    "add resource type DynamoDB (or `aws cloudtrail put-event-selectors` with "
    "AdvancedEventSelectors on resources.type = AWS::DynamoDB::Table)"
)


class Coverage(Struct):
    """DynamoDB events seen: by CloudTrail event category (Management, Data), by the
    `TIMELINE_STEP` interval they happened in (keyed by its start, epoch µs), and by the
    account whose trail logged them and region ("" where the record does not say)."""

    dynamodb: Counter[str] = field(default_factory=Counter)
    timeline: Counter[int] = field(default_factory=Counter)
    places: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, batch: pa.RecordBatch) -> None:
        mask = kernels.equal(batch.column("event.provider"), DYNAMODB)
        categories = kernels.filter(batch.column("aws.cloudtrail.event_category"), mask)
        actions = kernels.filter(batch.column("event.action"), mask)
        for category, action in zip(categories.to_pylist(), actions.to_pylist(), strict=True):
            self.count(category, action)

    def count(self, category: str | None, action: str | None, events: int = 1) -> None:
        """Count DynamoDB events of one CloudTrail category and action."""
        self.dynamodb[category_of(category, action)] += events

    def blind_spots(self, rules: Sequence[Rule]) -> list[str]:
        """Notes on rules that cannot fire: not configured, or missing their data events."""
        unset = [not_configured(r) for r in rules if r.enabled and r.unconfigured]
        return unset + self._missing_data_events(rules)

    def _missing_data_events(self, rules: Sequence[Rule]) -> list[str]:
        if not self.dynamodb["Management"] or self.dynamodb["Data"]:
            return []
        blind = [r.name for r in rules if r.runs and needs_data_events(r)]
        if not blind:
            return []
        return [
            f"the input has {self.dynamodb['Management']} DynamoDB management events but no "
            f"data events, so these rules cannot fire: {', '.join(blind)}",
            f"to see item-level activity, {HOW_TO_ENABLE}",
        ]


class Counts(Struct):
    """What a stage counts of the records it read, for one output: the newest event time
    (epoch µs), the DynamoDB records by the `TIMELINE_STEP` interval their time falls in (keyed
    by its start), by (eventCategory, eventName), and by (recipientAccountId, awsRegion)."""

    latest: int | None
    times: Counter[int]
    dynamodb: Counter[tuple[str | None, str | None]]
    places: Counter[tuple[str, str]]


class Counted:
    """What a stage counts of every record it reads, for records read as columns (their
    `COUNTED_PATHS`): the columns are kept as they come and counted once per output, with no
    Python object per record (and no kernel call per file: files may hold a dozen records)."""

    def __init__(self) -> None:
        self._chunks: dict[str, list[pa.Array]] = {p: [] for p in COUNTED_PATHS}
        self._table: pa.Table | None = None
        self._dynamodb: pa.Table | None = None
        self._groups: list[tuple[tuple[str | None, ...], int]] | None = None
        self._mask: np.ndarray | None = None

    def add(self, columns: Mapping[str, pa.Array]) -> None:
        for path, chunks in self._chunks.items():
            chunks.append(columns[path])
        self._table = self._dynamodb = self._groups = self._mask = None

    def times(self) -> list[pa.Array]:
        """Every record's eventTime."""
        if self._none():
            return [pa.array([], pa.string())]
        return [self._all().column("eventTime").combine_chunks()]

    def dynamodb_mask(self) -> np.ndarray:
        """Which records (in the order of `times`) are DynamoDB's."""
        if self._none():
            return np.zeros(0, bool)
        if self._mask is None:
            same = kernels.equal(self._all().column("eventSource"), DYNAMODB)
            self._mask = kernels.fill_null(same, False).to_numpy(zero_copy_only=False)
        return self._mask

    def dynamodb(self) -> Counter[tuple[str | None, str | None]]:
        """DynamoDB records by (eventCategory, eventName)."""
        return _by_action(self._dynamodb_groups())

    def dynamodb_places(self) -> Counter[tuple[str, str]]:
        """DynamoDB records by (recipientAccountId, awsRegion), "" where absent or empty."""
        return _by_place(self._dynamodb_groups())

    def compiled(self) -> Counts | None:
        """The newest time, the DynamoDB records' times (`Counts.times`), `dynamodb` and
        `dynamodb_places` at once, by compiled code in one pass over the columns as added
        (`compiled_columns.counted`): the methods above cost ~1.5 ms a task in some twenty
        Arrow and NumPy calls (joining, parsing, filtering, coding, grouping), however few the
        rows. None where that code cannot count them; the methods stay the reference."""
        if self._none():
            return Counts(None, Counter(), Counter(), Counter())
        parts = list(zip(*self._chunks.values(), strict=True))
        answer = compiled_columns.counted(parts, DYNAMODB, TIMELINE_STEP)
        if answer is None:
            return None
        latest, times, groups = answer
        return Counts(latest, Counter(times), _by_action(groups), _by_place(groups))

    def _dynamodb_groups(self) -> list[tuple[tuple[str | None, ...], int]]:
        """DynamoDB records by (eventCategory, eventName, recipientAccountId, awsRegion), in
        one grouping for both counts: a grouping costs far more than its few distinct keys."""
        if self._none():
            return []
        if self._groups is None:
            self._groups = list(_combinations(self._dynamodb_rows(), _GROUPED).items())
        return self._groups

    def _none(self) -> bool:
        """Whether no record was added: a task's last output counts none (its one batch's
        output took them), and counting nothing cost a dozen Arrow calls on empty arrays."""
        return not self._chunks["eventTime"]

    def _all(self) -> pa.Table:
        if self._table is None:
            columns = [
                pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())
                for chunks in self._chunks.values()
            ]
            self._table = pa.Table.from_arrays(columns, schema=_COUNTED_SCHEMA)
        return self._table

    def _dynamodb_rows(self) -> pa.Table:
        if self._dynamodb is None:
            # only the grouped columns: the times are taken from those parsed for all records
            mask = arrow_array(self.dynamodb_mask())
            self._dynamodb = kernels.filter(self._all().select(_GROUPED), mask)
        return self._dynamodb


Groups = Sequence[tuple[tuple[str | None, ...], int]]
"""DynamoDB records by (eventCategory, eventName, recipientAccountId, awsRegion)."""


def _by_action(groups: Groups) -> Counter[tuple[str | None, str | None]]:
    found: Counter[tuple[str | None, str | None]] = Counter()
    for (category, action, _, _), count in groups:
        found[category, action] += count
    return found


def _by_place(groups: Groups) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for (_, _, account, region), count in groups:
        found[account or "", region or ""] += count
    return found


def _combinations(table: pa.Table, names: Sequence[str]) -> Counter[Any]:
    """The table's rows by their combination of values in these columns (a null is None).
    Counted by integer codes: Arrow's group_by costs about a millisecond a call however few
    the rows, and a stage counts once or twice per 1 MB task."""
    if not table.num_rows:
        return Counter()
    key = combined((dictionary_codes(table.column(n)) for n in names), table.num_rows)
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    values = kernels.take(table.select(list(names)), arrow_array(first, kind=pa.int64())).columns
    rows = zip(*(v.to_pylist() for v in values), strict=True)
    return Counter(dict(zip(rows, counts.tolist(), strict=True)))


def category_of(category: str | None, action: str | None) -> str:
    if category in ("Management", "Data"):
        return category
    # Older records carry no eventCategory: judge by the API called.
    return "Data" if action in DATA_EVENT_ACTIONS else "Management"


def needs_data_events(rule: Rule) -> bool:
    asts = [s.ast for s in rule.spec.steps] if isinstance(rule.spec, SequenceSpec) else [rule.ast]
    return any(_actions(ast) & DATA_EVENT_ACTIONS for ast in asts)


def _actions(node: k.Node) -> set[str]:
    match node:
        case k.Match("event.action", value):
            return {value.text}
        case k.And(items) | k.Or(items):
            return set().union(*(_actions(i) for i in items))
        case _:
            return set()
