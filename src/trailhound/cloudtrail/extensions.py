"""The optional compiled extensions of `cloudtrail`, and the one switch that turns them off.

`setup.py` builds each where a compiler is at hand and leaves it out where none is; beside each
stands Python code that gives the same answer without it (the reference). Code that uses one
asks `loaded(name)` when it needs it, so that `off(...)` can hold the compiled way to the
reference, or time the two, in one process.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from types import ModuleType
from typing import Final

NAMES: Final = ("_skim", "_columns", "_requests")
"""The extensions, by module name in `trailhound.cloudtrail`."""

# A context variable, not a module global: a switch set in one thread (a test's) is not seen
# by another, and it is undone exactly where it was set.
_OFF: Final[ContextVar[frozenset[str]]] = ContextVar("extensions_off", default=frozenset())


def loaded(name: str) -> ModuleType | None:
    """The extension `name`, or None where it was not built or is switched off."""
    if name in _OFF.get():
        return None
    return _imported(name)


def built(name: str) -> bool:
    """Whether the extension `name` was built, switched off or not."""
    return _imported(name) is not None


@contextmanager
def off(*names: str) -> Iterator[None]:
    """Inside, `loaded` answers None for these extensions (every one when none is named), as
    if they had not been built."""
    unknown = set(names) - set(NAMES)
    if unknown:
        raise ValueError(f"no such extension: {', '.join(sorted(unknown))}")
    token = _OFF.set(_OFF.get() | frozenset(names or NAMES))
    try:
        yield
    finally:
        _OFF.reset(token)


@cache
def _imported(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"trailhound.cloudtrail.{name}")
    except ImportError:
        return None


__all__ = ["NAMES", "built", "loaded", "off"]
