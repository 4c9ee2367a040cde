"""The entities a CloudTrail event names, for `related.entity` and `entity.target.id`.

`entity.target.id` holds what the call acted on: the role a policy was attached to, the bucket
whose policy changed, the table that was deleted, the instance that was stopped. It is read
from the request and response members each API uses to name that resource, event by event,
from `_TABLE` below (written from the AWS API references of DynamoDB, IAM, STS, S3, KMS, EC2
and a few services Elastic's rules watch). Values are kept as CloudTrail wrote them, a name or
an ARN, in the table's order, without repeats.

`related.entity` holds every identifier the event names: the caller (its ARN, principal id,
user name, access key, session issuer, identity provider), the ARNs of `resources`, the
targets, and what else the call involved (the policy attached, the account a snapshot was
shared with, the key a grant is for), sorted and without repeats.

An event whose API is not in the table has no target; its `related.entity` still names the
caller and the resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import Any, Final

import pyarrow as pa
from msgspec import Struct

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail import dynamodb
from trailhound.cloudtrail.builder import Columns, Rows
from trailhound.cloudtrail.payloads import DROPPED_TEXT, NULL_RAW, parsed_value

RELATED: Final = "related.entity"
TARGET: Final = "entity.target.id"

# Elastic's cleaning drops these texts; "*" (a grant to anyone) names no one in particular
_NOT_AN_ENTITY: Final = DROPPED_TEXT | {"*"}
# Lambda writes its API version into the event name: UpdateFunctionCode20150331v2
_VERSIONED_ACTION: Final = re.compile(r"^(?P<action>[A-Za-z]+?)\d{8}(?:v\d+)?$")


class _Members:
    """One event's free-form members, parsed when a reader first asks for one."""

    __slots__ = ("_i", "_parsed", "_resources", "_rows")
    _RAW: Final = {
        "request": "requestParameters",
        "response": "responseElements",
        "additional": "additionalEventData",
    }

    def __init__(self, rows: Rows, i: int, resources: dict[bytes, tuple[str, ...]]) -> None:
        self._rows = rows
        self._i = i
        self._parsed: dict[str, Any] = {}
        self._resources = resources  # resources' tables by their raw JSON, shared by the batch

    def get(self, member: str) -> Any:
        parsed = self._parsed
        if member not in parsed:
            raw = getattr(self._rows.records[self._i], self._RAW[member])
            parsed[member] = self._rows.value_at(member, raw, self._i)
        return parsed[member]

    def tables_found(self) -> tuple[tuple[str, ...], list[str] | None] | None:
        return self._rows.tables_found(self._i)

    def resource_tables(self) -> tuple[str, ...]:
        """The tables among the event's resources, as `dynamodb.resource_tables` finds them."""
        raw = bytes(self._rows.records[self._i].resources)
        found = self._resources.get(raw)
        if found is None:
            pairs = _resource_pairs(_parsed(raw))
            found = self._resources[raw] = tuple(dynamodb.resource_tables(pairs))
        return found


_Pairs = list[tuple[str | None, str | None]]
# A reader appends the entities it finds in one event's members to a list.
Reader = Callable[[_Members, list[str]], None]


class Named(Struct, frozen=True):
    """Where one API names the entity it acts on (`target`) and the others it involves."""

    target: tuple[Reader, ...] = ()
    related: tuple[Reader, ...] = ()


def at(*paths: str) -> tuple[Reader, ...]:
    """Readers of `member.key.key` paths (`request.roleName`); lists along a path are read
    item by item, so `request.instancesSet.items.instanceId` names every instance."""
    return tuple(_reader(path) for path in paths)


def _reader(path: str) -> Reader:
    member, *rest = path.split(".")
    keys = tuple(rest)

    def read(members: _Members, out: list[str]) -> None:
        value = members.get(member)
        # most calls' members lack most paths a provider's calls are read at: no walk for them
        if type(value) is dict and keys and keys[0] not in value:
            return
        _collect(value, keys, 0, out)

    return read


def _collect(value: Any, keys: tuple[str, ...], depth: int, out: list[str]) -> None:
    """The texts under `keys[depth:]`. Members come from orjson: plain dicts and lists."""
    while True:
        if type(value) is list:
            for item in value:
                _collect(item, keys, depth, out)
            return
        if depth == len(keys):
            break
        if type(value) is not dict:
            return
        value = value.get(keys[depth])
        depth += 1
    if type(value) is str:
        if value not in _NOT_AN_ENTITY:
            out.append(value)
    elif type(value) is int:
        out.append(str(value))  # account ids written as numbers


def _texts(value: Any, keys: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    _collect(value, keys, 0, out)
    return out


def _parsed(raw: bytes) -> Any:
    return parsed_value(raw) if raw and raw != _NULL else None


_NULL: Final = bytes(NULL_RAW)


def _resource_pairs(value: Any) -> _Pairs:
    if type(value) is not list:
        return []
    return [
        (_text(item.get("ARN")), _text(item.get("type"))) for item in value if type(item) is dict
    ]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dynamodb_tables(members: _Members, out: list[str]) -> None:
    """The tables a DynamoDB call acted on, as `aws.dynamodb.table_name` finds them: taken
    from that column where it was made from the same resources' tables (they are read in
    Elastic's order there, so two tables may come in another order), else found again."""
    in_resources = members.resource_tables()
    found = members.tables_found()
    if found is not None and found[0] == in_resources:
        out.extend(found[1] or ())
        return
    out.extend(dynamodb.table_names(members.get("request"), members.get("response"), in_resources))


def _named(target: Iterable[str] = (), related: Iterable[str] = ()) -> Named:
    return Named(at(*target), at(*related))


_INSTANCES: Final = ("request.instancesSet.items.instanceId",)
_IAM_ROLE: Final = _named(["request.roleName"])
_IAM_USER: Final = _named(["request.userName"])
_IAM_GROUP: Final = _named(["request.groupName"])
_IAM_POLICY: Final = _named(["request.policyArn"])
_ROLE_POLICY: Final = _named(["request.roleName"], ["request.policyArn", "request.policyName"])
_USER_POLICY: Final = _named(["request.userName"], ["request.policyArn", "request.policyName"])
_GROUP_POLICY: Final = _named(["request.groupName"], ["request.policyArn", "request.policyName"])
_ACCESS_KEY: Final = _named(["request.userName", "request.accessKeyId"])
_MFA: Final = _named(["request.userName", "request.serialNumber"])
_ASSUMED: Final = (
    "response.assumedRoleUser.arn",
    "response.credentials.accessKeyId",
    "request.roleSessionName",
)
_TRAIL: Final = _named(["request.name", "request.trailName"])
_KMS_KEY: Final = _named(["request.keyId"], ["response.keyId"])
_BUCKET: Final = _named(["request.bucketName"])
_SECURITY_GROUP: Final = _named(
    ["request.groupId"], ["response.securityGroupRuleSet.items.securityGroupRuleId"]
)
_SNAPSHOT_SHARED: Final = _named(
    ["request.snapshotId"],
    [
        "request.createVolumePermission.add.items.userId",
        "request.createVolumePermission.remove.items.userId",
    ],
)
_IMAGE_SHARED: Final = _named(
    ["request.imageId"],
    [
        "request.launchPermission.add.items.userId",
        "request.launchPermission.remove.items.userId",
    ],
)

# (event.provider, event.action) -> where the call names its entities. The action "*" is the
# provider's default, for services whose calls all name their resource the same way.
_TABLE: Final[Mapping[str, Mapping[str, Named]]] = {
    "dynamodb.amazonaws.com": {
        "*": Named(
            (_dynamodb_tables, *at("request.backupArn")),
            at(
                "request.s3Bucket",
                "request.s3BucketSource.s3Bucket",
                "request.exportArn",
                "request.importArn",
            ),
        ),
    },
    "streams.dynamodb.amazonaws.com": {
        "*": Named((_dynamodb_tables, *at("request.streamArn"))),
    },
    "iam.amazonaws.com": {
        "AttachRolePolicy": _ROLE_POLICY,
        "DetachRolePolicy": _ROLE_POLICY,
        "PutRolePolicy": _ROLE_POLICY,
        "DeleteRolePolicy": _ROLE_POLICY,
        "PutRolePermissionsBoundary": _named(["request.roleName"], ["request.permissionsBoundary"]),
        "DeleteRolePermissionsBoundary": _IAM_ROLE,
        "UpdateAssumeRolePolicy": _IAM_ROLE,
        "CreateRole": _named(
            ["request.roleName", "response.role.arn"],
            ["response.role.roleId", "request.permissionsBoundary"],
        ),
        "CreateServiceLinkedRole": _named(["response.role.roleName", "response.role.arn"]),
        "DeleteRole": _IAM_ROLE,
        "DeleteServiceLinkedRole": _IAM_ROLE,
        "UpdateRole": _IAM_ROLE,
        "UpdateRoleDescription": _IAM_ROLE,
        "TagRole": _IAM_ROLE,
        "UntagRole": _IAM_ROLE,
        "AttachUserPolicy": _USER_POLICY,
        "DetachUserPolicy": _USER_POLICY,
        "PutUserPolicy": _USER_POLICY,
        "DeleteUserPolicy": _USER_POLICY,
        "PutUserPermissionsBoundary": _named(["request.userName"], ["request.permissionsBoundary"]),
        "DeleteUserPermissionsBoundary": _IAM_USER,
        "CreateUser": _named(["request.userName", "response.user.arn"], ["response.user.userId"]),
        "DeleteUser": _IAM_USER,
        "UpdateUser": _named(["request.userName"], ["request.newUserName"]),
        "TagUser": _IAM_USER,
        "UntagUser": _IAM_USER,
        "CreateLoginProfile": _IAM_USER,
        "UpdateLoginProfile": _IAM_USER,
        "DeleteLoginProfile": _IAM_USER,
        "CreateAccessKey": _named(
            ["request.userName", "response.accessKey.userName"],
            ["response.accessKey.accessKeyId"],
        ),
        "UpdateAccessKey": _ACCESS_KEY,
        "DeleteAccessKey": _ACCESS_KEY,
        "UploadSSHPublicKey": _IAM_USER,
        "DeleteSSHPublicKey": _IAM_USER,
        "CreateServiceSpecificCredential": _IAM_USER,
        "UploadSigningCertificate": _IAM_USER,
        "EnableMFADevice": _MFA,
        "DeactivateMFADevice": _MFA,
        "ResyncMFADevice": _MFA,
        "CreateVirtualMFADevice": _named(
            ["response.virtualMFADevice.serialNumber"], ["request.virtualMFADeviceName"]
        ),
        "DeleteVirtualMFADevice": _named(["request.serialNumber"]),
        "CreateGroup": _named(["request.groupName", "response.group.arn"]),
        "DeleteGroup": _IAM_GROUP,
        "UpdateGroup": _named(["request.groupName"], ["request.newGroupName"]),
        "AddUserToGroup": _named(["request.groupName", "request.userName"]),
        "RemoveUserFromGroup": _named(["request.groupName", "request.userName"]),
        "AttachGroupPolicy": _GROUP_POLICY,
        "DetachGroupPolicy": _GROUP_POLICY,
        "PutGroupPolicy": _GROUP_POLICY,
        "DeleteGroupPolicy": _GROUP_POLICY,
        "CreatePolicy": _named(["response.policy.arn"], ["request.policyName"]),
        "DeletePolicy": _IAM_POLICY,
        "CreatePolicyVersion": _IAM_POLICY,
        "DeletePolicyVersion": _IAM_POLICY,
        "SetDefaultPolicyVersion": _IAM_POLICY,
        "CreateInstanceProfile": _named(["request.instanceProfileName"]),
        "DeleteInstanceProfile": _named(["request.instanceProfileName"]),
        "AddRoleToInstanceProfile": _named(["request.instanceProfileName", "request.roleName"]),
        "RemoveRoleFromInstanceProfile": _named(
            ["request.instanceProfileName", "request.roleName"]
        ),
        "CreateSAMLProvider": _named(["response.sAMLProviderArn"], ["request.name"]),
        "UpdateSAMLProvider": _named(["request.sAMLProviderArn"]),
        "DeleteSAMLProvider": _named(["request.sAMLProviderArn"]),
        "CreateOpenIDConnectProvider": _named(
            ["response.openIDConnectProviderArn"], ["request.url"]
        ),
        "DeleteOpenIDConnectProvider": _named(["request.openIDConnectProviderArn"]),
    },
    "sts.amazonaws.com": {
        "AssumeRole": _named(["request.roleArn"], _ASSUMED),
        "AssumeRoleWithSAML": _named(["request.roleArn"], (*_ASSUMED, "request.principalArn")),
        "AssumeRoleWithWebIdentity": _named(["request.roleArn"], _ASSUMED),
        "AssumeRoot": _named(["request.targetPrincipal"], ["request.taskPolicyArn.arn"]),
        "GetFederationToken": _named(
            ["response.federatedUser.arn"],
            ["request.name", "response.credentials.accessKeyId"],
        ),
        "GetSessionToken": _named(related=["response.credentials.accessKeyId"]),
    },
    "signin.amazonaws.com": {
        "ConsoleLogin": _named(related=["additional.MFAIdentifier"]),
    },
    "s3.amazonaws.com": {"*": _BUCKET},
    "kms.amazonaws.com": {
        "*": _KMS_KEY,
        "CreateKey": _named(["response.keyMetadata.arn"], ["response.keyMetadata.keyId"]),
        "CreateAlias": _named(["request.aliasName"], ["request.targetKeyId"]),
        "UpdateAlias": _named(["request.aliasName"], ["request.targetKeyId"]),
        "DeleteAlias": _named(["request.aliasName"]),
        "CreateGrant": _named(
            ["request.keyId"], ["request.granteePrincipal", "request.retiringPrincipal"]
        ),
    },
    "ec2.amazonaws.com": {
        "RunInstances": _named(
            ["response.instancesSet.items.instanceId"],
            [
                "request.instancesSet.items.imageId",
                "response.instancesSet.items.imageId",
                "response.instancesSet.items.iamInstanceProfile.arn",
                "response.instancesSet.items.subnetId",
                "response.instancesSet.items.vpcId",
                "response.instancesSet.items.groupSet.items.groupId",
            ],
        ),
        "StartInstances": _named(_INSTANCES),
        "StopInstances": _named(_INSTANCES),
        "RebootInstances": _named(_INSTANCES),
        "TerminateInstances": _named(_INSTANCES),
        "ModifyInstanceAttribute": _named(["request.instanceId"]),
        "DescribeInstanceAttribute": _named(["request.instanceId"]),
        "GetPasswordData": _named(["request.instanceId"]),
        "GetConsoleOutput": _named(["request.instanceId"]),
        "GetConsoleScreenshot": _named(["request.instanceId"]),
        "AssociateIamInstanceProfile": _named(
            ["request.AssociateIamInstanceProfileRequest.InstanceId", "request.instanceId"],
            [
                "request.AssociateIamInstanceProfileRequest.IamInstanceProfile.Arn",
                "request.AssociateIamInstanceProfileRequest.IamInstanceProfile.Name",
                "request.iamInstanceProfile.arn",
                "request.iamInstanceProfile.name",
            ],
        ),
        "CreateSnapshot": _named(["response.snapshotId"], ["request.volumeId"]),
        "CopySnapshot": _named(["response.snapshotId"], ["request.sourceSnapshotId"]),
        "DeleteSnapshot": _named(["request.snapshotId"]),
        "ModifySnapshotAttribute": _SNAPSHOT_SHARED,
        "CreateImage": _named(["response.imageId"], ["request.instanceId"]),
        "CopyImage": _named(["response.imageId"], ["request.sourceImageId"]),
        "DeregisterImage": _named(["request.imageId"]),
        "ModifyImageAttribute": _IMAGE_SHARED,
        "CreateVolume": _named(["response.volumeId"], ["request.snapshotId"]),
        "DeleteVolume": _named(["request.volumeId"]),
        "AttachVolume": _named(["request.volumeId"], ["request.instanceId"]),
        "DetachVolume": _named(["request.volumeId"], ["request.instanceId"]),
        "CreateSecurityGroup": _named(["response.groupId"], ["request.groupName", "request.vpcId"]),
        "DeleteSecurityGroup": _named(["request.groupId"]),
        "AuthorizeSecurityGroupIngress": _SECURITY_GROUP,
        "AuthorizeSecurityGroupEgress": _SECURITY_GROUP,
        "RevokeSecurityGroupIngress": _SECURITY_GROUP,
        "RevokeSecurityGroupEgress": _SECURITY_GROUP,
        "CreateVpc": _named(["response.vpc.vpcId"]),
        "DeleteVpc": _named(["request.vpcId"]),
        "CreateSubnet": _named(["response.subnet.subnetId"], ["request.vpcId"]),
        "DeleteSubnet": _named(["request.subnetId"]),
        "CreateNetworkAcl": _named(["response.networkAcl.networkAclId"], ["request.vpcId"]),
        "DeleteNetworkAcl": _named(["request.networkAclId"]),
        "CreateNetworkAclEntry": _named(["request.networkAclId"]),
        "ReplaceNetworkAclEntry": _named(["request.networkAclId"]),
        "DeleteNetworkAclEntry": _named(["request.networkAclId"]),
        "CreateRouteTable": _named(["response.routeTable.routeTableId"], ["request.vpcId"]),
        "DeleteRouteTable": _named(["request.routeTableId"]),
        "CreateRoute": _named(["request.routeTableId"]),
        "ReplaceRoute": _named(["request.routeTableId"]),
        "DeleteRoute": _named(["request.routeTableId"]),
        "CreateFlowLogs": _named(
            ["response.CreateFlowLogsResponse.flowLogIdSet.item"],
            ["request.CreateFlowLogsRequest.ResourceId.content"],
        ),
        "DeleteFlowLogs": _named(["request.DeleteFlowLogsRequest.FlowLogId.content"]),
        "CreateNetworkInterface": _named(
            ["response.networkInterface.networkInterfaceId"], ["request.subnetId"]
        ),
        "DeleteNetworkInterface": _named(["request.networkInterfaceId"]),
        "CreateKeyPair": _named(["request.keyName"], ["response.keyPairId"]),
        "DeleteKeyPair": _named(["request.keyName", "request.keyPairId"]),
    },
    "ec2-instance-connect.amazonaws.com": {"*": _named(["request.instanceId"])},
    "ssm.amazonaws.com": {
        "StartSession": _named(["request.target"], ["response.sessionId"]),
        "SendCommand": _named(["request.instanceIds"], ["request.documentName"]),
        "GetParameter": _named(["request.name"]),
        "GetParameters": _named(["request.names"]),
    },
    "secretsmanager.amazonaws.com": {
        "GetSecretValue": _named(["request.secretId"]),
        "BatchGetSecretValue": _named(["request.secretIdList"]),
        "DeleteSecret": _named(["request.secretId"]),
        "PutSecretValue": _named(["request.secretId"]),
        "PutResourcePolicy": _named(["request.secretId"]),
    },
    "cloudtrail.amazonaws.com": {
        "CreateTrail": _named(
            ["request.name", "response.trailARN"],
            ["request.s3BucketName", "request.kmsKeyId", "request.cloudWatchLogsLogGroupArn"],
        ),
        "UpdateTrail": _TRAIL,
        "DeleteTrail": _TRAIL,
        "StopLogging": _TRAIL,
        "StartLogging": _TRAIL,
        "PutEventSelectors": _TRAIL,
        "PutInsightSelectors": _TRAIL,
    },
    "rds.amazonaws.com": {
        "ModifyDBSnapshotAttribute": _named(
            ["request.dBSnapshotIdentifier"], ["request.valuesToAdd", "request.valuesToRemove"]
        ),
        "ModifyDBClusterSnapshotAttribute": _named(
            ["request.dBClusterSnapshotIdentifier"],
            ["request.valuesToAdd", "request.valuesToRemove"],
        ),
        "DeleteDBInstance": _named(["request.dBInstanceIdentifier"]),
        "DeleteDBCluster": _named(["request.dBClusterIdentifier"]),
        "ModifyDBInstance": _named(["request.dBInstanceIdentifier"]),
        "StopDBInstance": _named(["request.dBInstanceIdentifier"]),
    },
    "lambda.amazonaws.com": {
        "*": _named(["request.functionName"], ["response.functionArn", "response.role"]),
        "AddLayerVersionPermission": _named(["request.layerName"], ["request.principal"]),
        "AddPermission": _named(["request.functionName"], ["request.principal"]),
    },
}


@cache
def _providers() -> pa.Array:
    return pa.array(sorted(_TABLE))


def named(provider: str | None, action: str | None) -> Named | None:
    """Where the call `action` of `provider` names its entities, if the table says."""
    if provider is None or action is None:
        return None
    calls = _TABLE.get(provider)
    if calls is None:
        return None
    versioned = _VERSIONED_ACTION.match(action)
    if versioned is not None:
        action = versioned["action"]
    return calls.get(action) or calls.get("*")


def fill(cols: Columns, rows: Rows) -> None:
    """Put `entity.target.id` and `related.entity`, parsing only the members of events whose
    API the table names."""
    want_related = cols.wants(RELATED)
    if not (want_related or cols.wants(TARGET)):
        return
    targets: list[tuple[str, ...]] = [()] * rows.n
    involved: list[tuple[str, ...]] = [()] * rows.n
    resources: dict[bytes, tuple[str, ...]] = {}
    for i, entry in _rows_in_table(rows):
        members = _Members(rows, i, resources)
        targets[i] = _read(entry.target, members)
        involved[i] = _read(entry.related, members)
    cols.put(TARGET, [list(t) or None for t in targets])
    if want_related:
        cols.put(RELATED, _related(rows, targets, involved))


def _rows_in_table(rows: Rows) -> Iterator[tuple[int, Named]]:
    candidates = kernels.fill_null(kernels.is_in(rows.source, value_set=_providers()), False)
    if not kernels.any(candidates).as_py():
        return
    sources = rows.source.to_pylist()
    actions = rows.action.to_pylist()
    looked_up: dict[tuple[str | None, str | None], Named | None] = {}
    for i in kernels.indices_nonzero(candidates).to_pylist():
        call = (sources[i], actions[i])
        if call not in looked_up:
            looked_up[call] = named(*call)
        entry = looked_up[call]
        if entry is not None:
            yield i, entry


def _read(readers: tuple[Reader, ...], members: _Members) -> tuple[str, ...]:
    if not readers:
        return ()
    found: list[str] = []
    for read in readers:
        read(members, found)
    return tuple(dict.fromkeys(found))


def _related(
    rows: Rows, targets: list[tuple[str, ...]], involved: list[tuple[str, ...]]
) -> list[list[str] | None]:
    actors: dict[bytes, frozenset[str]] = {}
    resources: dict[bytes, frozenset[str]] = {}
    # a trail's calls repeat one caller acting on one table: their lists are made once
    made: dict[tuple[bytes, bytes, tuple[str, ...], tuple[str, ...]], list[str] | None] = {}
    out: list[list[str] | None] = []
    for record, target, other in zip(rows.records, targets, involved, strict=True):
        key = (bytes(record.userIdentity), bytes(record.resources), target, other)
        found = made.get(key, _UNSEEN)
        if found is _UNSEEN:
            actor = _cached(actors, key[0], _actor_entities)
            named_resources = _cached(resources, key[1], _resource_arns)
            found = made[key] = sorted(actor | named_resources | set(target) | set(other)) or None
        out.append(found)
    return out


_UNSEEN: Final[Any] = object()


def _cached(
    cache: dict[bytes, frozenset[str]], raw: bytes, derive: Callable[[Any], list[str]]
) -> frozenset[str]:
    found = cache.get(raw)
    if found is None:
        found = cache[raw] = frozenset(derive(_parsed(raw)))
    return found


_ACTOR_PATHS: Final = (
    ("arn",),
    ("principalId",),
    ("userName",),
    ("accessKeyId",),
    ("identityProvider",),
    ("sessionContext", "sessionIssuer", "arn"),
    ("sessionContext", "sessionIssuer", "userName"),
    ("sessionContext", "webIdFederationData", "federatedProvider"),
)


def _actor_entities(identity: Any) -> list[str]:
    return [text for path in _ACTOR_PATHS for text in _texts(identity, path)]


def _resource_arns(resources: Any) -> list[str]:
    return _texts(resources, ("ARN",))


__all__ = ["RELATED", "TARGET", "Named", "at", "fill", "named"]
