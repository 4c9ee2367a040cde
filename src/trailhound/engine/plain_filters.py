"""A filter answered in Python, without DuckDB, where its tree holds only plain tests.

Most of the shipped filters are ANDs and ORs of equality tests on single-valued text columns
(`COALESCE("event.provider" = 'dynamodb.amazonaws.com', FALSE)`), IS NULL tests, and tests of
a list of texts holding a text or any (`ARRAY_CONTAINS("aws.dynamodb.operations", 'put')`). Such a
filter's answer for a group of the matcher is a few comparisons of the group's values, where
asking DuckDB costs a process ~10 ms to start and ~0.25 ms a filter to parse and bind. So a
filter's typed tree is also rendered here, once, as a `Plain` form: nested tuples that need
neither sqlglot to evaluate nor to travel to a worker. A tree with anything else (flattened
fields, LIKE, numbers, dates, trailhound's functions) has no plain form and keeps going to
DuckDB.

The answers are SQL's: three-valued logic, where a comparison with NULL is NULL, NOT NULL is
NULL, `COALESCE(x, FALSE)` turns NULL into false, and the matcher counts a NULL answer as
false. Text compares as DuckDB's VARCHAR does with no collation: exactly, code point by code
point, case and all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from trailhound.cloudtrail.schema import BY_NAME, Kind

if TYPE_CHECKING:
    from sqlglot import exp

# ("eq", column, text) | ("contains", column, text) | ("nonempty", column) | ("null", column)
# | ("const", bool) | ("not", Plain)
# | ("and", (Plain, ...)) | ("or", (Plain, ...)) | ("false_if_null", Plain)
Plain = tuple[Any, ...]
# a plain form bound to a group's key: True, False or None (SQL's NULL)
Test = Callable[[Sequence[Any]], bool | None]


def plain_form(tree: exp.Expr) -> Plain | None:
    """The tree as a `Plain` form, or None when it holds anything but plain tests."""
    from sqlglot import exp

    while isinstance(tree, exp.Paren):
        tree = tree.this
    if isinstance(tree, exp.Boolean):
        return ("const", bool(tree.this))
    if isinstance(tree, exp.And | exp.Or):
        return _joined("and" if isinstance(tree, exp.And) else "or", tree)
    if isinstance(tree, exp.Not):
        inner = plain_form(tree.this)
        return None if inner is None else ("not", inner)
    if isinstance(tree, exp.Coalesce):
        return _false_if_null(tree)
    if isinstance(tree, exp.EQ):
        return _equals(tree)
    if isinstance(tree, exp.Is):
        name = _column(tree.this, None)
        return None if name is None or not isinstance(tree.expression, exp.Null) else ("null", name)
    if isinstance(tree, exp.ArrayContains):
        return _contains(tree)
    if isinstance(tree, exp.GT):
        return _nonempty(tree)
    return None


def guard_form(tree: exp.Expr) -> Plain | None:
    """For a filter with no plain form: its plain tests that must all hold for it to hold
    (the plain conjuncts of its top AND, within parentheses and COALESCE to false), None
    where there are none. A group they do not pass, the filter does not pass either."""
    from sqlglot import exp

    while isinstance(tree, exp.Paren):
        tree = tree.this
    if isinstance(tree, exp.Coalesce) and _defaults_to_false(tree):
        return guard_form(tree.this)  # true only where its inner test is
    if not isinstance(tree, exp.And):
        return plain_form(tree)
    parts = [g for g in (guard_form(part) for part in tree.flatten()) if g is not None]
    return ("and", tuple(parts)) if parts else None


def _joined(how: str, tree: exp.Expr) -> Plain | None:
    """An AND or OR: sqlglot nests them in pairs, flattened here into one list."""
    parts = []
    for part in tree.flatten():
        form = plain_form(part)
        if form is None:
            return None
        parts.append(form)
    return (how, tuple(parts))


def _false_if_null(tree: exp.Coalesce) -> Plain | None:
    if not _defaults_to_false(tree):
        return None
    inner = plain_form(tree.this)
    return None if inner is None else ("false_if_null", inner)


def _defaults_to_false(tree: exp.Coalesce) -> bool:
    """Whether the COALESCE is `COALESCE(x, FALSE)`."""
    from sqlglot import exp

    rest = tree.expressions
    return len(rest) == 1 and isinstance(rest[0], exp.Boolean) and rest[0].this is False


def _equals(tree: exp.EQ) -> Plain | None:
    """`"column" = 'text'` on a single-valued text column, and nothing else."""
    from sqlglot import exp

    name, text = _column(tree.this, Kind.KEYWORD), tree.expression
    if name is None or not (isinstance(text, exp.Literal) and text.is_string):
        return None
    return ("eq", name, text.this)


def _contains(tree: exp.ArrayContains) -> Plain | None:
    """`ARRAY_CONTAINS("list column", 'text')` on a list of texts (a tuple in a group's key)."""
    from sqlglot import exp

    name, text = _column(tree.this, Kind.KEYWORDS), tree.expression
    if name is None or not (isinstance(text, exp.Literal) and text.is_string):
        return None
    return ("contains", name, text.this)


def _nonempty(tree: exp.GT) -> Plain | None:
    """`ARRAY_LENGTH("list column") > 0`."""
    from sqlglot import exp

    size, zero = tree.this, tree.expression
    if not (isinstance(size, exp.ArraySize) and not size.expression):
        return None
    if not (isinstance(zero, exp.Literal) and not zero.is_string and zero.this == "0"):
        return None
    name = _column(size.this, Kind.KEYWORDS)
    return None if name is None else ("nonempty", name)


def _column(node: exp.Expr, kind: Kind | None) -> str | None:
    """The event column `node` names without a table, when of `kind` (any, for None: IS NULL
    reads any column alike). A KEYWORD column's value in a group's key is a Python `str`, a
    KEYWORDS one's a tuple of them, as DuckDB reads them."""
    from sqlglot import exp

    if not isinstance(node, exp.Column) or node.table or not isinstance(node.this, exp.Identifier):
        return None
    column = BY_NAME.get(node.name)
    if column is None or not (kind is None or column.kind is kind):
        return None
    return column.name


def bound(form: Plain, columns: Sequence[str]) -> Test | None:
    """`form` as a function of a group's key, whose values are of `columns` in order; None
    when it reads a column the key lacks."""
    place = {name: i for i, name in enumerate(columns)}
    try:
        return _bind(form, place)
    except KeyError:
        return None


def _bind(form: Plain, place: dict[str, int]) -> Test:
    match form:
        case ("eq", str(name), str(text)):
            i = place[name]
            return lambda key: None if key[i] is None else key[i] == text
        case ("contains", str(name), str(text)):
            i = place[name]
            return lambda key: None if key[i] is None else text in key[i]
        case ("nonempty", str(name)):
            i = place[name]
            return lambda key: None if key[i] is None else len(key[i]) > 0
        case ("null", str(name)):
            i = place[name]
            return lambda key: key[i] is None
        case ("const", bool(value)):
            return lambda key: value
        case ("not", inner):
            test = _bind(inner, place)
            return lambda key: _not(test(key))
        case ("false_if_null", inner):
            test = _bind(inner, place)
            return lambda key: test(key) is True
        case ("and", parts):
            tests = [_bind(p, place) for p in parts]
            return lambda key: _decided((t(key) for t in tests), False)
        case ("or", parts):
            tests = [_bind(p, place) for p in parts]
            return lambda key: _decided((t(key) for t in tests), True)
    raise ValueError(f"not a plain form: {form!r}")


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _decided(values: Iterable[bool | None], decisive: bool) -> bool | None:
    """SQL's AND (`decisive` false) or OR (true): `decisive` if any value is it, else NULL if
    any is NULL, else the other."""
    unknown = False
    for value in values:
        if value is decisive:
            return decisive
        unknown = unknown or value is None
    return None if unknown else not decisive
