"""The user's folders for trailhound, as the XDG base directory specification places them."""

from __future__ import annotations

import os
from pathlib import Path


def config_folder() -> Path:
    """$XDG_CONFIG_HOME/trailhound (default ~/.config/trailhound): what the user chose."""
    return _folder("XDG_CONFIG_HOME", Path(".config"))


def state_folder() -> Path:
    """$XDG_STATE_HOME/trailhound (default ~/.local/state/trailhound): what runs remember."""
    return _folder("XDG_STATE_HOME", Path(".local", "state"))


def cache_folder() -> Path:
    """$XDG_CACHE_HOME/trailhound (default ~/.cache/trailhound): what can be rebuilt."""
    return _folder("XDG_CACHE_HOME", Path(".cache"))


def _folder(variable: str, under_home: Path) -> Path:
    base = os.environ.get(variable) or str(Path.home() / under_home)
    return Path(base) / "trailhound"
