"""Rules read before, kept between runs: a scan of a few files need not parse its rules again.

Parsing the shipped pack (TOML, KQL, checks) costs a one-file scan about 0.07 s of CPU;
loading the same rules from the cache costs under 0.01 s. An entry is found by a digest of
everything a rule is read from: each rule file's path and bytes, trailhound's version, the
Python version, and the name, size and time of every module of the installed trailhound
(an edited checkout reads its rules anew). Anything else in the file (a broken, truncated or
foreign pickle, an entry of another layout) is ignored and the rules are read afresh, then the
entry is written again; a folder that cannot be written only means no cache. Deleting the
folder is always safe.

A rule's tests (its sample events, four fifths of the entry) are kept apart inside the entry,
as one pickle of their own, and are built only for a caller that asks for them: a scan does
not run them, and loading the pack then costs a third as much.

The same folder keeps the rules' filters built and rendered ahead of time
(`with_prepared_filters`), so that a scan whose rules come from here need not load sqlglot
(0.1 s to import, as much again to render the pack's filters once per run). They are found by
a digest of what each filter is built from (so the configuration's overrides of a rule's
parameters are covered), in a file per trailhound (the same module stamps).

The entries are pickles, so they live in the user's own cache folder
(`trailhound.userdirs.cache_folder`), never a shared temporary one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import trailhound
from trailhound.errors import RuleError
from trailhound.rules.model import Rule, RuleTest
from trailhound.userdirs import write_cache_file

Read = tuple[list[Rule], list[RuleError], list[RuleError]]  # rules, errors, notes
# what an entry holds: `Read` with each rule's tests left out, and those tests pickled apart
Entry = tuple[list[Rule], list[RuleError], list[RuleError], bytes]
_LAYOUT = 3  # bump when `Entry` changes shape
KEPT = 8  # entries kept in the folder: each edit of a rule file makes a new one


def cached(
    folder: Path, texts: Sequence[tuple[Path, str]], read: Callable[[], Read], *, tests: bool = True
) -> Read:
    """What `read()` gives for the rule files whose (path, text) are `texts`, from the entry
    in `folder` when one was made for the same files and the same trailhound, else read and,
    when it found no error, kept there for next time. With `tests` False the rules come
    without their tests (`Rule.tests` empty), which an entry then need not build."""
    entry = folder / f"rules-{_digest(texts)}.pickle"
    found = _load(entry)
    if found is not None:
        rules, errors, notes, kept_tests = found
        rules_and_tests = _with_tests(rules, kept_tests) if tests else rules
        if rules_and_tests is not None:
            return rules_and_tests, errors, notes
    result = read()
    if not result[1]:
        _write(entry, _entry(result))
    return result if tests else (without_tests(result[0]), result[1], result[2])


def without_tests(rules: list[Rule]) -> list[Rule]:
    """`rules` with `tests` empty, for a run that only detects."""
    return [replace(rule, tests=()) if rule.tests else rule for rule in rules]


def _entry(result: Read) -> Entry:
    rules, errors, notes = result
    kept_tests = pickle.dumps([rule.tests for rule in rules], protocol=pickle.HIGHEST_PROTOCOL)
    return without_tests(rules), errors, notes, kept_tests


def _with_tests(rules: list[Rule], kept_tests: bytes) -> list[Rule] | None:
    """`rules` with their tests, None when the kept tests are damaged (then read afresh)."""
    try:
        tests: Any = pickle.loads(kept_tests)
    except Exception:
        return None
    if not (isinstance(tests, list) and len(tests) == len(rules)) or not all(
        isinstance(t, tuple) and all(isinstance(one, RuleTest) for one in t) for t in tests
    ):
        return None
    return [replace(rule, tests=t) if t else rule for rule, t in zip(rules, tests, strict=True)]


def with_prepared_filters(folder: Path, rules: Sequence[Rule]) -> list[Rule]:
    """`rules`, each with its filters prepared (`Rule.prepared`): from the folder's file for
    this trailhound when an earlier run prepared the same filter, else prepared now (that
    loads sqlglot) and kept there for next time. A filter that depends on the time of the run
    is not prepared; `FilterPlan.build` builds it as before."""
    from trailhound.engine.filtering import filter_key, prepare_filters

    entry = folder / f"filters-{_digest(())}.pickle"
    found = _load_filters(entry)
    running = [rule for rule in rules if rule.runs]  # the others have no filter to build
    keys = {rule.rule_id: filter_key(rule) for rule in running}
    missing = {keys[r.rule_id]: r for r in running if keys[r.rule_id] not in found}
    if missing:
        found.update((key, prepare_filters(rule)) for key, rule in missing.items())
        _write(entry, found)
    return [
        replace(rule, prepared=found[keys[rule.rule_id]]) if rule.rule_id in keys else rule
        for rule in rules
    ]


def _load_filters(entry: Path) -> dict[str, tuple[Any, ...]]:
    from trailhound.engine.filtering import PreparedFilter

    try:
        found: Any = pickle.loads(entry.read_bytes())
    except Exception:  # missing or damaged: the filters are prepared again
        return {}
    if not isinstance(found, dict) or not all(
        isinstance(key, str) and isinstance(filters, tuple)
        and all(isinstance(f, PreparedFilter) for f in filters)
        for key, filters in found.items()
    ):  # fmt: skip
        return {}
    return found


def _digest(texts: Sequence[tuple[Path, str]]) -> str:
    h = hashlib.sha256()
    for part in (str(_LAYOUT), trailhound.__version__, sys.version, *_code_stamps()):
        h.update(part.encode() + b"\0")
    for path, text in texts:
        h.update(str(path).encode() + b"\0" + text.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:32]


@functools.cache  # the rules' entry and the filters' file are both named in one run
def _code_stamps() -> tuple[str, ...]:
    """Name, size and modification time of each of trailhound's modules: a folder's own
    modules by name, then its subfolders by name (the order, and so the digest, of the
    `os.walk` this replaced, whose path joins and `relpath`s cost 2 ms of every start)."""
    stamps: list[str] = []
    _stamp_folder(os.path.dirname(trailhound.__file__), "", stamps)
    return tuple(stamps)


def _stamp_folder(folder: str, prefix: str, stamps: list[str]) -> None:
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.endswith(".py") and not entry.is_dir():
            stat = entry.stat()
            stamps.append(f"{prefix}{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    for entry in entries:
        # as `os.walk` did: a link to a folder is not followed
        if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
            _stamp_folder(entry.path, f"{prefix}{entry.name}/", stamps)


def _load(entry: Path) -> Entry | None:
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    try:
        found: Any = pickle.loads(data)
    except Exception:  # any damage at all: the entry is only a shortcut
        return None
    return found if _is_entry(found) else None


def _is_entry(found: Any) -> bool:
    return (
        isinstance(found, tuple)
        and len(found) == 4
        and all(isinstance(part, list) for part in found[:3])
        and all(isinstance(r, Rule) for r in found[0])
        and all(isinstance(e, RuleError) for e in (*found[1], *found[2]))
        and isinstance(found[3], bytes)  # the tests, checked when asked for (`_with_tests`)
    )


def _write(entry: Path, result: object) -> None:
    """Write the entry whole or not at all (another run may be reading the folder)."""
    try:
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return  # no cache this time; the rules were read all the same
    if write_cache_file(entry, data):
        _prune(entry.parent)


def _prune(folder: Path) -> None:
    """Keep the `KEPT` newest entries."""
    with contextlib.suppress(OSError):
        for kind in ("rules", "filters"):
            entries = sorted(folder.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime_ns)
            for old in entries[:-KEPT]:
                old.unlink(missing_ok=True)
