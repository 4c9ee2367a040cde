"""One part of a run's alerts made from its evidence rows: their evidence documents, their
investigation fields and each alert's JSON as the ledger keeps it.

The scanning process makes parts here, and so does a scan's worker that is still running when
the run ends (`pipeline.pool`), sent a part's decided alerts with the rows and records behind
their evidence as Arrow; either way a part is made by the same code. Nothing here touches the
store: reading the rows and entering what is made stay with the scanning process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any, Protocol

import pyarrow as pa
from msgspec import Struct

from trailhound.alerts.model import Alert
from trailhound.engine.candidates import Candidate
from trailhound.rules.model import Rule
from trailhound.state import ledger

# Matched rows (their stored columns; `raw`, the record's JSON, where it was kept) -> documents.
DocumentMaker = Callable[[pa.RecordBatch], Iterator[dict[str, Any]]]
Decided = tuple[Rule, str, Candidate]  # a rule, an alert id, the candidate that makes it


class Part(Struct, frozen=True):
    """A part's decided alerts, in the order they are entered, and their evidence: the rows
    (None if none) and, per row, its match's `seq`."""

    decided: list[Decided]
    rows: pa.RecordBatch | None
    order: list[int]
    evidence_limit: int


class Made(Struct, frozen=True, array_like=True):
    """What the scanning process needs of an alert made elsewhere: its investigation fields
    and its JSON deflated as the ledger keeps it (`ledger.pack`)."""

    investigation: Mapping[str, tuple[str, ...]]
    packed: bytes


class Helpers(Protocol):
    """Processes that make parts beside the scanning process (a scan's helper)."""

    def spare(self) -> bool:
        """Whether the machine has had a core to spare for them lately; if not, they are let
        go now and `make_parts` makes every part here."""
        ...

    def make_parts(
        self, count: int, part: Callable[[int], Part], at_home: Callable[[Part], list[Made]]
    ) -> list[list[Made]]:
        """Parts 0 to `count - 1` made, each as `part(i)` says, some by the helpers and the
        rest `at_home` (also any a helper failed to make), in part order. The helpers may be
        let go once it returns."""
        ...

    def release(self) -> None:
        """Let the helpers go unused (nothing if they are gone already)."""
        ...


def alerts(part: Part, to_documents: DocumentMaker) -> list[Alert]:
    """The part's alerts with their evidence documents."""
    docs = _documents(part, to_documents)
    return [
        _alert(rule, ident, cand, docs, part.evidence_limit) for rule, ident, cand in part.decided
    ]


def made(part: Part, to_documents: DocumentMaker) -> list[Made]:
    """The part's alerts as a helper hands them back."""
    return [Made(a.investigation, ledger.pack(a.to_dict())) for a in alerts(part, to_documents)]


def _documents(part: Part, to_documents: DocumentMaker) -> dict[int, dict[str, Any]]:
    if part.rows is None:
        return {}
    return dict(zip(part.order, to_documents(part.rows), strict=True))


def _alert(
    rule: Rule, ident: str, cand: Candidate, docs: Mapping[int, dict[str, Any]], limit: int
) -> Alert:
    evidence = tuple(docs[s] for s in cand.seqs[:limit] if s in docs)
    return _built(rule, ident, cand, evidence, investigation(rule, evidence))


def bare(rule: Rule, ident: str, cand: Candidate, made: Made) -> Alert:
    """An alert made elsewhere, without its evidence (the ledger has it in full)."""
    return _built(rule, ident, cand, (), made.investigation)


def _built(
    rule: Rule,
    ident: str,
    cand: Candidate,
    evidence: tuple[Mapping[str, Any], ...],
    found: Mapping[str, tuple[str, ...]],
) -> Alert:
    return Alert(
        id=ident,
        rule=rule,
        time=cand.time,
        first_time=cand.first_time,
        key=cand.key,
        event_ids=tuple(cand.event_ids),
        count=len(cand.seqs) + cand.absorbed,
        evidence=evidence,
        investigation=found,
    )


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
