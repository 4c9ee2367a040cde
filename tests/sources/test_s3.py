"""S3, against a moto server: `scan s3://...` reads what a folder holds, and `watch s3://...`
polls a trail's layout, each new or late file once."""

from __future__ import annotations

import gzip
import json
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.corpus import environment
from support.memory_cursor import MemoryCursor
from support.moto import s3_client, upload
from trailhound.errors import InputError
from trailhound.sources import Blob, SourceProblem, Unreadable, open_source
from trailhound.sources import s3 as s3_module
from trailhound.sources.polling import Poll, open_polled
from trailhound.sources.s3 import NEWEST, S3Trail, open_polled_s3

SCAN_BUCKET, SCAN_PREFIX = "scan-trail", "org/logs"
WATCH_BUCKET = "watch-trail"
ORG = "o-abc123defg"
STAMP = re.compile(r"_(\d{8}T\d{4}Z)_")


@pytest.fixture(scope="module")
def scan_bucket(aws: str, cloudtrail_day: Path) -> dict[str, Path]:
    """The simulated day under s3://scan-trail/org/logs/AWSLogs/...: key -> its file."""
    files = {f"{SCAN_PREFIX}/{p.relative_to(cloudtrail_day.parent)}": p
             for p in cloudtrail_day.rglob("*") if p.is_file()}  # fmt: skip
    s3_client().create_bucket(Bucket=SCAN_BUCKET)
    upload(SCAN_BUCKET, files.items())
    return files


def listed(bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o for page in pages for o in page.get("Contents", [])}


def blobs(spec: str) -> list[Blob | SourceProblem]:
    return list(open_source(spec).blobs())


def content(blob: Blob | SourceProblem) -> bytes:
    assert isinstance(blob, Blob)
    return b"".join(blob.chunks())


# -- scan -----------------------------------------------------------------------------------


def test_scan_yields_every_object_under_the_prefix_in_key_order_with_its_time_and_size(
    scan_bucket: dict[str, Path],
) -> None:
    found = blobs(f"s3://{SCAN_BUCKET}/{SCAN_PREFIX}")
    assert all(isinstance(b, Blob) for b in found)
    assert [b.name for b in found] == [f"s3://{SCAN_BUCKET}/{k}" for k in sorted(scan_bucket)]
    objects = listed(SCAN_BUCKET)
    for blob in found:
        assert isinstance(blob, Blob)
        item = objects[blob.name.removeprefix(f"s3://{SCAN_BUCKET}/")]
        assert blob.ingested == item["LastModified"] and blob.ingested.tzinfo == UTC
        assert blob.size == item["Size"] and blob.portable
    first = found[0]
    assert isinstance(first, Blob)
    local = scan_bucket[first.name.removeprefix(f"s3://{SCAN_BUCKET}/")]
    assert content(first) == gzip.decompress(local.read_bytes())


def test_a_blob_travels_to_a_worker_process_by_pickle(scan_bucket: dict[str, Path]) -> None:
    blob = blobs(f"s3://{SCAN_BUCKET}/{SCAN_PREFIX}/AWSLogs")[0]
    assert content(pickle.loads(pickle.dumps(blob))) == content(blob)


def test_scan_of_s3_finds_the_alerts_of_the_same_files_in_a_folder(
    scan_bucket: dict[str, Path], cloudtrail_day: Path, tmp_path: Path
) -> None:
    env = environment(tmp_path)  # this process's environment, which points boto3 at moto

    def alert_ids(source: str) -> list[str]:
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.jsonl"
        done = subprocess.run(
            [sys.executable, "-m", "trailhound", "scan", source, "--no-state", "--format",
             "jsonl", "-q", "-o", str(out)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr  # 1: alerts, and every record read cleanly
        return sorted(json.loads(line)["id"] for line in out.read_text().splitlines())

    from_folder = alert_ids(str(cloudtrail_day))
    assert from_folder
    assert alert_ids(f"s3://{SCAN_BUCKET}/{SCAN_PREFIX}/AWSLogs") == from_folder


def test_a_prefix_stands_for_an_object_and_a_folder_not_for_the_start_of_a_name(aws: str) -> None:
    client = s3_client()
    client.create_bucket(Bucket="prefix-rules")
    for key in ["logs", "logs/a.json", "logs/sub/", "logs-old/b.json"]:
        client.put_object(Bucket="prefix-rules", Key=key, Body=b"{}")

    def names(spec: str) -> list[str]:
        return [b.name.removeprefix("s3://prefix-rules/") for b in blobs(spec)]

    assert names("s3://prefix-rules/logs") == ["logs", "logs/a.json"]
    assert names("s3://prefix-rules/logs/") == ["logs/a.json"]
    assert names("s3://prefix-rules") == ["logs", "logs-old/b.json", "logs/a.json"]


def test_a_bucket_that_cannot_be_listed_or_an_empty_prefix_is_a_problem_not_a_traceback(
    scan_bucket: dict[str, Path],
) -> None:
    [missing] = blobs("s3://no-such-bucket/some/prefix")
    assert isinstance(missing, SourceProblem)
    assert missing.name == "s3://no-such-bucket/some/prefix" and "NoSuchBucket" in missing.reason
    empty = f"s3://{SCAN_BUCKET}/nothing-here/"
    assert blobs(empty) == [SourceProblem(empty, "no object under this prefix")]


def test_an_object_deleted_or_replaced_after_it_was_listed_is_unreadable(aws: str) -> None:
    client = s3_client()
    client.create_bucket(Bucket="changing")
    for key in ["gone.json", "replaced.json"]:
        client.put_object(Bucket="changing", Key=key, Body=b'{"Records": []}')
    gone, replaced = blobs("s3://changing")
    client.delete_object(Bucket="changing", Key="gone.json")
    client.put_object(Bucket="changing", Key="replaced.json", Body=b'{"Records": [ ]}')
    with pytest.raises(Unreadable, match="no such object"):
        content(gone)
    with pytest.raises(Unreadable, match="replaced since it was listed"):
        content(replaced)


def test_without_boto3_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now raises ImportError
    with pytest.raises(InputError, match=re.escape("pip install 'trailhound[s3]'")):
        open_source("s3://bucket/prefix")


def test_an_s3_spec_names_a_bucket() -> None:
    pytest.importorskip("boto3")
    with pytest.raises(InputError, match="s3://BUCKET"):
        open_source("s3://")


# -- watch ----------------------------------------------------------------------------------


LAYOUT = re.compile(r"(?:.*/)?AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([^/]+)/"
                    r"\d{4}/\d\d/\d\d/\1_CloudTrail_\2_(\d{8}T\d{4}Z)_[^/]+")  # fmt: skip


@dataclass
class Trail:
    """Two accounts of the simulated day under s3://watch-trail/org/, one file held back."""

    day: Path
    accounts: list[str]
    folder: str  # a region folder (of the first account), as a key prefix
    late: str  # the key of its next to last file, not uploaded yet
    newest: str  # the key of its last file


def stamp_of(key: str) -> str:
    match = STAMP.search(key.rsplit("/", 1)[-1])
    assert match
    return match[1]


def stamp_time(key: str) -> datetime:
    return datetime.strptime(stamp_of(key), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def delivery_key(account: str, region: str, when: datetime, unique: str, org: str = "") -> str:
    folder = f"org/AWSLogs/{org + '/' if org else ''}{account}/CloudTrail/{region}/"
    name = f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{unique}.json.gz"
    return f"{folder}{when:%Y/%m/%d}/{name}"


@pytest.fixture(scope="module")
def trail(aws: str, cloudtrail_day: Path) -> Trail:
    accounts = sorted(p.name for p in cloudtrail_day.iterdir())[:2]
    files = {f"org/{p.relative_to(cloudtrail_day.parent)}": p
             for a in accounts for p in (cloudtrail_day / a).rglob("*.json.gz")}  # fmt: skip
    region = sorted((cloudtrail_day / accounts[0] / "CloudTrail").iterdir())[0].name
    folder = f"org/AWSLogs/{accounts[0]}/CloudTrail/{region}/"
    late, newest = sorted(k for k in files if k.startswith(folder))[-2:]
    noise = [
        f"org/AWSLogs/{accounts[0]}/CloudTrail-Digest/{region}/2025/06/02/"
        f"{accounts[0]}_CloudTrail-Digest_{region}_trail_{region}_20250602T0100Z.json.gz",
        "org/README.txt",
        "org/AWSLogs/elsewhere/x.json",
        f"{folder}2025/06/02/notes.txt",
        f"{folder}2025/06/02/{accounts[0]}_CloudTrail_{region}_20250601T2300Z_wrongday.json.gz",
    ]
    s3_client().create_bucket(Bucket=WATCH_BUCKET)
    upload(WATCH_BUCKET, [(k, p) for k, p in files.items() if k != late])
    upload(WATCH_BUCKET, [(k, files[newest]) for k in noise])
    return Trail(cloudtrail_day, accounts, folder, late, newest)


def deliveries(prefix: str = "org/") -> list[str]:
    """The keys of CloudTrail log files under `prefix` now, in the order a poll gives them."""
    keys = [k for k in listed(WATCH_BUCKET, prefix) if LAYOUT.fullmatch(k)]
    return sorted((k for k in keys if stamp_of(k)[:8] == "".join(k.split("/")[-4:-1])),
                  key=lambda k: (stamp_of(k), k))  # fmt: skip


def keys_of(poll: Poll) -> list[str]:
    assert not [b for b in poll.blobs if isinstance(b, SourceProblem)]
    return [b.name.removeprefix(f"s3://{WATCH_BUCKET}/") for b in poll.blobs]


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str | None]]:
    """Where each listing of a region folder starts, by folder."""
    seen: dict[str, str | None] = {}
    listing = s3_module._listing

    def recording(bucket: str, prefix: str, start_after: str | None = None) -> Any:
        seen[prefix] = start_after
        return listing(bucket, prefix, start_after)

    monkeypatch.setattr(s3_module, "_listing", recording)
    yield seen


def test_watch_reads_each_file_once_and_a_late_file_within_the_margin(
    trail: Trail, starts: dict[str, str | None]
) -> None:
    source = open_polled(f"s3://{WATCH_BUCKET}/org")
    assert isinstance(source, S3Trail) and source.name == f"s3://{WATCH_BUCKET}/org/"
    cursor = MemoryCursor()

    first = source.poll(cursor)
    expected = deliveries()
    assert keys_of(first) == expected and trail.late not in expected
    etags = {k: o["ETag"].strip('"') for k, o in listed(WATCH_BUCKET).items()}
    assert {c.key: c.version for c in first.consumed} == {
        f"{stamp_of(k)} {k.removeprefix('org/')}": etags[k] for k in expected
    }
    mark = trail.folder.removeprefix("org/")
    assert first.marks[mark] == trail.newest.removeprefix(trail.folder)
    assert first.marks[NEWEST] == max(stamp_of(k) for k in expected)
    cursor.commit(first)

    second = source.poll(cursor)
    assert (second.blobs, second.consumed, second.marks) == ([], [], {})
    # the region folder is listed from its newest file less an hour, not from its start
    an_hour_before = stamp_time(trail.newest) - timedelta(hours=1)
    assert starts[trail.folder] == delivery_key(
        trail.accounts[0], trail.folder.split("/")[-2], an_hour_before, ""
    ).removesuffix("_.json.gz")
    cursor.commit(second)

    added = upload_more(trail)
    third = source.poll(cursor)
    assert sorted(keys_of(third)) == sorted(added)  # not the file three hours late
    assert third.marks[f"AWSLogs/{ORG}/{trail.accounts[0]}/CloudTrail/us-east-1/"]
    cursor.commit(third)
    assert third.forget_before is not None
    assert len(cursor.consumed) < len(expected) and min(cursor.consumed) >= third.forget_before

    fourth = source.poll(cursor)  # what was forgotten is not listed again
    assert (fourth.blobs, fourth.consumed) == ([], [])


def upload_more(trail: Trail) -> list[str]:
    """The late file, a file three hours late (not to be read), a new file in another account,
    and an organization trail's file; returns the keys a poll must find."""
    first, second = trail.accounts
    region = trail.folder.split("/")[-2]
    too_late = delivery_key(first, region, stamp_time(trail.newest) - timedelta(hours=3), "old")
    other = sorted(p for p in (trail.day / second).rglob("*.json.gz"))[-1]
    other_key = f"org/{other.relative_to(trail.day.parent)}"
    new = delivery_key(second, other_key.split("/")[4], stamp_time(other_key)
                       + timedelta(minutes=5), "new")  # fmt: skip
    org = delivery_key(first, "us-east-1", datetime(2025, 6, 2, 12, tzinfo=UTC), "org", ORG)
    body = trail.day.parent / trail.newest.removeprefix("org/")
    upload(WATCH_BUCKET, [(k, body) for k in (trail.late, too_late, new, org)])
    return [trail.late, new, org]


def test_watch_can_follow_one_account_of_a_trail(trail: Trail) -> None:
    account = trail.accounts[1]
    source = open_polled_s3(f"s3://{WATCH_BUCKET}/org/AWSLogs/{account}")
    poll = source.poll(MemoryCursor())
    assert keys_of(poll) == deliveries(f"org/AWSLogs/{account}/")
    assert {m for m in poll.marks if m != NEWEST} == {
        "/".join(k.removeprefix("org/").split("/")[:4]) + "/" for k in keys_of(poll)
    }


def test_a_quiet_region_is_listed_from_no_more_than_a_day_behind_the_trail(
    trail: Trail, starts: dict[str, str | None]
) -> None:
    region = trail.folder.split("/")[-2]
    mark = f"AWSLogs/{trail.accounts[0]}/CloudTrail/{region}/"
    cursor = MemoryCursor(marks={
        mark: f"2025/05/20/{trail.accounts[0]}_CloudTrail_{region}_20250520T1000Z_x.json.gz",
        NEWEST: "20250610T0000Z",
    })  # fmt: skip
    poll = open_polled_s3(f"s3://{WATCH_BUCKET}/org").poll(cursor)
    assert starts[trail.folder] == (
        f"{trail.folder}2025/06/09/{trail.accounts[0]}_CloudTrail_{region}_20250609T0000Z"
    )
    assert poll.forget_before == "20250609T0000Z"


def test_watch_follows_folders_of_the_layout_only() -> None:
    pytest.importorskip("boto3")
    with pytest.raises(InputError, match="layout"):
        open_polled_s3("s3://bucket/org/AWSLogs/123456789012/CloudTrail/us-east-1/2025/")


def test_a_trail_that_cannot_be_listed_is_a_problem_each_poll(aws: str) -> None:
    poll = open_polled_s3("s3://no-such-bucket/org").poll(MemoryCursor())
    [problem] = poll.blobs
    assert isinstance(problem, SourceProblem) and problem.name == "s3://no-such-bucket/org/"
    assert "NoSuchBucket" in problem.reason
    assert (poll.consumed, poll.marks) == ([], {}) and "AWSLogs/" in poll.waiting_for
