"""Rules kept between runs: the same files load the same rules whether the cache is empty,
filled, broken, stale or unwritable, and an edited rule file is read anew."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from trailhound.rules import cache as rule_cache
from trailhound.rules import formats
from trailhound.rules.loader import load_rules, shipped_pack_dir

from .test_loader import write


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("rules-*.pickle"))


def reading_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, a rule file that is parsed makes the test fail."""

    def refuse(self: formats.RuleFormat, files: object) -> object:
        raise AssertionError("the rules were parsed again")

    monkeypatch.setattr(formats.RuleFormat, "read_files", refuse)


def test_a_second_load_takes_the_same_rules_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = load_rules([shipped_pack_dir()])
    first = load_rules([shipped_pack_dir()], cache=tmp_path)
    assert len(entries(tmp_path)) == 1
    reading_fails(monkeypatch)
    again = load_rules([shipped_pack_dir()], cache=tmp_path)
    assert again.rules == first.rules == fresh.rules and len(again.rules) == 32
    assert (again.files, again.errors, again.skipped) == (fresh.files, [], fresh.skipped)


def test_an_edited_rule_file_is_read_anew(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    write(rules / "a.toml", "r-1", "Before")
    assert [r.name for r in load_rules([rules], cache=tmp_path / "cache").rules] == ["Before"]
    write(rules / "a.toml", "r-1", "After")
    assert [r.name for r in load_rules([rules], cache=tmp_path / "cache").rules] == ["After"]
    write(rules / "b.toml", "r-2", "Added")
    loaded = load_rules([rules], cache=tmp_path / "cache")
    assert [r.name for r in loaded.rules] == ["After", "Added"]


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a pickle at all", b"\x80\x05K\x01.", None],
    ids=["empty", "garbage", "another-shape", "truncated"],
)
def test_a_broken_entry_is_ignored_and_written_again(
    tmp_path: Path, damage: bytes | None
) -> None:
    expected = load_rules([shipped_pack_dir()], cache=tmp_path).rules
    (entry,) = entries(tmp_path)
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2] if damage is None else damage)
    assert load_rules([shipped_pack_dir()], cache=tmp_path).rules == expected
    assert entry.read_bytes() == whole


def test_an_entry_of_another_trailhound_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    write(rules / "a.toml", "r-1", "Kept")
    load_rules([rules], cache=tmp_path / "cache")
    monkeypatch.setattr(rule_cache.trailhound, "__version__", "99.0")
    reading_fails(monkeypatch)
    with pytest.raises(AssertionError, match="parsed again"):
        load_rules([rules], cache=tmp_path / "cache")


def test_a_folder_that_cannot_be_written_only_means_no_cache(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the folder would be")
    loaded = load_rules([shipped_pack_dir()], cache=blocked / "trailhound")
    assert len(loaded.rules) == 32 and loaded.errors == []


def test_problems_are_reported_every_time_and_never_kept(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    write(rules / "a.toml", "r-1", "Same")
    write(rules / "b.toml", "r-2", "Same")
    for _ in range(2):
        loaded = load_rules([rules], cache=tmp_path / "cache")
        assert [e.message for e in loaded.errors] == [
            f"duplicate name 'Same': {rules / 'a.toml'} has it too"
        ]
    assert entries(tmp_path / "cache") == []


def test_old_entries_are_pruned(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    for version in range(rule_cache.KEPT + 3):
        write(rules / "a.toml", "r-1", f"Version {version}")
        load_rules([rules], cache=tmp_path / "cache")
    assert len(entries(tmp_path / "cache")) == rule_cache.KEPT


def test_a_run_that_only_detects_gets_the_same_rules_without_their_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = load_rules([shipped_pack_dir()]).rules
    assert any(rule.tests for rule in fresh)
    expected = [replace(rule, tests=()) for rule in fresh]
    assert load_rules([shipped_pack_dir()], tests=False).rules == expected
    assert load_rules([shipped_pack_dir()], cache=tmp_path, tests=False).rules == expected
    reading_fails(monkeypatch)
    assert load_rules([shipped_pack_dir()], cache=tmp_path, tests=False).rules == expected
    assert load_rules([shipped_pack_dir()], cache=tmp_path).rules == fresh  # kept apart, whole


def test_damaged_kept_tests_are_read_afresh_when_asked_for(tmp_path: Path) -> None:
    fresh = load_rules([shipped_pack_dir()], cache=tmp_path).rules
    (entry,) = entries(tmp_path)
    whole = entry.read_bytes()
    rules, errors, notes, _ = pickle.loads(whole)
    entry.write_bytes(pickle.dumps((rules, errors, notes, b"\x80\x05 damaged")))
    assert load_rules([shipped_pack_dir()], cache=tmp_path).rules == fresh
    assert entry.read_bytes() == whole


def test_an_edited_module_of_trailhound_makes_its_entries_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edited checkout reads its rules anew: a change to any of its modules, in any
    subfolder, names another entry; compiled files and linked folders do not count."""
    package = tmp_path / "package"
    (package / "engine" / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "engine" / "detector.py").write_text("A = 1\n")
    (package / "engine" / "__pycache__" / "stale.py").write_text("")
    (package / "linked").symlink_to(package / "engine")
    monkeypatch.setattr(rule_cache.trailhound, "__file__", str(package / "__init__.py"))
    monkeypatch.setattr(rule_cache, "_code_stamps", rule_cache._code_stamps.__wrapped__)
    assert rule_cache._code_stamps() == (
        f"__init__.py:0:{(package / '__init__.py').stat().st_mtime_ns}",
        f"engine/detector.py:6:{(package / 'engine' / 'detector.py').stat().st_mtime_ns}",
    )
    rules = tmp_path / "rules"
    write(rules / "a.toml", "r-1", "Kept")
    load_rules([rules], cache=tmp_path / "cache")
    (package / "engine" / "__pycache__" / "stale.py").write_text("changed")
    reading_fails(monkeypatch)
    assert [r.name for r in load_rules([rules], cache=tmp_path / "cache").rules] == ["Kept"]
    (package / "engine" / "detector.py").write_text("A = 2 # edited\n")
    with pytest.raises(AssertionError, match="parsed again"):
        load_rules([rules], cache=tmp_path / "cache")
