"""The predicate tree a KQL query parses into.

Field-scoped forms are desugared by the parser so the tree stays small:
`f: (a or b)` is `Or(Match(f, a), Match(f, b))`, `f: not a` is `Not(Match(f, a))`,
`f: { g: x }` is `Match("f.g", x)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class Star(Enum):
    """An unescaped `*` in an unquoted value: any run of characters, possibly empty."""

    STAR = "*"


@dataclass(frozen=True, slots=True)
class Value:
    """A value as written: literal text and wildcards. Quoted values never hold a Star."""

    parts: tuple[str | Star, ...]
    quoted: bool = False

    @property
    def has_wildcard(self) -> bool:
        return any(p is Star.STAR for p in self.parts)

    @property
    def text(self) -> str:
        """The literal text; only meaningful when `has_wildcard` is false."""
        return "".join(p if isinstance(p, str) else "*" for p in self.parts)


@dataclass(frozen=True, slots=True)
class Match:
    field: str
    value: Value


@dataclass(frozen=True, slots=True)
class Exists:
    field: str


@dataclass(frozen=True, slots=True)
class Range:
    field: str
    op: Literal["<", "<=", ">", ">="]
    value: Value


@dataclass(frozen=True, slots=True)
class FreeText:
    """A value with no field: Elastic searches its default fields; we search none of ours."""

    value: Value


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Match | Exists | Range | FreeText | And | Or | Not


def fields(node: Node) -> set[str]:
    """Every field a query reads."""
    match node:
        case Match(f) | Exists(f) | Range(f):
            return {f}
        case FreeText():
            return set()
        case And(items) | Or(items):
            return set().union(*(fields(i) for i in items))
        case Not(item):
            return fields(item)
    raise TypeError(node)
