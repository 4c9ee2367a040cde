"""CloudTrail records -> ECS columns, following Elastic's CloudTrail ingest pipeline.

`normalize` turns a batch of `Record`s into one Arrow record batch with exactly the columns of
`trailhound.cloudtrail.schema`; `trailhound.cloudtrail.ecs_documents` turns such a batch back into
nested ECS documents.

Speed comes from working per column and per distinct value: a trail repeats a few identities,
user agents, addresses and actions millions of times, so each distinct one is interpreted once
per batch and spread over the rows with Arrow's `take`. Only the free-form members are handled
per record, and their renderings are cached by their raw bytes.

Where Elastic's pipeline versions differ, the newest one is followed; docs/ecs.md lists the
fields and the places where trailhound deliberately differs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from functools import cached_property, partial
from operator import attrgetter
from typing import Any, Final

import msgspec
import pyarrow as pa
from msgspec import Struct, field

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail import dynamodb, entities, operations
from trailhound.cloudtrail.columnset import ColumnSet, Distinct, text_column
from trailhound.cloudtrail.derived import (
    ADDRESS_COLUMNS,
    CONSTANTS,
    DATASET,
    TEXT_MEMBERS,
    USER_AGENT_COLUMNS,
    address_values,
    categories,
    is_email,
    service_name,
    session_name,
    user_agent_values,
)
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.payloads import (
    ABSENT_PAYLOAD,
    DROPPED_TEXT,
    NULL_RAW,
    Payload,
    java_plain,
    java_scalar,
    member_of,
    outline,
    parsed_value,
    payload,
    payload_of,
    read_back,
    rendered,
)
from trailhound.cloudtrail.record import (
    Record,
    RecordRejected,
    UserIdentity,
    decode_identity,
    parse_event_time,
    parse_iso8601,
)
from trailhound.cloudtrail.resources import (
    RESOURCE_COLUMNS,
    Resources,
    resource_list,
    resources_of,
    table_sources,
    tables_in_resources,
)
from trailhound.cloudtrail.schema import BY_NAME
from trailhound.collector import paused

_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")


class Normalized(Struct, frozen=True):
    """One row per accepted record, in input order; `rejected` holds (index, reason) of the rest,
    `notes` (index, note) of records kept with a value changed.

    A normalizer that reorders rows sets `order`: row j then comes from record `order[j]`."""

    batch: pa.RecordBatch
    rejected: list[tuple[int, str]]
    order: list[int] | None = None
    notes: list[tuple[int, str]] = field(default_factory=list)  # (index, what was changed)
    # by flattened column, per row the value its text reads as, where already read (`parsed`)
    read: dict[str, list[Any]] = field(default_factory=dict)


def normalize(
    records: Sequence[Record],
    *,
    ingested: datetime,
    enricher: Enricher,
    fields: Collection[str] | None = None,
    parsed: bool = False,
) -> Normalized:
    """Map CloudTrail records to ECS columns. A record that cannot be mapped is set aside with
    its reason; it never stops the batch.

    `fields` names the columns to fill (default: all); the others stay null, the schema stays
    the same. A caller that knows which fields its rules read skips the costly ones, above all
    the texts of the free-form members. `parsed` keeps, in `Normalized.read`, the values of the
    long request and response members as read, for `to_documents` not to read them again."""
    wanted = _wanted(fields)
    # a batch makes many short-lived objects that never form cycles: the collector would walk
    # every live object again and again for nothing
    with paused():
        return _normalize(records, ingested, enricher, wanted, parsed)


def _normalize(
    records: Sequence[Record],
    ingested: datetime,
    enricher: Enricher,
    wanted: frozenset[str],
    parsed: bool,
) -> Normalized:
    times = _event_times(list(map(attrgetter("eventTime"), records)))
    identities = Distinct.of_bytes([bytes(r.userIdentity) for r in records], _identity_or_reason)
    rejected = _rejected(records, times, identities)
    if rejected:
        keep = kernels.invert(_row_mask(len(records), [i for i, _ in rejected]))
        records = [r for r, kept in zip(records, keep.to_pylist(), strict=True) if kept]
        times = kernels.filter(times, keep)
        identities = identities.filter(keep)
    usable = identities.map(lambda value: value if isinstance(value, _Identity) else _NO_IDENTITY)
    rows = _Rows(records, times, usable)
    batch = _build(rows, ColumnSet(rows.n, wanted), ingested, enricher)
    notes = rows.notes()
    if notes and rejected:
        refused = {i for i, _ in rejected}
        positions = [i for i in range(len(refused) + rows.n) if i not in refused]
        notes = [(positions[i], note) for i, note in notes]
    return Normalized(batch, rejected, notes=notes, read=_read_back(rows) if parsed else {})


def _read_back(rows: _Rows) -> dict[str, list[Any]]:
    """The request's and the response's values as their flattened texts read, where the
    payloads hold them (`payloads.read_back`); the additional data's may have lost a user
    name since, so it is left to be read from its text."""
    found = {}
    for member in ("request", "response"):
        payloads = rows.parsed(member)
        if payloads is not None:
            found[_PAYLOAD_COLUMNS[member][1]] = [read_back(p) for p in payloads]
    return found


def _wanted(fields: Collection[str] | None) -> frozenset[str]:
    if fields is None:
        return frozenset(BY_NAME)
    unknown = sorted(set(fields) - BY_NAME.keys())
    if unknown:
        raise ValueError(f"not normalized fields: {', '.join(unknown)}")
    return frozenset(fields)


def _rejected(
    records: Sequence[Record], times: pa.Array, identities: Distinct[_Identity | str]
) -> list[tuple[int, str]]:
    reasons: dict[int, str] = {}
    if times.null_count:
        for i in kernels.indices_nonzero(kernels.is_null(times)).to_pylist():
            reasons[i] = f"eventTime {records[i].eventTime[:40]!r} is not a date and time"
    for i, identity in identities.rows_where(lambda value: isinstance(value, str)):
        reasons.setdefault(i, str(identity))
    return sorted(reasons.items())


def _row_mask(n: int, rows: list[int]) -> pa.Array:
    mask = [False] * n
    for i in rows:
        mask[i] = True
    return pa.array(mask, type=pa.bool_())


# -- per-record inputs --------------------------------------------------------------------------


class _Identity(Struct, frozen=True):
    """What the mapping reads from one distinct `userIdentity`, already cleaned."""

    type: str | None = None
    arn: str | None = None
    access_key_id: str | None = None
    invoked_by: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    account_id: str | None = None
    mfa_authenticated: str | None = None
    creation_date: datetime | None = None
    issuer_type: str | None = None
    issuer_arn: str | None = None
    issuer_principal_id: str | None = None
    issuer_account_id: str | None = None
    session_name: str | None = None
    session_email: str | None = None
    related_users: tuple[str, ...] = ()


_NO_IDENTITY: Final = _Identity()


_MEMBER_NAMES: Final = {
    "request": "requestParameters",
    "response": "responseElements",
    "additional": "additionalEventData",
    "service": "serviceEventDetails",
}


_UNREAD: Final = object()
# what the table names and the operations read of a BatchWriteItem's request: {table: [{kind: _}]}
_WRITE_ITEMS: Final = msgspec.json.Decoder(dict[str, list[dict[str, msgspec.Raw]]])
_REQUEST_ITEMS: Final = {"requestItems": _WRITE_ITEMS, "RequestItems": _WRITE_ITEMS}


class _Rows:
    """The accepted records, and the inputs several columns share. The free-form members are
    parsed for all rows only when a column needs them all; else only for the rows asked about."""

    def __init__(self, records: Sequence[Record], times: pa.Array, identities: Distinct[_Identity]):
        self.records = records
        self.times = times
        self.identities = identities
        self.n = len(records)
        self.action = _text_member(records, "eventName")
        self.source = _text_member(records, "eventSource")
        # values parsed for one row, kept: the table name and the operations read one request
        self._values: dict[tuple[str, int], Any] = {}
        # per row, the tables `aws.dynamodb.table_name` found and the resources' tables it
        # was given: the entities' target names them again (see `tables_found`)
        self._tables: dict[int, tuple[tuple[str, ...], list[str] | None]] = {}

    @cached_property
    def request(self) -> list[Payload]:
        return [payload_of(r.requestParameters) for r in self.records]

    @cached_property
    def response(self) -> list[Payload]:
        return [payload_of(r.responseElements) for r in self.records]

    @cached_property
    def additional(self) -> list[Payload]:
        return [payload_of(r.additionalEventData) for r in self.records]

    @cached_property
    def service(self) -> list[Payload]:
        return [payload_of(r.serviceEventDetails) for r in self.records]

    def notes(self) -> list[tuple[int, str]]:
        """What reading the members parsed so far had to change, by row."""
        found: dict[int, list[str]] = {}
        for member, name in _MEMBER_NAMES.items():
            for i, parsed in enumerate(self.parsed(member) or ()):
                if parsed.note is not None:
                    found.setdefault(i, []).append(f"{name}: {parsed.note}")
        return [(i, "; ".join(notes)) for i, notes in sorted(found.items())]

    def request_at(self, i: int) -> Payload:
        return self._at("request", i) or payload_of(self.records[i].requestParameters)

    def response_at(self, i: int) -> Payload:
        return self._at("response", i) or payload_of(self.records[i].responseElements)

    def additional_at(self, i: int) -> Payload:
        return self._at("additional", i) or payload_of(self.records[i].additionalEventData)

    def value_at(self, member: str, raw: msgspec.Raw, i: int) -> Any:
        """A member's parsed value, without rendering its text unless that is already done.
        As read, whether or not its text is built: Elastic's cleaning (which drops "-" and
        empty values) must not change what trailhound derives from it, such as a batch's
        operations, or the full and the partial normalizers would disagree."""
        parsed = self._at(member, i)
        if parsed is not None and not parsed.cleaned:
            return parsed.value
        if not raw or raw == NULL_RAW:
            return None
        value = self._values.get((member, i), _UNREAD)
        if value is _UNREAD:
            value = self._values[member, i] = parsed_value(bytes(raw))
        return value

    def request_items_at(self, i: int) -> Any:
        """The request as the table names and the operations of a BatchWriteItem read it: the
        same as `value_at` gives them, but the items' contents are left unparsed where that is
        sure to show the same (`payloads.outline`): a batch's 25 items cost a fifth as much."""
        raw = self.records[i].requestParameters
        if ("request", i) in self._values or self._at("request", i) is not None:
            return self.value_at("request", raw, i)  # parsed already
        value = self._values.get(("outline", i), _UNREAD)
        if value is _UNREAD:
            value = outline(bytes(raw), _REQUEST_ITEMS) if raw and raw != NULL_RAW else None
            if value is None or not dynamodb.names_tables_only_in_request_items(value):
                value = self.value_at("request", raw, i)
            self._values["outline", i] = value
        return value

    def tables_found(self, i: int) -> tuple[tuple[str, ...], list[str] | None] | None:
        """The tables the table name column found at row `i`, with the resources' tables it
        added to those of the members (None if that column did not look at the row)."""
        return self._tables.get(i)

    def parsed(self, member: str) -> list[Payload] | None:
        """A free-form member's payloads (`request`, `response`...), if parsed for every row."""
        found: list[Payload] | None = self.__dict__.get(member)
        return found

    def _at(self, member: str, i: int) -> Payload | None:
        parsed = self.parsed(member)
        return parsed[i] if parsed is not None else None

    def rows_naming_users(self) -> list[int]:
        """Rows whose request or response may name users for related.user."""
        if "request" in self.__dict__ and "response" in self.__dict__:
            return [
                i
                for i, (request, response) in enumerate(
                    zip(self.request, self.response, strict=True)
                )
                if request.users or response.users
            ]
        # Cheaper than parsing every member: look for the key names in the raw JSON first.
        return [
            i
            for i, r in enumerate(self.records)
            if (r.requestParameters and b'serName"' in bytes(r.requestParameters))
            or (r.responseElements and b'"userId"' in bytes(r.responseElements))
        ]

    def rows_with_action(self, action: str) -> list[int]:
        found = kernels.fill_null(kernels.equal(self.action, action), False)
        return kernels.indices_nonzero(found).to_pylist() if kernels.any(found).as_py() else []


# -- building the batch -------------------------------------------------------------------------


def _build(rows: _Rows, cols: ColumnSet, ingested: datetime, enricher: Enricher) -> pa.RecordBatch:
    _payload_fields(cols, rows)  # first: when they are all parsed, later steps reuse them
    _event_fields(cols, rows, ingested)
    _identity_fields(cols, rows)
    _source_fields(cols, rows, enricher)
    _user_agent_fields(cols, rows, enricher)
    _cloudtrail_fields(cols, rows)
    _console_login_fields(cols, rows)
    _tls_fields(cols, rows)
    _resource_and_table_fields(cols, rows)
    operations.fill(cols, rows)
    entities.fill(cols, rows)
    return cols.batch()


def _event_fields(cols: ColumnSet, rows: _Rows, ingested: datetime) -> None:
    records = rows.records
    cols.put("@timestamp", rows.times)
    cols.constant("event.ingested", ingested)
    if cols.wants("event.id"):
        cols.put("event.id", _text_member(records, "eventID"))
    cols.put("event.action", rows.action)
    cols.put("event.provider", rows.source)
    if cols.wants("cloud.region"):
        cols.put("cloud.region", _text_member(records, "awsRegion"))
    for name, value in CONSTANTS:
        cols.constant(name, value)
    if cols.wants("event.category", "event.type"):
        cols.spread(("event.category", "event.type"), Distinct.of(rows.action, categories))
    if cols.wants("cloud.service.name"):
        cols.spread(("cloud.service.name",), Distinct.of(rows.source, service_name))
    if cols.wants("event.outcome"):
        cols.put("event.outcome", _outcomes(rows))


def _outcomes(rows: _Rows) -> pa.Array:
    records = rows.records
    failed = kernels.or_(
        kernels.is_valid(_text_member(records, "errorCode")),
        kernels.is_valid(_text_member(records, "errorMessage")),
    )
    outcomes = kernels.if_else(failed, "failure", "success")
    logins = rows.rows_with_action("ConsoleLogin")
    if not logins:
        return outcomes
    override: list[str | None] = [None] * rows.n
    for i in logins:
        login = member_of(rows.response_at(i).value, "ConsoleLogin")
        override[i] = login.lower() if isinstance(login, str) else None
    return kernels.coalesce(pa.array(override, type=pa.string()), outcomes)


_IDENTITY_COLUMNS: Final[tuple[tuple[str, Callable[[_Identity], Any]], ...]] = (
    ("aws.cloudtrail.user_identity.type", lambda i: i.type),
    ("aws.cloudtrail.user_identity.arn", lambda i: i.arn),
    ("aws.cloudtrail.user_identity.access_key_id", lambda i: i.access_key_id),
    ("aws.cloudtrail.user_identity.invoked_by", lambda i: i.invoked_by),
    ("user.id", lambda i: i.user_id),
    ("service.name", lambda i: i.invoked_by if i.type == "AWSService" else None),
    (
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        lambda i: i.mfa_authenticated,
    ),
    ("aws.cloudtrail.user_identity.session_context.creation_date", lambda i: i.creation_date),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.type", lambda i: i.issuer_type),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.arn", lambda i: i.issuer_arn),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
        lambda i: i.issuer_principal_id,
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
        lambda i: i.issuer_account_id,
    ),
)


def _identity_fields(cols: ColumnSet, rows: _Rows) -> None:
    identities = rows.identities
    for name, get in _IDENTITY_COLUMNS:
        if cols.wants(name):
            cols.put(name, identities.column(get, BY_NAME[name].arrow_type))
    if cols.wants("aws.cloudtrail.recipient_account_id", "cloud.account.id"):
        recipients = _text_member(rows.records, "recipientAccountId")
        cols.put("aws.cloudtrail.recipient_account_id", recipients)
        if cols.wants("cloud.account.id"):
            accounts = identities.column(lambda i: i.account_id, pa.string())
            cols.put("cloud.account.id", kernels.coalesce(accounts, recipients))
    if cols.wants("user.name", "user.email", "related.user"):
        _user_fields(cols, rows)


def _user_fields(cols: ColumnSet, rows: _Rows) -> None:
    """user.name, user.email and related.user: per identity, except for the few records whose
    request or response also names users (or whose user is named only in additionalEventData)."""
    identities = rows.identities
    names = identities.column(lambda i: i.user_name, pa.string())
    emails = (
        identities.column(_identity_email, pa.string())
        if cols.wants("user.email")
        else pa.nulls(rows.n, pa.string())
    )
    related = (
        identities.column(lambda i: _related_users(i, i.user_name, ()), _KEYWORDS)
        if cols.wants("related.user")
        else pa.nulls(rows.n, _KEYWORDS)
    )
    signins = set(rows.rows_with_action("UserAuthentication"))
    special = set(signins)
    if cols.wants("related.user"):
        special.update(rows.rows_naming_users())
    if special:
        per_row = identities.per_row()
        name_fix: list[str | None] = [None] * rows.n
        email_fix: list[str | None] = [None] * rows.n
        related_fix: list[list[str] | None] = [None] * rows.n
        for i in sorted(special):
            identity = per_row[i]
            name = identity.user_name
            if name is None and i in signins:
                name = _text(member_of(rows.additional_at(i).value, "UserName"))
            name_fix[i] = name
            email_fix[i] = _identity_email(identity) or (name if is_email(name) else None)
            extras = (*rows.request_at(i).users, *rows.response_at(i).users)
            related_fix[i] = _related_users(identity, name, extras)
        names = kernels.coalesce(pa.array(name_fix, pa.string()), names)
        emails = kernels.coalesce(pa.array(email_fix, pa.string()), emails)
        related = kernels.coalesce(pa.array(related_fix, _KEYWORDS), related)
    cols.put("user.name", names)
    cols.put("user.email", emails)
    cols.put("related.user", related)


_KEYWORDS: Final = pa.list_(pa.string())


def _identity_email(identity: _Identity) -> str | None:
    if identity.session_email is not None:
        return identity.session_email
    return identity.user_name if is_email(identity.user_name) else None


def _related_users(
    identity: _Identity, user_name: str | None, extras: tuple[str, ...]
) -> list[str] | None:
    """In Elastic's order: session name and its e-mail local part, users the request names
    (userName, newUserName, the created user's id), then user.id, user.name."""
    new_user = extras[1] if len(extras) > 1 else None
    users = (*identity.related_users, *extras, identity.user_id, user_name, new_user)
    unique = list(dict.fromkeys(u for u in users if u is not None))
    return unique or None


def _source_fields(cols: ColumnSet, rows: _Rows, enricher: Enricher) -> None:
    if not cols.wants("source.address", *ADDRESS_COLUMNS):
        return
    addresses = _text_member(rows.records, "sourceIPAddress")
    cols.put("source.address", addresses)
    if not cols.wants(*ADDRESS_COLUMNS):
        return
    derive = partial(address_values, enricher)
    cols.spread(ADDRESS_COLUMNS, Distinct.of(addresses, derive))


def _user_agent_fields(cols: ColumnSet, rows: _Rows, enricher: Enricher) -> None:
    if cols.wants(*USER_AGENT_COLUMNS):
        agents = _text_member(rows.records, "userAgent")
        derive = partial(user_agent_values, enricher)
        cols.spread(USER_AGENT_COLUMNS, Distinct.of(agents, derive))


_BOOLEAN_MEMBERS: Final = (
    ("aws.cloudtrail.read_only", "readOnly"),
    ("aws.cloudtrail.session_credential_from_console", "sessionCredentialFromConsole"),
)


def _cloudtrail_fields(cols: ColumnSet, rows: _Rows) -> None:
    records = rows.records
    for name, member in TEXT_MEMBERS:
        if cols.wants(name):
            cols.put(name, _text_member(records, member))
    for name, member in _BOOLEAN_MEMBERS:
        if cols.wants(name):
            cols.put(name, _boolean_column(list(map(attrgetter(member), records))))
    if cols.wants("aws.cloudtrail.management_event"):
        events = [r.managementEvent for r in records]
        cols.put("aws.cloudtrail.management_event", _java_text_column(events))


_PAYLOAD_COLUMNS: Final = {  # by member, its text and flattened columns
    "request": ("aws.cloudtrail.request_parameters", "aws.cloudtrail.flattened.request_parameters"),
    "response": ("aws.cloudtrail.response_elements", "aws.cloudtrail.flattened.response_elements"),
    "additional": (
        "aws.cloudtrail.additional_eventdata",
        "aws.cloudtrail.flattened.additional_eventdata",
    ),
    "service": (
        "aws.cloudtrail.service_event_details",
        "aws.cloudtrail.flattened.service_event_details",
    ),
}


def noted_members(fields: Collection[str]) -> frozenset[str]:
    """The free-form members `normalize` parses for every row when asked for these fields:
    the only ones whose changes it notes. Two calls whose fields give the same members note
    the same rows alike, whatever else they make."""
    return frozenset(
        member for member, names in _PAYLOAD_COLUMNS.items() if any(n in fields for n in names)
    )


def _payload_fields(cols: ColumnSet, rows: _Rows) -> None:
    sources: tuple[Callable[[], list[Payload]], ...] = (
        lambda: rows.request,
        lambda: rows.response,
        lambda: _without_moved_user_names(rows),
        lambda: rows.service,
    )
    for (text, flattened), payloads in zip(_PAYLOAD_COLUMNS.values(), sources, strict=True):
        if cols.wants(text, flattened):
            parsed = payloads()
            cols.put(text, [p.text for p in parsed])
            cols.put(flattened, [p.flattened for p in parsed])


def _without_moved_user_names(rows: _Rows) -> list[Payload]:
    """Elastic moves `UserName` out of additionalEventData into user.name (see _user_fields)."""
    signins = rows.rows_with_action("UserAuthentication")
    if not signins:
        return rows.additional
    additional = list(rows.additional)
    per_row = rows.identities.per_row()
    for i in signins:
        value = additional[i].value
        if per_row[i].user_name is None and isinstance(value, dict) and "UserName" in value:
            rest = {k: v for k, v in value.items() if k != "UserName"}
            additional[i] = rendered(rest, java_plain(rest)) if rest else ABSENT_PAYLOAD
    return additional


def _console_login_fields(cols: ColumnSet, rows: _Rows) -> None:
    if not cols.wants(*_CONSOLE_LOGIN_COLUMNS):
        return
    logins = rows.rows_with_action("ConsoleLogin")
    if not logins:
        return
    login_to: list[str | None] = [None] * rows.n
    mfa_used: list[bool | None] = [None] * rows.n
    mobile: list[bool | None] = [None] * rows.n
    for i in logins:
        data = rows.additional_at(i).value
        login_to[i] = _text(member_of(data, "LoginTo"))
        mfa_used[i] = _yes(member_of(data, "MFAUsed"))
        mobile[i] = _yes(member_of(data, "MobileVersion"))
    for name, values in zip(_CONSOLE_LOGIN_COLUMNS, (login_to, mfa_used, mobile), strict=True):
        cols.put(name, values)


_CONSOLE_LOGIN_COLUMNS: Final = (
    "aws.cloudtrail.console_login.additional_eventdata.login_to",
    "aws.cloudtrail.console_login.additional_eventdata.mfa_used",
    "aws.cloudtrail.console_login.additional_eventdata.mobile_version",
)


def _yes(value: object) -> bool | None:
    return None if value is None else value != "No"


_TLS_COLUMNS: Final = (
    "tls.version",
    "tls.version_protocol",
    "tls.cipher",
    "tls.client.server_name",
)


def _tls_fields(cols: ColumnSet, rows: _Rows) -> None:
    if not cols.wants(*_TLS_COLUMNS):
        return
    keys = [bytes(r.tlsDetails) for r in rows.records]
    cols.spread(_TLS_COLUMNS, Distinct.of_bytes(keys, _tls_values))


def _tls_values(raw: bytes | None) -> tuple[str | None, ...]:
    details = payload(raw).value if raw else None
    version = _text(member_of(details, "tlsVersion"))
    if version == "tlsVersion":  # Elastic discards this placeholder with the whole member
        return (None,) * len(_TLS_COLUMNS)
    protocol: str | None = None
    if version is not None and "v" in version:
        protocol, version = version.split("v", 1)
        protocol, version = protocol.lower() or None, version or None
    return (
        version,
        protocol,
        _text(member_of(details, "cipherSuite")),
        _text(member_of(details, "clientProvidedHostHeader")),
    )


def _resource_and_table_fields(cols: ColumnSet, rows: _Rows) -> None:
    if not cols.wants(*RESOURCE_COLUMNS, _TABLE_COLUMN):
        return
    resources = Distinct.of_bytes([bytes(r.resources) for r in rows.records], resources_of)
    for position, name in enumerate(RESOURCE_COLUMNS):
        if cols.wants(name):
            cols.put(name, resources.column(partial(resource_list, position), _KEYWORDS))
    if cols.wants(_TABLE_COLUMN):
        cols.put(_TABLE_COLUMN, _tables(rows, resources))


def _tables(rows: _Rows, resources: Distinct[Resources | None]) -> list[list[str] | None]:
    tables: list[list[str] | None] = [None] * rows.n
    candidates = kernels.fill_null(kernels.is_in(rows.source, value_set=table_sources()), False)
    if not kernels.any(candidates).as_py():
        return tables
    in_resources = resources.map(tables_in_resources).per_row()
    sources = rows.source.to_pylist()
    actions = rows.action.to_pylist()
    # KMS calls DynamoDB makes for a table repeat the same short request thousands of times
    known: dict[tuple[bytes, bytes, tuple[str, ...]], list[str] | None] = {}
    for i in kernels.indices_nonzero(candidates).to_pylist():
        record = rows.records[i]
        source = sources[i]
        # DynamoDB's own calls always may: asked first, it spares a call and a partial per row
        if source in dynamodb.DYNAMODB_SOURCES or dynamodb.wants_tables(
            source, partial(bytes, record.requestParameters)
        ):
            key = (bytes(record.requestParameters), bytes(record.responseElements),
                   in_resources[i])  # fmt: skip
            short = len(key[0]) + len(key[1]) <= _SHORT_MEMBERS
            if short and key in known:
                tables[i] = known[key]
            else:
                request = (
                    rows.request_items_at(i)
                    if actions[i] == _BATCH_WRITE
                    else rows.value_at("request", record.requestParameters, i)
                )
                response = rows.value_at("response", record.responseElements, i)
                tables[i] = dynamodb.table_names(request, response, in_resources[i]) or None
                if short:
                    known[key] = tables[i]
            rows._tables[i] = (in_resources[i], tables[i])
    return tables


_BATCH_WRITE: Final = "BatchWriteItem"  # whose request's items are many, and read for their keys
_SHORT_MEMBERS: Final = 1024  # longer requests (items) rarely repeat, and cost to compare


_TABLE_COLUMN: Final = "aws.dynamodb.table_name"


# -- identities ---------------------------------------------------------------------------------


def _identity_or_reason(raw: bytes | None) -> _Identity | str:
    if not raw or raw == b"null":
        return _NO_IDENTITY
    try:
        return _identity(decode_identity(raw))
    except RecordRejected as exc:
        return exc.message


def _identity(ui: UserIdentity) -> _Identity:
    context = ui.sessionContext
    issuer = context.sessionIssuer if context is not None else None
    attributes = context.attributes if context is not None else None
    kind = _kept(ui.type)
    arn = _kept(ui.arn)
    user_id = _kept(ui.principalId)
    if user_id is None and kind == "IdentityCenterUser" and ui.onBehalfOf is not None:
        user_id = _kept(ui.onBehalfOf.userId)
    session = session_name(kind, arn)
    prefix = session.partition("@")[0] if session is not None and "@" in session else None
    return _Identity(
        type=kind,
        arn=arn,
        access_key_id=_kept(ui.accessKeyId),
        invoked_by=_kept(ui.invokedBy),
        user_id=user_id,
        user_name=_kept(ui.userName) or (_kept(issuer.userName) if issuer else None),
        account_id=_kept(ui.accountId),
        mfa_authenticated=_kept(attributes.mfaAuthenticated) if attributes else None,
        creation_date=parse_iso8601(_kept(attributes.creationDate)) if attributes else None,
        issuer_type=_kept(issuer.type) if issuer else None,
        issuer_arn=_kept(issuer.arn) if issuer else None,
        issuer_principal_id=_kept(issuer.principalId) if issuer else None,
        issuer_account_id=_kept(issuer.accountId) if issuer else None,
        session_name=session,
        session_email=session if prefix else None,
        related_users=tuple(u for u in (session, prefix or None) if u is not None),
    )


# -- small helpers ------------------------------------------------------------------------------


def _text_member(records: Sequence[Record], member: str) -> pa.Array:
    return text_column(list(map(attrgetter(member), records)))


def _boolean_column(values: list[bool | str | None]) -> pa.Array:
    """A boolean field as Elasticsearch indexes it: true/false, or "true"/"false" strings."""
    return pa.array(
        [
            v if type(v) is bool else (v == "true" if v in ("true", "false") else None)
            for v in values
        ],
        type=pa.bool_(),
    )


def _java_text_column(values: list[bool | str | None]) -> pa.Array:
    """String.valueOf of booleans (managementEvent is a keyword in Elastic)."""
    return text_column([v if v is None or type(v) is str else java_scalar(v) for v in values])


def _kept(value: object) -> str | None:
    """A scalar member as text, or None where Elastic's cleaning would have dropped it."""
    if value is None or isinstance(value, dict | list):
        return None
    text = value if isinstance(value, str) else java_scalar(value)
    return None if text in DROPPED_TEXT else text


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _event_times(texts: list[str]) -> pa.Array:
    """Event times at Arrow speed; the exact parser only if some need it. Null: unparseable."""
    try:
        return kernels.cast(pa.array(texts, type=pa.string()), _TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([parse_event_time(text) for text in texts], type=_TIMESTAMP)


__all__ = ["DATASET", "Normalized", "normalize", "noted_members"]
