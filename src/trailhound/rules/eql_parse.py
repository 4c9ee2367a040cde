"""EQL text -> the `eql` package's tree, keeping what that tree drops: which comparisons ignore
letter case.

Elastic's `eql` package parses Elasticsearch's EQL grammar and checks it, but its tree writes
`a : "x"` and `a like "x"` both as `wildcard(a, "x")`, `in~` as `in`, and `stringContains~` as
`stringContains`. Its walker is extended here to name the case-insensitive forms apart
(`wildcard~`, `match~`, `in~`, `stringContains~`...), so `eql` stays the one parser.
"""

from __future__ import annotations

from typing import Any

import eql
from eql import ast
from eql.errors import EqlError, EqlParseError
from eql.parser import (
    LarkToEQL,
    ParserConfig,
    elasticsearch_syntax,
    ignore_missing_functions,
    lark_parser,
)
from lark.exceptions import LarkError

from trailhound.errors import RuleError

CASELESS = "~"  # the suffix of a function name whose comparison ignores letter case


class _Walker(LarkToEQL):  # type: ignore[misc]
    def string_predicate(self, node: Any) -> Any:
        info = super().string_predicate(node)
        if node["STRING_PREDICATE"] in (":", "like~", "regex~"):
            call = info.node
            info.node = ast.FunctionCall(call.name + CASELESS, call.arguments)
        return info

    def in_set(self, node: Any) -> Any:
        info = super().in_set(node)
        if node.get("IN") == "in~":
            test = info.node
            info.node = ast.FunctionCall("in" + CASELESS, [test.expression, *test.container])
        return info

    def function_call(self, node: Any, prev_node: Any = None, prev_arg: Any = None) -> Any:
        info = super().function_call(node, prev_node, prev_arg)
        name = node["method_name"] if node.data == "method" else node.children[0]
        written = str(name.children[0] if hasattr(name, "children") else name)
        if written.endswith(CASELESS) and isinstance(info.node, ast.FunctionCall):
            call = info.node
            info.node = ast.FunctionCall(call.name + CASELESS, call.arguments)
        return info


def parse_eql(text: str, *, where: str | None, line: int, column: int) -> Any:
    """The query's tree; a syntax or type error is a RuleError at the file's line and column
    (`line` and `column` say where the query starts in its file)."""
    source = text if text.endswith("\n") else text + "\n"
    try:
        with elasticsearch_syntax, ignore_missing_functions, ParserConfig(allow_pipes=True):
            eql.parser.load_extensions(force=False)
            walker = _Walker(source)
            try:
                tree = lark_parser.parse(source, start="piped_query")
            except LarkError as err:
                at_line = getattr(err, "line", 1) - 1
                at_column = getattr(err, "column", 1) - 1
                raise _located(
                    "invalid EQL syntax", at_line, at_column, where, line, column
                ) from None
            node = walker.visit(tree)
            return (
                node.node if hasattr(node, "node") and not isinstance(node, ast.EqlNode) else node
            )
    except EqlParseError as err:
        message = err.error_msg
        raise _located(message, err.line, err.column, where, line, column) from None
    except EqlError as err:
        raise RuleError(f"EQL: {err}", where=where, line=line, column=column) from None


def _located(
    message: str, at_line: int, at_column: int, where: str | None, line: int, column: int
) -> RuleError:
    """An error at 0-based (`at_line`, `at_column`) of a query that starts at (line, column)."""
    return RuleError(
        f"EQL: {message}",
        where=where,
        line=line + at_line,
        column=(column if at_line == 0 else 1) + at_column,
    )
