"""A generic webhook: the alert JSON, POSTed as stored, one request per alert.

Options: `url` / `url_env` / `url_file`, optionally `secret` / `secret_env` / `secret_file`
to sign each body, `headers` (a table of extra static headers, e.g. an Authorization header),
`min_severity`, and the retry options of `trailhound.outputs.http`.

Each request carries `Idempotency-Key: <alert id>`, so a receiver can drop the repeat when a
retry follows a delivery whose answer was lost. With a secret, `X-Trailhound-Signature:
sha256=<hex>` is the HMAC-SHA256 of the exact body bytes under that secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from trailhound.errors import ConfigError
from trailhound.escaping import json_bytes
from trailhound.outputs.base import min_severity, secret
from trailhound.outputs.http import HttpOutput, Request, RetryPolicy, check_url

SIGNATURE_HEADER = "X-Trailhound-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# set by this output or by the HTTP client: an extra header may not replace them
RESERVED = frozenset(h.lower() for h in ("Content-Type", "Content-Length", "Host",
                                         "Transfer-Encoding", "Connection",
                                         IDEMPOTENCY_HEADER, SIGNATURE_HEADER))  # fmt: skip
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field name
# a CR or LF would split the header; HTTP/1.1 header values are ASCII in practice
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e]")


class WebhookOutput(HttpOutput):
    """POSTs each alert's JSON to a URL, signed when a secret is set."""

    def __init__(
        self,
        name: str,
        url: str,
        policy: RetryPolicy,
        min_rank: int,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(name, policy, min_rank)
        self._url = url  # may hold a token: never in a reason or an error
        self._key = key.encode("utf-8") if key is not None else None
        self._headers = dict(headers or {})

    def request(self, alert: Mapping[str, Any]) -> Request:
        body = json_bytes(alert, default=_plain)
        headers = {**self._headers, "Content-Type": "application/json"}
        if alert.get("id"):
            headers[IDEMPOTENCY_HEADER] = str(alert["id"])
        if self._key is not None:
            headers[SIGNATURE_HEADER] = signature(self._key, body)
        return self._url, body, headers


def build(name: str, options: Mapping[str, Any]) -> WebhookOutput:
    """The webhook output `name` from its options; ConfigError names a bad option."""
    url = secret(name, options, "url", required=True)
    assert url is not None  # required=True either returns a value or raises
    check_url(name, "url", url)
    return WebhookOutput(
        name,
        url,
        RetryPolicy.from_options(name, options),
        min_severity(name, options),
        key=secret(name, options, "secret", required=False),
        headers=_extra_headers(name, options.get("headers", {})),
    )


def signature(key: bytes, body: bytes) -> str:
    """The `X-Trailhound-Signature` value for a body: `sha256=` and the hex HMAC."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _extra_headers(name: str, given: Any) -> dict[str, str]:
    """The `headers` option checked: names are tokens, values are strings on one line.
    Errors name the header, never its value (it may be a credential)."""
    where = f"outputs.{name}.headers"
    if not isinstance(given, Mapping):
        raise ConfigError("must be a table of header names and values", where=where)
    headers: dict[str, str] = {}
    for header, value in given.items():
        if not isinstance(header, str) or not _TOKEN.fullmatch(header):
            raise ConfigError("a header name must be a token (letters, digits, -)", where=where)
        if header.lower() in RESERVED:
            raise ConfigError(f"{header} is set by trailhound", where=f"{where}.{header}")
        if not isinstance(value, str) or _BAD_VALUE.search(value):
            raise ConfigError("must be a string of printable ASCII on one line",
                              where=f"{where}.{header}")  # fmt: skip
        headers[header] = value
    return headers


def _plain(value: Any) -> Any:
    """orjson's fallback: mappings that are not dicts (a stored alert may be read-only)."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
