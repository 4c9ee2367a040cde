"""The typed CloudTrail record, and the two ways to get one: strict decoding and lenient conversion.

The strict path (`decode_records_file`, `decode_record`) decodes JSON bytes straight into
`Record` with msgspec and raises on the first member of the wrong type; it is the fast path for
well-formed S3 deliveries. The lenient path (`record_from_object`) takes an already-parsed JSON
value, accepts the shapes real collections produce (Panther rows with lower-case keys, Logstash's
`@timestamp`, numbers where CloudTrail writes strings) and rejects what has no clear meaning.

Members whose shape varies (`requestParameters`, `userIdentity`, `resources`, ...) stay
`msgspec.Raw`: they cost a scan, not a parse, and normalization reads them only where needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any, Final

import msgspec

from trailhound.errors import InputError


class RecordRejected(InputError):
    """A JSON value that is not a usable CloudTrail record; `.message` says why in a few words."""


_ABSENT: Final = msgspec.Raw()


class Record(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One CloudTrail event, members named as CloudTrail names them.

    Records hold only text, booleans and raw JSON, never cycles, so the garbage collector need
    not track them (`gc=False`): with millions alive, that keeps collections cheap."""

    eventTime: str
    eventName: str
    eventVersion: str | None = None
    eventSource: str | None = None
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    requestID: str | None = None
    eventID: str | None = None
    eventType: str | None = None
    eventCategory: str | None = None
    apiVersion: str | None = None
    recipientAccountId: str | None = None
    sharedEventID: str | None = None
    vpcEndpointId: str | None = None
    vpcEndpointAccountId: str | None = None
    # Booleans that some producers write as "true"/"false" strings.
    readOnly: bool | str | None = None
    managementEvent: bool | str | None = None
    sessionCredentialFromConsole: bool | str | None = None
    # Free-form members: the raw JSON text of the value; empty when the member is absent.
    userIdentity: msgspec.Raw = _ABSENT
    requestParameters: msgspec.Raw = _ABSENT
    responseElements: msgspec.Raw = _ABSENT
    additionalEventData: msgspec.Raw = _ABSENT
    serviceEventDetails: msgspec.Raw = _ABSENT
    resources: msgspec.Raw = _ABSENT
    tlsDetails: msgspec.Raw = _ABSENT


class RecordsFile(msgspec.Struct):
    """A CloudTrail S3 delivery file: `{"Records": [...]}`."""

    Records: list[Record]


# -- the parts of userIdentity that normalization reads ------------------------------------------

# Account ids and similar are strings in CloudTrail; a number has the same meaning.
_Text = str | int


class SessionIssuer(msgspec.Struct, kw_only=True):
    type: str | None = None
    principalId: _Text | None = None
    arn: str | None = None
    accountId: _Text | None = None
    userName: str | None = None


class SessionAttributes(msgspec.Struct, kw_only=True):
    mfaAuthenticated: str | bool | None = None
    creationDate: str | None = None


class SessionContext(msgspec.Struct, kw_only=True):
    sessionIssuer: SessionIssuer | None = None
    attributes: SessionAttributes | None = None


class OnBehalfOf(msgspec.Struct, kw_only=True):
    userId: str | None = None
    identityStoreArn: str | None = None


class UserIdentity(msgspec.Struct, kw_only=True):
    type: str | None = None
    principalId: _Text | None = None
    arn: str | None = None
    accountId: _Text | None = None
    accessKeyId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None
    sessionContext: SessionContext | None = None
    onBehalfOf: OnBehalfOf | None = None


# -- strict decoding ----------------------------------------------------------------------------


@cache
def _file_decoder() -> msgspec.json.Decoder[RecordsFile]:
    return msgspec.json.Decoder(RecordsFile)


@cache
def _record_decoder() -> msgspec.json.Decoder[Record]:
    return msgspec.json.Decoder(Record)


@cache
def _identity_decoder() -> msgspec.json.Decoder[UserIdentity]:
    return msgspec.json.Decoder(UserIdentity)


def decode_records_file(data: bytes) -> list[Record]:
    """All records of a `{"Records": [...]}` document; raises msgspec errors if any is off."""
    try:
        return _file_decoder().decode(data).Records
    except RecursionError:
        raise msgspec.DecodeError(TOO_DEEP) from None


def decode_record(raw: bytes) -> Record:
    """One record's JSON; raises msgspec errors if it is not a well-typed record."""
    try:
        return _record_decoder().decode(raw)
    except RecursionError:  # msgspec follows nesting as deep as Python's recursion limit
        raise msgspec.DecodeError(TOO_DEEP) from None


TOO_DEEP: Final = "nested too deeply to read"


def decode_identity(raw: msgspec.Raw | bytes) -> UserIdentity:
    """The typed `userIdentity`; raises `RecordRejected` naming the member that is off."""
    try:
        return _identity_decoder().decode(raw)
    except msgspec.ValidationError as exc:
        raise RecordRejected(_validation_reason("userIdentity", str(exc))) from None
    except msgspec.DecodeError:
        raise RecordRejected("userIdentity is not valid JSON") from None


_MSGSPEC_TYPES: Final = {
    "object": "an object",
    "array": "a list",
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
}
_MSGSPEC_ERROR = re.compile(
    r"Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`(?: - at `\$(?P<at>[^`]*)`)?"
)


def _validation_reason(root: str, text: str) -> str:
    found = _MSGSPEC_ERROR.match(text)
    if found is None:
        return f"{root} is malformed: {text}"
    path = root + (found["at"] or "")
    want = (
        "a string" if "str" in found["want"] else _MSGSPEC_TYPES.get(found["want"], found["want"])
    )
    return f"{path} is {_MSGSPEC_TYPES.get(found['got'], found['got'])}, expected {want}"


# -- event time ---------------------------------------------------------------------------------

_TIME: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?"
    r"\s*(?P<zone>Z|UTC|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_event_time(text: str) -> datetime | None:
    """`eventTime` as an aware UTC datetime: ISO 8601 (`Z`, `+00:00` or `+0000`) and the
    `YYYY-MM-DD HH:MM:SS[.fff]` form of Panther and CloudTrail Lake (read as UTC); else None."""
    found = _TIME.fullmatch(text.strip())
    if found is None:
        return None
    try:
        day = datetime.strptime(found["date"], "%Y-%m-%d")
        micros = int(((found["frac"] or "") + "000000")[:6])
        moment = day.replace(
            hour=int(found["h"]),
            minute=int(found["m"]),
            second=int(found["s"] or 0),
            microsecond=micros,
        )
    except ValueError:
        return None
    zone = _zone(found["zone"])
    return None if zone is None else moment.replace(tzinfo=zone).astimezone(UTC)


def _zone(text: str | None) -> timezone | None:
    """The offset's zone; None for one no clock has (`+99:00`), which is no time at all."""
    if text is None or text in ("Z", "UTC"):
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    if offset >= timedelta(hours=24):
        return None
    return timezone(-offset if text[0] == "-" else offset)


_ISO8601: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:T(?P<h>\d{2})(?::(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?)?)?"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_iso8601(text: str | None) -> datetime | None:
    """Elasticsearch's `ISO8601` date format; None for what it would not parse (as Elastic, which
    then leaves the field out), such as the basic form `20131102T010628Z`."""
    found = _ISO8601.fullmatch(text) if text is not None else None
    if found is None or not found["date"].isascii():  # strptime's %Y took ASCII digits only
        return None
    year, month, day = found["date"].split("-")
    try:  # not strptime: its first call imports _strptime, 20 ms of every scan's start-up
        moment = datetime(int(year), int(month), int(day)).replace(
            hour=int(found["h"] or 0),
            minute=int(found["m"] or 0),
            second=int(found["s"] or 0),
            microsecond=int(((found["frac"] or "") + "000000")[:6]),
        )
    except ValueError:
        return None
    zone = _zone(found["zone"] or None)
    return None if zone is None else moment.replace(tzinfo=zone).astimezone(UTC)


# -- lenient conversion -------------------------------------------------------------------------

_FIELDS: Final = frozenset(Record.__struct_fields__)
_BY_LOWER: Final = {name.lower(): name for name in _FIELDS}
_IDENTITY_KEYS: Final = {
    name.lower(): name
    for struct in (UserIdentity, SessionContext, SessionIssuer, SessionAttributes, OnBehalfOf)
    for name in struct.__struct_fields__
}
_RAW_FIELDS: Final = frozenset(
    {
        "userIdentity",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "serviceEventDetails",
        "resources",
        "tlsDetails",
    }
)
_BOOLISH_FIELDS: Final = frozenset({"readOnly", "managementEvent", "sessionCredentialFromConsole"})
# Logstash puts the event time here when it has consumed `eventTime`.
_TIME_FALLBACK: Final = "@timestamp"


def record_from_object(obj: object) -> Record:
    """A `Record` from a parsed JSON value, or `RecordRejected` saying why it is not one."""
    if not isinstance(obj, Mapping):
        raise RecordRejected(f"the value is {_kind(obj)}, expected an object")
    members = _canonical_members(obj)
    _require_time(members, obj)
    if members.get("eventName") in (None, ""):
        raise RecordRejected("missing eventName")
    fields = {name: _convert(name, value) for name, value in members.items() if value is not None}
    return Record(**fields)


def _canonical_members(obj: Mapping[Any, Any]) -> dict[str, Any]:
    """CloudTrail's member names, also from lower-case keys; exact names win over folded ones."""
    members: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or key.startswith("p_"):
            continue
        if key in _FIELDS:
            members[key] = value
        else:
            name = _BY_LOWER.get(key.lower())
            if name is not None and name not in obj:
                members.setdefault(name, value)
    return members


def _require_time(members: dict[str, Any], obj: Mapping[Any, Any]) -> None:
    if members.get("eventTime") is None and isinstance(obj.get(_TIME_FALLBACK), str):
        members["eventTime"] = obj[_TIME_FALLBACK]
    value = members.get("eventTime")
    if value is None:
        raise RecordRejected("missing eventTime")
    if not isinstance(value, str):
        raise RecordRejected(f"eventTime is {_kind(value)}, expected a string")
    if parse_event_time(value) is None:
        raise RecordRejected(f"eventTime {value[:40]!r} is not a date and time")


def _convert(name: str, value: Any) -> Any:
    if name in _RAW_FIELDS:
        return _raw(name, value)
    if name in _BOOLISH_FIELDS:
        if isinstance(value, bool | str):
            return value
        raise RecordRejected(f"{name} is {_kind(value)}, expected a boolean")
    return _text(name, value)


def _text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RecordRejected(f"{name} is {_kind(value)}, expected a string")


def _raw(name: str, value: Any) -> msgspec.Raw:
    try:
        if name == "userIdentity":
            value = _identity_object(value)
        return msgspec.Raw(msgspec.json.encode(value))
    except RecursionError:
        raise RecordRejected(f"{name} is {TOO_DEEP}") from None
    except (TypeError, ValueError, OverflowError):
        raise RecordRejected(f"{name} cannot be written as JSON") from None


def _identity_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise RecordRejected(f"userIdentity is {_kind(value)}, expected an object")
    folded = _fold_keys(value)
    try:
        msgspec.convert(folded, UserIdentity)
    except msgspec.ValidationError as exc:
        raise RecordRejected(_validation_reason("userIdentity", str(exc))) from None
    return folded


def _fold_keys(value: Mapping[Any, Any]) -> dict[str, Any]:
    """Restore camelCase identity keys that a lower-casing collector flattened."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key if not isinstance(key, str) else _IDENTITY_KEYS.get(key.lower(), key)
        if name in out and name != key:
            continue
        out[str(name)] = _fold_keys(item) if isinstance(item, Mapping) else item
    return out


_KINDS: Final[tuple[tuple[type | tuple[type, ...], str], ...]] = (
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "a string"),
    (Mapping, "an object"),
    ((list, tuple), "a list"),
)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return type(value).__name__


__all__ = [
    "Record",
    "RecordRejected",
    "RecordsFile",
    "UserIdentity",
    "decode_identity",
    "decode_record",
    "decode_records_file",
    "parse_event_time",
    "parse_iso8601",
    "record_from_object",
]
