"""The normalized event schema: every ECS field trailhound produces, as columns.

The reader emits batches with exactly these columns (named by their dotted ECS name), the
engine compiles rule fields against them, and the ECS document printer nests them back. One
table, read by all three, so a field is added in one place.
"""

from __future__ import annotations

from enum import Enum
from functools import cache

import pyarrow as pa
from msgspec import Struct


class Kind(Enum):
    """How a field is stored and how a rule compares against it (Elastic's field types)."""

    KEYWORD = "keyword"
    KEYWORDS = "keywords"  # an array of keywords: a rule matches when any element matches
    DATE = "date"
    LONG = "long"
    BOOLEAN = "boolean"
    IP = "ip"
    FLATTENED = "flattened"  # a JSON object as text; `field.sub.key` reads inside it


_ARROW: dict[Kind, pa.DataType] = {
    Kind.KEYWORD: pa.string(),
    Kind.KEYWORDS: pa.list_(pa.string()),
    Kind.DATE: pa.timestamp("us", tz="UTC"),
    Kind.LONG: pa.int64(),
    Kind.BOOLEAN: pa.bool_(),
    Kind.IP: pa.string(),
    Kind.FLATTENED: pa.string(),
}


class Column(Struct, frozen=True):
    name: str
    kind: Kind

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.kind]


def _cols(kind: Kind, *names: str) -> tuple[Column, ...]:
    return tuple(Column(n, kind) for n in names)


COLUMNS: tuple[Column, ...] = (
    *_cols(Kind.DATE, "@timestamp", "event.ingested"),
    *_cols(
        Kind.KEYWORD,
        "event.id",
        "event.action",
        "event.provider",
        "event.outcome",
        "event.kind",
        "event.dataset",
        "data_stream.dataset",
        "cloud.provider",
        "cloud.account.id",
        "cloud.region",
        "cloud.service.name",
        "user.name",
        "user.id",
        "user.email",
        "source.address",
        "source.geo.country_iso_code",
        "source.geo.country_name",
        "source.geo.continent_name",
        "source.geo.region_name",
        "source.geo.region_iso_code",
        "source.geo.city_name",
        "source.as.organization.name",
        "service.name",
        "user_agent.original",
        "user_agent.name",
        "user_agent.version",
        "user_agent.os.name",
        "user_agent.os.version",
        "user_agent.os.full",
        "user_agent.device.name",
        "tls.version",
        "tls.version_protocol",
        "tls.cipher",
        "tls.client.server_name",
        "aws.cloudtrail.event_version",
        "aws.cloudtrail.event_type",
        "aws.cloudtrail.event_category",
        "aws.cloudtrail.api_version",
        "aws.cloudtrail.request_id",
        "aws.cloudtrail.shared_event_id",
        "aws.cloudtrail.vpc_endpoint_id",
        "aws.cloudtrail.management_event",
        "aws.cloudtrail.recipient_account_id",
        "aws.cloudtrail.error_code",
        "aws.cloudtrail.error_message",
        "aws.cloudtrail.request_parameters",
        "aws.cloudtrail.response_elements",
        "aws.cloudtrail.additional_eventdata",
        "aws.cloudtrail.service_event_details",
        "aws.cloudtrail.user_identity.type",
        "aws.cloudtrail.user_identity.arn",
        "aws.cloudtrail.user_identity.access_key_id",
        "aws.cloudtrail.user_identity.invoked_by",
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        "aws.cloudtrail.user_identity.session_context.session_issuer.type",
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
        "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
        "aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
        "aws.cloudtrail.console_login.additional_eventdata.login_to",
    ),
    *_cols(Kind.DATE, "aws.cloudtrail.user_identity.session_context.creation_date"),
    *_cols(Kind.IP, "source.ip"),
    *_cols(Kind.LONG, "source.as.number"),
    *_cols(
        Kind.BOOLEAN,
        "aws.cloudtrail.read_only",
        "aws.cloudtrail.session_credential_from_console",
        "aws.cloudtrail.console_login.additional_eventdata.mfa_used",
        "aws.cloudtrail.console_login.additional_eventdata.mobile_version",
    ),
    *_cols(
        Kind.KEYWORDS,
        "event.category",
        "event.type",
        "related.user",
        "related.ip",
        "related.entity",  # who and what the event names; entity.target.id: what it acted on
        "entity.target.id",
        "aws.cloudtrail.resources.arn",
        "aws.cloudtrail.resources.type",
        "aws.cloudtrail.resources.account_id",
        # trailhound's own: the DynamoDB table(s) a call touched, so rules can group by table
        "aws.dynamodb.table_name",
        # trailhound's own: what a data call did to each item (cloudtrail/operations.py)
        "aws.dynamodb.operations",
    ),
    *_cols(
        Kind.FLATTENED,
        "aws.cloudtrail.flattened.request_parameters",
        "aws.cloudtrail.flattened.response_elements",
        "aws.cloudtrail.flattened.additional_eventdata",
        "aws.cloudtrail.flattened.service_event_details",
    ),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}


@cache  # an Arrow schema is immutable; every batch made checks against it
def arrow_schema() -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type) for c in COLUMNS])


def flattened_parent(field: str) -> tuple[Column, str] | None:
    """For `aws.cloudtrail.flattened.request_parameters.a.b`, the column and the path `a.b`."""
    for col in COLUMNS:
        if col.kind is Kind.FLATTENED and field.startswith(col.name + "."):
            return col, field[len(col.name) + 1 :]
    return None
