"""The CloudTrail -> ECS mapping, rule by rule (DESIGN 3.1 and Elastic's pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from trailhound.cloudtrail.ecs import Normalized, normalize
from trailhound.cloudtrail.ecs_documents import format_time, to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import decode_record, record_from_object
from trailhound.cloudtrail.schema import arrow_schema

INGESTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
BASE: dict[str, Any] = {
    "eventVersion": "1.09",
    "eventTime": "2024-03-12T06:22:01Z",
    "eventSource": "dynamodb.amazonaws.com",
    "eventName": "Scan",
    "awsRegion": "us-east-1",
    "recipientAccountId": "123456789012",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": "arn:aws:iam::123456789012:user/alice",
        "accountId": "123456789012",
        "userName": "alice",
    },
}
ASSUMED_ROLE = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLE:alice@example.com",
    "arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com",
    "accountId": "123456789012",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLE",
            "arn": "arn:aws:iam::123456789012:role/Admin",
            "accountId": "123456789012",
            "userName": "Admin",
        },
        "attributes": {"creationDate": "2024-03-12T05:00:00Z", "mfaAuthenticated": "true"},
    },
}


def run(*changes: dict[str, Any], enricher: Enricher | None = None, **options: Any) -> Normalized:
    records = [record_from_object({**BASE, **change}) for change in changes or ({},)]
    return normalize(records, ingested=INGESTED, enricher=enricher or Enricher.create(), **options)


def row(change: dict[str, Any] | None = None) -> dict[str, Any]:
    result = run(change or {})
    assert result.rejected == []
    return result.batch.to_pylist()[0]  # type: ignore[no-any-return]


def test_batch_has_exactly_the_schema_and_keeps_order() -> None:
    result = run({"eventName": "A"}, {"eventName": "B"}, {"eventName": "C"})
    assert result.batch.schema == arrow_schema()
    assert result.batch.column("event.action").to_pylist() == ["A", "B", "C"]


def test_event_fields() -> None:
    values = row({"eventID": "e-1"})
    assert values["@timestamp"] == datetime(2024, 3, 12, 6, 22, 1, tzinfo=UTC)
    assert values["event.ingested"] == INGESTED
    assert values["event.id"] == "e-1"
    assert values["event.provider"] == "dynamodb.amazonaws.com"
    assert (values["event.kind"], values["event.dataset"], values["data_stream.dataset"]) == (
        "event",
        "aws.cloudtrail",
        "aws.cloudtrail",
    )
    assert (values["cloud.provider"], values["cloud.service.name"]) == ("aws", "dynamodb")
    assert values["cloud.region"] == "us-east-1"


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({}, "success"),
        ({"errorCode": "AccessDenied"}, "failure"),
        ({"errorMessage": "Failed authentication"}, "failure"),
        ({"errorCode": ""}, "success"),  # Elastic drops empty values before looking
        (
            {
                "eventName": "ConsoleLogin",
                "eventSource": "signin.amazonaws.com",
                "responseElements": {"ConsoleLogin": "Failure"},
            },
            "failure",
        ),
        (
            {
                "eventName": "ConsoleLogin",
                "errorMessage": "x",
                "responseElements": {"ConsoleLogin": "Success"},
            },
            "success",
        ),
    ],
)
def test_outcome(change: dict[str, Any], outcome: str) -> None:
    assert row(change)["event.outcome"] == outcome


def test_categories_from_elastics_table() -> None:
    assert row({"eventName": "CreateUser"})["event.category"] == ["iam"]
    assert row({"eventName": "CreateUser"})["event.type"] == ["user", "creation"]
    assert row({"eventName": "Scan"})["event.category"] is None
    assert row({"eventName": "Scan"})["event.type"] == ["info"]
    assert row({"eventName": "SendCommand"})["event.type"] is None  # listed without a type


def test_iam_user_identity() -> None:
    values = row()
    assert values["user.name"] == "alice"
    assert values["user.id"] == "AIDAEXAMPLE"
    assert values["cloud.account.id"] == "123456789012"
    assert values["aws.cloudtrail.user_identity.type"] == "IAMUser"
    assert values["related.user"] == ["AIDAEXAMPLE", "alice"]
    assert values["user.email"] is None


def test_assumed_role_is_named_by_the_role_and_the_session_is_related() -> None:
    values = row({"userIdentity": ASSUMED_ROLE})
    assert values["user.name"] == "Admin"
    assert values["user.id"] == "AROAEXAMPLE:alice@example.com"
    assert values["user.email"] == "alice@example.com"
    assert values["related.user"] == [
        "alice@example.com",
        "alice",
        "AROAEXAMPLE:alice@example.com",
        "Admin",
    ]
    prefix = "aws.cloudtrail.user_identity.session_context."
    assert values[prefix + "mfa_authenticated"] == "true"
    assert values[prefix + "creation_date"] == datetime(2024, 3, 12, 5, tzinfo=UTC)
    assert values[prefix + "session_issuer.arn"] == "arn:aws:iam::123456789012:role/Admin"
    assert values[prefix + "session_issuer.type"] == "Role"


def test_creation_date_only_when_iso8601() -> None:
    identity = {
        **ASSUMED_ROLE,
        "sessionContext": {"attributes": {"creationDate": "20131102T010628Z"}},
    }
    values = row({"userIdentity": identity})
    assert values["aws.cloudtrail.user_identity.session_context.creation_date"] is None


def test_user_email_from_a_user_name_with_an_at_sign() -> None:
    identity = {**BASE["userIdentity"], "userName": "bob@example.com"}
    assert row({"userIdentity": identity})["user.email"] == "bob@example.com"
    identity = {**BASE["userIdentity"], "userName": "@bob"}
    assert row({"userIdentity": identity})["user.email"] is None


def test_users_named_by_the_request_are_related() -> None:
    values = row(
        {
            "eventName": "UpdateUser",
            "requestParameters": {"userName": "old", "newUserName": "new"},
            "responseElements": {"user": {"userId": "AIDANEW"}},
        }
    )
    assert values["related.user"] == ["old", "new", "AIDANEW", "AIDAEXAMPLE", "alice"]


def test_account_falls_back_to_the_recipient() -> None:
    identity = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    values = row({"userIdentity": identity, "recipientAccountId": "999999999999"})
    assert values["cloud.account.id"] == "999999999999"
    assert values["service.name"] == "ec2.amazonaws.com"
    assert values["user.name"] is None


@pytest.mark.parametrize(
    ("address", "ip"),
    [
        ("81.2.69.144", "81.2.69.144"),
        ("2001:db8::1", "2001:db8::1"),
        ("dynamodb.amazonaws.com", None),
        ("AWS Internal", None),
        ("035.249.253.232", None),  # leading zeros: ambiguous, not read as an address
    ],
)
def test_source_ip_only_for_ip_addresses(address: str, ip: str | None) -> None:
    values = row({"sourceIPAddress": address})
    assert values["source.address"] == address
    assert values["source.ip"] == ip
    assert values["related.ip"] == ([ip] if ip else None)


def test_country_from_iptocc_without_databases() -> None:
    values = row({"sourceIPAddress": "81.2.69.144"})
    assert values["source.geo.country_iso_code"] == "GB"
    assert values["source.geo.city_name"] is None


def test_user_agent_as_elastic_parses_it() -> None:
    values = row({"userAgent": "aws-cli/1.16.248 Python/3.4.7 Linux/4.9.184 botocore/1.12.239"})
    assert values["user_agent.original"].startswith("aws-cli/1.16.248")
    assert (values["user_agent.name"], values["user_agent.version"]) == ("aws-cli", "1.16.248")
    assert (values["user_agent.os.name"], values["user_agent.os.full"]) == (
        "Linux",
        "Linux 4.9.184",
    )
    unknown = row({"userAgent": "dynamodb.amazonaws.com"})
    assert (unknown["user_agent.name"], unknown["user_agent.device.name"]) == ("Other", "Other")


def test_tls_details() -> None:
    details = {"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE", "clientProvidedHostHeader": "h"}
    values = row({"tlsDetails": details})
    assert (values["tls.version"], values["tls.version_protocol"]) == ("1.2", "tls")
    assert (values["tls.cipher"], values["tls.client.server_name"]) == ("ECDHE", "h")


def test_cloudtrail_members() -> None:
    values = row(
        {
            "readOnly": "true",
            "managementEvent": True,
            "sessionCredentialFromConsole": "true",
            "errorCode": "AccessDenied",
            "errorMessage": "no",
            "requestID": "r-1",
            "sharedEventID": "s-1",
            "vpcEndpointId": "vpce-1",
            "apiVersion": "2012-08-10",
            "eventCategory": "Data",
            "eventType": "AwsApiCall",
        }
    )
    prefix = "aws.cloudtrail."
    assert values[prefix + "read_only"] is True
    assert values[prefix + "management_event"] == "true"  # a keyword, as in Elastic
    assert values[prefix + "session_credential_from_console"] is True
    assert (values[prefix + "error_code"], values[prefix + "error_message"]) == (
        "AccessDenied",
        "no",
    )
    assert values[prefix + "request_id"] == "r-1"
    assert values[prefix + "shared_event_id"] == "s-1"
    assert values[prefix + "vpc_endpoint_id"] == "vpce-1"
    assert values[prefix + "api_version"] == "2012-08-10"
    assert values[prefix + "event_category"] == "Data"
    assert values[prefix + "event_version"] == "1.09"
    assert values[prefix + "recipient_account_id"] == "123456789012"


def test_console_login_details() -> None:
    values = row(
        {
            "eventName": "ConsoleLogin",
            "additionalEventData": {
                "LoginTo": "https://console",
                "MFAUsed": "Yes",
                "MobileVersion": "No",
            },
        }
    )
    prefix = "aws.cloudtrail.console_login.additional_eventdata."
    assert values[prefix + "login_to"] == "https://console"
    assert (values[prefix + "mfa_used"], values[prefix + "mobile_version"]) == (True, False)


@pytest.mark.parametrize(
    ("parameters", "text"),
    [
        ({"a": "x"}, "{a=x}"),
        ({"list": ["a", "b", 3, True, False]}, "{list=[a, b, 3, true, false]}"),
        ({"nested": {"a": {"b": [{"c": "d"}]}}}, "{nested={a={b=[{c=d}]}}}"),
        (
            {"v": [1.0, 0.5, 1e-05, 12345678.9, -2e22]},
            "{v=[1.0, 0.5, 1.0E-5, 1.23456789E7, -2.0E22]}",
        ),
        # Elastic drops nulls, empty strings and then empty objects and lists.
        ({"a": None, "b": "", "c": {}, "d": [], "e": {"f": None}, "g": "kept"}, "{g=kept}"),
        ({"a": None}, None),
        # Beyond 64 bits Java keeps an integer exact (BigInteger).
        ({"id": 123456789012345678901234567890}, "{id=123456789012345678901234567890}"),
        # Java's HashMap order, by hash bucket: Elastic's own output for these three keys.
        (
            {"roleArn": "r", "roleSessionName": "s", "durationSeconds": 3600},
            "{durationSeconds=3600, roleArn=r, roleSessionName=s}",
        ),
    ],
)
def test_free_form_text_as_java_writes_it(parameters: dict[str, Any], text: str | None) -> None:
    assert row({"requestParameters": parameters})["aws.cloudtrail.request_parameters"] == text


def test_flattened_holds_the_cleaned_object_as_json() -> None:
    values = row({"requestParameters": {"tableName": "T", "gone": "", "limit": 5}})
    document = next(to_documents(run({"requestParameters": {"tableName": "T", "gone": ""}}).batch))
    assert values["aws.cloudtrail.flattened.request_parameters"] is not None
    assert document["aws"]["cloudtrail"]["flattened"]["request_parameters"] == {"tableName": "T"}


def test_resources_are_deduplicated_and_zip_back() -> None:
    resources = [
        {
            "ARN": "arn:aws:dynamodb:us-east-1:1:table/A",
            "accountId": "1",
            "type": "AWS::DynamoDB::Table",
        },
        {
            "ARN": "arn:aws:dynamodb:us-east-1:1:table/A",
            "accountId": "1",
            "type": "AWS::DynamoDB::Table",
        },
        {"ARN": "arn:aws:kms:us-east-1:1:key/k", "type": "AWS::KMS::Key"},
    ]
    values = row({"resources": resources})
    assert sorted(values["aws.cloudtrail.resources.arn"]) == [
        "arn:aws:dynamodb:us-east-1:1:table/A",
        "arn:aws:kms:us-east-1:1:key/k",
    ]
    document = next(to_documents(run({"resources": resources}).batch))
    assert sorted(document["aws"]["cloudtrail"]["resources"], key=lambda r: r["arn"]) == [
        {
            "arn": "arn:aws:dynamodb:us-east-1:1:table/A",
            "account_id": "1",
            "type": "AWS::DynamoDB::Table",
        },
        {"arn": "arn:aws:kms:us-east-1:1:key/k", "type": "AWS::KMS::Key"},
    ]


def test_a_bad_record_is_set_aside_and_the_rest_kept() -> None:
    good = decode_record(b'{"eventTime":"2024-03-12T06:22:01Z","eventName":"A"}')
    bad_time = decode_record(b'{"eventTime":"yesterday","eventName":"B"}')
    bad_identity = decode_record(
        b'{"eventTime":"2024-03-12T06:22:01Z","eventName":"C","userIdentity":{"accountId":[1]}}'
    )
    result = normalize(
        [bad_time, good, bad_identity, good], ingested=INGESTED, enricher=Enricher.create()
    )
    assert result.rejected == [
        (0, "eventTime 'yesterday' is not a date and time"),
        (2, "userIdentity.accountId is a list, expected a string"),
    ]
    assert result.batch.column("event.action").to_pylist() == ["A", "A"]


def test_an_empty_batch() -> None:
    result = normalize([], ingested=INGESTED, enricher=Enricher.create())
    assert (result.batch.num_rows, result.batch.schema) == (0, arrow_schema())


def test_chosen_fields_only_and_the_schema_unchanged() -> None:
    result = run({"requestParameters": {"a": "x"}}, fields=["event.action", "user.name"])
    assert result.batch.schema == arrow_schema()
    values = result.batch.to_pylist()[0]
    assert (values["event.action"], values["user.name"]) == ("Scan", "alice")
    assert values["aws.cloudtrail.request_parameters"] is None
    with pytest.raises(ValueError, match=r"no\.such"):
        run(fields=["no.such"])


def test_documents_nest_fields_and_drop_empty_ones() -> None:
    document = next(to_documents(run().batch))
    assert document["@timestamp"] == "2024-03-12T06:22:01.000Z"
    assert document["event"]["action"] == "Scan"
    assert document["user"] == {"name": "alice", "id": "AIDAEXAMPLE"}
    assert "tls" not in document and "category" not in document["event"]


def test_times_print_as_elastic_prints_them() -> None:
    assert format_time(datetime(2024, 10, 10, 15, 7, 3, tzinfo=UTC)) == "2024-10-10T15:07:03.000Z"
    assert (
        format_time(datetime(2024, 10, 10, 15, 7, 3, 120000, tzinfo=UTC))
        == "2024-10-10T15:07:03.120Z"
    )
    assert (
        format_time(datetime(2024, 10, 10, 15, 7, 3, 123456, tzinfo=UTC))
        == "2024-10-10T15:07:03.123456Z"
    )


def test_geo_and_asn_from_maxmind_databases(tmp_path: Any, shared_data: Any) -> None:
    enricher = Enricher.create(sorted((shared_data / "geo").glob("*.mmdb")))
    values = run({"sourceIPAddress": "89.160.20.156"}, enricher=enricher).batch.to_pylist()[0]
    assert values["source.geo.country_iso_code"] == "SE"
    assert values["source.geo.city_name"] == "Linköping"
    assert values["source.geo.region_iso_code"] == "SE-E"
    assert (values["source.as.number"], values["source.as.organization.name"]) == (
        29518,
        "Bredband2 AB",
    )
    assert isinstance(run(enricher=enricher).batch.column("source.as.number"), pa.Array)
