"""Raw CloudTrail records with every field CloudTrail writes, in the order it writes them.

Field layouts follow the real records in ../shared/data: identity blocks per principal type,
DynamoDB request IDs with their fixed 26-character suffix, `tlsDetails` only for calls that
came over the network, `invokedBy` when an AWS service called for a principal. Identity
blocks and TLS blocks are shared between records (they are never mutated), which keeps
generation cheap.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from typing import Any

from trailhound.simulate.world import Principal

Record = dict[str, Any]

_DDB_REQUEST_SUFFIX = "VV4KQNSO5AEMVJF66Q9ASUAAJG"
# random bytes -> upper-case letters and digits, as in DynamoDB request IDs
_ALNUM = bytes((b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" * 8)[:256])
_TLS_CIPHERS = (("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"))
# APIs whose requestID is a bare upper-case hex string rather than a UUID
_HEX_REQUEST_IDS = frozenset({"s3.amazonaws.com"})
AWS_INTERNAL = "AWS Internal"  # the source of calls AWS makes from inside, e.g. for the console
SESSION_HOURS = 1  # how long one set of role credentials lives before a new session starts


def stable_id(prefix: str, *parts: str, length: int = 17) -> str:
    """An AWS-looking unique id (AROA..., AKIA...) that depends only on its inputs."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:length]


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Recorder:
    """Builds records for one simulation; all randomness comes from the given generator."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self._seed = str(seed)
        self._identities: dict[tuple[str, int], dict[str, Any]] = {}
        self._templates: dict[tuple[Any, ...], Record] = {}
        self._minutes: dict[int, str] = {}
        # (account, table) -> when an attack deleted it; later calls on it fail
        self.gone: dict[tuple[str, str], int] = {}

    # ids -------------------------------------------------------------------------------
    def event_id(self) -> str:
        h = self.rng.randbytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def request_id(self, source: str) -> str:
        if source == "dynamodb.amazonaws.com":
            return self.rng.randbytes(26).translate(_ALNUM).decode() + _DDB_REQUEST_SUFFIX
        if source in _HEX_REQUEST_IDS:
            return self.rng.randbytes(8).hex().upper()
        return self.event_id()

    def time_text(self, t: int) -> str:
        minute = t - t % 60
        prefix = self._minutes.get(minute)
        if prefix is None:
            if len(self._minutes) > 1024:
                self._minutes.clear()
            prefix = self._minutes[minute] = iso(minute)[:17]
        return f"{prefix}{t % 60:02d}Z"

    # identity --------------------------------------------------------------------------
    def identity(self, p: Principal, t: int) -> dict[str, Any]:
        """The userIdentity block; role credentials rotate every SESSION_HOURS."""
        hour = t // (3600 * SESSION_HOURS)
        key = (p.key, hour)
        found = self._identities.get(key)
        if found is None:
            if len(self._identities) > 4096:
                self._identities.clear()
            found = self._identities[key] = _identity(p, hour * 3600 * SESSION_HOURS, self._seed)
        return found

    # the record ------------------------------------------------------------------------
    def call(
        self,
        p: Principal,
        t: int,
        region: str,
        source: str,
        name: str,
        params: Any,
        response: Any = None,
        *,
        read_only: bool,
        data: bool = False,
        resources: list[dict[str, str]] | None = None,
        error: tuple[str, str] | None = None,
        ip: str | None = None,
        agent: str | None = None,
        extra: dict[str, Any] | None = None,
        api_version: str | None = None,
    ) -> Record:
        internal = ip == AWS_INTERNAL
        shape = (p.key, region, source, name, read_only, data, resources is not None,
                 error is not None, extra is not None, api_version, internal)
        template = self._templates.get(shape)
        if template is None:
            template = self._templates[shape] = _template(p, region, source, name, shape)
        rec = template.copy()
        rng = self.rng
        rec["userIdentity"] = self.identity(p, t)
        rec["eventTime"] = self.time_text(t)
        if not p.invoked_by:
            rec["sourceIPAddress"] = ip or p.ips[rng.getrandbits(8) % len(p.ips)]
            rec["userAgent"] = agent or p.agents[rng.getrandbits(8) % len(p.agents)]
        if error is not None:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = params
        rec["responseElements"] = response
        if extra is not None:
            rec.update(extra)
        rec["requestID"] = self.request_id(source)
        rec["eventID"] = self.event_id()
        if resources is not None:
            rec["resources"] = resources
        return rec


def _template(p: Principal, region: str, source: str, name: str, shape: tuple[Any, ...]
              ) -> Record:
    """The constant part of a record, with every member in CloudTrail's order."""
    read_only, data, has_resources, has_error, has_extra, api_version, internal = shape[4:]
    rec: Record = {
        "eventVersion": "1.10" if data else "1.09",
        "userIdentity": None,
        "eventTime": None,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": p.invoked_by,
        "userAgent": p.invoked_by,
    }
    if has_error:
        rec["errorCode"] = rec["errorMessage"] = None
    rec["requestParameters"] = rec["responseElements"] = None
    if has_extra:
        rec["additionalEventData"] = None
    rec["requestID"] = rec["eventID"] = None
    rec["readOnly"] = read_only
    if has_resources:
        rec["resources"] = None
    rec["eventType"] = "AwsApiCall"
    if api_version:
        rec["apiVersion"] = api_version
    rec["managementEvent"] = not data
    rec["recipientAccountId"] = p.account
    rec["eventCategory"] = "Data" if data else "Management"
    if not p.invoked_by and not internal:
        host = f"{source.split('.')[0]}.{region}.amazonaws.com"
        version, cipher = _TLS_CIPHERS[len(p.key) % len(_TLS_CIPHERS)]
        rec["tlsDetails"] = {"tlsVersion": version, "cipherSuite": cipher,
                             "clientProvidedHostHeader": host}
    return rec


def _identity(p: Principal, session_start: int, seed: str) -> dict[str, Any]:
    if p.kind == "service":
        return {"type": "AWSService", "invokedBy": p.invoked_by}
    if p.kind == "user":
        return {
            "type": "IAMUser",
            "principalId": stable_id("AIDA", p.account, p.name),
            "arn": f"arn:aws:iam::{p.account}:user/{p.name}",
            "accountId": p.account,
            "accessKeyId": stable_id("AKIA", p.account, p.name, length=16),
            "userName": p.name,
        }
    if p.kind == "web_identity":
        provider = f"arn:aws:iam::{p.account}:oidc-provider/token.actions.githubusercontent.com"
        return {
            "type": "WebIdentityUser",
            "principalId": f"{provider}:sts.amazonaws.com:{p.name}",
            "userName": p.name,
            "identityProvider": provider,
        }
    return _assumed_role(p, session_start, seed)


def _assumed_role(p: Principal, session_start: int, seed: str) -> dict[str, Any]:
    role_id = stable_id("AROA", p.account, p.name)
    path = "aws-reserved/sso.amazonaws.com/" if p.kind == "sso" else ""
    if p.kind == "service_role" and p.name.startswith("AWSServiceRole"):
        path = "aws-service-role/" + p.invoked_by + "/"
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{p.session}",
        "arn": f"arn:aws:sts::{p.account}:assumed-role/{p.name}/{p.session}",
        "accountId": p.account,
        "accessKeyId": stable_id("ASIA", seed, p.key, str(session_start), length=16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{p.account}:role/{path}{p.name}",
                "accountId": p.account,
                "userName": p.name,
            },
            "attributes": {
                "creationDate": iso(session_start),
                "mfaAuthenticated": "false",
            },
        },
    }
    if p.invoked_by:
        identity["invokedBy"] = p.invoked_by
    return identity
