"""Typed reading of parsed TOML that reports every problem at its line in the file.

`tomllib` gives values without positions, so `KeyLocator` scans the text once to map key paths
to lines and columns; `TomlReader` checks types and keys against the parsed document and records
each problem where the user wrote it, carrying on so that one run shows them all. Nothing here
knows a rule: the rule and exceptions formats build on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from trailhound.errors import RuleError, TrailhoundError

if TYPE_CHECKING:  # only named here: a scan without a config file parses no TOML
    import tomllib

KeyPath = tuple[str | int, ...]
T = TypeVar("T")


class TomlReader:
    """Typed access to the parsed TOML that records problems at their lines and carries on."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.errors: list[RuleError] = []
        self._locator = KeyLocator(text)

    def fail(self, path: KeyPath, message: str) -> None:
        line, column = self._locator.find(path)
        self.errors.append(RuleError(message, where=self.source, line=line, column=column))

    def get(
        self, table: Mapping[str, Any], key: str, path: KeyPath, kind: type[T], what: str
    ) -> T | None:
        value = table.get(key)
        if value is None:
            return None
        # TOML booleans are not numbers, though Python's bool is an int.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail((*path, key), f"{key_name(path, key)} must be {what}")
            return None
        return value

    def require(
        self, table: Mapping[str, Any], key: str, path: KeyPath, kind: type[T], what: str
    ) -> T | None:
        if key not in table:
            self.fail(path, f"{table_name(path)} is missing required key {key!r}")
            return None
        return self.get(table, key, path, kind, what)

    def text(self, table: Mapping[str, Any], key: str, path: KeyPath, default: str = "") -> str:
        value = self.get(table, key, path, str, "a string")
        return default if value is None else value

    def texts(
        self, table: Mapping[str, Any], key: str, path: KeyPath, *, single: bool = False
    ) -> tuple[str, ...]:
        """A list of strings; with `single`, a lone string counts as a list of one."""
        value = table.get(key)
        if value is None:
            return ()
        if single and isinstance(value, str):
            return (value,) if value else ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((*path, key), f"{key_name(path, key)} must be a list of strings")
            return ()
        return tuple(value)

    def tables(self, table: Mapping[str, Any], key: str, path: KeyPath) -> list[dict[str, Any]]:
        value = table.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail((*path, key), f"{key_name(path, key)} must be a list of tables")
            return []
        return value

    def each(
        self,
        table: Mapping[str, Any],
        key: str,
        at: KeyPath,
        read: Callable[[dict[str, Any], KeyPath], T | None],
    ) -> tuple[T, ...] | None:
        """Read every table of an array of tables; None when any of them is broken."""
        items = self.tables(table, key, at)
        return complete([read(item, (*at, key, i)) for i, item in enumerate(items)])

    def positive(
        self, table: Mapping[str, Any], key: str, at: KeyPath, *, default: int
    ) -> int | None:
        if key not in table:
            return default
        value = self.get(table, key, at, int, "a whole number")
        if value is not None and value < 1:
            self.fail((*at, key), f"{key} must be at least 1, not {value}")
            return None
        return value

    def flag(
        self, table: Mapping[str, Any], key: str, at: KeyPath, *, default: bool
    ) -> bool | None:
        if key not in table:
            return default
        return self.get(table, key, at, bool, "true or false")

    def only(self, table: Mapping[str, Any], allowed: set[str], path: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.fail((*path, key), f"unknown key {key!r} in {table_name(path)} ({known})")

    def convert(self, path: KeyPath, parse: Callable[[], T]) -> T | None:
        """Run a parser of durations, dates or addresses; record its complaint at `path`."""
        try:
            return parse()
        except (TrailhoundError, ValueError) as err:
            message = err.message if isinstance(err, TrailhoundError) else str(err)
            self.fail(path, f"{key_name(path[:-1], path[-1])}: {message}")
            return None

    def embedded(self, path: KeyPath, parse: Callable[[int, int], T]) -> T | None:
        """Parse a string value written in another language, such as a KQL query.

        `parse` gets the line and column where the value's text starts, so the RuleError it
        raises already points inside the value; it is kept as it is.
        """
        line, column = self._locator.value_start(path)
        try:
            return parse(line, column)
        except RuleError as err:
            self.errors.append(err)
            return None


def complete(items: Sequence[T | None]) -> tuple[T, ...] | None:
    """The items, or None when one is missing (its problem is recorded already)."""
    done = tuple(i for i in items if i is not None)
    return done if len(done) == len(items) else None


def key_name(path: KeyPath, key: str | int) -> str:
    """A key as a reader finds it in the file: rule.threshold.value, tests[2].name."""
    text = ""
    for part in (*path, key):
        text += f"[{part + 1}]" if isinstance(part, int) else ("." if text else "") + part
    return text


def table_name(path: KeyPath) -> str:
    return f"[{key_name(path[:-1], path[-1])}]" if path else "the file"


def toml_error(err: tomllib.TOMLDecodeError, source: str) -> RuleError:
    """tomllib's complaint as a RuleError whose line and column are fields, not message text."""
    message = str(err)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found is None:
        return RuleError(f"not valid TOML: {message}", where=source)
    text = message[: found.start()]
    return RuleError(
        f"not valid TOML: {text}", where=source, line=int(found[1]), column=int(found[2])
    )


def key_location(text: str, path: Sequence[str | int]) -> tuple[int | None, int | None]:
    """Line and column of a key such as ("rule", "name") in TOML text, or of its nearest parent."""
    return KeyLocator(text).find(tuple(path))


class KeyLocator:
    """Finds the line and column of a key path in TOML text, for messages about valid TOML.

    It follows table headers and arrays of tables, and skips multi-line strings; a path it cannot
    find exactly is placed at its nearest ancestor.
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(
        r"\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
    )
    _OPENING = re.compile(r"""\s*('''|""\"|'|")""")
    _PART = re.compile(r"[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'")

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._where: dict[KeyPath, tuple[int, int]] = {}
        self._scan()

    def find(self, path: KeyPath) -> tuple[int | None, int | None]:
        for end in range(len(path), 0, -1):
            if path[:end] in self._where:
                return self._where[path[:end]]
        return None, None

    def value_start(self, path: KeyPath) -> tuple[int, int]:
        """Where a string value's text begins: just after its opening quote, or on the next
        line when a multi-line string opens at the end of the key's line (TOML drops that
        newline)."""
        line, _ = self.find(path)
        if line is None:
            return 1, 1
        text = self._lines[line - 1]
        equals = text.find("=") + 1
        opening = self._OPENING.match(text, equals)
        if opening is None:
            return line, 1
        if len(opening[1]) == 3 and not text[opening.end() :].strip():
            return line + 1, 1
        return line, opening.end() + 1

    def _scan(self) -> None:
        table: KeyPath = ()
        counts: dict[KeyPath, int] = {}
        open_string: str | None = None
        for number, line in enumerate(self._lines, start=1):
            if open_string is not None:
                if open_string in line:
                    open_string = None
                continue
            header = self._HEADER.match(line)
            key = None if header else self._KEY.match(line)
            if header:
                table = self._enter(header[1] == "[[", self._parts(header[2]), counts)
                self._where.setdefault(table, (number, line.index("[") + 1))
            elif key:
                column = len(line) - len(line.lstrip()) + 1
                self._where.setdefault((*table, *self._parts(key[1])), (number, column))
            open_string = self._opens_string(line)

    def _enter(self, is_array: bool, parts: list[str], counts: dict[KeyPath, int]) -> KeyPath:
        resolved: KeyPath = ()
        for i, part in enumerate(parts):
            resolved = (*resolved, part)
            if is_array and i == len(parts) - 1:
                counts[resolved] = counts.get(resolved, 0) + 1
            if resolved in counts:
                resolved = (*resolved, counts[resolved] - 1)
        return resolved

    def _parts(self, dotted: str) -> list[str]:
        return [p.strip("\"'") for p in self._PART.findall(dotted)]

    @staticmethod
    def _opens_string(line: str) -> str | None:
        """The delimiter of a multi-line string that starts on this line and does not end on it."""
        starts = [(line.find(d), d) for d in ("'''", '"""') if d in line]
        if not starts:
            return None
        pos, delimiter = min(starts)
        return delimiter if delimiter not in line[pos + 3 :] else None
