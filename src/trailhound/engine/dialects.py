"""The SQL dialects a rule's filter renders to, each a table of its differences.

A filter is one typed sqlglot tree (engine/predicates.py). sqlglot renders most of it for any
dialect by itself; what it cannot know is listed here, per dialect, as rewrites of the tree
that run before sqlglot renders it: regex flags that a dialect wants inside the pattern,
string tests it lacks, and trailhound's own functions (engine/udfs.py), which an engine that
registers them (DuckDB, Spark) calls by name and the others (Trino, Athena) get as their own
SQL where it can say the same. What a dialect cannot say raises `Unexpressible` with why.

Adding a dialect is one entry in `DIALECTS`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from trailhound.engine.predicates import (
    UDF_NODES,
    ThFlat,
    ThInCidr,
    ThIpKey,
)
from trailhound.engine.udfs import ip_number
from trailhound.errors import TrailhoundError

Rewrite = Callable[[exp.Expr], exp.Expr]


class Unexpressible(TrailhoundError):
    """A filter uses something the dialect has no SQL for."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    sqlglot: str  # sqlglot's name for it
    rewrites: tuple[Rewrite, ...] = ()  # applied in order, each top down
    # whether the engine registers trailhound's functions under their own names
    # (engine/udfs.py); without them, what is left of them after the rewrites is Unexpressible
    udfs: bool = False


def render(tree: exp.Expr, dialect: str) -> str:
    """The tree as `dialect`'s SQL text."""
    # the tree rendered is this call's own copy, or one no rewrite touches: sqlglot need not
    # copy it again (copying was most of the cost of rendering)
    return rewritten(tree, dialect).sql(_dialect(dialect).sqlglot, copy=False)


def rewritten(tree: exp.Expr, dialect: str) -> exp.Expr:
    """The tree with `dialect`'s differences applied: a copy, or `tree` itself for a dialect
    with no rewrites (never changed)."""
    spec = _dialect(dialect)
    out = tree.copy() if spec.rewrites else tree
    for rewrite in spec.rewrites:
        out = out.transform(rewrite, copy=False)
    if not spec.udfs:
        left = udfs_needed(out)
        if left:
            raise Unexpressible(f"{dialect} has no {', '.join(sorted(left))}")
    return out


def udfs_needed(tree: exp.Expr) -> frozenset[str]:
    """The names of trailhound's functions (engine/udfs.py) the tree calls: what an engine
    must register before it runs the tree's SQL."""
    return frozenset(UDF_NODES[type(n)] for n in tree.find_all(*UDF_NODES))


def _dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        known = ", ".join(DIALECTS)
        raise TrailhoundError(f"no SQL dialect {name!r} (known: {known})") from None


# -- rewrites -------------------------------------------------------------------------------


def inline_regex_flags(node: exp.Expr) -> exp.Expr:
    """Regex flags as the pattern's own `(?i)`, a whole-text match as anchors: Spark's RLIKE
    and Trino's REGEXP_LIKE take no flag argument, and neither has REGEXP_FULL_MATCH. `\\z` is
    the very end (Java's `$` also matches before a last line break; RE2's full match does not)."""
    if isinstance(node, exp.RegexpFullMatch):
        pattern, flag = node.expression, node.args.get("options")
        anchored = f"^(?:{_text(pattern)})\\z"
    elif isinstance(node, exp.RegexpLike):
        pattern, flag = node.expression, node.args.get("flag")
        anchored = _text(pattern)
    else:
        return node
    folded = flag is not None and "i" in _text(flag)
    text = ("(?i)" if folded else "") + anchored
    return exp.RegexpLike(this=node.this, expression=exp.Literal.string(text))


def trino_text_tests(node: exp.Expr) -> exp.Expr:
    """Trino's CONTAINS is for arrays and it has no ENDS_WITH."""
    if isinstance(node, exp.Contains):
        position = exp.StrPosition(this=node.this, substr=node.expression)
        return exp.GT(this=position, expression=exp.Literal.number(0))
    if isinstance(node, exp.EndsWith):
        return exp.StartsWith(
            this=exp.func("REVERSE", node.this), expression=exp.func("REVERSE", node.expression)
        )
    return node


_COMPARISONS = (exp.EQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


def trino_ip(node: exp.Expr) -> exp.Expr:
    """Trino's IPADDRESS is Elasticsearch's ip: 16 bytes, IPv4 mapped into IPv6, so that
    type compares and matches networks as trailhound's `th_ip_key` and `th_in_cidr` do."""
    if isinstance(node, ThInCidr):
        # NULL for text that is no address: the filter's leaves are made two-valued above
        return exp.ArrayContains(this=node.expression, expression=_as_ip(node.this))
    if isinstance(node, _COMPARISONS) and isinstance(node.this, ThIpKey):
        key = node.expression
        if not (isinstance(key, exp.Literal) and key.is_string):
            raise Unexpressible("an address compared with something else than an address")
        address = exp.cast(exp.Literal.string(_address(key.this)), _IPADDRESS)
        return type(node)(this=_as_ip(node.this.this), expression=address)
    return node


def trino_flattened(node: exp.Expr) -> exp.Expr:
    """A flattened field's leaf values through SQL/JSON's lax mode, where a member step
    goes through arrays as Elastic's flattened type does. Two differences stay: a key that
    itself holds a dot is read as two keys, and an object at the path yields no value
    (trailhound takes all its leaves)."""
    if not isinstance(node, ThFlat):
        return node
    path = _text(node.expression)
    if not path:
        raise Unexpressible("a flattened object matched as a whole needs th_flat")
    steps = "".join("." + json.dumps(key) for key in path.split("."))
    leaves = exp.JSONExtract(
        this=node.this,
        expression=exp.Literal.string(f"lax ${steps}[*]"),
        option=exp.var("WITH ARRAY WRAPPER"),
        json_query=True,
    )
    texts = exp.DataType.build("ARRAY<VARCHAR>")
    return exp.TryCast(this=exp.ParseJSON(this=leaves), to=texts, safe=True)


_IPADDRESS = exp.DataType.build("IPADDRESS", dialect="trino")


def _as_ip(text: exp.Expr) -> exp.Expr:
    return exp.TryCast(this=text, to=_IPADDRESS.copy(), safe=True)


def _address(key: str) -> str:
    """The address whose `ip_key` is `key` (an IPv4 address for a mapped one)."""
    ip = ipaddress.IPv6Address(int(key, 16))
    mapped = ip.ipv4_mapped
    text = str(mapped if mapped is not None else ip)
    assert ip_number(text) == int(key, 16)
    return text


def _text(literal: exp.Expr) -> str:
    if not isinstance(literal, exp.Literal):
        raise Unexpressible(f"a pattern that is no literal: {literal.sql()}")
    return str(literal.this)


_TRINO = (inline_regex_flags, trino_text_tests, trino_ip, trino_flattened)

DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect("duckdb", "duckdb", udfs=True),
        Dialect("spark", "spark", (inline_regex_flags,), udfs=True),
        Dialect("trino", "trino", _TRINO),
        Dialect("athena", "athena", _TRINO),
    )
}
