"""Calls to services other than DynamoDB: most of what a real trail holds.

Each `Op` is one API as CloudTrail logs it; `params` builds its requestParameters. Shapes follow
the real records in ../shared/data/negative (S3 data events with additionalEventData and two
resources, KMS calls with an encryption context, STS calls with credentials in the response).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trailhound.simulate.records import Record, Recorder
from trailhound.simulate.world import Principal

Params = Callable[[Recorder, Principal, str], Any]


@dataclass(frozen=True, slots=True)
class Op:
    source: str
    name: str
    read_only: bool
    params: Params
    data: bool = False
    global_region: bool = False  # IAM and friends log in us-east-1 whatever the caller's region


def call(r: Recorder, p: Principal, ts: int, region: str, op: Op, *,
         ip: str | None = None, agent: str | None = None) -> Record:
    where = "us-east-1" if op.global_region else region
    extra: dict[str, Any] | None = None
    resources: list[dict[str, str]] | None = None
    params = op.params(r, p, where)
    if op.source == "s3.amazonaws.com" and op.data:
        extra, resources = _s3_extras(r, p, params)
    elif op.source == "kms.amazonaws.com":
        resources = [{"accountId": p.account, "type": "AWS::KMS::Key", "ARN": key_arn(p, where)}]
    return r.call(p, ts, where, op.source, op.name, params, _response(r, op, p),
                  read_only=op.read_only, data=op.data, resources=resources, extra=extra,
                  ip=ip, agent=agent)


def _response(r: Recorder, op: Op, p: Principal) -> Any:
    if op.name in ("AssumeRole", "AssumeRoleWithWebIdentity"):
        return {"credentials": {"accessKeyId": f"ASIA{r.rng.getrandbits(64):016X}",
                                "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
                                "expiration": "Jan 1, 2030, 12:00:00 AM"}}
    if op.name == "GetCallerIdentity":
        return None
    if op.name == "PutObject":
        return {"x-amz-server-side-encryption": "aws:kms"}
    if op.name == "ScheduleKeyDeletion":
        return {"keyId": key_arn(p, "us-east-1"), "deletionDate": "Jun 12, 2025, 12:00:00 AM",
                "keyState": "PendingDeletion", "pendingWindowInDays": 7}
    if op.name == "CreateEventSourceMapping20150331":
        return {"uUID": f"{r.rng.getrandbits(128):032x}", "batchSize": 100,
                "state": "Creating", "stateTransitionReason": "USER_INITIATED",
                "startingPosition": "TRIM_HORIZON"}
    return None


def key_arn(p: Principal, region: str) -> str:
    return f"arn:aws:kms:{region}:{p.account}:key/6b8c2f1e-4d3a-4e5b-9c7d-1a2b3c4d5e6f"


def _s3_extras(r: Recorder, p: Principal, params: dict[str, Any]
               ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    bucket, key = params["bucketName"], params["key"]
    extra = {"additionalEventData": {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0 if "Get" in key else 18234,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": f"{r.rng.getrandbits(160):040x}",
        "bytesTransferredOut": 40960,
    }}
    resources = [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
        {"accountId": p.account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
    ]
    return extra, resources


def _const(value: Any) -> Params:
    return lambda r, p, region: value


def _s3_object(bucket: str, prefix: str) -> Params:
    def build(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
        name = f"{bucket}-{p.account}"
        key = f"{prefix}/{r.rng.getrandbits(32):08x}.json"
        return {"bucketName": name, "Host": f"{name}.s3.{region}.amazonaws.com", "key": key}
    return build


def _kms(context_key: str) -> Params:
    def build(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
        return {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": {context_key: p.account}}
    return build


def _ddb_kms(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
    tables = ("orders", "customers", "payments", "events-archive")
    return {"encryptionContext": {"aws:dynamodb:tableName": tables[r.rng.getrandbits(2)],
                                  "aws:dynamodb:subscriberId": p.account},
            "keySpec": "AES_256", "keyId": key_arn(p, region)}


def _assume_role(target: str) -> Params:
    def build(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
        return {"roleArn": f"arn:aws:iam::{p.account}:role/{target}",
                "roleSessionName": f"{target}-{r.rng.getrandbits(24):06x}", "durationSeconds": 3600}
    return build


def _describe_instances(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
    return {"instancesSet": {}, "filterSet": {"items": [
        {"name": "tag:cluster", "valueSet": {"items": [{"value": "shop-prod"}]}}]}}


def _ssm_parameter(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
    names = ("/shop/prod/db-endpoint", "/shop/prod/feature-flags", "/shop/prod/stripe-key-id")
    return {"name": names[r.rng.getrandbits(8) % 3], "withDecryption": True}


def _secret(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
    return {"secretId": f"arn:aws:secretsmanager:{region}:{p.account}:secret:shop/api-keys-Ab12Cd"}


def _lambda_fn(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
    fns = ("orders-api-handler", "session-reaper", "thumbnail-render")
    return {"functionName": f"arn:aws:lambda:{region}:{p.account}:function:"
                            f"{fns[r.rng.getrandbits(8) % 3]}"}


def _glue_table(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
    return {"catalogId": p.account, "databaseName": "events", "name": "clickstream"}


def _athena_query(r: Recorder, p: Principal, region: str) -> dict[str, Any]:
    bits = r.rng.getrandbits(80)
    return {"queryExecutionId": f"{bits >> 48:08x}-0000-4000-8000-{bits & (2**48 - 1):012x}"}


S3_GET_ASSETS = Op("s3.amazonaws.com", "GetObject", True, _s3_object("acme-assets", "img"), True)
S3_PUT_UPLOADS = Op("s3.amazonaws.com", "PutObject", False, _s3_object("acme-uploads", "u"), True)
S3_PUT_LAKE = Op("s3.amazonaws.com", "PutObject", False, _s3_object("acme-lake", "raw"), True)
S3_GET_LAKE = Op("s3.amazonaws.com", "GetObject", True, _s3_object("acme-lake", "raw"), True)
S3_PUT_TRAIL = Op("s3.amazonaws.com", "PutObject", False, _s3_object("acme-trail", "AWSLogs"),
                  True)
S3_PUT_ARTIFACT = Op("s3.amazonaws.com", "PutObject", False, _s3_object("acme-ci", "builds"),
                     True)
KMS_DECRYPT = Op("kms.amazonaws.com", "Decrypt", True, _kms("aws:lambda:FunctionArn"))
KMS_GENERATE = Op("kms.amazonaws.com", "GenerateDataKey", True, _kms("aws:s3:arn"))
KMS_DDB = Op("kms.amazonaws.com", "Decrypt", True, _ddb_kms)
KMS_DDB_GENERATE = Op("kms.amazonaws.com", "GenerateDataKey", True, _ddb_kms)
STS_CALLER = Op("sts.amazonaws.com", "GetCallerIdentity", True, _const(None))
STS_ASSUME_DEPLOY = Op("sts.amazonaws.com", "AssumeRole", True, _assume_role("deploy-target"))
STS_WEB_IDENTITY = Op("sts.amazonaws.com", "AssumeRoleWithWebIdentity", True,
                      _assume_role("github-actions-integration"))
EC2_DESCRIBE = Op("ec2.amazonaws.com", "DescribeInstances", True, _describe_instances)
EC2_ENI = Op("ec2.amazonaws.com", "DescribeNetworkInterfaces", True, _describe_instances)
EC2_ASSIGN_IP = Op("ec2.amazonaws.com", "AssignPrivateIpAddresses", False,
                   _const({"networkInterfaceId": "eni-0c1d2e3f4a5b6c7d8",
                           "secondaryPrivateIpAddressCount": 1}))
ECR_TOKEN = Op("ecr.amazonaws.com", "GetAuthorizationToken", True, _const({"registryIds": []}))
ECR_IMAGE = Op("ecr.amazonaws.com", "BatchGetImage", True,
               _const({"repositoryName": "shop/web", "imageIds": [{"imageTag": "stable"}],
                       "acceptedMediaTypes": ["application/vnd.oci.image.manifest.v1+json"]}))
SSM_PARAM = Op("ssm.amazonaws.com", "GetParameter", True, _ssm_parameter)
SECRET_VALUE = Op("secretsmanager.amazonaws.com", "GetSecretValue", True, _secret)
IAM_LIST_ROLES = Op("iam.amazonaws.com", "ListRoles", True, _const({"maxItems": 100}),
                    global_region=True)
IAM_GET_ROLE = Op("iam.amazonaws.com", "GetRole", True,
                  _const({"roleName": "orders-api-lambda-role"}), global_region=True)
LAMBDA_GET = Op("lambda.amazonaws.com", "GetFunction20150331v2", True, _lambda_fn)
LAMBDA_UPDATE = Op("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False, _lambda_fn)
CFN_DESCRIBE = Op("cloudformation.amazonaws.com", "DescribeStacks", True,
                  _const({"stackName": "shop-prod"}))
CFN_CHANGESET = Op("cloudformation.amazonaws.com", "CreateChangeSet", False,
                   _const({"stackName": "shop-prod", "changeSetType": "UPDATE",
                           "changeSetName": "deploy"}))
CW_ALARMS = Op("monitoring.amazonaws.com", "DescribeAlarms", True, _const({"maxRecords": 100}))
LOGS_STREAM = Op("logs.amazonaws.com", "CreateLogStream", False,
                 _const({"logGroupName": "/aws/lambda/orders-api-handler",
                         "logStreamName": "2024/06/03/[$LATEST]stream"}))
TAG_RESOURCES = Op("tagging.amazonaws.com", "GetResources", True, _const({"resourcesPerPage": 100}))
GLUE_TABLE = Op("glue.amazonaws.com", "GetTable", True, _glue_table)
GLUE_PARTITIONS = Op("glue.amazonaws.com", "GetPartitions", True, _glue_table)
ATHENA_GET = Op("athena.amazonaws.com", "GetQueryExecution", True, _athena_query)
CONFIG_PUT = Op("config.amazonaws.com", "PutEvaluations", False, _const({"testMode": False}))
GUARDDUTY_LIST = Op("guardduty.amazonaws.com", "ListFindings", True,
                    _const({"detectorId": "12abc34d567e8fa901bc2d34e56789f0"}))
SECURITYHUB_GET = Op("securityhub.amazonaws.com", "GetFindings", True, _const({"maxResults": 100}))
