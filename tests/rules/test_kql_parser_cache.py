"""The KQL parse tables kept between runs: a cached, broken or unwritable cache parses the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trailhound.errors import RuleError
from trailhound.rules import kql

QUERIES = [
    'event.dataset: "aws.cloudtrail" and event.action: (DeleteTable or "UpdateTable")',
    "not source.ip: 10.0.0.0/8 and user.*: adm* and @timestamp >= now-1d",
    "aws.cloudtrail.flattened.request_parameters: { tableName: orders }",
    "",
]
BROKEN = ["event.action: (DeleteTable", "a: cannot find", "f: {"]


def outcome(query: str) -> str:
    """The tree's dump, or the error with its place, as a user sees either."""
    try:
        return kql.dump(kql.parse(query, where="r.toml", line=3, column=9))
    except RuleError as err:
        return f"{err.line}:{err.column}: {err.message}"


@pytest.fixture
def fresh_parser() -> Iterator[None]:
    """Forget the parser this process built, so that the next parse builds or loads it anew."""
    kql._parser.cache_clear()
    yield
    kql._parser.cache_clear()


def without_cache(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(kql, "_parser_cache", lambda grammar: False)
    kql._parser.cache_clear()
    results = [outcome(q) for q in QUERIES + BROKEN]
    monkeypatch.undo()
    kql._parser.cache_clear()
    return results


@pytest.mark.usefixtures("fresh_parser")
def test_a_second_run_loads_the_tables_and_parses_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = without_cache(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert [outcome(q) for q in QUERIES + BROKEN] == expected  # builds and writes the cache
    written = list((tmp_path / "trailhound").iterdir())
    assert len(written) == 1
    kql._parser.cache_clear()
    assert [outcome(q) for q in QUERIES + BROKEN] == expected  # loads it


@pytest.mark.usefixtures("fresh_parser")
def test_a_broken_cache_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = without_cache(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    outcome(QUERIES[0])
    (cache_file,) = (tmp_path / "trailhound").iterdir()
    cache_file.write_bytes(cache_file.read_bytes()[:200])
    kql._parser.cache_clear()
    assert [outcome(q) for q in QUERIES + BROKEN] == expected
    assert cache_file.stat().st_size > 200  # written whole again


@pytest.mark.usefixtures("fresh_parser")
def test_no_usable_cache_folder_still_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = without_cache(monkeypatch)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert [outcome(q) for q in QUERIES + BROKEN] == expected
