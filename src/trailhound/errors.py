"""One root error for everything a user can get wrong, carrying where it happened."""

from __future__ import annotations

import re


class TrailhoundError(Exception):
    """A problem in the user's input: a rule file, a log file, an option.

    `where` is a file path or another source name; line and column are 1-based when known.
    """

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.line = line
        self.column = column

    def location(self) -> str:
        parts = [p for p in (self.where, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message


class RuleError(TrailhoundError):
    """A rule file that does not load, validate or compile."""


class InputError(TrailhoundError):
    """A log file or record that cannot be read as CloudTrail."""


class ConfigError(TrailhoundError):
    """A configuration file or option that is not valid; `where` names the file or the option."""


class StateError(TrailhoundError):
    """A state file that cannot be opened or read: damaged, locked, or of another version."""


class StateInUse(StateError):
    """A state file another trailhound process holds open: trying again later can succeed."""


# The whole text DuckDB gives when Python code it called (a function of ours in SQL, an Arrow
# table registered with it) raised KeyboardInterrupt: the exception's name and an empty text,
# which no record's value can forge (a value lands after the name of a *different* exception).
_CALLBACK_INTERRUPTED = re.compile(
    r"Invalid Input Error: (?:Python exception occurred while executing the UDF"
    r"|[a-z ]+ the object registered as '[^']*' failed): KeyboardInterrupt: ?"
)


def query_interrupted(exc: BaseException) -> bool:
    """Whether `exc` is DuckDB's way of saying Ctrl-C stopped a query: it takes the pending
    KeyboardInterrupt and raises this instead (an InterruptException, a plain RuntimeError
    when results are fetched, or an InvalidInputException when the signal arrived while DuckDB
    was calling Python), so it must be told apart from a query that failed."""
    kind = type(exc).__name__
    if kind == "InterruptException":
        return True
    if kind == "InvalidInputException":
        return _CALLBACK_INTERRUPTED.fullmatch(str(exc)) is not None
    return type(exc) is RuntimeError and str(exc) == "Query interrupted"
