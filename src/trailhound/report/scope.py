"""What the input of a report covered: files, events, accounts, regions, activity over time,
blind spots and what was set aside. Known only when the report comes from a scan; a report
drawn from saved alerts says so instead of guessing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from trailhound.pipeline.coverage import TIMELINE_STEP

if TYPE_CHECKING:
    from trailhound.pipeline.scan import ScanResult
    from trailhound.rules.model import Rule

MOST_PROBLEMS = 20
"""Set-aside messages shown one by one; the counts by reason cover the rest."""


@dataclass(frozen=True)
class Scope:
    """The input behind a report. `activity` is None when no events were read (a report from
    saved alerts), and the timeline then counts alerts instead."""

    origin: str  # where the alerts come from, in words
    files: int | None = None
    events: int | None = None
    dynamodb_events: int | None = None
    activity: Mapping[int, int] | None = None  # DynamoDB events per interval start (epoch µs)
    step: int = TIMELINE_STEP  # the intervals' length in `activity` (µs)
    places: Mapping[tuple[str, str], int] | None = None  # (account, region) -> DynamoDB events
    set_aside: tuple[str, ...] = ()  # the read's summary lines past the first
    problems: tuple[str, ...] = ()  # the first few set-aside messages
    blind_spots: tuple[str, ...] = ()
    already_emitted: int = 0  # alerts an earlier run emitted, which a scan does not repeat
    already_counted: int = 0  # matched events counted before (read before, or delivered twice)
    since: int | None = None  # the time window asked for (epoch µs), if any
    until: int | None = None

    @classmethod
    def of_scan(
        cls,
        result: ScanResult,
        rules: Sequence[Rule],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        origin: str = "a scan",
    ) -> Scope:
        read = result.report
        return cls(
            origin=origin,
            files=read.files_read,
            events=result.stats.events,
            dynamodb_events=sum(result.coverage.dynamodb.values()),
            activity=dict(result.coverage.timeline),
            step=TIMELINE_STEP,
            places=dict(result.coverage.places),
            set_aside=tuple(read.summary()[1:]),
            problems=tuple(str(p) for p in read.problems[:MOST_PROBLEMS]),
            blind_spots=tuple(result.coverage.blind_spots(rules)),
            already_emitted=result.stats.already_emitted,
            already_counted=result.stats.repeated,
            since=_us(since),
            until=_us(until),
        )

    @classmethod
    def of_alerts(
        cls, origin: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Scope:
        return cls(origin=origin, since=_us(since), until=_us(until))


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1_000_000)
