"""Loading rule files and directories: every problem in every file, in one pass."""

from __future__ import annotations

from pathlib import Path

from trailhound.rules.loader import load_rules, shipped_pack_dir

TEMPLATE = """\
[rule]
rule_id = "{rule_id}"
name = "{name}"
description = "Test rule."
type = "query"
risk_score = 21
severity = "{severity}"
query = 'event.action: "DeleteTable"'
"""


def write(path: Path, rule_id: str, name: str, severity: str = "low") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(rule_id=rule_id, name=name, severity=severity))
    return path


def test_elastics_rules_load_without_a_problem(shared_data: Path) -> None:
    result = load_rules([shared_data / "elastic-rules"])
    assert result.errors == []
    assert (len(result.rules), result.files) == (70, 70)
    assert len({r.rule_id for r in result.rules}) == 70


def test_directories_are_searched_recursively_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path / "b.toml", "id-b", "B")
    write(tmp_path / "a.toml", "id-a", "A")
    write(tmp_path / "nested" / "deeper" / "c.toml", "id-c", "C")
    (tmp_path / "notes.md").write_text("not a rule")
    result = load_rules([tmp_path])
    assert result.errors == []
    assert [r.rule_id for r in result.rules] == ["id-a", "id-b", "id-c"]
    assert result.rules[2].source == str(tmp_path / "nested" / "deeper" / "c.toml")
    assert result.skipped == [tmp_path / "notes.md"]


def test_files_in_a_folder_that_are_not_rules_are_listed_hidden_ones_not(tmp_path: Path) -> None:
    write(tmp_path / "rule.toml", "id-a", "A")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "dynamodb_delete.sql").write_text("select 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    (tmp_path / ".DS_Store").write_text("")
    named = write(tmp_path.parent / f"{tmp_path.name}-one.toml", "id-b", "B")
    result = load_rules([tmp_path, named])
    assert result.skipped == [tmp_path / "queries" / "dynamodb_delete.sql"]


def test_every_problem_in_every_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "1-good.toml", "id-1", "Good")
    write(tmp_path / "2-bad.toml", "id-2", "Bad", severity="extreme")
    (tmp_path / "3-broken.toml").write_text("[rule\nname = 1\n")
    write(tmp_path / "4-good.toml", "id-4", "Also good")
    result = load_rules([tmp_path, tmp_path / "missing.toml"])
    assert [r.rule_id for r in result.rules] == ["id-1", "id-4"]
    # Paths that do not exist come first, then the files' problems in file order.
    assert [(Path(e.where or "").name, e.line) for e in result.errors] == [
        ("missing.toml", None),
        ("2-bad.toml", 7),
        ("3-broken.toml", 1),
    ]
    assert not result.ok


def test_duplicate_rule_ids_and_names_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", "same-id", "First")
    write(tmp_path / "b.toml", "same-id", "Second")
    write(tmp_path / "c.toml", "other-id", "First")
    result = load_rules([tmp_path])
    assert [r.source for r in result.rules] == [str(tmp_path / "a.toml")]
    first, second = result.errors
    assert (first.where, first.line) == (str(tmp_path / "b.toml"), 2)
    assert "duplicate rule_id 'same-id'" in first.message
    assert str(tmp_path / "a.toml") in first.message
    assert (second.where, second.line) == (str(tmp_path / "c.toml"), 3)
    assert "duplicate name 'First'" in second.message


def test_a_file_named_twice_loads_once(tmp_path: Path) -> None:
    rule = write(tmp_path / "a.toml", "id-a", "A")
    result = load_rules([rule, tmp_path, str(rule)])
    assert result.errors == []
    assert len(result.rules) == 1


def test_a_file_that_is_not_utf8_is_a_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(TEMPLATE.format(rule_id="x", name="Caf\xe9", severity="low").encode("latin-1"))
    (error,) = load_rules([path]).errors
    assert (error.line, error.column) == (3, len('name = "Caf') + 1)
    assert "UTF-8" in error.message


def test_the_shipped_pack_is_a_valid_rule_directory() -> None:
    pack = shipped_pack_dir()
    assert pack.is_dir()
    assert pack.name == "pack" and pack.parent.name == "rules"
    assert load_rules([pack]).errors == []
