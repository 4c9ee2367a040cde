"""Rule file formats: which reader reads a rule file, chosen by the file's suffix.

A format is a module with `read_rules(text, *, source) -> list[RuleReport]` (a file may hold
several rules, as a Sigma file with a correlation does) and `locate_key(text, key)`, the line
and column of `rule_id` or `name` in its text. A format whose rules may name rules of other
files (Sigma's correlations) also has `read_files([(text, source), ...])`, which reads the
files loaded together at once and gives one list of reports per file. Adding a format is its
module and one line in `FORMATS`. Modules are imported when a file of theirs is read, so a
format whose library is an optional extra costs nothing until it is used, and says what to
install when it is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from msgspec import Struct

from trailhound.errors import RuleError

if TYPE_CHECKING:  # the parser is imported by a format that reads (cached rules need none)
    from trailhound.rules.elastic import RuleReport


class FormatModule(Protocol):
    def read_rules(self, text: str, *, source: str) -> list[RuleReport]: ...

    def locate_key(self, text: str, key: str) -> tuple[int | None, int | None]: ...


class RuleFormat(Struct, frozen=True):
    name: str
    suffixes: tuple[str, ...]
    module: str
    extra: str = ""  # the pip extra that brings the format's library, when it is optional

    def load(self) -> FormatModule | RuleError:
        try:
            return cast(FormatModule, importlib.import_module(self.module))
        except ImportError as err:
            if not self.extra:
                raise
            return RuleError(
                f"reading {self.name} rules needs {err.name}: "
                f"pip install 'trailhound[{self.extra}]'"
            )

    def read_rules(self, text: str, *, source: str) -> list[RuleReport]:
        module = self.load()
        if isinstance(module, RuleError):
            from trailhound.rules.elastic import RuleReport

            module.where = source
            return [RuleReport(source, None, (module,))]
        return module.read_rules(text, source=source)

    def read_files(self, files: Sequence[tuple[str, str]]) -> list[list[RuleReport]]:
        """The reports of files of this format, (text, source) each, read together."""
        module = self.load()
        read_together = getattr(module, "read_files", None)
        if read_together is None:
            return [self.read_rules(text, source=source) for text, source in files]
        return cast("list[list[RuleReport]]", read_together(files))

    def locate_key(self, text: str, key: str) -> tuple[int | None, int | None]:
        module = self.load()
        return (None, None) if isinstance(module, RuleError) else module.locate_key(text, key)


FORMATS: tuple[RuleFormat, ...] = (
    RuleFormat("Elastic TOML", (".toml",), "trailhound.rules.elastic_file"),
    RuleFormat("Sigma", (".yml", ".yaml"), "trailhound.rules.sigma", extra="sigma"),
)


def format_of(path: Path) -> RuleFormat | None:
    """The format that reads `path`, by its suffix (any letter case); None when none does."""
    suffix = path.suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def is_rule_file(path: Path) -> bool:
    return format_of(path) is not None
