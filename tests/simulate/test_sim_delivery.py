"""The output looks like what a trail delivers to S3: layout, gzip JSON, records, lateness."""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trailhound.simulate import SimulationError, SimulationResult, simulate

Files = list[tuple[Path, list[dict[str, Any]]]]

KEY = re.compile(
    r"AWSLogs/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z]{2}-[a-z]+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=acct)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz"
)
# Members every record of an API call carries (tlsDetails and resources depend on the call).
ALWAYS = (
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID",
    "eventID", "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory",
)


def _when(text: str, layout: str) -> datetime:
    return datetime.strptime(text, layout).replace(tzinfo=UTC)


def test_every_object_key_follows_the_s3_layout(small_sim: SimulationResult,
                                                 small_files: Files) -> None:
    assert small_files
    for path, _ in small_files:
        match = KEY.fullmatch(path.relative_to(small_sim.out_dir).as_posix())
        assert match, path
        stamp = match["stamp"]
        assert (match["y"], match["m"], match["d"]) == (stamp[:4], stamp[4:6], stamp[6:8])


def test_records_belong_to_their_file_and_were_delivered_after_they_happened(
    small_sim: SimulationResult, small_files: Files
) -> None:
    for path, records in small_files:
        match = KEY.fullmatch(path.relative_to(small_sim.out_dir).as_posix())
        assert match is not None
        written = _when(match["stamp"], "%Y%m%dT%H%MZ")
        assert records, path
        for rec in records:
            assert rec["recipientAccountId"] == match["acct"]
            assert rec["awsRegion"] == match["region"]
            assert _when(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ") < written


def test_records_carry_every_cloudtrail_member(small_records: list[dict[str, Any]]) -> None:
    for rec in small_records:
        missing = [m for m in ALWAYS if m not in rec]
        assert not missing, (missing, rec["eventName"])
        assert uuid.UUID(rec["eventID"]).version == 4
        assert rec["eventCategory"] == ("Data" if rec["managementEvent"] is False else "Management")
        # TLS details exist for calls that came over the network, not for AWS services' own
        assert ("tlsDetails" in rec) == _is_ip(rec["sourceIPAddress"])


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def test_event_ids_are_unique(small_records: list[dict[str, Any]]) -> None:
    ids = [rec["eventID"] for rec in small_records]
    assert len(ids) == len(set(ids))


def test_some_records_arrive_late(small_sim: SimulationResult, small_files: Files) -> None:
    late_by_hours = 0
    for path, records in small_files:
        match = KEY.fullmatch(path.relative_to(small_sim.out_dir).as_posix())
        assert match is not None
        written = _when(match["stamp"], "%Y%m%dT%H%MZ")
        for rec in records:
            lag = written - _when(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
            late_by_hours += lag.total_seconds() > 3600
    assert small_sim.late_records > 0
    assert late_by_hours > 0


def test_files_hold_batches_not_single_records(small_sim: SimulationResult) -> None:
    assert small_sim.files < small_sim.events / 2
    assert small_sim.max_records_per_file >= 20


def test_a_folder_that_holds_a_simulation_is_refused(small_sim: SimulationResult) -> None:
    with pytest.raises(SimulationError) as caught:
        simulate(small_sim.out_dir, days=1, events=100)
    assert caught.value.where == str(small_sim.out_dir)


@pytest.mark.parametrize(("option", "value"), [("days", 0), ("events", 0)])
def test_nonsense_sizes_are_refused(tmp_path: Path, option: str, value: int) -> None:
    with pytest.raises(SimulationError, match=option):
        simulate(tmp_path / "out", **{option: value})  # type: ignore[arg-type]
