"""The pySigma processing pipeline that reads Sigma's CloudTrail field names as trailhound's
ECS columns: `eventName` is `event.action`, `requestParameters.bucketName` is a key inside the
flattened request, and so on, as Elastic's CloudTrail integration maps them.

A rule whose logsource is not AWS CloudTrail is refused here, before its fields are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    FieldPrefixMappingTransformation,
    RuleFailureTransformation,
)

_FLAT = "aws.cloudtrail.flattened."
_IDENTITY = "aws.cloudtrail.user_identity."
_ISSUER = _IDENTITY + "session_context.session_issuer."

# CloudTrail's own names of single values -> the ECS column holding them.
FIELDS: Final = MappingProxyType(
    {
        "eventSource": "event.provider",
        "eventName": "event.action",
        "eventTime": "@timestamp",
        "eventID": "event.id",
        "eventVersion": "aws.cloudtrail.event_version",
        "eventType": "aws.cloudtrail.event_type",
        "eventCategory": "aws.cloudtrail.event_category",
        "awsRegion": "cloud.region",
        "sourceIPAddress": "source.address",
        "userAgent": "user_agent.original",
        "errorCode": "aws.cloudtrail.error_code",
        "errorMessage": "aws.cloudtrail.error_message",
        "requestID": "aws.cloudtrail.request_id",
        "apiVersion": "aws.cloudtrail.api_version",
        "readOnly": "aws.cloudtrail.read_only",
        "managementEvent": "aws.cloudtrail.management_event",
        "recipientAccountId": "aws.cloudtrail.recipient_account_id",
        "sharedEventID": "aws.cloudtrail.shared_event_id",
        "vpcEndpointId": "aws.cloudtrail.vpc_endpoint_id",
        "sessionCredentialFromConsole": "aws.cloudtrail.session_credential_from_console",
        "tlsDetails.tlsVersion": "tls.version",
        "tlsDetails.cipherSuite": "tls.cipher",
        "tlsDetails.clientProvidedHostHeader": "tls.client.server_name",
        "resources.ARN": "aws.cloudtrail.resources.arn",
        "resources.type": "aws.cloudtrail.resources.type",
        "resources.accountId": "aws.cloudtrail.resources.account_id",
        "userIdentity.type": _IDENTITY + "type",
        "userIdentity.arn": _IDENTITY + "arn",
        "userIdentity.accountId": "cloud.account.id",
        "userIdentity.principalId": "user.id",
        "userIdentity.userName": "user.name",
        "userIdentity.accessKeyId": _IDENTITY + "access_key_id",
        "userIdentity.invokedBy": _IDENTITY + "invoked_by",
        "userIdentity.sessionContext.attributes.mfaAuthenticated": (
            _IDENTITY + "session_context.mfa_authenticated"
        ),
        "userIdentity.sessionContext.attributes.creationDate": (
            _IDENTITY + "session_context.creation_date"
        ),
        "userIdentity.sessionContext.sessionIssuer.type": _ISSUER + "type",
        "userIdentity.sessionContext.sessionIssuer.arn": _ISSUER + "arn",
        "userIdentity.sessionContext.sessionIssuer.principalId": _ISSUER + "principal_id",
        "userIdentity.sessionContext.sessionIssuer.accountId": _ISSUER + "account_id",
        "userIdentity.sessionContext.sessionIssuer.userName": "user.name",
        # the whole of a nested object: Sigma's tests then look at each of its values
        "requestParameters": _FLAT + "request_parameters",
        "responseElements": _FLAT + "response_elements",
        "additionalEventData": _FLAT + "additional_eventdata",
        "serviceEventDetails": _FLAT + "service_event_details",
    }
)

# Keys inside CloudTrail's nested objects -> the same keys inside the flattened columns.
PREFIXES: Final = MappingProxyType(
    {
        "requestParameters.": _FLAT + "request_parameters.",
        "responseElements.": _FLAT + "response_elements.",
        "additionalEventData.": _FLAT + "additional_eventdata.",
        "serviceEventDetails.": _FLAT + "service_event_details.",
    }
)


def _mapping(table: Mapping[str, str]) -> dict[str | None, str | list[str]]:
    return {key: value for key, value in table.items()}


def cloudtrail_pipeline() -> ProcessingPipeline:
    """A fresh pipeline (pySigma pipelines keep per-rule state, so one per reading)."""
    return ProcessingPipeline(
        name="trailhound CloudTrail to ECS",
        priority=20,
        items=[
            ProcessingItem(
                identifier="trailhound_cloudtrail_only",
                transformation=RuleFailureTransformation(
                    "trailhound reads CloudTrail: the rule's logsource must be "
                    "product: aws, service: cloudtrail"
                ),
                rule_conditions=[LogsourceCondition(product="aws", service="cloudtrail")],
                rule_condition_negation=True,
            ),
            ProcessingItem(
                identifier="trailhound_cloudtrail_fields",
                transformation=FieldMappingTransformation(_mapping(FIELDS)),
            ),
            ProcessingItem(
                identifier="trailhound_cloudtrail_nested_fields",
                transformation=FieldPrefixMappingTransformation(_mapping(PREFIXES)),
            ),
        ],
    )
