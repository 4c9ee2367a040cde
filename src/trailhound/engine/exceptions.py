"""Exceptions (excused events) -> SQL predicates, reusing the rule predicate compiler.

A condition matches when the field equals any listed value (`value`), matches any pattern
(`wildcard`: `*` any run, `?` one character) or lies in any network (`cidr`). An exception
excuses an event when all its conditions match.
"""

from __future__ import annotations

from sqlglot import exp

from trailhound.engine.keys import value_sql
from trailhound.engine.predicates import CIDR_UDF
from trailhound.rules.model import Condition, RuleException


def exception_predicate(excused: RuleException) -> exp.Expr:
    return exp.and_(*(exp.paren(_condition(c)) for c in excused.conditions))


def _condition(cond: Condition) -> exp.Expr:
    sql, is_list = value_sql(cond.field)
    target: exp.Expr = exp.maybe_parse(sql, dialect="duckdb")
    tests = [_test(target, cond, v, is_list) for v in cond.values]
    if not tests:
        return exp.false()
    return exp.func("COALESCE", exp.or_(*tests), exp.false())


def _test(target: exp.Expr, cond: Condition, value: str, is_list: bool) -> exp.Expr:
    x = exp.column(exp.to_identifier("x"))
    subject = x if is_list else target
    test: exp.Expr
    if cond.kind == "cidr":
        test = exp.func(CIDR_UDF, subject, exp.Literal.string(value))
    elif cond.kind == "wildcard":
        test = exp.Escape(
            this=exp.Like(this=subject, expression=exp.Literal.string(_like(value))),
            expression=exp.Literal.string("\\"),
        )
    else:
        test = exp.EQ(this=exp.cast(subject, "VARCHAR"), expression=exp.Literal.string(value))
    if not is_list:
        return test
    lam = exp.Lambda(this=test, expressions=[exp.to_identifier("x")])
    return exp.GT(
        this=exp.func("LEN", exp.func("LIST_FILTER", target, lam)),
        expression=exp.Literal.number(0),
    )


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
