"""Alerts made from decided candidates: their evidence documents, investigation fields, and
their entry in the ledger and the outbox.

A stored match holds only the columns its rule reads, so an alert's evidence is rebuilt from
the records behind its rows (their evidence packs) by the detector's document maker. Alerts
are made, entered and let go a part at a time, in the order of their first evidence.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

import pyarrow as pa
from msgspec import Struct, field
from msgspec.structs import replace

from trailhound import arrow_kernels as kernels
from trailhound import heap
from trailhound.alerts.model import Alert
from trailhound.engine import evidence
from trailhound.engine.candidates import Candidate
from trailhound.engine.filtering import ITEM
from trailhound.rules.model import Rule
from trailhound.state import ledger, matches
from trailhound.state.store import Store

# Matched rows (their stored columns; `raw`, the record's JSON, where it was kept) -> documents.
DocumentMaker = Callable[[pa.RecordBatch], Iterator[dict[str, Any]]]
# An alert (as delivered) -> the outputs it is queued for.
Router = Callable[[Mapping[str, Any]], tuple[str, ...]]
Decided = tuple[Rule, str, Candidate]  # a rule, an alert id, the candidate that makes it
RAW = "raw"
_PACKS_PER_READ = 4
ALERTS_PER_PART = 256
"""Alerts made, entered in the ledger and let go at a time, at most: an alert's evidence
documents are its largest part (ten events, 40 kB of JSON for a BatchWriteItem's), and a run
that held every alert's at once peaked at 1.1 GB for 3,071 alerts."""
PART_BYTES = 1 << 20
"""A part also ends where its alerts' evidence records reach this much JSON. A part's documents
take several times their records' bytes in Python objects, and the few objects each part leaves
behind (its alerts) keep Python's arenas from being handed back: at 4M events, 256 alerts a part
grew the arenas 33 to 79 MB, and that making was the end of the run's peak."""


class AlertMaker(Struct, frozen=True):
    """`keep_evidence=False` returns the alerts without their evidence documents (the ledger
    has them in full), so that a run's memory does not grow with its alerts."""

    store: Store
    to_documents: DocumentMaker
    evidence_limit: int
    route: Router
    keep_evidence: bool

    def make(self, decided: Sequence[Decided]) -> list[Alert]:
        """These alerts, entered in the ledger and queued for their outputs."""
        if not decided:
            return []  # reading their evidence's rows and packs costs two queries even so
        # in the order of their first evidence, so that a part's evidence lies in few packs,
        # which the next part seldom needs again (each pack read has a cost)
        made = sorted(decided, key=lambda d: min(d[2].seqs[: self.evidence_limit], default=-1))
        shown = _Shown.read(self.store, self._seqs([c for _, _, c in made]))
        parts = _cut(made, [shown.size(c.seqs[: self.evidence_limit]) for _, _, c in made])
        shown.expect([self._seqs([c for _, _, c in p]) for p in parts])
        alerts: list[Alert] = []
        entered = ledger.Batch()
        for part in parts:
            alerts.extend(self._made(part, shown, entered))
        # the parts' records and documents are let go by now, and glibc keeps what they held
        # (~40 MB at 4M events): handed back before DuckDB, whose statements allocate from its
        # own allocator, enters the alerts (the end's peak, at 4M, was there and after it)
        heap.give_back()
        entered.enter(self.store)
        return alerts

    def _seqs(self, candidates: list[Candidate]) -> list[int]:
        return sorted({s for c in candidates for s in c.seqs[: self.evidence_limit]})

    def _made(self, part: Sequence[Decided], shown: _Shown, entered: ledger.Batch) -> list[Alert]:
        """These alerts, with their evidence, added to what `entered` enters in the ledger;
        returned without their evidence unless the detector keeps it."""
        docs = self._evidence_documents([c for _, _, c in part], shown)
        alerts = [self._alert(rule, ident, cand, docs) for rule, ident, cand in part]
        self._record(alerts, entered)
        if self.keep_evidence:
            return alerts
        return [replace(alert, evidence=()) for alert in alerts]

    def _evidence_documents(
        self, candidates: list[Candidate], shown: _Shown
    ) -> dict[int, dict[str, Any]]:
        seqs = self._seqs(candidates)
        if not seqs:
            return {}
        table = shown.rows_of(seqs)
        order = table.column("seq").to_pylist()
        table = table.append_column(RAW, self._raw_records(table, shown))
        rows = table.drop_columns(["seq", matches.CHUNK, ITEM]).combine_chunks().to_batches()[0]
        return dict(zip(order, self.to_documents(rows), strict=True))

    def _raw_records(self, table: pa.Table, shown: _Shown) -> pa.Array:
        """The JSON of the record behind each row, from its evidence pack; null if none."""
        return pa.array(shown.records(_places(table)), pa.binary())

    def _alert(
        self, rule: Rule, ident: str, cand: Candidate, docs: Mapping[int, dict[str, Any]]
    ) -> Alert:
        evidence = tuple(docs[s] for s in cand.seqs[: self.evidence_limit] if s in docs)
        return Alert(
            id=ident,
            rule=rule,
            time=cand.time,
            first_time=cand.first_time,
            key=cand.key,
            event_ids=tuple(cand.event_ids),
            count=len(cand.seqs) + cand.absorbed,
            evidence=evidence,
            investigation=investigation(rule, evidence),
        )

    def _record(self, alerts: list[Alert], entered: ledger.Batch) -> None:
        entries = []
        for alert in alerts:
            shown = alert.to_dict()
            entries.append(
                ledger.Entry(alert.id, alert.rule.rule_id, alert.time, shown, self.route(shown))
            )
        entered.add(entries)


def investigation(
    rule: Rule, evidence: tuple[Mapping[str, Any], ...]
) -> dict[str, tuple[str, ...]]:
    """The values of the rule's investigation fields among the alert's evidence, in order."""
    found: dict[str, dict[str, None]] = {}
    routes = [(name, *_route(name)) for name in rule.investigation_fields]
    for doc in evidence:
        # documents are plain dicts (`to_documents`): checking for `dict` is many times
        # cheaper than for the `Mapping` ABC, and this runs for every field of every document
        if not isinstance(doc, dict):
            continue
        for name, steps, last in routes:
            value = _value(doc, steps, last)
            if isinstance(value, str):  # by far the most common value: taken at once
                values = found.get(name)
                if values is None:
                    values = found[name] = {}
                values[value] = None
            elif value is not None:
                _add(found, name, value)
    return {name: tuple(values) for name, values in found.items()}


def _value(doc: dict[str, Any], steps: tuple[tuple[str, str], ...], last: str) -> Any:
    """What a dotted name holds in a document (None if nothing): a key holding the rest of the
    name is taken first at each level, as Elastic's flattened members hold dotted keys."""
    node: Any = doc
    for part, rest in steps:
        if rest in node:
            return node[rest]
        node = node.get(part)
        if not isinstance(node, dict):
            return None
    return node.get(last)


def _add(found: dict[str, dict[str, None]], name: str, value: Any) -> None:
    """A value other than a text: a list's members and a scalar shown as text, objects not."""
    values = value if isinstance(value, list) else [value]
    shown = [v if isinstance(v, str) else str(v) for v in values if not isinstance(v, dict | list)]
    if shown:
        found.setdefault(name, {}).update(dict.fromkeys(shown))


@cache
def _route(dotted: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """Each part but the last of a dotted name with the rest of the name from it, and the last
    part: worked out once per name, not once per alert and evidence document."""
    parts = dotted.split(".")
    steps = tuple((part, ".".join(parts[i:])) for i, part in enumerate(parts[:-1]))
    return steps, parts[-1]


Place = tuple[int | None, int | None]  # a row's evidence pack and item in it


class _Shown(Struct):
    """The stored rows behind every alert's evidence, read in one query, and their records,
    every pack any alert needs read in one more query and opened once, of which only the
    records asked for are kept, each until the last part that shows it has taken it. At 4M
    events, 3,071 alerts in 12 parts opened 348 packs 470 times, each opening about 1.7 ms
    (inflating, then splitting the pack's JSON array). Read a part's packs at a time, the
    twelve queries cost 0.54 CPU-s, each 0.02-0.05 beyond what it read (the first in a
    process 0.18 whatever it reads); in one query `finish` took 0.2-0.5 CPU-s less, the
    records kept at once (19,384, 38 MB) let go part by part before the commit."""

    store: Store
    rows: pa.Table
    places: dict[int, Place]  # per stored row's seq
    uses: Counter[Place] = field(default_factory=Counter)  # per record, parts yet to take it
    found: dict[Place, bytes] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store, seqs: list[int]) -> _Shown:
        rows = matches.rows(store, seqs)
        places = dict(zip(rows.column("seq").to_pylist(), _places(rows), strict=True))
        wanted: dict[int, set[int]] = defaultdict(set)
        for chunk, item in places.values():
            if chunk is not None and item is not None:
                wanted[chunk].add(item)
        shown = cls(store, rows, places)
        shown._open(wanted)
        heap.give_back_duckdb(store)  # the packs' blocks, read once
        return shown

    def size(self, seqs: Sequence[int]) -> int:
        """The bytes of JSON of the records behind these matches."""
        found, places = self.found, self.places
        return sum(len(found.get(places[s], b"")) for s in seqs if s in places)

    def expect(self, parts: list[list[int]]) -> None:
        """Count, per record, the parts that will take it (each part's seqs)."""
        places = self.places
        self.uses.update(places[s] for seqs in parts for s in seqs if s in places)

    def _open(self, wanted: Mapping[int, set[int]]) -> None:
        """Read the packs `wanted` names and keep the asked records of each."""
        for chunk, data in matches.packs(self.store, sorted(wanted), _PACKS_PER_READ):
            items = wanted[chunk]
            self.found.update(((chunk, i), raw) for i, raw in evidence.unpack(data, items).items())

    def rows_of(self, seqs: list[int]) -> pa.Table:
        """The stored rows of these matches."""
        wanted = kernels.is_in(self.rows.column("seq"), pa.array(seqs, pa.int64()))
        return kernels.filter(self.rows, wanted)

    def records(self, places: list[Place]) -> list[bytes | None]:
        """The JSON of the record at each place (None where there is none), which one part
        takes: a record no later part shows is let go."""
        taken = [self.found.get(place) for place in places]
        for place in places:
            self.uses[place] -= 1
            if self.uses[place] <= 0:
                self.found.pop(place, None)
        return taken


def _cut(made: list[Decided], sizes: list[int]) -> list[list[Decided]]:
    """The alerts in parts, in their order: a part ends at `ALERTS_PER_PART` alerts or where
    its evidence's records (`sizes`, per alert) reach `PART_BYTES`; it holds one alert at
    least, however large."""
    parts: list[list[Decided]] = []
    part: list[Decided] = []
    held = 0
    for decided, size in zip(made, sizes, strict=True):
        if part and (len(part) >= ALERTS_PER_PART or held + size > PART_BYTES):
            parts.append(part)
            part, held = [], 0
        part.append(decided)
        held += size
    if part:
        parts.append(part)
    return parts


def _places(rows: pa.Table) -> list[Place]:
    chunks, items = rows.column(matches.CHUNK).to_pylist(), rows.column(ITEM).to_pylist()
    return list(zip(chunks, items, strict=True))
