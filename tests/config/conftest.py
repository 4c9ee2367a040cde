"""Fixtures for the configuration tests: a config file writer, the shipped rules, a fake output.

The real output types are written elsewhere and may not import yet, so `fake_output` registers
an output type of the tests' own in the registry, built with the registry's shared helpers.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trailhound.errors import ConfigError
from trailhound.outputs import base
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule

FAKE_MODULE = "trailhound_tests_fake_output"
FAKE_KEYS = {"type", "min_severity", "token", "token_env", "token_file", "path", "leak"}

WriteConfig = Callable[[str], Path]


@dataclass
class FakeOutput:
    name: str
    token: str
    path: str | None
    rank: int

    def wants(self, alert: Mapping[str, Any]) -> bool:
        return base.severity_rank(alert) >= self.rank

    def deliver(self, pending: Sequence[base.Pending], report: base.Report) -> None:
        for item in pending:
            report(item.alert_id, None)


def build_fake(name: str, options: Mapping[str, Any]) -> FakeOutput:
    for key in options:
        if key not in FAKE_KEYS:
            raise ConfigError("unknown option", where=f"outputs.{name}.{key}")
    token = base.secret(name, options, "token", required=True)
    assert token is not None
    if options.get("leak"):
        # A careless output that quotes its secret; the configuration must cut it out.
        raise ConfigError(f"token {token!r} was refused", where=f"outputs.{name}.token")
    return FakeOutput(name, token, options.get("path"), base.min_severity(name, options))


@pytest.fixture
def fake_output(monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers the output type "fake" (options: token, min_severity, path, leak)."""
    module = types.ModuleType(FAKE_MODULE)
    module.build = build_fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, FAKE_MODULE, module)
    monkeypatch.setitem(base.TYPES, "fake", f"{FAKE_MODULE}:build")
    return "fake"


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Writes a trailhound.toml in its own folder and returns its path."""

    def write(text: str) -> Path:
        folder = tmp_path / "conf"
        folder.mkdir(exist_ok=True)
        path = folder / "trailhound.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def pack_rules() -> list[Rule]:
    result = load_rules([shipped_pack_dir()])
    assert result.ok, result.errors
    return result.rules


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own ~/.config/trailhound must never leak into a test.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


LineOf = Callable[[str, str], int]


@pytest.fixture
def line_of() -> LineOf:
    """The 1-based number of the first line of a text containing a needle."""

    def find(text: str, needle: str) -> int:
        for number, line in enumerate(text.splitlines(), start=1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not in the text")

    return find
