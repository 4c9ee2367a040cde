"""`trailhound simulate`: realistic CloudTrail with the pack's attacks in it, and its answer key.

`simulate(out_dir)` writes days of CloudTrail as a trail delivers it to S3, background and
attacks, plus `answer_key.json`: every alert the shipped pack must raise over it with empty
state. `cached_corpus(cache_dir, events=N)` generates once and reuses, for benchmarks.
"""

from trailhound.simulate.cache import cached_corpus
from trailhound.simulate.generate import (
    ANSWER_KEY,
    DEFAULT_DAYS,
    DEFAULT_EVENTS_PER_DAY,
    SimulationError,
    SimulationResult,
    read_answer_key,
    simulate,
)
from trailhound.simulate.oracle import ExpectedAlert

__all__ = [
    "ANSWER_KEY",
    "DEFAULT_DAYS",
    "DEFAULT_EVENTS_PER_DAY",
    "ExpectedAlert",
    "SimulationError",
    "SimulationResult",
    "cached_corpus",
    "read_answer_key",
    "simulate",
]
