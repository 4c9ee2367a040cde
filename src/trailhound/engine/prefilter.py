"""What the rules can read, worked out from the rules before any event is read.

Two answers let the reader skip work no rule can use:

- `Selection`: the (event.provider, event.action) pairs at least one rule requires. A record
  outside them cannot match any rule, so it is dropped right after decoding, before it costs a
  normalization. A rule that constrains neither field selects everything.
- `rule_columns`: the event columns the rules' filters, the rule types and the exceptions read.
  Only these are normalized for the events that pass the selection; evidence documents are
  rebuilt in full later, for the few events that become evidence.

Both are conservative: a pair or a column is left out only when no rule could look at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import product

import numpy as np
import pyarrow as pa
from msgspec import Struct

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.schema import BY_NAME, COLUMNS, Kind, flattened_parent
from trailhound.cloudtrail.skim import Admission
from trailhound.rules import kql_ast as k
from trailhound.rules.kql import expand_fields
from trailhound.rules.model import (
    BaselineSpec,
    CorrelationSpec,
    NewTermsSpec,
    Parameter,
    Rule,
    RuleException,
    SequenceSpec,
    ThresholdSpec,
)

PROVIDER = "event.provider"
ACTION = "event.action"
# Columns every stored match needs: its time, its id (tie-breaks, alert ids) and when it was read.
# the account and eventID identify an event delivered twice (`trailhound.state.counted`)
ALWAYS: frozenset[str] = frozenset(
    {"@timestamp", "event.id", "event.ingested", "cloud.account.id"}
)

# (provider, action); None stands for any value.
Pair = tuple[str | None, str | None]
_ANY: frozenset[Pair] = frozenset({(None, None)})


class Selection(Struct, frozen=True):
    """The (provider, action) pairs some rule can match; `pairs` None means every event."""

    pairs: frozenset[Pair] | None

    @property
    def everything(self) -> bool:
        return self.pairs is None or (None, None) in self.pairs

    def picker(self) -> Callable[[Sequence[Record]], list[int]]:
        """A function giving the indices of the records this selection admits."""
        if self.everything:
            return lambda records: list(range(len(records)))
        assert self.pairs is not None
        providers = frozenset(p for p, _ in self.pairs)
        if all(action is None for _, action in self.pairs):
            return lambda records: [i for i, r in enumerate(records) if r.eventSource in providers]
        admits = self.admits
        if None in providers:
            return lambda records: [
                i for i, r in enumerate(records) if admits(r.eventSource, r.eventName)
            ]
        # most records come from services no rule reads: one set lookup rejects them
        return lambda records: [
            i
            for i, r in enumerate(records)
            if r.eventSource in providers and admits(r.eventSource, r.eventName)
        ]

    def column_picker(self) -> Callable[[pa.Array, pa.Array], list[int]]:
        """`picker` over columns: from the providers and actions of a run of records (string
        arrays, nulls allowed), the indices of the rows this selection admits. A handful of
        kernel calls per run, whatever the number of pairs; each costs several microseconds,
        so a short run is picked row by row."""
        if self.everything:
            return lambda providers, _: list(range(len(providers)))
        assert self.pairs is not None
        pairs = self.pairs
        # a provider admitted whatever the action admits its rows in one lookup; any other
        # pair names its action, and only rows with a named action are looked at more closely
        any_action = _texts({p for p, a in pairs if a is None})
        named = _texts({a for _, a in pairs})
        per_row = _per_row(self)

        def pick(providers: pa.Array, actions: pa.Array) -> list[int]:
            if len(providers) < _SMALL_RUN:
                return per_row(providers, actions)
            sure = kernels.is_in(providers, any_action)
            maybe = kernels.and_not(kernels.is_in(actions, named), sure)
            rows = kernels.indices_nonzero(sure).to_numpy()
            doubtful = kernels.indices_nonzero(maybe)
            if not len(doubtful):
                return rows.tolist()  # type: ignore[no-any-return]
            # few rows as a rule: an action some pair names, of a provider no pair leaves open
            judged = per_row(kernels.take(providers, doubtful), kernels.take(actions, doubtful))
            more = doubtful.to_numpy()[judged]
            # the two never share a row (`maybe` leaves out the sure ones), so sorting them
            # together is their union; `np.union1d` would also import `numpy.ma` at start-up
            return np.sort(np.concatenate((rows, more))).tolist()  # type: ignore[no-any-return]

        return pick

    def admission(self, always: Iterable[str]) -> Admission | None:
        """The records a skimmer reads in full for this selection (the `always` paths at every
        record), as `admits` says; None when it admits every record."""
        if self.everything:
            return None
        assert self.pairs is not None
        return Admission(
            frozenset(always),
            frozenset(p for p, a in self.pairs if a is None and p is not None),
            frozenset(a for p, a in self.pairs if p is None and a is not None),
            frozenset((p, a) for p, a in self.pairs if p is not None and a is not None),
        )

    def admits(self, provider: str | None, action: str | None) -> bool:
        if self.pairs is None:
            return True
        pairs = self.pairs
        return (
            (provider, action) in pairs
            or (provider, None) in pairs
            or (None, action) in pairs
            or (None, None) in pairs
        )


def _texts(values: Iterable[str | None]) -> pa.Array:
    return pa.array(sorted(v for v in values if v is not None), pa.string())


_SMALL_RUN = 128
"""Rows below which picking row by row costs less than the kernel calls (measured: about
0.3 µs a row against 40 µs a run)."""


def _per_row(selection: Selection) -> Callable[[pa.Array, pa.Array], list[int]]:
    admits = selection.admits
    assert selection.pairs is not None
    providers_named = frozenset(p for p, _ in selection.pairs)
    any_provider = None in providers_named

    def pick(providers: pa.Array, actions: pa.Array) -> list[int]:
        rows = zip(providers.to_pylist(), actions.to_pylist(), strict=True)
        return [
            i
            for i, (provider, action) in enumerate(rows)
            if (any_provider or provider in providers_named) and admits(provider, action)
        ]

    return pick


def selection(rules: Sequence[Rule]) -> Selection:
    """The union over enabled rules (and sequence steps) of the pairs each can match."""
    found: set[Pair] = set()
    for rule in rules:
        if not rule.runs:
            continue
        for ast in filter_asts(rule):
            pairs = pairs_of(ast)
            if pairs is None:
                return Selection(None)
            found |= pairs
    return Selection(_simplified(found))


def pairs_of(node: k.Node) -> frozenset[Pair] | None:
    """Pairs outside which `node` is false; None when it does not constrain them."""
    pairs = _pairs(node)
    return None if pairs is None else _simplified(set(pairs))


def _simplified(pairs: set[Pair]) -> frozenset[Pair]:
    """Without the pairs a wider one already covers (PutItem on DynamoDB under all DynamoDB)."""
    if (None, None) in pairs:
        return _ANY
    return frozenset(
        (p, a)
        for p, a in pairs
        if p is None or a is None or ((p, None) not in pairs and (None, a) not in pairs)
    )


def filter_asts(rule: Rule) -> list[k.Node]:
    """The rule's filter, one per step for a sequence (each joined with the rule's query);
    for a correlation, its fact sources' queries, then the rule's. The rule's parameters
    narrow every filter but the fact sources'."""
    chosen = [_parameter_node(p) for p in rule.parameters]
    if isinstance(rule.spec, SequenceSpec):
        return [k.And((rule.ast, step.ast, *chosen)) for step in rule.spec.steps]
    main = k.And((rule.ast, *chosen)) if chosen else rule.ast
    if isinstance(rule.spec, CorrelationSpec):
        return [*(fact.ast for fact in rule.spec.facts), main]
    return [main]


def _parameter_node(parameter: Parameter) -> k.Node:
    """`field: (v1 or v2 ...)`, a `*` in a value matching any run of characters."""
    return k.Or(tuple(k.Match(parameter.field, _value(v)) for v in parameter.values))


def _value(text: str) -> k.Value:
    pieces = text.split("*")
    parts: list[str | k.Star] = [pieces[0]]
    for piece in pieces[1:]:
        parts += [k.Star.STAR, piece]
    kept = tuple(p for p in parts if p != "")
    return k.Value(kept, quoted="*" not in text)


def _pairs(node: k.Node) -> frozenset[Pair] | None:
    match node:
        case k.Match(field, value) if field == PROVIDER and not value.has_wildcard:
            return frozenset({(value.text, None)})
        case k.Match(field, value) if field == ACTION and not value.has_wildcard:
            return frozenset({(None, value.text)})
        case k.And(items):
            return _meet_all([_pairs(i) for i in items])
        case k.Or(items):
            parts = [_pairs(i) for i in items]
            if any(p is None for p in parts):
                return None
            return frozenset().union(*(p for p in parts if p is not None))
        case _:
            return None


def _meet_all(parts: Sequence[frozenset[Pair] | None]) -> frozenset[Pair] | None:
    known = [p for p in parts if p is not None]
    if not known:
        return None
    result = known[0]
    for other in known[1:]:
        result = frozenset(m for a, b in product(result, other) if (m := _meet(a, b)))
    return result


def _meet(a: Pair, b: Pair) -> Pair | None:
    """The pair both require, or None when they contradict each other."""
    if not (_agree(a[0], b[0]) and _agree(a[1], b[1])):
        return None
    return (a[0] if a[0] is not None else b[0], a[1] if a[1] is not None else b[1])


def _agree(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


# -- columns ------------------------------------------------------------------------------------


class ColumnPlan(Struct, frozen=True):
    """For each column some rule reads, the events it is read for.

    A column read inside `event.action: "BatchWriteItem" and request_parameters: *x*` is read
    for BatchWriteItem events only: for any other event the conjunction is false whatever the
    column holds, so it need not be built."""

    needs: dict[str, Selection]

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(self.needs)

    def columns_for(self, provider: str | None, action: str | None) -> frozenset[str]:
        return frozenset(c for c, wanted in self.needs.items() if wanted.admits(provider, action))


def column_plan(rules: Sequence[Rule], exceptions: Sequence[RuleException] = ()) -> ColumnPlan:
    """What deciding the enabled rules reads: filters, exceptions, the fields of thresholds,
    new terms, sequences and suppression, and `ALWAYS` for every event."""
    needs: dict[str, set[Pair] | None] = {name: None for name in ALWAYS}
    for rule in rules:
        if not rule.runs:
            continue
        scope: set[Pair] | None = set()
        for ast in filter_asts(rule):
            for fields, context in _reads(ast, None):
                _want(needs, columns_of(fields), context)
            pairs = pairs_of(ast)
            scope = None if pairs is None or scope is None else scope | pairs
        # stored fields and exceptions are read only for events the rule's filter let through
        excused = [*rule.exceptions, *exceptions]
        fields = {*stored_fields(rule), *(c.field for e in excused for c in e.conditions)}
        _want(needs, columns_of(fields), None if scope is None else frozenset(scope))
    return ColumnPlan(
        {c: Selection(None if p is None else _simplified(p)) for c, p in needs.items()}
    )


def _want(
    needs: dict[str, set[Pair] | None], columns: Iterable[str], context: frozenset[Pair] | None
) -> None:
    for name in columns:
        if name not in needs:
            needs[name] = set()
        wanted = needs[name]
        if wanted is None:
            continue
        if context is None:
            needs[name] = None
        else:
            wanted |= context


def _reads(
    node: k.Node, context: frozenset[Pair] | None
) -> Iterable[tuple[set[str], frozenset[Pair] | None]]:
    """The fields each leaf reads, with the pairs outside which its value cannot matter."""
    match node:
        case k.And(items):
            pairs = [pairs_of(i) for i in items]
            for i, item in enumerate(items):
                others = _meet_all([context, *pairs[:i], *pairs[i + 1 :]])
                yield from _reads(item, others)
        case k.Or(items):
            for item in items:
                yield from _reads(item, context)
        case k.Not(item):
            yield from _reads(item, context)
        case k.FreeText():
            # free text searches every keyword column
            yield {c.name for c in COLUMNS if c.kind is Kind.KEYWORD}, context
        case _:
            yield k.fields(node), context


def stored_columns(rules: Sequence[Rule]) -> frozenset[str]:
    """The columns a stored match must keep: what the rule types and suppression read later,
    and `ALWAYS`. The filters' own columns are not needed once a row has matched."""
    fields = {f for rule in rules if rule.runs for f in stored_fields(rule)}
    return ALWAYS | columns_of(fields)


def stored_fields(rule: Rule) -> tuple[str, ...]:
    """The fields the rule's type and its suppression read from stored matches."""
    spec = rule.spec
    fields: list[str] = []
    if isinstance(spec, ThresholdSpec):
        fields += [*spec.fields, *(c.field for c in spec.cardinality)]
    elif isinstance(spec, NewTermsSpec):
        fields += spec.fields
    elif isinstance(spec, SequenceSpec):
        fields += spec.by
    elif isinstance(spec, BaselineSpec):
        fields += [*spec.fields, *([spec.count.field] if spec.count else [])]
    elif isinstance(spec, CorrelationSpec):
        fields += [spec.key, *(f for fact in spec.facts for f in (fact.key, fact.value))]
    if isinstance(spec, ThresholdSpec) and spec.count is not None:
        fields.append(spec.count.field)
    if rule.suppression is not None:
        fields += rule.suppression.group_by
    return tuple(fields)


def columns_of(fields: Iterable[str]) -> frozenset[str]:
    """The columns that hold `fields`: the column itself, or the flattened column a dotted
    sub-field is read from. Names no column holds are left out (they read as missing)."""
    out: set[str] = set()
    for name in fields:
        for expanded in expand_fields(name, BY_NAME):
            if expanded in BY_NAME:
                out.add(expanded)
            elif (flat := flattened_parent(expanded)) is not None:
                out.add(flat[0].name)
    return frozenset(out)


def ast_columns(node: k.Node) -> frozenset[str]:
    """The columns a query reads."""
    return columns_of(set().union(*(fields for fields, _ in _reads(node, None))))
