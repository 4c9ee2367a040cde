"""`--spark-state s3://bucket/prefix`: the state's generations as objects in S3.

The same generations as a local state folder (`spark.state`), under a prefix: each committed
step uploads a new `gen-NNNNNN/` and only then overwrites the `CURRENT` object, whose PUT is
atomic, so a job killed at any instant leaves `CURRENT` naming a whole generation. A run holds
the `lock` object, created only if absent (a conditional PUT), for its whole length; a run
killed before it could delete it leaves it behind, and the next run says so, with who held it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailhound.errors import StateError, StateInUse
from trailhound.sources.aws import client
from trailhound.sources.s3 import parse_spec
from trailhound.spark.state import (
    CURRENT,
    export,
    generation_name,
    generation_number,
    working_copy,
)
from trailhound.state.store import Store

LOCK = "lock"


class S3StateFolder:
    def __init__(self, spec: str, bucket: str, prefix: str, store: Store, scratch: Path) -> None:
        self.spec = spec
        self.bucket = bucket
        self.prefix = prefix
        self.store = store
        self._scratch = scratch

    @classmethod
    def open(cls, spec: str) -> S3StateFolder:
        bucket, prefix = parse_spec(spec)
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        _lock(bucket, prefix, spec)
        scratch = Path(tempfile.mkdtemp(prefix="trailhound-spark-state-"))
        try:
            current = _current(bucket, prefix, spec)
            generation = None
            if current is not None:
                generation = scratch / current
                _download(bucket, f"{prefix}{current}/", generation)
            store = working_copy(generation, scratch / "state.duckdb", where=spec)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            _s3().delete_object(Bucket=bucket, Key=prefix + LOCK)
            raise
        return cls(spec, bucket, prefix, store, scratch)

    def commit(self) -> None:
        existing = _generations(self.bucket, self.prefix)
        current = _current(self.bucket, self.prefix, self.spec)
        name = generation_name(max(existing, default=0) + 1)
        folder = self._scratch / f"export-{name}"
        export(self.store, folder)
        for path in sorted(folder.iterdir()):
            _s3().upload_file(str(path), self.bucket, f"{self.prefix}{name}/{path.name}")
        _s3().put_object(Bucket=self.bucket, Key=self.prefix + CURRENT, Body=name.encode())
        shutil.rmtree(folder, ignore_errors=True)
        for number in existing:
            old = generation_name(number)
            if old != current:
                _delete_under(self.bucket, f"{self.prefix}{old}/")

    def close(self) -> None:
        self.store.close()
        shutil.rmtree(self._scratch, ignore_errors=True)
        _s3().delete_object(Bucket=self.bucket, Key=self.prefix + LOCK)


def _s3() -> Any:
    return client("s3")


def _lock(bucket: str, prefix: str, spec: str) -> None:
    since = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    holder = f"{socket.gethostname()} pid {os.getpid()} since {since}"
    try:
        _s3().put_object(Bucket=bucket, Key=prefix + LOCK, Body=holder.encode(), IfNoneMatch="*")
    except Exception as exc:
        if _code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise StateError(f"cannot use the state here ({_code(exc)})", where=spec) from None
        held = _s3().get_object(Bucket=bucket, Key=prefix + LOCK)["Body"].read().decode()
        raise StateInUse(
            f"the state is in use by another trailhound ({held[:200]}); run again when it has "
            f"finished, or, if that run was killed, delete {spec.rstrip('/')}/{LOCK}",
            where=spec,
        ) from None


def _current(bucket: str, prefix: str, spec: str) -> str | None:
    try:
        body: bytes = _s3().get_object(Bucket=bucket, Key=prefix + CURRENT)["Body"].read()
    except Exception as exc:
        if _code(exc) in ("NoSuchKey", "404"):
            return None
        raise StateError(f"cannot read {CURRENT} ({_code(exc)})", where=spec) from None
    name = body.decode(errors="replace").strip()
    if not generation_number(name):
        raise StateError(f"{CURRENT} names no generation ({name[:80]!r})", where=spec)
    return name


def _generations(bucket: str, prefix: str) -> list[int]:
    pages = _s3().get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    names = [p["Prefix"][len(prefix) :].rstrip("/") for page in pages
             for p in page.get("CommonPrefixes", [])]  # fmt: skip
    return sorted(n for n in (generation_number(name) for name in names) if n)


def _keys(bucket: str, prefix: str) -> list[str]:
    pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _download(bucket: str, prefix: str, folder: Path) -> None:
    folder.mkdir(parents=True)
    for key in _keys(bucket, prefix):
        _s3().download_file(bucket, key, str(folder / key[len(prefix) :]))


def _delete_under(bucket: str, prefix: str) -> None:
    for key in _keys(bucket, prefix):
        _s3().delete_object(Bucket=bucket, Key=key)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
