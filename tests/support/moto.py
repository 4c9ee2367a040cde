"""A moto server (AWS S3 and SQS, faked) on 127.0.0.1 as a process, for the S3 and SQS sources.

    with moto_server() as endpoint:
        os.environ.update(aws_environment(endpoint))   # boto3 then talks to it

The server is `python -m moto.server` (what the `moto_server` script runs), so that it runs
under the interpreter the tests use. It keeps everything in memory; tests use buckets and
queues of their own names instead of resetting it.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

START_SECONDS = 30.0

# boto3's settings that would reach a real account, or change what the tests talk to
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
         "AWS_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ROLE_ARN",
         "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
         "AWS_CONTAINER_CREDENTIALS_FULL_URI")  # fmt: skip


def aws_environment(endpoint: str, home: Path) -> dict[str, str]:
    """Environment variables that point boto3 at `endpoint` with fake credentials, and away
    from the user's AWS config files (`home` holds none) and the instance metadata service."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free port; yields its endpoint URL, and stops it (by its pid)."""
    port = _free_port()
    # its log goes to a file: a pipe nobody reads fills up and stops the server
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            _wait_for(process, port, log)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            error = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"moto_server exited with {process.returncode}: {error}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"moto_server did not listen on port {port} in {START_SECONDS:.0f} s")


def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def upload(bucket: str, files: Iterable[tuple[str, Path]]) -> None:
    """Put each (key, file), a few at a time (a day of CloudTrail is a thousand files)."""
    client = s3_client()

    def put(item: tuple[str, Path]) -> None:
        client.put_object(Bucket=bucket, Key=item[0], Body=item[1].read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, files))
