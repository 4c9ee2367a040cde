"""`--spark-state s3://...`: generations as objects, against a moto server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conformance.records import delivery, record
from support.moto import UNSET, aws_environment, moto_server, s3_client
from support.rules import action, rule
from trailhound.errors import StateInUse
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.sources import open_sources
from trailhound.spark import s3_state
from trailhound.spark.state import open_state_home

DELETED = rule(action("DeleteTable"))
BUCKET = "nightly-state"
SPEC = f"s3://{BUCKET}/trailhound/"


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[str]:
    from trailhound.sources.aws import forget_clients

    with moto_server() as endpoint, pytest.MonkeyPatch.context() as patch:
        for name in UNSET:
            patch.delenv(name, raising=False)
        for name, value in aws_environment(endpoint, tmp_path).items():
            patch.setenv(name, value)
        forget_clients()
        s3_client().create_bucket(Bucket=BUCKET)
        yield endpoint
    forget_clients()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    delivery(tmp_path / "logs", "one", [record(0, timedelta(0))])
    return tmp_path / "logs"


def _scan(logs: Path) -> ScanResult:
    home = open_state_home(SPEC)
    try:
        result = scan(open_sources([str(logs)]), [DELETED], store=home.store)
        home.commit()
        return result
    finally:
        home.close()


def _keys() -> list[str]:
    listed = s3_client().list_objects_v2(Bucket=BUCKET, Prefix="trailhound/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def _current() -> bytes:
    body: bytes = s3_client().get_object(Bucket=BUCKET, Key="trailhound/CURRENT")["Body"].read()
    return body


def test_a_nightly_job_continues_the_last_generation(aws: str, logs: Path) -> None:
    assert len(_scan(logs).alerts) == 1
    assert _scan(logs).alerts == []
    assert _scan(logs).alerts == []
    assert _current() == b"gen-000003"
    generations = {key.split("/")[1] for key in _keys() if "/gen-" in key}
    assert generations == {"gen-000002", "gen-000003"}  # the one before is kept
    assert "trailhound/lock" not in _keys()


def test_a_held_lock_refuses_a_second_run_and_says_whose(aws: str) -> None:
    first = open_state_home(SPEC)
    try:
        with pytest.raises(StateInUse, match=r"in use by another trailhound \(.* pid \d+"):
            open_state_home(SPEC)
    finally:
        first.close()
    open_state_home(SPEC).close()


def test_a_commit_cut_short_keeps_the_previous_generation(
    aws: str, logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scan(logs.parent / "nothing")
    real = s3_state._s3

    class Cut:
        def __getattr__(self, name: str) -> Any:
            if name == "upload_file":
                raise OSError("connection lost")
            return getattr(real(), name)

    monkeypatch.setattr(s3_state, "_s3", Cut)
    with pytest.raises(OSError, match="connection lost"):
        _scan(logs)
    monkeypatch.undo()
    assert _current() == b"gen-000001"
    assert len(_scan(logs).alerts) == 1  # the cut run's decisions were never committed
