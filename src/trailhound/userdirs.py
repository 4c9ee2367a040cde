"""The user's folders for trailhound, as the XDG base directory specification places them."""

from __future__ import annotations

import contextlib
import os
import tempfile
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


def write_cache_file(path: Path, data: bytes) -> bool:
    """Write a cache file whole or not at all (another run may be reading or writing it);
    False when it could not be written, which for a cache only means no file this time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(name, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(name)
        return False
    return True
