"""Rules as SQL over the normalized events table, for engines trailhound does not drive.

Each rule becomes one SELECT in the chosen dialect (engine/dialects.py) over a table whose
columns are the normalized schema (docs/normalized-table.md). A query rule selects its
matches. The other types select what SQL can say honestly (a threshold as a grouped count, a
new-terms rule as the first time each term appears, a sequence's steps) and a comment says
what trailhound decides beyond it. A rule the dialect cannot express, or that cannot run, is
named with the reason instead of its SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from trailhound.cloudtrail.schema import BY_NAME, Kind, flattened_parent
from trailhound.engine.dialects import DIALECTS, Unexpressible, rewritten, udfs_needed
from trailhound.engine.filtering import FilterPlan, RuleFilter
from trailhound.engine.predicates import column, flat_values
from trailhound.escaping import printable
from trailhound.rules.duration import format_duration
from trailhound.rules.model import (
    BaselineSpec,
    CorrelationSpec,
    NewTermsSpec,
    QuerySpec,
    Rule,
    RuleException,
    SequenceSpec,
    ThresholdSpec,
)

TABLE = "trailhound_events"


@dataclass(frozen=True, slots=True)
class Exported:
    """One rule's SQL, or why there is none."""

    rule: Rule
    sql: str | None
    beyond: str = ""  # what trailhound decides that the SQL does not
    reason: str = ""  # why there is no SQL
    udfs: frozenset[str] = frozenset()  # trailhound's functions the SQL calls


def export_rules(
    rules: Sequence[Rule],
    *,
    dialect: str,
    now: datetime,
    table: str = TABLE,
    exceptions: Sequence[RuleException] = (),
) -> list[Exported]:
    """Every rule's SQL in `dialect`, in the order given; relative times (`now-1d`) are
    resolved against `now`."""
    if dialect not in DIALECTS:
        raise Unexpressible(f"no SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    plan = FilterPlan.build(rules, exceptions=exceptions, now=now)
    failed = dict(plan.failed)
    out: list[Exported] = []
    for rule in rules:
        if not rule.runs:
            out.append(Exported(rule, None, reason=_why_not_running(rule)))
        elif rule.rule_id in failed:
            out.append(Exported(rule, None, reason=failed[rule.rule_id]))
        else:
            steps = [f for f in plan.filters if f.rule_id == rule.rule_id]
            out.append(_export(rule, steps, dialect, table))
    return out


def _export(rule: Rule, steps: list[RuleFilter], dialect: str, table: str) -> Exported:
    try:
        query, beyond = _statement(rule, [f.tree for f in steps], table)
        tree = rewritten(query, dialect)
    except Unexpressible as exc:
        return Exported(rule, None, reason=exc.message)
    sql = tree.sql(DIALECTS[dialect].sqlglot)
    return Exported(rule, sql, beyond=beyond, udfs=udfs_needed(tree))


def _statement(rule: Rule, filters: list[exp.Expr], table: str) -> tuple[exp.Expr, str]:
    """The SELECT for the rule's type and what it leaves to trailhound."""
    spec = rule.spec
    where = filters[-1]
    events = exp.select("*").from_(_table(table)).where(where.copy())
    match spec:
        case QuerySpec():
            return events, ""
        case ThresholdSpec():
            return _threshold(spec, where, table), _threshold_beyond(spec)
        case NewTermsSpec():
            return _first_seen(spec, where, table), _new_terms_beyond(spec)
        case SequenceSpec():
            return _steps(filters, table), (
                f"the steps in this order, joined by {', '.join(spec.by) or 'nothing'}, "
                f"within {format_duration(spec.maxspan)}"
            )
        case BaselineSpec():
            return events, (
                f"counts per {', '.join(spec.fields)} in windows of "
                f"{format_duration(spec.window)} against their own history of "
                f"{format_duration(spec.history)}"
            )
        case CorrelationSpec():
            return _steps(filters, table), (
                f"the last step's events whose {spec.key} a fact step taught within "
                f"{format_duration(spec.remember)} before"
            )
    raise Unexpressible(f"rule type {rule.type}")


def _threshold(spec: ThresholdSpec, where: exp.Expr, table: str) -> exp.Expr:
    keys = [_value(f).as_(f, quoted=True) for f in spec.fields]
    having: list[exp.Expr] = [exp.GTE(this=exp.Count(this=exp.Star()), expression=_n(spec.value))]
    counts: list[exp.Expr] = [exp.Count(this=exp.Star()).as_("event_count")]
    for c in spec.cardinality:
        distinct = exp.Count(this=exp.Distinct(expressions=[_value(c.field)]))
        counts.append(distinct.as_(f"distinct_{c.field}", quoted=True))
        having.append(exp.GTE(this=distinct.copy(), expression=_n(c.value)))
    query = exp.select(*keys, *counts).from_(_table(table)).where(_grouped(where, spec.fields))
    if spec.fields:
        query = query.group_by(*(_value(f) for f in spec.fields))
    return query.having(exp.and_(*having))


def _threshold_beyond(spec: ThresholdSpec) -> str:
    window = format_duration(spec.window) if spec.window else "the rule's lookback"
    parts = [
        f"counts inside a sliding window of {window}, not over the whole table",
        "the events that opened an alert do not count again",
    ]
    if spec.count is not None:
        parts.append(f"counts the items of {spec.count.field}, not events")
    return "; ".join(parts)


def _first_seen(spec: NewTermsSpec, where: exp.Expr, table: str) -> exp.Expr:
    keys = [_value(f).as_(f, quoted=True) for f in spec.fields]
    first = exp.Min(this=column("@timestamp")).as_("first_seen")
    query = exp.select(*keys, first).from_(_table(table)).where(_grouped(where, spec.fields))
    return query.group_by(*(_value(f) for f in spec.fields))


def _new_terms_beyond(spec: NewTermsSpec) -> str:
    text = (
        f"alerts on an event whose term was not seen in the {format_duration(spec.history_window)}"
        " before it (terms age out); a list field gives one term per value, where this SQL"
        " groups the list whole"
    )
    if spec.learning_period is not None:
        text += f"; for {format_duration(spec.learning_period)} it only learns"
    return text


def _steps(filters: list[exp.Expr], table: str) -> exp.Expr:
    """Each step's events with its number, one SELECT after another."""
    selects = [
        exp.select(_n(i + 1).as_("step"), exp.Star()).from_(_table(table)).where(f.copy())
        for i, f in enumerate(filters)
    ]
    query: exp.Expr = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    return query


def _grouped(where: exp.Expr, fields: Sequence[str]) -> exp.Expr:
    """`where`, and every group field present: an event missing one is in no group."""
    present: list[exp.Expr] = []
    for field in fields:
        value = _value(field)
        present.append(exp.not_(exp.Is(this=value, expression=exp.null())))
        if _is_list(field):
            size = exp.ArraySize(this=value.copy())
            present.append(exp.GT(this=size, expression=exp.Literal.number(0)))
    return exp.and_(exp.paren(where.copy()), *present) if present else where.copy()


def _is_list(field: str) -> bool:
    col = BY_NAME.get(field)
    return col.kind is Kind.KEYWORDS if col is not None else True


def _value(field: str) -> exp.Expr:
    """A field's value as a grouping key (a list for list fields)."""
    col = BY_NAME.get(field)
    if col is not None:
        return column(field)
    flat = flattened_parent(field)
    if flat is not None:
        return flat_values(*flat)
    raise Unexpressible(f"it groups by {field}, which no event has: it never fires")


def _table(name: str) -> exp.Table:
    return exp.to_table(name)


def _n(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _why_not_running(rule: Rule) -> str:
    if not rule.enabled:
        return "disabled"
    return f"not configured: set its parameters {', '.join(rule.unconfigured)}"


def export_text(exported: Sequence[Exported], *, dialect: str, table: str = TABLE) -> str:
    """One script: each rule's SQL under a comment naming it, and the rules left out."""
    blocks = [
        _comment(f"trailhound rules as {dialect} SQL over {table} (docs/normalized-table.md)")
    ]
    needed = sorted(set().union(*(e.udfs for e in exported)))
    if needed:
        blocks.append(f"-- needs trailhound's functions: {', '.join(needed)}")
    for e in exported:
        lines = [_comment(f"{e.rule.name} ({e.rule.type}, {e.rule.rule_id})")]
        if e.sql is None:
            lines.append(_comment(f"not exported: {e.reason}"))
        else:
            if e.beyond:
                lines.append(_comment(f"trailhound also decides: {e.beyond}"))
            lines.append(e.sql + ";")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _comment(text: str) -> str:
    """A one-line SQL comment: a rule's name cannot end the line and start SQL of its own."""
    return "-- " + printable(text, None).replace("\n", " ").replace("\r", " ")
