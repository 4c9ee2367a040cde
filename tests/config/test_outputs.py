"""Outputs built from the configuration: each bad option at its line, and no secret shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from trailhound.config import ConfigProblems, is_secret, load_config, masked
from trailhound.errors import ConfigError

WriteConfig = Callable[[str], Path]
LineOf = Callable[[str, str], int]

SECRET = "s3cr3t-Tok3n-4242"


def build_problems(path: Path) -> list[ConfigError]:
    config = load_config(path)
    with pytest.raises(ConfigProblems) as caught:
        config.build_outputs()
    return [p for p in caught.value.problems if isinstance(p, ConfigError)]


def test_outputs_are_built_by_their_type_with_paths_next_to_the_file(
    write_config: WriteConfig, fake_output: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TH_TEST_TOKEN", SECRET)
    path = write_config(
        f'[outputs.first]\ntype = "{fake_output}"\ntoken_env = "TH_TEST_TOKEN"\n'
        'min_severity = "high"\npath = "alerts/out.jsonl"\n\n'
        f'[outputs.second]\ntype = "{fake_output}"\ntoken_file = "token.txt"\n'
    )
    (path.parent / "token.txt").write_text("from-a-file\n")
    first, second = load_config(path).build_outputs()
    assert (first.name, first.token, first.path) == (  # type: ignore[attr-defined]
        "first",
        SECRET,
        str(path.parent / "alerts" / "out.jsonl"),
    )
    assert first.wants({"rule": {"severity": "critical"}})
    assert not first.wants({"rule": {"severity": "medium"}})
    assert (second.name, second.token) == ("second", "from-a-file")  # type: ignore[attr-defined]


def test_each_bad_output_is_reported_at_the_key_at_fault(
    write_config: WriteConfig, line_of: LineOf, fake_output: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TH_UNSET_TOKEN", raising=False)
    text = f"""\
[outputs.pager]
type = "pagerdooty"

[outputs.loud]
type = "{fake_output}"
token = "inline"
min_severity = "urgent"

[outputs.nokey]
type = "{fake_output}"
token_env = "TH_UNSET_TOKEN"

[outputs.typo]
type = "{fake_output}"
token = "inline"
colour = "red"
"""
    path = write_config(text)
    problems = build_problems(path)
    # The registry's list of types grows as output types are added.
    assert "fake, " in problems[0].message
    problems[0].message = re.sub(r"\(known: .*\)", "(known: ...)", problems[0].message)
    assert [(e.where, e.line, e.message) for e in problems] == [
        (
            str(path),
            line_of(text, "pagerdooty"),
            "outputs.pager.type: unknown output type 'pagerdooty' (known: ...)",
        ),
        (
            str(path),
            line_of(text, "urgent"),
            "outputs.loud.min_severity: min_severity must be one of low, medium, high, critical",
        ),
        (
            str(path),
            line_of(text, "TH_UNSET_TOKEN"),
            "outputs.nokey.token_env: environment variable TH_UNSET_TOKEN is not set or empty",
        ),
        (str(path), line_of(text, "colour"), "outputs.typo.colour: unknown option"),
    ]


def test_an_output_type_whose_module_is_missing_is_reported_at_its_type(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trailhound.outputs import base

    monkeypatch.setitem(base.TYPES, "ghost", "trailhound_tests_no_such_module:build")
    path = write_config('[outputs.x]\ntype = "ghost"\n')
    (problem,) = build_problems(path)
    assert problem.line == 2
    assert problem.message.startswith("outputs.x.type: the 'ghost' output cannot be loaded")


def test_a_secret_an_output_quotes_is_cut_from_its_error(
    write_config: WriteConfig, fake_output: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TH_TEST_TOKEN", SECRET)
    path = write_config(
        f'[outputs.leaky]\ntype = "{fake_output}"\ntoken_env = "TH_TEST_TOKEN"\nleak = true\n'
    )
    (problem,) = build_problems(path)
    assert SECRET not in str(problem)
    assert problem.message == "outputs.leaky.token_env: token '***' was refused"
    assert problem.line == 3  # the secret's key as written: token_env


@pytest.mark.parametrize(
    ("option", "secret"),
    [
        ("url", True),
        ("routing_key", True),
        ("token", True),
        ("password", True),
        ("secret", True),
        ("api_key", True),
        ("bot_token", True),
        ("signing_secret", True),
        ("routing_key_env", False),
        ("url_file", False),
        ("type", False),
        ("min_severity", False),
        ("path", False),
    ],
)
def test_which_options_are_secrets(option: str, secret: bool) -> None:
    assert is_secret(option) is secret


def test_masking_hides_secrets_in_nested_tables_too() -> None:
    options = {"type": "webhook", "url": SECRET, "headers": {"X-Api-Token": SECRET, "a": "b"}}
    assert masked(options) == {
        "type": "webhook",
        "url": "***",
        "headers": {"X-Api-Token": "***", "a": "b"},
    }
