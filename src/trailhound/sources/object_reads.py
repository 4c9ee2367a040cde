"""What reading one S3 object means whichever client reads it (boto3 in `s3.py`, obstore in
`s3_objects.py`): a context manager over the object's bytes whose read, when the connection
breaks off, goes on from where it stopped, a few times, before it fails as OSError(EIO)."""

from __future__ import annotations

import errno
from types import TracebackType
from typing import Self

RESUMES = 3  # a read that breaks off mid-object goes on from where it stopped, this often


class ResumedRead:
    """A reader's state and policy: `_position` (bytes of the object arrived), `_done`, and
    `_resume` when a read broke off. A client's reader opens the object, from `_position`
    when it is not 0, and drops its response in `close`."""

    def __init__(self, key: str, etag: str) -> None:
        self._key, self._etag = key, etag
        self._position = 0
        self._resumes = 0
        self._done = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def _resume(self, exc: Exception, said: str) -> None:
        """Drop the broken response, so that the next read opens the object again from
        `_position`; past `RESUMES` times, fail with `said` (why it broke)."""
        self.close()
        self._resumes += 1
        if self._resumes > RESUMES:
            raise OSError(errno.EIO, f"reading broke off: {said}") from exc
