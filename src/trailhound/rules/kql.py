"""KQL text to the predicate tree in `kql_ast`; `kql_text` writes the tree back as text.

The grammar (kql.lark) is a port of Kibana's own kuery grammar, so a query means here what it
means in Elastic, quirks included: unquoted values may hold spaces (`a: foo bar` is one value),
`?` is an ordinary character (only `*` is a wildcard), `f: not x` needs parentheses
(`f: (not x)`), and `not` followed by whitespace ends an unquoted value even inside a word
(`a: cannot find` is a syntax error, as in Kibana).

Choices where Elastic leaves the meaning to the index's mapping:
- `field: *` is `Exists(field)`; `*: *` and the empty query are `Exists("*")` (match all).
- A field name written with an unquoted `*` (`user.*: x`) stays a pattern in `Match.field` etc.;
  the engine expands it against the known columns. A literal `*` in a field name is refused.
- `field: { sub: v }` becomes `Match("field.sub", v)`; a bare value inside `{ }` is refused.
- The unquoted field name `null` is no field at all, as in Kibana: `null: x` is free text.
- A range value is literal text: Kibana sends `a < 1*` to Elasticsearch as the string `1*`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Literal, cast

from msgspec import Struct

from trailhound.errors import RuleError
from trailhound.rules.kql_ast import And, Exists, FreeText, Match, Node, Not, Or, Range, Star, Value
from trailhound.rules.kql_chars import JS_TRIM
from trailhound.rules.kql_text import dump, to_kql
from trailhound.userdirs import cache_folder

if TYPE_CHECKING:
    from lark import Lark, Token, Tree
    from lark.exceptions import UnexpectedInput

# lark is imported by the functions that parse, not with the module: the rest of trailhound
# reads KQL's trees and names (`expand_fields`), and a scan whose rules come from the rule
# cache parses no KQL at all.

__all__ = ["MATCH_ALL", "dump", "expand_fields", "parse", "to_kql"]

RangeOp = Literal["<", "<=", ">", ">="]
Part = str | Star

MATCH_ALL = Exists("*")

# Kibana's Space rule: whitespace between tokens.
_SPACE = " \t\r\n\u00a0"
_WHITESPACE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r"}

_UNQUOTED_PIECE = re.compile(
    r'\\([tnr])|\\([\\():<>"*{}])|\\u([0-9a-fA-F]{4})|\\((?i:or|and|not))|(\*)|(.)', re.S
)
_QUOTED_PIECE = re.compile(r'\\([tnr])|\\u([0-9a-fA-F]{4})|\\([\\"])|(.)', re.S)


@functools.cache
def _parser() -> Lark:
    from lark import Lark

    grammar = files("trailhound.rules").joinpath("kql.lark").read_text(encoding="utf-8")
    return Lark(
        grammar, parser="lalr", lexer="contextual", maybe_placeholders=False,
        cache=_parser_cache(grammar),
    )  # fmt: skip


def _parser_cache(grammar: str) -> str | bool:
    """Where lark keeps the built parse tables between runs, or False for no cache.

    Building the tables costs more than all the parsing a rule pack needs. Lark writes the file
    once and on later runs loads it only if its hash of grammar, options and versions matches,
    otherwise (or when the file is unreadable) it builds the tables afresh, so a stale or broken
    cache never changes a parse. The user's cache directory, never a shared temporary one,
    because the file is a pickle.
    """
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
    return str(folder / f"kql-lalr-{digest}.lark")


def parse(text: str, *, where: str | None = None, line: int = 1, column: int = 1) -> Node:
    """Parse a KQL query.

    `line` and `column` say where `text` starts in its file (a query embedded in TOML), so that
    a `RuleError` points at the file's own line and column.
    """
    source = _Source(text, where, line, column)
    tree = _syntax_tree(source)
    if not tree.children:
        return MATCH_ALL
    return _Builder(source).query(_subtree(tree.children[0]), None)


# ---------------------------------------------------------------------------------------------
# Positions and syntax errors


class _Source(Struct, frozen=True):
    text: str
    where: str | None
    line: int
    column: int

    def error(self, message: str, pos: int) -> RuleError:
        line, column = self.location(pos)
        return RuleError(message, where=self.where, line=line, column=column)

    def location(self, pos: int) -> tuple[int, int]:
        row = self.text.count("\n", 0, pos)
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return self.line + row, column + (self.column - 1 if row == 0 else 0)


def _syntax_tree(source: _Source) -> Tree[Token]:
    from lark import Token
    from lark.exceptions import UnexpectedInput

    interactive = _parser().parse_interactive(source.text)
    seen: list[Token] = []
    try:
        for token in interactive.iter_parse():
            seen.append(token)
        end = Token("$END", "", len(source.text), 0, 0)
        return cast("Tree[Token]", interactive.feed_token(end))
    except UnexpectedInput as exc:
        raise _SyntaxErrorBuilder(source, seen).build(exc) from None


class _Open(Struct, frozen=True):
    """An unclosed bracket: where it is and whether it opened a value list."""

    char: str
    pos: int
    values: bool


_TOKEN_WORDS = {
    "_OR": "'or'",
    "_AND": "'and'",
    "_NOT": "'not'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COLON": "':'",
    "$END": "the end of the query",
}


class _SyntaxErrorBuilder:
    """Turns lark's exception into one plain sentence at the right place."""

    def __init__(self, source: _Source, seen: list[Token]) -> None:
        self.source = source
        self.seen = seen

    def build(self, exc: UnexpectedInput) -> RuleError:
        from lark.exceptions import UnexpectedCharacters, UnexpectedToken

        if isinstance(exc, UnexpectedCharacters):
            return self._bad_character(exc.pos_in_stream or 0, self.seen)
        assert isinstance(exc, UnexpectedToken)
        token = exc.token
        before = self.seen[:-1] if self.seen and self.seen[-1] is token else self.seen
        if token.type == "$END":
            return self._early_end(before)
        message = self._expected(before, _describe(token)) + _hint(before, token)
        return self.source.error(message, _token_start(token))

    def _bad_character(self, pos: int, before: list[Token]) -> RuleError:
        text = self.source.text
        if text[pos] == '"':
            return self.source.error("this quoted string is never closed with '\"'", pos)
        if text[pos] == "\\":
            shown = text[pos : pos + 2]
            return self.source.error(
                f"'{shown}' is not a KQL escape: write '\\\\' for a backslash, "
                "or put the value in double quotes",
                pos,
            )
        return self.source.error(self._expected(before, repr(text[pos])), pos)

    def _early_end(self, before: list[Token]) -> RuleError:
        pos = _token_end(self.source.text, before[-1]) if before else 0
        opened = _open_brackets(before)
        if opened and {"RPAR", "RBRACE"} & _accepted(before):
            inner = opened[-1]
            line, column = self.source.location(inner.pos)
            closer = ")" if inner.char == "(" else "}"
            return self.source.error(
                f"expected '{closer}' to close the '{inner.char}' at line {line}, column {column}",
                pos,
            )
        return self.source.error(self._expected(before, None), pos)

    def _expected(self, before: list[Token], found: str | None) -> str:
        expected = _accepted(before)
        if not before:
            expected.discard("$END")  # true but unhelpful: an empty query is valid
        words = _expected_words(expected, before)
        after = f" after {_describe(before[-1])}" if before else ""
        tail = f", found {found}" if found else ""
        return f"expected {words}{after}{tail}"


def _accepted(before: Sequence[Token]) -> set[str]:
    """The terminals that can follow `before`, found by trying each (LALR's table over-offers)."""
    interactive = _parser().parse_interactive("")
    for token in before:
        interactive.feed_token(token)
    return set(interactive.accepts())  # type: ignore[no-untyped-call]  # lark leaves it bare


def _hint(before: Sequence[Token], found: Token) -> str:
    near = [t for t in (before[-1] if before else None, found) if t is not None]
    if any(t.type == "UNQUOTED" and _KEYWORD_START.match(t.value) for t in near):
        return " ('and', 'or' and 'not' need whitespace on both sides)"
    if found.type == "COLON" and before and before[-1].type == "UNQUOTED":
        return " (put a value that holds ':' in double quotes, or write it as '\\:')"
    return ""


_KEYWORD_START = re.compile(r"(?i:or|and|not)(?![\w.])")


def _open_brackets(tokens: Sequence[Token]) -> list[_Open]:
    stack: list[_Open] = []
    previous: str | None = None
    for token in tokens:
        if token.type in ("LPAR", "LBRACE"):
            # a '(' right after ':', or inside such a list, groups values rather than queries
            in_list = previous == "COLON" or bool(stack and stack[-1].values)
            stack.append(_Open(token.value, _token_start(token), token.type == "LPAR" and in_list))
        elif token.type in ("RPAR", "RBRACE") and stack:
            stack.pop()
        previous = token.type
    return stack


def _expected_words(expected: set[str], before: Sequence[Token]) -> str:
    opened = _open_brackets(before)
    last = before[-1].type if before else None
    words: list[str] = []
    if {"QUOTED", "UNQUOTED"} & expected:
        wants_value = last in ("COLON", "RANGE_OP") or bool(opened and opened[-1].values)
        words.append("a value" if wants_value else "a field name or value")
    if "COLON" in expected:
        words.append("':'")
    if "RANGE_OP" in expected:
        words.append("a comparison ('<', '<=', '>', '>=')")
    if {"_OR", "_AND"} & expected:
        words += ["'and'", "'or'"]
    words += [_TOKEN_WORDS[t] for t in ("RPAR", "RBRACE", "$END") if t in expected]
    return _join_or(words) if words else "something else"


def _join_or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe(token: Token) -> str:
    if token.type in _TOKEN_WORDS:
        return _TOKEN_WORDS[token.type]
    text = token.value.strip(_SPACE)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text) if token.type != "QUOTED" else text


def _token_start(token: Token) -> int:
    start = token.start_pos or 0
    if token.type in ("_OR", "_AND"):
        return start + len(token.value) - len(token.value.lstrip(_SPACE))
    return start


def _token_end(text: str, token: Token) -> int:
    start, end = token.start_pos or 0, token.end_pos or 0
    while end > start and text[end - 1] in _SPACE:
        end -= 1
    return end


# ---------------------------------------------------------------------------------------------
# Syntax tree to predicate tree


def _subtree(child: Tree[Token] | Token) -> Tree[Token]:
    from lark import Tree

    assert isinstance(child, Tree)
    return child


class _Builder:
    """Walks lark's tree, desugaring value lists and `{ }` groups into per-field nodes."""

    def __init__(self, source: _Source) -> None:
        self.source = source

    def query(self, tree: Tree[Token], path: str | None) -> Node:
        from lark import Tree

        kids = [_subtree(c) for c in tree.children if isinstance(c, Tree)]
        match tree.data:
            case "or_":
                return Or(tuple(self.query(k, path) for k in kids))
            case "and_":
                return And(tuple(self.query(k, path) for k in kids))
            case "not_":
                return Not(self.query(kids[0], path))
            case "nested":
                return self.query(kids[1], self.field(kids[0], path, null_ok=False))
            case "range":
                return self.range(tree, path)
            case "field_value":
                return self.values(kids[1], self.field(kids[0], path, null_ok=path is None))
            case "free_text":
                if path is not None:
                    raise self.source.error(
                        f"a value inside '{path}: {{ }}' needs a field name before it",
                        _literal_token(kids[0]).start_pos or 0,
                    )
                return FreeText(self.value(kids[0]))
        raise AssertionError(tree.data)

    def range(self, tree: Tree[Token], path: str | None) -> Node:
        from lark import Token, Tree

        field_tree, op, value_tree = tree.children
        assert isinstance(field_tree, Tree) and isinstance(op, Token)
        assert isinstance(value_tree, Tree)
        field = self.field(field_tree, path, null_ok=False)
        assert field is not None
        value = self.value(value_tree)
        literal = Value((value.text,) if value.parts else (), quoted=value.quoted)
        return Range(field, cast(RangeOp, op.value), literal)

    def values(self, tree: Tree[Token], field: str | None) -> Node:
        from lark import Tree

        kids = [_subtree(c) for c in tree.children if isinstance(c, Tree)]
        match tree.data:
            case "or_":
                return Or(tuple(self.values(k, field) for k in kids))
            case "and_":
                return And(tuple(self.values(k, field) for k in kids))
            case "not_":
                return Not(self.values(kids[0], field))
        value = self.value(tree)
        if field is None:
            return FreeText(value)
        if value.parts == (Star.STAR,) and not value.quoted:
            return Exists(field)
        return Match(field, value)

    def value(self, tree: Tree[Token]) -> Value:
        token = _literal_token(tree)
        if token.type == "QUOTED":
            text = _decode_quoted(token.value[1:-1])
            return Value((text,) if text else (), quoted=True)
        parts = _decode_unquoted(token.value)
        # Kibana builds the same empty literal either way; keep one spelling of it.
        return Value(parts, quoted=not parts)

    def field(self, tree: Tree[Token], path: str | None, *, null_ok: bool) -> str | None:
        """The dotted field name, or None for Kibana's `null` (no field: free text)."""
        token = _literal_token(tree)
        pos = token.start_pos or 0
        if token.type == "QUOTED":
            name = _decode_quoted(token.value[1:-1])
            if "*" in name:
                raise self.source.error("a field name cannot hold a literal '*'", pos)
        else:
            parts = _decode_unquoted(token.value)
            if parts == ("null",):
                if not null_ok:
                    raise self.source.error("'null' cannot be a field name here", pos)
                return None
            if any(isinstance(p, str) and "*" in p for p in parts):
                raise self.source.error("a field name cannot hold a literal '*'", pos)
            name = "".join(p if isinstance(p, str) else "*" for p in parts)
        if not name:
            raise self.source.error("the field name is empty", pos)
        return f"{path}.{name}" if path else name


def _literal_token(tree: Tree[Token]) -> Token:
    from lark import Token

    token = tree.children[0]
    assert isinstance(token, Token)
    return token


def _decode_quoted(body: str) -> str:
    out: list[str] = []
    for m in _QUOTED_PIECE.finditer(body):
        ws, hexa, escaped, char = m.groups()
        if ws:
            out.append(_WHITESPACE_ESCAPES[ws])
        elif hexa:
            out.append(chr(int(hexa, 16)))
        else:
            out.append(escaped or char)
    return _join_surrogates("".join(out))


def _decode_unquoted(raw: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    for m in _UNQUOTED_PIECE.finditer(raw):
        ws, special, hexa, keyword, star, char = m.groups()
        if star:
            parts.append(Star.STAR)
            continue
        piece = _WHITESPACE_ESCAPES[ws] if ws else chr(int(hexa, 16)) if hexa else None
        piece = piece or special or keyword or char
        if parts and isinstance(parts[-1], str):
            parts[-1] += piece
        else:
            parts.append(piece)
    return _js_trim(tuple(_join_surrogates(p) if isinstance(p, str) else p for p in parts))


def _js_trim(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    items = list(parts)
    if items and isinstance(items[0], str):
        items[0] = items[0].lstrip(JS_TRIM)
    if items and isinstance(items[-1], str):
        items[-1] = items[-1].rstrip(JS_TRIM)
    return tuple(p for p in items if p != "")


def _join_surrogates(text: str) -> str:
    """`\\uD83D\\uDE00` is one character in JavaScript; make it one here too."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


# ---------------------------------------------------------------------------------------------
# Field patterns


def expand_fields(pattern: str, names: Iterable[str]) -> tuple[str, ...]:
    """The field names a parsed field stands for, in the order of `names`.

    A field written with an unquoted `*` (`user.*: x`, `*: x`) is a pattern, as in Kibana: `*`
    matches any run of characters, dots included. Any other field stands for itself.
    """
    if "*" not in pattern:
        return (pattern,)
    regex = re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.S)
    return tuple(n for n in names if regex.fullmatch(n))
