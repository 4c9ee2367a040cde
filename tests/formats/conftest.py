"""Fixtures of the rule-language tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def stratus(shared_data: Path) -> Path:
    return shared_data / "negative" / "stratus-red-team"
