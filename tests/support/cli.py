"""The `trailhound` command as a user runs it: a process of its own, its output as text."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def trailhound(
    *args: str | Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trailhound", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
