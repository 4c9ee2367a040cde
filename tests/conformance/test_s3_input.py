"""`s3://bucket/prefix` on every engine, against a moto server: listed on the driver, read
where the engine runs (Spark's executors fetch their objects with boto3 themselves)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conformance.conftest import Runner
from conformance.records import delivery, record
from support.moto import UNSET, aws_environment, moto_server, s3_client, upload
from support.rules import action, rule
from trailhound.rules.model import ThresholdSpec

BUCKET = "conformance-trail"
SIX_IN_TEN = rule(
    action("DeleteTable"), ThresholdSpec(("cloud.account.id",), 6, window=timedelta(minutes=10))
)


@pytest.fixture
def aws(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """boto3 pointed at a moto server, here and (for Spark) in the executors' Python."""
    from trailhound.sources.aws import forget_clients

    with moto_server() as endpoint, pytest.MonkeyPatch.context() as patch:
        env = aws_environment(endpoint, tmp_path)
        for name in UNSET:
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        forget_clients()
        executors = _executor_environment(request)
        executors.update(env)
        try:
            yield env
        finally:
            for name in env:
                executors.pop(name, None)
            forget_clients()


def _executor_environment(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The variables Spark hands its Python workers (none to set without Spark)."""
    engine: Runner = request.getfixturevalue("engine")
    if engine.name != "spark":
        return {}
    environment: dict[str, Any] = request.getfixturevalue("spark").sparkContext.environment
    return environment


def test_a_bucket_is_read_as_its_files_are(engine: Runner, aws: dict[str, str],
                                           tmp_path: Path) -> None:  # fmt: skip
    folder = tmp_path / "AWSLogs"
    paths = [delivery(folder, f"part-{i}", [record(i * 3 + j, (i * 3 + j) * timedelta(minutes=1))
                                            for j in range(3)]) for i in range(3)]  # fmt: skip
    s3_client().create_bucket(Bucket=BUCKET)
    upload(BUCKET, [(f"logs/{p.name}", p) for p in paths])
    from_bucket = engine.scan_specs([f"s3://{BUCKET}/logs/"], [SIX_IN_TEN])
    from_files = engine.scan([folder], [SIX_IN_TEN])
    assert from_bucket.report.files_read == 3 and len(from_bucket.alerts) == 1
    assert [a.id for a in from_bucket.alerts] == [a.id for a in from_files.alerts]
