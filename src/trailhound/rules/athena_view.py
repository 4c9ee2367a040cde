"""A view that reads Athena's CloudTrail table as trailhound's normalized events table.

The table is the one AWS's Athena guide has users create over a trail's bucket
(`CREATE EXTERNAL TABLE cloudtrail_logs`: lower-case members, `useridentity` a STRUCT,
`resources` an ARRAY of STRUCTs, request and response as JSON text). Each normalized column
gets the Athena SQL that says the same as trailhound's mapping (cloudtrail/ecs.py) where SQL
can; the others are NULL, each with the reason in `NOT_IN_VIEW`, so a rule on them matches
nothing there rather than something else.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from trailhound.cloudtrail.schema import COLUMNS, Kind

ATHENA_TABLE = "cloudtrail_logs"

_IDENTITY = "useridentity"
_ISSUER = f"{_IDENTITY}.sessioncontext.sessionissuer"
# An address as Python's ipaddress reads one (no leading zeros in IPv4; IPv6 by its
# alphabet only). Athena's TRY_CAST(... AS IPADDRESS) would be exact, but the test that runs
# the view in DuckDB could not run it.
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IS_IP = (
    f"CASE WHEN REGEXP_LIKE(sourceipaddress, '^({_OCTET}\\.){{3}}{_OCTET}$')"
    " OR REGEXP_LIKE(sourceipaddress, '^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$')"
    " THEN sourceipaddress END"
)
_FAILED = "NULLIF(errorcode, '') IS NOT NULL OR NULLIF(errormessage, '') IS NOT NULL"
_LOGIN = "LOWER(JSON_EXTRACT_SCALAR(responseelements, '$.ConsoleLogin'))"


def _flag(member: str) -> str:
    return f"CASE LOWER({member}) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END"


# normalized column -> Athena (Trino) SQL over cloudtrail_logs
IN_VIEW: Mapping[str, str] = {
    # TRY: one record's odd time must not fail the whole query (it is NULL, and no rule's)
    "@timestamp": "TRY(FROM_ISO8601_TIMESTAMP(eventtime))",
    "event.id": "eventid",
    "event.action": "eventname",
    "event.provider": "eventsource",
    "event.outcome": (
        f"CASE WHEN eventname = 'ConsoleLogin' AND {_LOGIN} IS NOT NULL THEN {_LOGIN}"
        f" WHEN {_FAILED} THEN 'failure' ELSE 'success' END"
    ),
    "event.kind": "'event'",
    "event.dataset": "'aws.cloudtrail'",
    "data_stream.dataset": "'aws.cloudtrail'",
    "cloud.provider": "'aws'",
    "cloud.account.id": f"COALESCE({_IDENTITY}.accountid, recipientaccountid)",
    "cloud.region": "awsregion",
    "user.name": f"COALESCE({_IDENTITY}.username, {_ISSUER}.username)",
    "user.id": f"{_IDENTITY}.principalid",
    "source.address": "sourceipaddress",
    "source.ip": _IS_IP,
    "user_agent.original": "useragent",
    "tls.cipher": "tlsdetails.ciphersuite",
    "tls.client.server_name": "tlsdetails.clientprovidedhostheader",
    "aws.cloudtrail.event_version": "eventversion",
    "aws.cloudtrail.event_type": "eventtype",
    "aws.cloudtrail.event_category": "eventcategory",
    "aws.cloudtrail.api_version": "apiversion",
    "aws.cloudtrail.request_id": "requestid",
    "aws.cloudtrail.shared_event_id": "sharedeventid",
    "aws.cloudtrail.vpc_endpoint_id": "vpcendpointid",
    "aws.cloudtrail.recipient_account_id": "recipientaccountid",
    "aws.cloudtrail.error_code": "NULLIF(errorcode, '')",
    "aws.cloudtrail.error_message": "NULLIF(errormessage, '')",
    "aws.cloudtrail.user_identity.type": f"{_IDENTITY}.type",
    "aws.cloudtrail.user_identity.arn": f"{_IDENTITY}.arn",
    "aws.cloudtrail.user_identity.access_key_id": f"{_IDENTITY}.accesskeyid",
    "aws.cloudtrail.user_identity.invoked_by": f"{_IDENTITY}.invokedby",
    "aws.cloudtrail.user_identity.session_context.mfa_authenticated": (
        f"{_IDENTITY}.sessioncontext.attributes.mfaauthenticated"
    ),
    "aws.cloudtrail.user_identity.session_context.creation_date": (
        f"TRY(FROM_ISO8601_TIMESTAMP({_IDENTITY}.sessioncontext.attributes.creationdate))"
    ),
    "aws.cloudtrail.user_identity.session_context.session_issuer.type": f"{_ISSUER}.type",
    "aws.cloudtrail.user_identity.session_context.session_issuer.arn": f"{_ISSUER}.arn",
    "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id": (
        f"{_ISSUER}.principalid"
    ),
    "aws.cloudtrail.user_identity.session_context.session_issuer.account_id": (
        f"{_ISSUER}.accountid"
    ),
    "aws.cloudtrail.read_only": _flag("readonly"),
    "aws.cloudtrail.session_credential_from_console": _flag("sessioncredentialfromconsole"),
    # empty text is no value, in trailhound as in Elastic
    "aws.cloudtrail.resources.arn": "TRANSFORM(resources, r -> NULLIF(r.arn, ''))",
    "aws.cloudtrail.resources.type": "TRANSFORM(resources, r -> NULLIF(r.type, ''))",
    "aws.cloudtrail.resources.account_id": "TRANSFORM(resources, r -> NULLIF(r.accountid, ''))",
    "aws.cloudtrail.flattened.request_parameters": "requestparameters",
    "aws.cloudtrail.flattened.response_elements": "responseelements",
    "aws.cloudtrail.flattened.additional_eventdata": "additionaleventdata",
    "aws.cloudtrail.flattened.service_event_details": "serviceeventdetails",
}

_GEO = "a country and network lookup of the address, which SQL over the table cannot make"
_AGENT = "parsing the user agent with ua-parser's rules, which SQL over the table cannot"
_JAVA = "Elastic's Java map text of the member; the flattened column holds its JSON"
_DYNAMODB = (
    "derived by trailhound from table names, ARNs, batch request keys and PartiQL statements"
)
_ENTITIES = "trailhound's per-API table of the members naming the resource a call acts on"
_CATEGORIES = "Elastic's per-action category tables, which the view does not carry"

# normalized column -> why the view has no value for it
NOT_IN_VIEW: Mapping[str, str] = {
    "event.ingested": "the table has no time of delivery",
    "event.category": _CATEGORIES,
    "event.type": _CATEGORIES,
    "cloud.service.name": "Elastic's name of the service, from its own table",
    "service.name": "Elastic's name of the service, from its own table",
    "user.email": "read from identity-center and sign-in payloads by trailhound",
    "related.user": "gathered by trailhound from the identity and the payloads",
    "related.ip": "gathered by trailhound from the payloads",
    **{c.name: _GEO for c in COLUMNS if c.name.startswith(("source.geo.", "source.as."))},
    **{
        c.name: _AGENT
        for c in COLUMNS
        if c.name.startswith("user_agent.") and c.name != "user_agent.original"
    },
    "tls.version": "split from tlsdetails.tlsversion by Elastic's rule",
    "tls.version_protocol": "split from tlsdetails.tlsversion by Elastic's rule",
    "aws.cloudtrail.management_event": "not a member of the documented table",
    "aws.cloudtrail.request_parameters": _JAVA,
    "aws.cloudtrail.response_elements": _JAVA,
    "aws.cloudtrail.additional_eventdata": _JAVA,
    "aws.cloudtrail.service_event_details": _JAVA,
    "aws.cloudtrail.console_login.additional_eventdata.login_to": "ConsoleLogin payload",
    "aws.cloudtrail.console_login.additional_eventdata.mfa_used": "ConsoleLogin payload",
    "aws.cloudtrail.console_login.additional_eventdata.mobile_version": "ConsoleLogin payload",
    "aws.dynamodb.table_name": _DYNAMODB,
    "aws.dynamodb.operations": _DYNAMODB,
    "entity.target.id": _ENTITIES,
    "related.entity": _ENTITIES,
}

_TYPES: Mapping[Kind, str] = {
    Kind.KEYWORD: "VARCHAR",
    Kind.IP: "VARCHAR",
    Kind.FLATTENED: "VARCHAR",
    Kind.KEYWORDS: "ARRAY(VARCHAR)",
    Kind.DATE: "TIMESTAMP(3) WITH TIME ZONE",
    Kind.LONG: "BIGINT",
    Kind.BOOLEAN: "BOOLEAN",
}


def view_sql(*, name: str, source: str = ATHENA_TABLE) -> str:
    """`CREATE OR REPLACE VIEW name` over Athena's CloudTrail table `source`, one column per
    normalized column, in Athena's SQL."""
    selected = [_column_sql(c.name, c.kind) for c in COLUMNS]
    view = exp.to_table(name).sql("athena")
    table = exp.to_table(source).sql("athena")
    body = ",\n  ".join(selected)
    return f"CREATE OR REPLACE VIEW {view} AS\nSELECT\n  {body}\nFROM {table}"


def _column_sql(name: str, kind: Kind) -> str:
    alias = exp.to_identifier(name, quoted=True).sql("athena")
    value = IN_VIEW.get(name)
    if value is None:
        value = f"CAST(NULL AS {_TYPES[kind]})"
    return f"{value} AS {alias}"
