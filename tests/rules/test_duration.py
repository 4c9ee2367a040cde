"""Durations, Elastic date math and {value, unit} objects, as rule files and options write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailhound.errors import TrailhoundError
from trailhound.rules.duration import (
    format_date_math,
    format_duration,
    format_duration_object,
    parse_date_math,
    parse_duration,
    parse_duration_object,
    resolve_span,
    resolve_time,
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("72h", timedelta(hours=72)),
        ("14d", timedelta(days=14)),
        ("2w", timedelta(days=14)),
        (" 5m ", timedelta(minutes=5)),
    ],
)
def test_durations_read_as_spans(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["10", "m", "10x", "0m", "-5m", "1.5h", "", "1M", "1y"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(TrailhoundError):
        parse_duration(text)


def test_calendar_units_are_refused_with_a_reason() -> None:
    with pytest.raises(TrailhoundError, match="months and years"):
        parse_duration("1M")


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("now-9m", timedelta(minutes=9)),
        ("now-6m", timedelta(minutes=6)),
        ("now-14d", timedelta(days=14)),
        ("now-3660s", timedelta(seconds=3660)),
        ("now-1d+2h", timedelta(hours=22)),
        ("now-1H", timedelta(hours=1)),
    ],
)
def test_date_math_reads_as_the_span_before_now(text: str, span: timedelta) -> None:
    assert parse_date_math(text) == span


@pytest.mark.parametrize(
    "text", ["now", "now+5m", "now-1d/d", "9m", "2024-01-01", "now-1M", "now-"]
)
def test_date_math_that_is_no_span_before_now_is_refused(text: str) -> None:
    with pytest.raises(TrailhoundError):
        parse_date_math(text)


def test_duration_objects_as_elastic_writes_them() -> None:
    assert parse_duration_object({"value": 5, "unit": "m"}) == timedelta(minutes=5)
    assert parse_duration_object({"value": 2, "unit": "h"}) == timedelta(hours=2)
    assert parse_duration_object({"value": 45, "unit": "s"}) == timedelta(seconds=45)


@pytest.mark.parametrize(
    "obj",
    [
        {"value": 0, "unit": "m"},
        {"value": True, "unit": "m"},
        {"value": "5", "unit": "m"},
        {"value": 5},
        {"value": 5, "unit": "minutes"},
        {"value": 5, "unit": "m", "extra": 1},
    ],
)
def test_bad_duration_objects_are_refused(obj: dict[str, object]) -> None:
    with pytest.raises(TrailhoundError):
        parse_duration_object(obj)


def test_spans_are_written_in_the_largest_whole_unit() -> None:
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(hours=2)) == "2h"
    assert format_duration(timedelta(days=14)) == "14d"
    assert format_duration(timedelta(seconds=61)) == "61s"
    assert format_date_math(timedelta(minutes=9)) == "now-9m"
    assert format_duration_object(timedelta(seconds=90)) == {"value": 90, "unit": "s"}
    assert format_duration_object(timedelta(days=1)) == {"value": 24, "unit": "h"}


def test_spans_that_are_not_whole_positive_seconds_cannot_be_written() -> None:
    with pytest.raises(ValueError):
        format_duration(timedelta(milliseconds=1500))
    with pytest.raises(ValueError):
        format_duration(timedelta(0))


@given(st.integers(min_value=1, max_value=10**8))
def test_written_spans_read_back_equal(seconds: int) -> None:
    span = timedelta(seconds=seconds)
    assert parse_duration(format_duration(span)) == span
    assert parse_date_math(format_date_math(span)) == span
    assert parse_duration_object(format_duration_object(span)) == span


NOW = datetime(2024, 3, 31, 15, 45, 30, 123456, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("now", NOW),
        ("now-14d", datetime(2024, 3, 17, 15, 45, 30, 123456, tzinfo=UTC)),
        ("now-90m", datetime(2024, 3, 31, 14, 15, 30, 123456, tzinfo=UTC)),
        ("now/d", datetime(2024, 3, 31, tzinfo=UTC)),
        ("now-1d/d", datetime(2024, 3, 30, tzinfo=UTC)),
        ("now/w", datetime(2024, 3, 25, tzinfo=UTC)),
        ("now-1M", datetime(2024, 2, 29, 15, 45, 30, 123456, tzinfo=UTC)),
        ("now-1y/y", datetime(2023, 1, 1, tzinfo=UTC)),
        ("now+1M/M", datetime(2024, 4, 1, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
    ],
)
def test_times_resolve_from_date_math_or_iso(text: str, moment: datetime) -> None:
    assert resolve_time(text, now=NOW) == moment


@pytest.mark.parametrize("text", ["yesterday", "now-5", "now/q", "2024-13-01"])
def test_unreadable_times_are_refused(text: str) -> None:
    with pytest.raises(TrailhoundError):
        resolve_time(text, now=NOW)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("now", (NOW, None)),
        ("now-1h", (NOW - timedelta(hours=1), None)),
        ("now/d", (datetime(2024, 3, 31, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))),
        ("now/M", (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))),
        ("now-1y/y", (datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))),
        ("now/h", (datetime(2024, 3, 31, 15, tzinfo=UTC), datetime(2024, 3, 31, 16, tzinfo=UTC))),
        ("2024-01-02", (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))),
        ("2024-01-02T03:04:05Z", (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None)),
    ],
)
def test_a_rounded_date_names_the_whole_span_a_range_bound_rounds_over(
    text: str, span: tuple[datetime, datetime | None]
) -> None:
    # Elasticsearch's range query rounds `/unit` (and a date without its time) down for gte/lt
    # and up for gt/lte: the bound is the span's first instant or the first instant after it
    assert resolve_span(text, now=NOW) == span
