"""Load rule files and directories in one pass, reporting every problem in every file.

A broken file never stops the others from loading; problems that span files (two rules with one
rule_id or one name) are reported at the later file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct, field

from trailhound.errors import RuleError
from trailhound.rules.formats import FORMATS, RuleFormat, format_of
from trailhound.rules.model import Rule

if TYPE_CHECKING:  # the parser is imported by a format that reads (cached rules need none)
    from trailhound.rules.elastic import RuleReport


class LoadResult(Struct, frozen=True):
    """The rules that loaded and every problem found, in file order."""

    rules: list[Rule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    files: int = 0  # how many rule files were read
    skipped: list[Path] = field(default_factory=list)  # files in a folder not read as rules
    # what is worth saying but is no problem: a deprecated Sigma rule left out, for instance
    notes: list[RuleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def shipped_pack_dir() -> Path:
    """The rules that ship with trailhound, the default rule set."""
    return Path(str(files("trailhound.rules").joinpath("pack")))


def load_rules(
    paths: Sequence[str | Path], *, cache: Path | None = None, tests: bool = True
) -> LoadResult:
    """Load rule files and directories (searched recursively, in sorted order, for the files a
    rule format reads: Elastic's *.toml, Sigma's *.yml and *.yaml).

    With `cache`, a folder, the rules read from the same files by the same trailhound are
    taken from there, and kept there when read without errors (`trailhound.rules.cache`).
    Files of a format read by an optional library (Sigma) are always read: what they give
    depends on that library's version too. With `tests` False the rules come without their
    tests (`Rule.tests` empty): a run that only detects then need not build them."""
    found, errors = rule_files(paths)
    texts: dict[Path, tuple[str, RuleFormat]] = {}
    for path in found:
        text, problem = _read_text(path)
        if problem is not None:
            errors.append(problem)
            continue
        # a file named on its own is read as Elastic TOML whatever its suffix, as it always was
        texts[path] = (text, format_of(path) or FORMATS[0])
    if cache is None or any(f.extra for _, f in texts.values()):
        rules, more, notes = _parsed(texts)
        if not tests:
            from trailhound.rules.cache import without_tests

            rules = without_tests(rules)
    else:
        from trailhound.rules.cache import cached

        listed = [(path, text) for path, (text, _) in texts.items()]
        rules, more, notes = cached(cache, listed, lambda: _parsed(texts), tests=tests)
    return LoadResult(rules=rules, errors=errors + more, files=len(found), notes=notes,
                      skipped=_not_read(paths, found))  # fmt: skip


def _parsed(
    texts: dict[Path, tuple[str, RuleFormat]],
) -> tuple[list[Rule], list[RuleError], list[RuleError]]:
    """The rules in `texts`, with the errors and notes of reading them."""
    rules: list[Rule] = []
    errors: list[RuleError] = []
    notes: list[RuleError] = []
    first_file: dict[tuple[str, str], str] = {}
    read = _read_together(texts)
    for path, (text, rule_format) in texts.items():
        for report in read[path]:
            errors.extend(report.errors)
            notes.extend(report.notes)
            duplicates = _duplicates(report, text, first_file, rule_format)
            errors.extend(duplicates)
            if report.rule is not None and not duplicates:
                rules.append(report.rule)
    return rules, errors, notes


def _read_together(texts: dict[Path, tuple[str, RuleFormat]]) -> dict[Path, list[RuleReport]]:
    """Each file's reports, the files of one format read at once, so that a rule may name
    rules of other files (a Sigma correlation)."""
    by_format: dict[RuleFormat, list[Path]] = {}
    for path, (_, rule_format) in texts.items():
        by_format.setdefault(rule_format, []).append(path)
    read: dict[Path, list[RuleReport]] = {}
    for rule_format, paths in by_format.items():
        files = [(texts[path][0], str(path)) for path in paths]
        read.update(zip(paths, rule_format.read_files(files), strict=True))
    return read


def rule_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[RuleError]]:
    """The rule files named by `paths`, each once; a path that does not exist is an error."""
    found: dict[Path, None] = {}
    errors: list[RuleError] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.update((p, None) for p in sorted(path.rglob("*")) if p.is_file() and format_of(p))
        elif path.is_file():
            found[path] = None
        else:
            errors.append(RuleError("no such rule file or directory", where=str(path)))
    return _unique(found), errors


def _not_read(paths: Iterable[str | Path], read: Iterable[Path]) -> list[Path]:
    """The files inside the folders of `paths` that were not read as rules (a Sigma .yml, a
    README), so that a folder of files trailhound cannot read is not taken for an empty one.
    Hidden files and folders (.git, .DS_Store) are not listed: nobody means them as rules.
    The shipped pack is not looked through: it holds rules only, and resolving each of its
    files to compare them was 2 ms of every default scan's start."""
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    pack = shipped_pack_dir().resolve()
    folders = [f for f in folders if f.resolve() != pack]
    if not folders:
        return []
    taken = {p.resolve() for p in read}
    left: list[Path] = []
    for folder in folders:
        for base, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            inside = (Path(base, n) for n in sorted(names) if not n.startswith("."))
            left += [f for f in inside if f.resolve() not in taken]
    return left


def _unique(paths: Iterable[Path]) -> list[Path]:
    # The same file named twice (directly and through its directory) is loaded once.
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in paths:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def _read_text(path: Path) -> tuple[str, RuleError | None]:
    try:
        data = path.read_bytes()
    except OSError as err:
        return "", RuleError(f"cannot read the file: {err.strerror}", where=str(path))
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        return "", RuleError("not UTF-8 text", where=str(path), line=line, column=column)


def _duplicates(
    report: RuleReport,
    text: str,
    first_file: dict[tuple[str, str], str],
    rule_format: RuleFormat,
) -> list[RuleError]:
    """Errors for a rule whose rule_id or name an earlier file has; else remember its keys."""
    rule = report.rule
    if rule is None:
        return []
    keys = (("rule_id", rule.rule_id), ("name", rule.name))
    errors: list[RuleError] = []
    for key, value in keys:
        earlier = first_file.get((key, value))
        if earlier is not None:
            line, column = rule_format.locate_key(text, key)
            message = f"duplicate {key} {value!r}: {earlier} has it too"
            errors.append(RuleError(message, where=report.source, line=line, column=column))
    if not errors:
        first_file.update((k, report.source) for k in keys)
    return errors
