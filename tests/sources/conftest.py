"""Fixtures for the S3 and SQS sources: one moto server for the session, boto3 pointed at it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.moto import UNSET, aws_environment, moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def aws(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The moto endpoint, with this process's environment (and so its subprocesses') set for
    boto3 while the module's tests run."""
    from trailhound.sources.aws import forget_clients

    home = tmp_path_factory.mktemp("aws-home")
    with pytest.MonkeyPatch.context() as patch:
        for name in UNSET:
            patch.delenv(name, raising=False)
        for name, value in aws_environment(moto_endpoint, home).items():
            patch.setenv(name, value)
        forget_clients()  # clients made before read another environment
        yield moto_endpoint
    forget_clients()


@pytest.fixture(scope="session")
def cloudtrail_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated day of CloudTrail as a trail delivers it; returns its `AWSLogs`."""
    out = tmp_path_factory.mktemp("day")
    subprocess.run(
        [sys.executable, "-m", "trailhound", "simulate", "--days", "1", "--events", "3000",
         "--out", str(out / "sim"), "--quiet"],
        check=True, timeout=120,
    )  # fmt: skip
    return out / "sim" / "AWSLogs"
