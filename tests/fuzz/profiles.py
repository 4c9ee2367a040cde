"""Hypothesis settings for the fuzzing suite: a bounded `ci` run and a `long` one.

`TRAILHOUND_FUZZ=long pytest tests/fuzz` selects the long profile. CI's run is derandomized, so
a red CI is reproducible and never flaky; the long run is random, and keeps what it finds in
.hypothesis/ (ignored by git) so that the next run tries the failure first.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_INPUT = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "trailhound-fuzz-ci", max_examples=150, deadline=None, database=None, derandomize=True,
    suppress_health_check=_SLOW_INPUT, print_blob=True,
)  # fmt: skip
settings.register_profile(
    "trailhound-fuzz-long", max_examples=5000, deadline=None, suppress_health_check=_SLOW_INPUT,
    print_blob=True,
)  # fmt: skip

PROFILE = "long" if os.environ.get("TRAILHOUND_FUZZ") == "long" else "ci"
BASE = settings.get_profile(f"trailhound-fuzz-{PROFILE}")


def fuzz(share: float = 1.0) -> settings:
    """The profile's settings, with `share` of its examples: a property that scans costs
    tens of times more per example than one that only reads, so it gets fewer."""
    assert BASE.max_examples is not None
    return settings(BASE, max_examples=max(1, round(BASE.max_examples * share)))
