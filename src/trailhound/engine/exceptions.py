"""Exceptions (excused events) -> SQL predicates, reusing the rule predicate compiler.

A condition matches when the field equals any listed value (`value`), matches any pattern
(`wildcard`: `*` any run, `?` one character) or lies in any network (`cidr`). An exception
excuses an event when all its conditions match.
"""

from __future__ import annotations

from sqlglot import exp

from trailhound.cloudtrail.schema import BY_NAME, Kind, flattened_parent
from trailhound.engine.predicates import ThInCidr, any_element, column, flat_values
from trailhound.rules.model import Condition, RuleException


def exception_predicate(excused: RuleException) -> exp.Expr:
    return exp.and_(*(exp.paren(_condition(c)) for c in excused.conditions))


def _condition(cond: Condition) -> exp.Expr:
    target, is_list = _value(cond.field)
    tests = [_test(target.copy(), cond, v, is_list) for v in cond.values]
    if not tests:
        return exp.false()
    return exp.Coalesce(this=exp.or_(*tests), expressions=[exp.false()])


def _value(field: str) -> tuple[exp.Expr, bool]:
    """The field's value (NULL for a field no event has), and whether it is a list."""
    col = BY_NAME.get(field)
    if col is not None:
        return column(field), col.kind is Kind.KEYWORDS
    flat = flattened_parent(field)
    if flat is not None:
        return flat_values(*flat), True
    return exp.null(), False


def _test(target: exp.Expr, cond: Condition, value: str, is_list: bool) -> exp.Expr:
    def test(subject: exp.Expr) -> exp.Expr:
        if cond.kind == "cidr":
            return ThInCidr(this=subject, expression=exp.Literal.string(value))
        if cond.kind == "wildcard":
            return exp.Escape(
                this=exp.Like(this=subject, expression=exp.Literal.string(_like(value))),
                expression=exp.Literal.string("\\"),
            )
        return exp.EQ(this=exp.cast(subject, "VARCHAR"), expression=exp.Literal.string(value))

    return any_element(target, test) if is_list else test(target)


def _like(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


__all__ = ["exception_predicate"]
