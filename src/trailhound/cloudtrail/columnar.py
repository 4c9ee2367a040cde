"""ECS columns straight from member columns (what a skimmer reads, `cloudtrail.skim`), no records.

`normalized_columns` takes one string column per member path (`PATHS`) and makes, for the rows
it can, exactly the columns `ecs.normalize` makes from the decoded records: the same Elastic
cleaning, the same per-distinct-value derivations (`derived.py`), the same batch (`columnset.py`).
Everything is an Arrow kernel or a derivation per distinct value; nothing loops over rows in
Python but the narrow decoding of the table-name members (see `_call_tables`).

A row whose wanted fields need more than the paths give goes to `left`, for the caller to
normalize the old way: an `eventTime` not in CloudTrail's own `YYYY-MM-DDTHH:MM:SSZ` form, a
ConsoleLogin's outcome (read from its response), a UserAuthentication's user (read from its
additional data), a DynamoDB call whose operations are read from its request (batches,
transactions, PartiQL), a table named other than by `tableName` and `resources`, and KMS,
Lambda and AWS Backup events when their tables are wanted.

Rows are not rejected here: `normalize` rejects a record for its `eventTime` (such rows go to
`left`) or for a malformed `userIdentity`, which a skimmer holding every identity path of
`PATHS` to "a string or null" has already refused (it returns no columns for such a file).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from trailhound.cloudtrail import dynamodb, operations
from trailhound.cloudtrail.columnset import ColumnSet, Distinct, cleaned
from trailhound.cloudtrail.derived import (
    ADDRESS_COLUMNS,
    CONSTANTS,
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
from trailhound.cloudtrail.record import parse_iso8601
from trailhound.cloudtrail.resources import resources_of, table_sources, tables_in_resources
from trailhound.cloudtrail.schema import BY_NAME, arrow_schema
from trailhound.collector import paused

_IDENTITY: Final = "userIdentity."
_ISSUER: Final = "userIdentity.sessionContext.sessionIssuer."
_ATTRIBUTES: Final = "userIdentity.sessionContext.attributes."
_ON_BEHALF_OF: Final = "userIdentity.onBehalfOf."
# Every member `record.UserIdentity` types: a skimmer that held them all to "a string or null"
# (and their parents to "an object or null") vouches that `decode_identity` takes the identity.
_IDENTITY_PATHS: Final = (
    *(_IDENTITY + name for name in ("type", "principalId", "arn", "accountId", "accessKeyId")),
    *(_IDENTITY + name for name in ("userName", "invokedBy")),
    *(_ISSUER + name for name in ("type", "principalId", "arn", "accountId", "userName")),
    _ATTRIBUTES + "mfaAuthenticated",
    _ATTRIBUTES + "creationDate",
    _ON_BEHALF_OF + "userId",
    _ON_BEHALF_OF + "identityStoreArn",
)
_TABLE_NAME: Final = "requestParameters.tableName"
_ALWAYS: Final = ("eventTime", "eventName", "eventSource", *_IDENTITY_PATHS)

# ECS field -> the member paths it is made from (besides _ALWAYS)
_FROM: Final[dict[str, tuple[str, ...]]] = {
    **{name: () for name, _ in CONSTANTS},
    "event.ingested": (),
    "@timestamp": (),
    "event.action": (),
    "event.provider": (),
    "event.category": (),
    "event.type": (),
    "cloud.service.name": (),
    "event.id": ("eventID",),
    "cloud.region": ("awsRegion",),
    "event.outcome": ("errorCode", "errorMessage"),
    **{name: (member,) for name, member in TEXT_MEMBERS},
    **dict.fromkeys(
        (
            "aws.cloudtrail.user_identity.type",
            "aws.cloudtrail.user_identity.arn",
            "aws.cloudtrail.user_identity.access_key_id",
            "aws.cloudtrail.user_identity.invoked_by",
            "user.id",
            "service.name",
            "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
            "aws.cloudtrail.user_identity.session_context.creation_date",
            "aws.cloudtrail.user_identity.session_context.session_issuer.type",
            "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
            "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
            "aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
            "user.name",
            "user.email",
        ),
        (),
    ),
    "aws.cloudtrail.recipient_account_id": ("recipientAccountId",),
    "cloud.account.id": ("recipientAccountId",),
    "source.address": ("sourceIPAddress",),
    **dict.fromkeys(ADDRESS_COLUMNS, ("sourceIPAddress",)),
    **dict.fromkeys(USER_AGENT_COLUMNS, ("userAgent",)),
    operations.COLUMN: (),
    "aws.dynamodb.table_name": (_TABLE_NAME,),
}

PATHS: Final = tuple(dict.fromkeys((*_ALWAYS, *(p for paths in _FROM.values() for p in paths))))


def supported(fields: Collection[str]) -> bool:
    """Whether `normalized_columns` can make these fields (for some rows at least)."""
    return all(name in _FROM for name in fields)


def takes(fields: Collection[str], source: str | None, action: str | None) -> bool:
    """Whether `normalized_columns` can do the calls of one action with these fields: a caller
    sends the others the old way without asking (their rows would all be left)."""
    if not supported(fields):
        return False
    wanted = set(fields)
    return not any(
        wanted.intersection(names) and always_left(source, action)
        for names, always_left in _ALWAYS_LEFT
    )


def _reads_request(source: str | None, action: str | None) -> bool:
    return source == operations.SOURCE and operations.reads_request(action)


def _tables_elsewhere(source: str | None, action: str | None) -> bool:
    return source in dynamodb.TABLE_SOURCES and source not in dynamodb.DYNAMODB_SOURCES


# (fields, whether an action's rows always go the old way when one of them is wanted)
_ActionTest = Callable[[str | None, str | None], bool]
_ALWAYS_LEFT: Final[tuple[tuple[tuple[str, ...], _ActionTest], ...]] = (
    (("event.outcome",), lambda source, action: action == "ConsoleLogin"),
    (("user.name", "user.email"), lambda source, action: action == "UserAuthentication"),
    ((operations.COLUMN,), _reads_request),
    (("aws.dynamodb.table_name",), _tables_elsewhere),
)


def paths_for(fields: Collection[str]) -> tuple[str, ...]:
    """The member paths `normalized_columns` reads to make these fields (a subset of PATHS)."""
    wanted = {p for name in fields for p in _FROM.get(name, ())}
    return tuple(p for p in PATHS if p in _ALWAYS or p in wanted)


@dataclass(frozen=True, slots=True)
class Columnar:
    """`batch` holds the rows `done` (input row numbers, in order) with `arrow_schema()`; the
    rows `left` are for the caller to normalize from their records."""

    batch: pa.RecordBatch
    done: list[int]
    left: list[int]


def normalized_columns(
    columns: Mapping[str, pa.Array],
    fields: Collection[str],
    ingested: datetime,
    enricher: Enricher,
    *,
    records: pa.Array | None = None,
) -> Columnar:
    """The ECS columns of the rows that need nothing but `columns` (one string array per path of
    `paths_for(fields)`, null where the member is absent or null); the other rows are `left`.

    `records`, when given, holds each row's record JSON (`record_texts` makes it from a skimmed
    file): it lets the DynamoDB calls' table names be read here instead of leaving their rows."""
    wanted = frozenset(fields)
    missing = [p for p in paths_for(wanted) if p not in columns]
    if missing:
        raise ValueError(f"columns lack the paths {', '.join(missing)}")
    n = len(columns["eventName"])
    if not supported(wanted):
        return Columnar(_empty(), [], list(range(n)))
    with paused():
        inputs = _Inputs(columns, n, ingested, enricher, records)
        cols = ColumnSet(n, wanted)
        for names, fill in _FILLERS:
            if cols.wants(*names):
                fill(cols, inputs)
        return inputs.result(cols)


def _empty() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=arrow_schema())


def record_texts(text: bytes, starts: pa.Array, ends: pa.Array) -> pa.Array:
    """Each record's JSON as a string array over `text` itself, without a copy: record i runs
    from its "{" to the next record's, so it may end in the blank space and comma between them
    (which `normalized_columns` accepts in `records`)."""
    if len(starts) == 0:
        return pa.array([], type=pa.large_string())
    offsets = pa.concat_arrays([starts.cast(pa.int64()), ends.cast(pa.int64())[-1:]])
    return pa.LargeStringArray.from_buffers(len(starts), offsets.buffers()[1], pa.py_buffer(text))


# -- the inputs ---------------------------------------------------------------------------------


class _Inputs:
    """The member columns, cleaned on first use, and the rows found to need the old way."""

    def __init__(
        self,
        columns: Mapping[str, pa.Array],
        n: int,
        ingested: datetime,
        enricher: Enricher,
        records: pa.Array | None,
    ) -> None:
        self.columns = columns
        self.n = n
        self.ingested = ingested
        self.enricher = enricher
        self.records = records
        self._cleaned: dict[str, pa.Array] = {}
        self.times, shaped = _event_times(columns["eventTime"])
        self._unsure: list[pa.Array] = [pc.invert(shaped)]

    def text(self, path: str) -> pa.Array:
        """The member's column as Elastic cleans it."""
        found = self._cleaned.get(path)
        if found is None:
            found = self._cleaned[path] = cleaned(_strings(self.columns[path]))
        return found

    def raw(self, path: str) -> pa.Array:
        return _strings(self.columns[path])

    def leave(self, rows: pa.Array) -> None:
        """Send these rows (a boolean mask) the old way."""
        self._unsure.append(pc.fill_null(rows, False))

    def action_is(self, action: str) -> pa.Array:
        return pc.fill_null(pc.equal(self.text("eventName"), action), False)

    def result(self, cols: ColumnSet) -> Columnar:
        unsure = self._unsure[0]
        for mask in self._unsure[1:]:
            unsure = pc.or_(unsure, mask)
        done = pc.invert(unsure)
        batch = cols.batch()
        if not pc.all(done).as_py():
            batch = batch.filter(done)
        return Columnar(
            batch,
            pc.indices_nonzero(done).to_pylist(),
            pc.indices_nonzero(unsure).to_pylist(),
        )


def _strings(array: pa.Array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.string() else array.cast(pa.string())


_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
_NULL_TEXT: Final = pa.scalar(None, pa.string())
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
# CloudTrail's own form, each part in its range, year 0001 on (a datetime's range)
_CANONICAL_TIME: Final = (
    r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])"
    r"-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
)


def _event_times(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The times, and which rows are in the form both Arrow's cast and `parse_event_time` read
    alike; the others (nulls among the times) are left for the exact parser."""
    texts = _strings(texts)
    shaped = pc.fill_null(pc.match_substring_regex(texts, _CANONICAL_TIME), False)
    kept = texts if pc.all(shaped).as_py() else pc.if_else(shaped, texts, _NULL_TEXT)
    try:
        return kept.cast(_TIMESTAMP), shaped
    except pa.ArrowInvalid:  # a day its month lacks (30 February): find which, the slow way
        seconds = pc.strptime(kept, format=_TIME_FORMAT, unit="s", error_is_null=True)
        # strptime carries such a day over into the next month: printed back, it differs
        real = pc.fill_null(pc.equal(pc.strftime(seconds, format=_TIME_FORMAT), texts), False)
        return seconds.cast(_TIMESTAMP), pc.and_(shaped, real)


# -- the fields ---------------------------------------------------------------------------------


def _event_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    cols.put("@timestamp", inputs.times)
    cols.constant("event.ingested", inputs.ingested)
    for name, path in (
        ("event.id", "eventID"),
        ("event.action", "eventName"),
        ("event.provider", "eventSource"),
        ("cloud.region", "awsRegion"),
    ):
        if cols.wants(name):
            cols.put(name, inputs.text(path))
    for name, value in CONSTANTS:
        cols.constant(name, value)
    if cols.wants("event.category", "event.type"):
        names = ("event.category", "event.type")
        cols.spread(names, Distinct.of(inputs.text("eventName"), categories))
    if cols.wants("cloud.service.name"):
        cols.spread(("cloud.service.name",), Distinct.of(inputs.text("eventSource"), service_name))


def _outcome(cols: ColumnSet, inputs: _Inputs) -> None:
    failed = pc.or_(pc.is_valid(inputs.text("errorCode")), pc.is_valid(inputs.text("errorMessage")))
    cols.put("event.outcome", pc.if_else(failed, "failure", "success"))
    inputs.leave(inputs.action_is("ConsoleLogin"))  # its outcome is in its response


def _text_members(cols: ColumnSet, inputs: _Inputs) -> None:
    for name, member in TEXT_MEMBERS:
        if cols.wants(name):
            cols.put(name, inputs.text(member))


_IDENTITY_TEXTS: Final = (
    ("aws.cloudtrail.user_identity.type", _IDENTITY + "type"),
    ("aws.cloudtrail.user_identity.arn", _IDENTITY + "arn"),
    ("aws.cloudtrail.user_identity.access_key_id", _IDENTITY + "accessKeyId"),
    ("aws.cloudtrail.user_identity.invoked_by", _IDENTITY + "invokedBy"),
    ("aws.cloudtrail.user_identity.session_context.mfa_authenticated",
     _ATTRIBUTES + "mfaAuthenticated"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.type", _ISSUER + "type"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.arn", _ISSUER + "arn"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
     _ISSUER + "principalId"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
     _ISSUER + "accountId"),
    ("aws.cloudtrail.recipient_account_id", "recipientAccountId"),
)  # fmt: skip
_CREATION_DATE: Final = "aws.cloudtrail.user_identity.session_context.creation_date"


def _identity_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    for name, path in _IDENTITY_TEXTS:
        if cols.wants(name):
            cols.put(name, inputs.text(path))
    kind = inputs.text(_IDENTITY + "type")
    if cols.wants("user.id"):
        center = pc.fill_null(pc.equal(kind, "IdentityCenterUser"), False)
        on_behalf = pc.if_else(center, inputs.text(_ON_BEHALF_OF + "userId"), _NULL_TEXT)
        cols.put("user.id", pc.coalesce(inputs.text(_IDENTITY + "principalId"), on_behalf))
    if cols.wants("service.name"):
        service = pc.fill_null(pc.equal(kind, "AWSService"), False)
        invoked_by = inputs.text(_IDENTITY + "invokedBy")
        cols.put("service.name", pc.if_else(service, invoked_by, _NULL_TEXT))
    if cols.wants(_CREATION_DATE):
        texts = inputs.text(_ATTRIBUTES + "creationDate")
        cols.spread((_CREATION_DATE,), Distinct.of(texts, _creation_date))
    if cols.wants("cloud.account.id"):
        accounts = inputs.text(_IDENTITY + "accountId")
        cols.put("cloud.account.id", pc.coalesce(accounts, inputs.text("recipientAccountId")))


def _creation_date(text: str | None) -> tuple[datetime | None]:
    return (parse_iso8601(text),)


def _user_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    """user.name and user.email as `ecs._user_fields` makes them from the identity alone."""
    names = pc.coalesce(inputs.text(_IDENTITY + "userName"), inputs.text(_ISSUER + "userName"))
    cols.put("user.name", names)
    if cols.wants("user.email"):
        kind = inputs.text(_IDENTITY + "type")
        assumed = pc.fill_null(pc.is_in(kind, value_set=_SESSION_KINDS), False)
        arns = pc.if_else(assumed, inputs.text(_IDENTITY + "arn"), _NULL_TEXT)
        by_session = Distinct.of(arns, _session_email).column(_first, pa.string())
        by_name = Distinct.of(names, _name_email).column(_first, pa.string())
        cols.put("user.email", pc.coalesce(by_session, by_name))
    # Elastic takes a sign-in's user from its additional data when the identity names none
    inputs.leave(inputs.action_is("UserAuthentication"))


_SESSION_KINDS: Final = pa.array(["AssumedRole", "FederatedUser"])


def _session_email(arn: str | None) -> tuple[str | None]:
    session = session_name("AssumedRole", arn)
    return (session if is_email(session) else None,)


def _name_email(name: str | None) -> tuple[str | None]:
    return (name if is_email(name) else None,)


def _first(values: tuple[Any, ...]) -> Any:
    return values[0]


def _source_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    addresses = inputs.text("sourceIPAddress")
    cols.put("source.address", addresses)
    if cols.wants(*ADDRESS_COLUMNS):
        derive = partial(address_values, inputs.enricher)
        cols.spread(ADDRESS_COLUMNS, Distinct.of(addresses, derive))


def _user_agent_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    derive = partial(user_agent_values, inputs.enricher)
    cols.spread(USER_AGENT_COLUMNS, Distinct.of(inputs.text("userAgent"), derive))


def _operations(cols: ColumnSet, inputs: _Inputs) -> None:
    """One operation per single-item DynamoDB call; the calls read from their request are left."""
    calls = pc.fill_null(pc.equal(inputs.text("eventSource"), operations.SOURCE), False)
    actions = Distinct.of(inputs.text("eventName"), _operation_of)
    found = actions.column(_first, BY_NAME[operations.COLUMN].arrow_type)
    cols.put(operations.COLUMN, pc.if_else(calls, found, pa.scalar(None, found.type)))
    inputs.leave(pc.and_(calls, actions.column(_second, pa.bool_())))


def _operation_of(action: str | None) -> tuple[list[str] | None, bool]:
    return operations.without_request(action), operations.reads_request(action)


def _second(values: tuple[Any, ...]) -> Any:
    return values[1]


# -- table names --------------------------------------------------------------------------------

_TABLE_COLUMN: Final = "aws.dynamodb.table_name"
_DYNAMODB_SOURCES: Final = tuple(sorted(dynamodb.DYNAMODB_SOURCES))


def _table_names(cols: ColumnSet, inputs: _Inputs) -> None:
    """DynamoDB's own calls' tables, from `tableName` and `resources`. Other sources name
    tables in their request only (KMS encryption contexts, ARNs): their rows are left."""
    sources = inputs.text("eventSource")
    named = pc.fill_null(pc.is_in(sources, value_set=table_sources()), False)
    calls = pc.fill_null(pc.is_in(sources, value_set=pa.array(_DYNAMODB_SOURCES)), False)
    inputs.leave(pc.and_(named, pc.invert(calls)))
    rows = pc.indices_nonzero(calls)
    if len(rows) == 0:
        return
    found = _call_tables(inputs, rows) if inputs.records is not None else None
    if found is None:
        inputs.leave(calls)
        return
    tables, unsure = found
    codes = pc.replace_with_mask(pa.nulls(inputs.n, pa.int32()), calls, tables.indices)
    kinds = BY_NAME[_TABLE_COLUMN].arrow_type
    cols.put(_TABLE_COLUMN, pa.array(tables.values, type=kinds).take(codes))
    inputs.leave(pc.replace_with_mask(pa.nulls(inputs.n, pa.bool_()), calls, unsure))


_AnyJson = dict[str, msgspec.Raw] | list[msgspec.Raw] | str | float | bool | None


class _TableMembers(msgspec.Struct, gc=False):
    """What `dynamodb.table_names` reads of a record besides `tableName`, undecoded below."""

    requestParameters: _AnyJson = None
    responseElements: _AnyJson = None
    resources: msgspec.Raw = msgspec.Raw()


@cache
def _plain_decoder() -> msgspec.json.Decoder[list[Any]]:
    """Records whose request names no table but by `tableName` and whose response describes
    none: any other such member, unless null (which names nothing), fails the decoding."""
    nothing = [(key, None, None) for key in sorted(dynamodb.REQUEST_KEYS - {"tableName"})]
    request = msgspec.defstruct("_Request", nothing, gc=False)
    described = [(key, None, None) for key in dynamodb.RESPONSE_DESCRIPTIONS]
    response = msgspec.defstruct("_Response", described, gc=False)
    plain = msgspec.defstruct("_Plain", [
        ("requestParameters", request | None, None),
        ("responseElements", response | None, None),
        ("resources", msgspec.Raw, msgspec.Raw()),
    ], gc=False)  # fmt: skip
    return msgspec.json.Decoder(list[plain | None])  # type: ignore[valid-type]


@cache
def _members_decoder() -> msgspec.json.Decoder[list[_TableMembers | None]]:
    return msgspec.json.Decoder(list[_TableMembers | None])


_Tables = tuple[Distinct[list[str] | None], pa.Array]


def _call_tables(inputs: _Inputs, rows: pa.Array) -> _Tables | None:
    """Per row of `rows`: its tables, and whether they need the old way (a request naming tables
    by other keys, a response describing a table). None: the records are not readable here."""
    assert inputs.records is not None
    decoded = _decoded(_joined(inputs.records.take(rows)), len(rows))
    if decoded is None:
        return None
    members, unsure = decoded
    names: list[str | None] = inputs.raw(_TABLE_NAME).take(rows).to_pylist()
    keys = [(name, bytes(m.resources)) for name, m in zip(names, members, strict=True)]
    return Distinct.of_bytes(keys, _tables_of), unsure


def _decoded(joined: pa.Buffer, n: int) -> tuple[list[Any], pa.Array] | None:
    """The records' table members, and which rows name tables elsewhere too."""
    try:  # the common case, decided by msgspec alone
        members = _plain_decoder().decode(joined)[1:-1]
        unsure = pa.nulls(n, pa.bool_())
    except msgspec.ValidationError:
        try:
            members = _members_decoder().decode(joined)[1:-1]
        except (msgspec.DecodeError, RecursionError):
            return None
        unsure = pa.array([m is not None and _names_elsewhere(m) for m in members], pa.bool_())
    except (msgspec.DecodeError, RecursionError):
        return None
    return (members, unsure) if len(members) == n and None not in members else None


def _joined(records: pa.Array) -> pa.Buffer:
    """The records as one JSON list, `[null, record, ..., null]`, for one decoding of them all.
    Made in Arrow's memory, which a worker reuses batch after batch: a new Python bytes object
    of some megabytes costs more in fresh pages than the copying itself."""
    trimmed = pc.utf8_rtrim(records, characters=", \t\r\n").cast(pa.large_binary())
    ends = pa.array([b"[null", b"null]"], pa.large_binary())
    values = pa.concat_arrays([ends[:1], trimmed, ends[1:]])
    listed = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
    joined: pa.Buffer = pc.binary_join(listed, pa.scalar(b",", pa.large_binary()))[0].as_buffer()
    return joined


def _names_elsewhere(members: _TableMembers) -> bool:
    request = members.requestParameters
    if type(request) is dict and len(dynamodb.REQUEST_KEYS.intersection(request)) > (
        "tableName" in request
    ):
        return True
    response = members.responseElements
    return type(response) is dict and any(k in response for k in dynamodb.RESPONSE_DESCRIPTIONS)


def _tables_of(key: tuple[str | None, bytes]) -> list[str] | None:
    name, resources = key
    found = dict.fromkeys([name] if name else [])
    found.update(dict.fromkeys(tables_in_resources(resources_of(resources))))
    return list(found) or None


# -- which fields, which filler -----------------------------------------------------------------

_FILLERS: Final[tuple[tuple[tuple[str, ...], Callable[[ColumnSet, _Inputs], None]], ...]] = (
    (("@timestamp", "event.ingested", "event.id", "event.action", "event.provider",
      "cloud.region", "event.category", "event.type", "cloud.service.name",
      *(name for name, _ in CONSTANTS)), _event_fields),
    (("event.outcome",), _outcome),
    (tuple(name for name, _ in TEXT_MEMBERS), _text_members),
    ((*(name for name, _ in _IDENTITY_TEXTS), "user.id", "service.name", _CREATION_DATE,
      "cloud.account.id"), _identity_fields),
    (("user.name", "user.email"), _user_fields),
    (("source.address", *ADDRESS_COLUMNS), _source_fields),
    (USER_AGENT_COLUMNS, _user_agent_fields),
    ((operations.COLUMN,), _operations),
    ((_TABLE_COLUMN,), _table_names),
)  # fmt: skip


__all__ = [
    "PATHS",
    "Columnar",
    "normalized_columns",
    "paths_for",
    "record_texts",
    "supported",
    "takes",
]
