"""The string tests EQL and Sigma have and KQL lacks (`Glob`, `Regex`, `FieldCompare`,
`Length`) as SQL over the events view.

They read any field as text, as Elastic's keyword fields are: a list (`event.type`) or a
flattened object matches when any of its values does, and a boolean or number is compared as
the text it is written as (`"true"`, `"443"`). A field no event has never matches.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from trailhound.cloudtrail.schema import BY_NAME, Column, Kind, flattened_parent
from trailhound.engine.predicates import COMPARE, any_element, column, flat_values, ip_equals
from trailhound.rules import kql_ast as k

Test = Callable[[exp.Expr], exp.Expr]


def string_test(node: k.Glob | k.Regex | k.FieldCompare | k.Length) -> exp.Expr:
    """The SQL of one test; FALSE when its field is one no CloudTrail event has."""
    col = BY_NAME.get(node.field)
    if isinstance(node, k.Glob) and node.exact and col is not None and col.kind is Kind.IP:
        # EQL's `==` on an ip field is a term query: it compares addresses, not spellings
        return ip_equals(_column(col), node.text)
    target = _text_of(node.field)
    if target is None:
        return exp.false()
    values, is_list = target
    test = _test(node)
    if test is None:
        return exp.false()
    return any_element(values, test) if is_list else test(values)


def _test(node: k.Glob | k.Regex | k.FieldCompare | k.Length) -> Test | None:
    match node:
        case k.Glob(_, parts, folded):
            return _glob(parts, folded)
        case k.Regex(_, pattern, folded, anchored):
            return _regex(pattern, folded, anchored)
        case k.FieldCompare(_, op, other, folded):
            return _field_compare(op, other, folded)
        case k.Length(_, op, value):
            return lambda x: COMPARE[op](exp.Length(this=x), _number(value))
    raise TypeError(node)


def _text_of(field: str) -> tuple[exp.Expr, bool] | None:
    """The field's values as text, and whether they are a list."""
    col = BY_NAME.get(field)
    if col is None:
        flat = flattened_parent(field)
        return None if flat is None else (flat_values(*flat), True)
    match col.kind:
        case Kind.KEYWORD | Kind.IP:
            return _column(col), False
        case Kind.KEYWORDS:
            return _column(col), True
        case Kind.FLATTENED:
            return flat_values(col, ""), True
    # booleans, numbers and dates compare as the text Elastic's keyword would hold
    return exp.cast(_column(col), exp.DataType.build("VARCHAR"), copy=False), False


def _glob(parts: tuple[str | k.Wild, ...], folded: bool) -> Test:
    if all(isinstance(p, str) for p in parts):
        text = "".join(p for p in parts if isinstance(p, str))
        if not folded:
            return lambda x: exp.EQ(this=x, expression=exp.Literal.string(text))
        lowered = exp.Literal.string(text.lower())
        return lambda x: exp.EQ(this=_lower(x), expression=lowered)
    pattern = exp.Literal.string(_like_pattern(parts))
    kind = exp.ILike if folded else exp.Like
    return lambda x: exp.Escape(
        this=kind(this=x, expression=pattern), expression=exp.Literal.string("\\")
    )


def _like_pattern(parts: tuple[str | k.Wild, ...]) -> str:
    out: list[str] = []
    for part in parts:
        if part is k.Wild.ANY:
            out.append("%")
        elif part is k.Wild.ONE:
            out.append("_")
        else:
            assert isinstance(part, str)
            out.append(part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(out)


def _regex(pattern: str, folded: bool, anchored: bool) -> Test:
    """An RE2 pattern, found anywhere or (`anchored`) matching the whole text; the flag is
    DuckDB's option text, which engine/dialects.py moves into the pattern where needed."""
    flag = exp.Literal.string("i" if folded else "c")
    regex = exp.Literal.string(pattern)
    if anchored:
        return lambda x: exp.RegexpFullMatch(this=x, expression=regex.copy(), options=flag.copy())
    return lambda x: exp.RegexpLike(this=x, expression=regex.copy(), flag=flag.copy())


def _field_compare(op: str, other: str, folded: bool) -> Test | None:
    target = _text_of(other)
    if target is None or target[1]:
        return None  # a field no event has, or a list: neither is one value to compare with
    right = _lower(target[0]) if folded else target[0]

    def test(x: exp.Expr) -> exp.Expr:
        left = _lower(x) if folded else x
        if op == "equals":
            return exp.EQ(this=left, expression=right)
        return _TEXT_TESTS[op](this=left, expression=right)

    return test


_TEXT_TESTS: dict[str, type[exp.Func]] = {
    "contains": exp.Contains,
    "startswith": exp.StartsWith,
    "endswith": exp.EndsWith,
}


def _number(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _lower(x: exp.Expr) -> exp.Expr:
    return exp.Lower(this=x)


def _column(col: Column) -> exp.Column:
    return column(col.name)
