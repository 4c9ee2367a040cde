"""Reading trailhound.toml: typed values, resolved paths, and every problem at its line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from trailhound.config import (
    Config,
    ConfigProblems,
    RuleOverride,
    SuppressionOverride,
    default_config_path,
    load_config,
    read_config,
)
from trailhound.errors import ConfigError
from trailhound.userdirs import config_folder

WriteConfig = Callable[[str], Path]
LineOf = Callable[[str, str], int]

FULL = """\
[rules]
paths = ["rules/", "extra.toml"]
pack = false
disabled = ["AWS DynamoDB Table Scanned", "0f3c1e"]
enabled = ["AWS DynamoDB Multiple Tables Deleted"]
exceptions = ["exceptions.toml"]

[rules.overrides."AWS DynamoDB Multiple Tables Deleted"]
severity = "critical"
risk_score = 90
threshold = 8
window = "15m"
max_signals = 200
enabled = false

[rules.overrides."AWS DynamoDB Scan by Unusual User"]
history_window = "now-30d"
learning_period = "72h"
suppression = { group_by = ["user.name"], duration = "1h", missing_fields = "doNotSuppress" }

[rules.overrides.other-rule]
suppression = false

[state]
path = "~/trailhound/state.duckdb"

[outputs.oncall]
type = "pagerduty"
routing_key_env = "PD_ROUTING_KEY"
min_severity = "high"
routing_key_file = "secrets/pd.key"

[outputs.hook]
type = "webhook"
url = "http://127.0.0.1:8080/alerts"
"""


def full_config(write_config: WriteConfig) -> Path:
    path = write_config(FULL)
    (path.parent / "rules").mkdir()
    (path.parent / "extra.toml").write_text("")
    (path.parent / "exceptions.toml").write_text("")
    return path


def test_a_full_file_reads_into_typed_values_with_paths_resolved(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = full_config(write_config)
    folder = path.parent
    config = load_config(path)
    assert config.source == path
    assert config.rule_paths == (folder / "rules", folder / "extra.toml")
    assert config.pack is False
    assert config.disabled == ("AWS DynamoDB Table Scanned", "0f3c1e")
    assert config.enabled == ("AWS DynamoDB Multiple Tables Deleted",)
    assert config.exception_files == (folder / "exceptions.toml",)
    assert config.state_path == tmp_path / "home" / "trailhound" / "state.duckdb"
    assert config.overrides["AWS DynamoDB Multiple Tables Deleted"] == RuleOverride(
        severity="critical",
        risk_score=90,
        threshold=8,
        window=timedelta(minutes=15),
        max_signals=200,
        enabled=False,
    )
    assert config.overrides["AWS DynamoDB Scan by Unusual User"] == RuleOverride(
        history_window=timedelta(days=30),
        learning_period=timedelta(hours=72),
        suppression=SuppressionOverride(("user.name",), timedelta(hours=1), "doNotSuppress"),
    )
    assert config.overrides["other-rule"] == RuleOverride(suppression=False)
    assert dict(config.outputs["hook"]) == {
        "type": "webhook",
        "url": "http://127.0.0.1:8080/alerts",
    }
    # A *_file option is a path, found next to the configuration; a *_env option is a name.
    oncall = config.outputs["oncall"]
    assert oncall["routing_key_file"] == str(folder / "secrets" / "pd.key")
    assert oncall["routing_key_env"] == "PD_ROUTING_KEY"


def test_no_file_and_no_default_file_means_every_default() -> None:
    assert not default_config_path().exists()
    config = load_config(None)
    assert config == Config()
    assert (config.source, config.pack, config.rule_paths, dict(config.outputs)) == (
        None,
        True,
        (),
        {},
    )


def test_the_default_file_is_read_from_the_xdg_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert config_folder() == tmp_path / "cfg" / "trailhound"
    default = default_config_path()
    default.parent.mkdir(parents=True)
    default.write_text('[state]\npath = "state.duckdb"\n')
    assert load_config(None).state_path == default.parent / "state.duckdb"


def test_config_folder_defaults_to_dot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_folder() == tmp_path / ".config" / "trailhound"


def test_a_file_given_explicitly_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"{missing}: no such configuration file"


def problems(path: Path) -> list[ConfigError]:
    return read_config(path)[1]


@pytest.mark.parametrize(
    ("text", "needle", "message"),
    [
        (
            '[rules]\npaths = ["a"\n',
            None,
            "not valid TOML: Unclosed array",
        ),
        (
            '[rules]\ndisabled = []\n\n[rules.overrides."Some Rule"]\nwindw = "10m"\n',
            "windw",
            'rules.overrides."Some Rule".windw: unknown key (known: severity, risk_score',
        ),
        (
            '[rules.overrides."AWS DynamoDB Multiple Tables Deleted"]\nwindow = "ten minutes"\n',
            "window",
            'rules.overrides."AWS DynamoDB Multiple Tables Deleted".window: '
            'not a duration: "ten minutes"',
        ),
        (
            "[rules]\npack = false\n",
            "pack",
            "rules.pack: false, with no rules.paths, leaves no rule to run",
        ),
        (
            '[rules.overrides.X]\nrisk_score = 500\nseverity = "huge"\n',
            "risk_score",
            "rules.overrides.X.risk_score: must be between 0 and 100, not 500",
        ),
        (
            '[rules.overrides.X]\nthreshold = "8"\n',
            "threshold",
            "rules.overrides.X.threshold: must be a whole number",
        ),
        (
            '[rules.overrides.X]\nsuppression = { group_by = ["a", "b", "c", "d"] }\n',
            "suppression",
            "rules.overrides.X.suppression.group_by: needs 1 to 3 fields",
        ),
        (
            "[rules.overrides.X]\nsuppression = true\n",
            "suppression",
            "rules.overrides.X.suppression: must be a table",
        ),
        (
            '[outputs.hook]\nurl = "http://x"\n',
            "[outputs.hook]",
            "outputs.hook.type: needed",
        ),
        (
            "[outputs]\nhook = 3\n",
            "hook",
            "outputs.hook: must be a table",
        ),
        (
            '[state]\npath = "s.duckdb"\nsize = 3\n',
            "size",
            "state.size: unknown key (known: path)",
        ),
        (
            '[rulez]\npaths = ["x"]\n',
            "[rulez]",
            "rulez: unknown key (known: outputs, rules, sources, state)",
        ),
    ],
)
def test_each_problem_names_the_file_the_line_and_the_key(
    write_config: WriteConfig, line_of: LineOf, text: str, needle: str | None, message: str
) -> None:
    path = write_config(text)
    (first, *_) = problems(path)
    assert first.where == str(path)
    assert first.message.startswith(message), first.message
    expected_line = line_of(text, needle) if needle else 2
    assert first.line == expected_line
    assert first.column is not None
    assert str(first).startswith(f"{path}:{expected_line}:{first.column}: ")


def test_a_toml_syntax_error_takes_tomllibs_line_and_column(write_config: WriteConfig) -> None:
    path = write_config('[rules]\npack = true\npaths = "a" "b"\n')
    (error,) = problems(path)
    assert (error.line, error.column) == (3, 13)
    assert error.message.startswith("not valid TOML: ")


def test_every_problem_is_reported_not_only_the_first(write_config: WriteConfig) -> None:
    path = write_config(
        '[rules]\npaths = ["missing/"]\nexceptions = "none.toml"\n\n'
        '[rules.overrides.X]\nwindow = "2M"\nseverity = "severe"\n'
    )
    found = problems(path)
    assert [(e.line, e.message.split(":")[0]) for e in found] == [
        (2, "rules.paths[1]"),
        (3, "rules.exceptions[1]"),
        (6, "rules.overrides.X.window"),
        (7, "rules.overrides.X.severity"),
    ]
    assert found[0].message == f"rules.paths[1]: no such file or folder: {path.parent / 'missing'}"
    with pytest.raises(ConfigProblems) as caught:
        load_config(path)
    assert [str(e) for e in caught.value.problems] == [str(e) for e in found]
    assert caught.value.line == 2
    assert caught.value.message.endswith("(and 3 more; see trailhound config check)")


def test_keys_written_dotted_or_inline_are_found_too(
    write_config: WriteConfig, line_of: LineOf
) -> None:
    text = (
        "[rules]\n"
        "pack = true\n"
        'overrides."Some Rule".window = "soon"\n'
        "\n"
        "[outputs]\n"
        'hook = { url = "http://x" }\n'
    )
    path = write_config(text)
    lines = [(e.line, e.message.split(":")[0]) for e in problems(path)]
    assert lines == [
        (line_of(text, "overrides."), 'rules.overrides."Some Rule".window'),
        (line_of(text, "hook ="), "outputs.hook.type"),
    ]


def test_an_empty_allow_list_is_refused(write_config: WriteConfig) -> None:
    (error,) = problems(write_config("[rules]\nenabled = []\n"))
    assert error.message.startswith("rules.enabled: an empty allow-list runs no rule")


def test_a_file_that_is_not_utf8_is_refused(write_config: WriteConfig) -> None:
    path = write_config("")
    path.write_bytes(b"[state]\npath = '\xff'\n")
    (error,) = problems(path)
    assert (error.where, error.message) == (str(path), "not UTF-8 text")
