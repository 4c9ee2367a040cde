"""What an engine does differently from the others, declared with the reason.

Each entry marks that test, on that engine, as an expected failure (strict: the day the gap
closes, the test passes and the suite says so). Nothing is skipped without being named here.
"""

from __future__ import annotations

# (test function name, engine) -> why that engine cannot pass it yet
GAPS: dict[tuple[str, str], str] = {}
