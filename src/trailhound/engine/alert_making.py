"""Alerts made from decided candidates: their evidence documents, investigation fields, and
their entry in the ledger and the outbox.

A stored match holds only the columns its rule reads, so an alert's evidence is rebuilt from
the records behind its rows (their evidence packs) by the detector's document maker. Alerts
are made, entered and let go a part at a time, in the order of their first evidence.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from isal import isal_zlib

from trailhound.alerts.model import Alert
from trailhound.engine import evidence
from trailhound.engine.candidates import Candidate
from trailhound.engine.filtering import ITEM
from trailhound.rules.model import Rule
from trailhound.state import ledger, matches
from trailhound.state.store import Store

# Matched rows (their stored columns; `raw`, the record's JSON, where it was kept) -> documents.
DocumentMaker = Callable[[pa.RecordBatch], Iterator[dict[str, Any]]]
# An alert (as delivered; an evidence document in it may be its JSON written ahead, as an
# `orjson.Fragment`) -> the outputs it is queued for.
Router = Callable[[Mapping[str, Any]], tuple[str, ...]]
Decided = tuple[Rule, str, Candidate]  # a rule, an alert id, the candidate that makes it
RAW = "raw"
_PACKS_PER_READ = 4
ALERTS_PER_PART = 256
"""Alerts made, entered in the ledger and let go at a time: an alert's evidence documents are
its largest part (ten events, 40 kB of JSON for a BatchWriteItem's), and a run that held every
alert's at once peaked at 1.1 GB for 3,071 alerts."""


@dataclass(frozen=True, slots=True)
class Written:
    """An evidence document made ahead (`trailhound.engine.early_evidence`), as the JSON the
    ledger's text takes as it is, with its values of the fields its rule investigates, both
    compressed: kept as objects, a scan's documents took five times the memory of their JSON
    and reading them back as long as the rest of the end of the scan; and orjson's text
    holds about three times its length (100 MB kept at 1M events for 17 MB of JSON)."""

    packed: bytes
    packed_found: bytes  # per field it has values of, those values

    @property
    def text(self) -> bytes:
        return bytes(isal_zlib.decompress(self.packed))

    def values(self) -> dict[str, list[str]]:
        """Its values of the fields its rule investigates (only those it has)."""
        found: dict[str, list[str]] = orjson.loads(isal_zlib.decompress(self.packed_found))
        return found


def written(document: dict[str, Any], fields: Iterable[str]) -> Written | None:
    """`document` written ahead, with its values of `fields`; None where its text would not
    read back as it (a non-finite number, written as null; an integer beyond 64 bits, which
    orjson refuses): such a document is made again at the end."""
    try:
        text = orjson.dumps(document)
    except orjson.JSONEncodeError:
        return None
    # a document leaves out empty fields: a null in it is one inside a flattened value or a
    # non-finite number
    if b"null" in text and orjson.loads(text) != document:
        return None
    found = {name: values for name in fields if (values := _lookup(document, name))}
    return Written(_packed(text), _packed(orjson.dumps(found)))


def _packed(text: bytes) -> bytes:
    return bytes(isal_zlib.compress(text, 1))


Document = dict[str, Any] | Written


@dataclass(frozen=True)
class AlertMaker:
    """`keep_evidence=False` returns the alerts without their evidence documents (the ledger
    has them in full), so that a run's memory does not grow with its alerts. `ready` holds
    documents made before the alerts were decided, by match `seq`
    (`trailhound.engine.early_evidence`): a document depends on its row and record alone."""

    store: Store
    to_documents: DocumentMaker
    evidence_limit: int
    route: Router
    keep_evidence: bool
    ready: Mapping[int, Written] = field(default_factory=dict)

    def make(self, decided: Sequence[Decided]) -> list[Alert]:
        """These alerts, entered in the ledger and queued for their outputs."""
        # in the order of their first evidence, so that a part's evidence lies in few packs,
        # which the next part seldom needs again (each pack read has a cost)
        made = sorted(decided, key=lambda d: min(d[2].seqs[: self.evidence_limit], default=-1))
        parts = [made[start : start + ALERTS_PER_PART]
                 for start in range(0, len(made), ALERTS_PER_PART)]  # fmt: skip
        shown = _Shown.read(self.store, [self._unready([c for _, _, c in p]) for p in parts])
        alerts: list[Alert] = []
        for part in parts:
            alerts.extend(self._made(part, shown))
        return alerts

    def documents(self, seqs: list[int], per_part: int) -> Iterator[dict[int, dict[str, Any]]]:
        """The evidence documents of these matches, by `seq`, whatever decides about them,
        `per_part` at a time; their rows are read in one query, which reads every stored
        match (a query per part would read them all again for each)."""
        parts = [seqs[start : start + per_part] for start in range(0, len(seqs), per_part)]
        shown = _Shown.read(self.store, parts)
        for part in parts:
            yield self._made_documents(part, shown)

    def _seqs(self, candidates: list[Candidate]) -> list[int]:
        return sorted({s for c in candidates for s in c.seqs[: self.evidence_limit]})

    def _unready(self, candidates: list[Candidate]) -> list[int]:
        return [s for s in self._seqs(candidates) if s not in self.ready]

    def _made(self, part: Sequence[Decided], shown: _Shown) -> list[Alert]:
        """These alerts, with their evidence, entered in the ledger (one statement for the
        part: each has a fixed cost); returned without their evidence unless the detector
        keeps it."""
        docs = self._evidence_documents([c for _, _, c in part], shown)
        made = [self._alert(rule, ident, cand, docs) for rule, ident, cand in part]
        self._record(made)
        return [alert for alert, _ in made]

    def _evidence_documents(
        self, candidates: list[Candidate], shown: _Shown
    ) -> dict[int, Document]:
        docs: dict[int, Document] = {
            s: self.ready[s] for s in self._seqs(candidates) if s in self.ready
        }
        docs.update(self._made_documents(self._unready(candidates), shown))
        return docs

    def _made_documents(self, seqs: list[int], shown: _Shown) -> dict[int, dict[str, Any]]:
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
        self, rule: Rule, ident: str, cand: Candidate, docs: Mapping[int, Document]
    ) -> tuple[Alert, list[Document]]:
        """The alert, with its evidence unless the detector does not keep it, and its evidence
        documents as made."""
        shown = [docs[s] for s in cand.seqs[: self.evidence_limit] if s in docs]
        evidence = tuple(_read(d) for d in shown) if self.keep_evidence else ()
        fields = rule.investigation_fields
        found = [d.values() if isinstance(d, Written) else {n: _lookup(d, n) for n in fields}
                 for d in shown]  # fmt: skip
        alert = Alert(
            id=ident,
            rule=rule,
            time=cand.time,
            first_time=cand.first_time,
            key=cand.key,
            event_ids=tuple(cand.event_ids),
            count=len(cand.seqs) + cand.absorbed,
            evidence=evidence,
            investigation=_gathered(fields, found),
        )
        return alert, shown

    def _record(self, made: list[tuple[Alert, list[Document]]]) -> None:
        entries = []
        for alert, docs in made:
            shown = alert.to_dict()
            shown["evidence"] = _json_parts(shown, docs)
            entries.append(
                ledger.Entry(alert.id, alert.rule.rule_id, alert.time, shown, self.route(shown))
            )
        ledger.record(self.store, entries)


def _read(document: Document) -> dict[str, Any]:
    if isinstance(document, Written):
        read: dict[str, Any] = orjson.loads(document.text)
        return read
    return document


def _json_parts(shown: dict[str, Any], docs: list[Document]) -> Sequence[Any]:
    """An alert's evidence for its ledger text: a document written ahead as its text. The
    ledger writes the alert with orjson, or, where orjson refuses a value (an integer beyond
    64 bits), with the standard library, which cannot take written text: so the text is
    used only where orjson takes the rest of the alert."""
    if not any(isinstance(d, Written) for d in docs):
        return docs
    parts = [orjson.Fragment(d.text) if isinstance(d, Written) else d for d in docs]
    try:
        orjson.dumps({**shown, "evidence": parts})
    except orjson.JSONEncodeError:
        return [_read(d) for d in docs]
    return parts


def investigation(
    rule: Rule, evidence: tuple[Mapping[str, Any], ...]
) -> dict[str, tuple[str, ...]]:
    """The values of the rule's investigation fields among the alert's evidence, in order."""
    fields = rule.investigation_fields
    return _gathered(fields, [{name: _lookup(doc, name) for name in fields} for doc in evidence])


def _gathered(
    fields: Sequence[str], found: Sequence[Mapping[str, Sequence[str]]]
) -> dict[str, tuple[str, ...]]:
    """Each field's values among the evidence's (`found`, per document), in order, once."""
    gathered: dict[str, dict[str, None]] = defaultdict(dict)
    for values in found:
        for name in fields:
            for value in values.get(name, ()):
                gathered[name][value] = None
    return {name: tuple(values) for name, values in gathered.items()}


def _lookup(doc: Mapping[str, Any], dotted: str) -> list[str]:
    # documents are plain dicts (`to_documents`): checking for `dict` is many times cheaper
    # than for the `Mapping` ABC, and this runs for every field of every evidence document
    node: Any = doc
    for part, rest in _steps(dotted):
        if not isinstance(node, dict):
            return []
        if rest in node:  # a dotted key holds the rest
            node = node[rest]
            break
        if part not in node:
            return []
        node = node[part]
    if node is None:
        return []
    values = node if isinstance(node, list) else [node]
    return [v if isinstance(v, str) else str(v) for v in values if not isinstance(v, dict | list)]


@cache
def _steps(dotted: str) -> tuple[tuple[str, str], ...]:
    """Each part of a dotted name with the rest of the name from it: worked out once per name,
    not once per alert and evidence document."""
    parts = dotted.split(".")
    return tuple((part, ".".join(parts[i:])) for i, part in enumerate(parts))


Place = tuple[int | None, int | None]  # a row's evidence pack and item in it


@dataclass
class _Shown:
    """The stored rows behind every part's evidence, read in one query, and their records,
    each pack opened once for all parts: a part's records kept until its documents are made,
    those a later part needs (from a pack this one opened) until that part's are. At 4M
    events, 3,071 alerts in 12 parts opened 348 packs 470 times, each opening about 1.7 ms
    (inflating, then splitting the pack's JSON array)."""

    store: Store
    rows: pa.Table
    wanted: dict[int, set[int]]  # per pack not opened yet, the items any part needs
    uses: Counter[Place]  # per record, the parts' rows yet to take it
    found: dict[Place, bytes] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store, parts: list[list[int]]) -> _Shown:
        rows = matches.rows(store, sorted({s for seqs in parts for s in seqs}))
        places = dict(zip(rows.column("seq").to_pylist(), _places(rows), strict=True))
        uses = Counter(places[s] for seqs in parts for s in seqs if s in places)
        wanted: dict[int, set[int]] = defaultdict(set)
        for chunk, item in uses:
            if chunk is not None and item is not None:
                wanted[chunk].add(item)
        return cls(store, rows, dict(wanted), uses)

    def rows_of(self, seqs: list[int]) -> pa.Table:
        """The stored rows of these matches."""
        return self.rows.filter(pc.is_in(self.rows.column("seq"), pa.array(seqs, pa.int64())))

    def records(self, places: list[Place]) -> list[bytes | None]:
        """The JSON of the record at each place (None where there is none), which one part
        takes: packs not opened yet are read a few at a time."""
        opening = sorted({c for c, _ in places if c in self.wanted})
        for chunk, data in matches.packs(self.store, opening, _PACKS_PER_READ):
            items = self.wanted.pop(chunk)
            self.found.update(((chunk, i), raw) for i, raw in evidence.unpack(data, items).items())
        taken = [self.found.get(place) for place in places]
        for place in places:
            self.uses[place] -= 1
            if self.uses[place] <= 0:
                self.found.pop(place, None)
        return taken


def _places(rows: pa.Table) -> list[Place]:
    chunks, items = rows.column(matches.CHUNK).to_pylist(), rows.column(ITEM).to_pylist()
    return list(zip(chunks, items, strict=True))
