"""Alerts made from decided candidates: their evidence documents, investigation fields, and
their entry in the ledger and the outbox.

A stored match holds only the columns its rule reads, so an alert's evidence is rebuilt from
the records behind its rows (their evidence packs) by the detector's document maker. Alerts
are made, entered and let go a part at a time, in the order of their first evidence.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
from msgspec import Struct, field
from msgspec.structs import replace

from trailhound import arrow_kernels as kernels
from trailhound import heap
from trailhound.alerts.model import Alert
from trailhound.engine import evidence, part_making
from trailhound.engine.candidates import Candidate
from trailhound.engine.filtering import ITEM
from trailhound.engine.part_making import Decided, DocumentMaker, Helpers, Part
from trailhound.state import ledger, matches
from trailhound.state.store import Store

# An alert (as delivered) -> the outputs it is queued for.
Router = Callable[[Mapping[str, Any]], tuple[str, ...]]
RAW = "raw"
_PACKS_PER_READ = 4
ALERTS_PER_PART = 256
"""Alerts made, entered in the ledger and let go at a time, at most: an alert's evidence
documents are its largest part (ten events, 40 kB of JSON for a BatchWriteItem's), and a run
that held every alert's at once peaked at 1.1 GB for 3,071 alerts."""
SHARED_PER_PART = 64
"""The same when a helper makes parts beside this process (`AlertMaker.helpers`): each of the
two then holds a part's documents at once, and at 4M events parts of 256 raised the run's
peak (the end's) by 46 MB over main's; smaller parts also balance the two better."""
PART_BYTES = 1 << 20
"""A part also ends where its alerts' evidence records reach this much JSON. A part's documents
take several times their records' bytes in Python objects, and the few objects each part leaves
behind (its alerts) keep Python's arenas from being handed back: at 4M events, 256 alerts a part
grew the arenas 33 to 79 MB, and that making was the end of the run's peak."""


class AlertMaker(Struct, frozen=True):
    """`keep_evidence=False` returns the alerts without their evidence documents (the ledger
    has them in full), so that a run's memory does not grow with its alerts. `helpers`
    (a scan's workers, still running) then make some of the parts beside this process."""

    store: Store
    to_documents: DocumentMaker
    evidence_limit: int
    route: Router
    keep_evidence: bool
    helpers: Helpers | None = None

    def make(self, decided: Sequence[Decided]) -> list[Alert]:
        """These alerts, entered in the ledger and queued for their outputs."""
        if not decided:
            return []  # reading their evidence's rows and packs costs two queries even so
        # in the order of their first evidence, so that a part's evidence lies in few packs,
        # which the next part seldom needs again (each pack read has a cost)
        made = sorted(decided, key=lambda d: min(d[2].seqs[: self.evidence_limit], default=-1))
        # asked once the alerts are decided: whether a core was idle while they were
        shared = self.helpers is not None and not self.keep_evidence and self.helpers.spare()
        shown = _Shown.read(self.store, self._seqs([c for _, _, c in made]))
        sizes = [shown.size(c.seqs[: self.evidence_limit]) for _, _, c in made]
        parts = _cut(made, sizes, SHARED_PER_PART if shared else ALERTS_PER_PART)
        shown.expect([self._seqs([c for _, _, c in p]) for p in parts])
        alerts: list[Alert] = []
        entered = ledger.Batch()
        if self.helpers is not None and shared and len(parts) > 1:
            alerts = self._shared(parts, shown, entered, self.helpers)
        else:
            if self.helpers is not None:  # unused: gone before the ledger's insert, the peak
                self.helpers.release()
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
        alerts = part_making.alerts(self._part(part, shown), self.to_documents)
        self._record(alerts, entered)
        if self.keep_evidence:
            return alerts
        return [replace(alert, evidence=()) for alert in alerts]

    def _shared(
        self, parts: list[list[Decided]], shown: _Shown, entered: ledger.Batch, helpers: Helpers
    ) -> list[Alert]:
        """The parts made by the helpers and here, entered in part order as `_made` enters
        them; the alerts returned without their evidence, which only the ledger gets. They
        are routed without it too: an output chooses by what the alert says, not its events
        (`scan` hands helpers over only for outputs of ours, which look at the severity)."""
        made = helpers.make_parts(
            len(parts),
            lambda i: self._part(parts[i], shown),
            lambda part: part_making.made(part, self.to_documents),
        )
        alerts: list[Alert] = []
        for part, of_part in zip(parts, made, strict=True):
            bare = [part_making.bare(*d, m) for d, m in zip(part, of_part, strict=True)]
            entered.add_packed([
                ledger.Packed(a.id, a.rule.rule_id, a.time, m.packed, a.rule.name,
                              self.route(a.to_dict()))
                for a, m in zip(bare, of_part, strict=True)
            ])  # fmt: skip
            alerts.extend(bare)
        return alerts

    def _part(self, part: Sequence[Decided], shown: _Shown) -> Part:
        """A part's alerts with the rows behind their evidence and those rows' records."""
        seqs = self._seqs([c for _, _, c in part])
        if not seqs:
            return Part(list(part), None, [], self.evidence_limit)
        table = shown.rows_of(seqs)
        order = table.column("seq").to_pylist()
        table = table.append_column(RAW, self._raw_records(table, shown))
        rows = table.drop_columns(["seq", matches.CHUNK, ITEM]).combine_chunks().to_batches()[0]
        return Part(list(part), rows, order, self.evidence_limit)

    def _raw_records(self, table: pa.Table, shown: _Shown) -> pa.Array:
        """The JSON of the record behind each row, from its evidence pack; null if none."""
        return pa.array(shown.records(_places(table)), pa.binary())

    def _record(self, alerts: list[Alert], entered: ledger.Batch) -> None:
        entries = []
        for alert in alerts:
            shown = alert.to_dict()
            entries.append(
                ledger.Entry(alert.id, alert.rule.rule_id, alert.time, shown, self.route(shown))
            )
        entered.add(entries)


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


def _cut(made: list[Decided], sizes: list[int], most: int) -> list[list[Decided]]:
    """The alerts in parts, in their order: a part ends at `most` alerts or where its
    evidence's records (`sizes`, per alert) reach `PART_BYTES`; it holds one alert at least,
    however large."""
    parts: list[list[Decided]] = []
    part: list[Decided] = []
    held = 0
    for decided, size in zip(made, sizes, strict=True):
        if part and (len(part) >= most or held + size > PART_BYTES):
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
