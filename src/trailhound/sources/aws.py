"""What the S3 and SQS sources share: boto3, imported only when one of them is used, one client
per service and region in each process, and AWS errors told in a few words.

Credentials, region and endpoint come from boto3's usual chain: environment variables
(`AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, ...),
the shared config and credentials files, then instance or container roles. boto3 is untyped:
its clients are `Any` here and nowhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from trailhound.errors import InputError

INSTALL_HINT = "pip install 'trailhound[s3]'"
THREADS = 16
"""Requests made at once by one poll: an organization trail has a folder per account and
region to list, an SQS poll up to a hundred objects to look up; each takes tens of ms."""
_CONNECTIONS = 2 * THREADS
_lock = threading.RLock()  # re-entered: a made thing may need a client made first
_made: dict[Hashable, Any] = {}  # what `made_once` made in this process, by key
T = TypeVar("T")
R = TypeVar("R")


def require_boto3(where: str) -> None:
    """Raise an InputError saying how to install boto3 when it is missing."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        raise InputError(f"reading AWS sources needs boto3: {INSTALL_HINT}", where=where) from None


def client(service: str, region: str | None = None) -> Any:
    """This process's client for `service` (in `region`, else the configured one).

    Cached per process: worker processes unpickle openers, not clients, and each makes its own
    client once. boto3's default session is not thread-safe, hence a session of our own, made
    under a lock; the client it makes is thread-safe.
    """
    return made_once(("client", service, region), lambda: _client(service, region))


def _client(service: str, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5},
                    max_pool_connections=_CONNECTIONS)  # fmt: skip
    return boto3.session.Session().client(service, region_name=region, config=config)


def made_once(key: Hashable, make: Callable[[], T]) -> T:
    """What `make` returns, made once per process under `key` (a client, an object store).

    Made under a lock: threads fetching objects ahead ask for it at once, and each made thing
    costs a tenth of a second or holds connections of its own.
    """
    with _lock:
        if key not in _made:
            _made[key] = make()
        return cast(T, _made[key])


def forget_clients() -> None:
    """Drop the cached clients and stores, so the next ones read the environment again (for
    tests)."""
    with _lock:
        _made.clear()


def aws_errors() -> tuple[type[Exception], ...]:
    """What botocore raises for a failed call: refused (ClientError) or not made at all."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def error_code(exc: Exception) -> str:
    """The AWS error code of a ClientError (`NoSuchKey`, `AccessDenied`), else ''."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def reason(exc: Exception) -> str:
    """A failed AWS call in a few words: its code and message, or botocore's own message."""
    code = error_code(exc)
    if not code:
        return str(exc) or type(exc).__name__
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "") or "")
    return f"{code}: {message}" if message and message != code else code


def parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`function` over `items`, `THREADS` at a time, results in order; the first error raised
    is raised here."""
    items = list(items)
    if len(items) <= 1:
        return [function(i) for i in items]
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        return list(pool.map(function, items))
