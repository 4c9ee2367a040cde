"""Elastic's categorization of CloudTrail actions: action -> (`event.category`, `event.type`).

The table of the newest version of Elastic's CloudTrail ingest pipeline. An action it does not
list gets no category and the type `["info"]`; an action listed with no types gets no type.
"""

from __future__ import annotations

from typing import Final

Categorization = tuple[tuple[str, ...], tuple[str, ...]]

# Every event gets this type unless its action is listed below.
DEFAULT_TYPE: Final[tuple[str, ...]] = ("info",)

CATEGORIES: Final[dict[str, Categorization]] = {
    "AddUserToGroup": (("iam",), ("group", "change")),
    "AssumeRole": (("authentication",), ("info",)),
    "AttachGroupPolicy": (("iam",), ("group", "change")),
    "AttachRolePolicy": (("iam",), ("change",)),
    "AttachUserPolicy": (("iam",), ("user", "change")),
    "AuthorizeSecurityGroupIngress": (("network",), ("access",)),
    "ChangePassword": (("iam",), ("user", "change")),
    "ConsoleLogin": (("authentication",), ("info",)),
    "Converse": (("api",), ()),
    "CreateAccessKey": (("iam",), ("user", "change")),
    "CreateBucket": (("file",), ("creation",)),
    "CreateControlChannel": (("session",), ("start",)),
    "CreateDataChannel": (("session",), ("start",)),
    "CreateDocument": (("file",), ("creation",)),
    "CreateGroup": (("iam",), ("group", "creation")),
    "CreateKeyPair": (("iam",), ("admin", "creation")),
    "CreatePolicy": (("iam",), ("creation",)),
    "CreateTopic": (("configuration",), ("creation",)),
    "CreateUser": (("iam",), ("user", "creation")),
    "CreateVirtualMFADevice": (("iam",), ("user", "change")),
    "DeactivateMFADevice": (("iam",), ("user", "change")),
    "DeleteAccessKey": (("iam",), ("user", "change")),
    "DeleteBucket": (("file",), ("deletion",)),
    "DeleteGroup": (("iam",), ("group", "deletion")),
    "DeleteGroupPolicy": (("iam",), ("group", "change")),
    "DeleteObject": (("file",), ("delete",)),
    "DeleteSSHPublicKey": (("iam",), ("user", "change")),
    "DeleteTrail": (("configuration",), ("deletion",)),
    "DeleteUser": (("iam",), ("user", "deletion")),
    "DeleteUserPermissionsBoundary": (("iam",), ("user", "change")),
    "DeleteUserPolicy": (("iam",), ("user", "change")),
    "DeleteVirtualMFADevice": (("iam",), ("user", "change")),
    "DescribeDBInstances": (("database",), ("info",)),
    "DescribeInstances": (("host",), ("info",)),
    "DescribeLoadBalancers": (("network",), ("info",)),
    "DescribeNetworkAcls": (("network",), ("info",)),
    "DescribeNetworkInterfaces": (("network",), ("info",)),
    "DescribeRegions": (("api",), ("info",)),
    "DescribeSecurityGroups": (("network",), ("info",)),
    "DescribeTrails": (("configuration",), ("info",)),
    "DescribeVolumes": (("host",), ("info",)),
    "DescribeVpcs": (("network",), ("info",)),
    "DetachGroupPolicy": (("iam",), ("group", "change")),
    "DetachUserPolicy": (("iam",), ("user", "change")),
    "EnableMFADevice": (("iam",), ("user", "change")),
    "GetCallerIdentity": (("authentication",), ("info",)),
    "GetGroup": (("iam",), ("group", "info")),
    "GetGroupPolicy": (("iam",), ("group", "info")),
    "GetObject": (("file",), ("info",)),
    "GetPolicy": (("iam",), ("info",)),
    "GetUser": (("iam",), ("user", "info")),
    "GetUserPolicy": (("iam",), ("user", "info")),
    "HeadObject": (("file",), ("info",)),
    "ListAttachedGroupPolicies": (("iam",), ("group", "info")),
    "ListAttachedRolePolicies": (("iam",), ("info",)),
    "ListAttachedUserPolicies": (("iam",), ("user", "info")),
    "ListBuckets": (("file",), ("info",)),
    "ListFunctions": (("package",), ("info",)),
    "ListGroupPolicies": (("iam",), ("group", "info")),
    "ListGroups": (("iam",), ("group", "info")),
    "ListGroupsForUser": (("iam",), ("user", "info")),
    "ListInstanceAssociations": (("host",), ("info",)),
    "ListObjects": (("file",), ("info",)),
    "ListRoles": (("iam",), ("info",)),
    "ListTables": (("database",), ("info",)),
    "ListUserPolicies": (("iam",), ("user", "info")),
    "ListUserTags": (("iam",), ("user", "info")),
    "ListUsers": (("iam",), ("user", "info")),
    "OpenControlChannel": (("session",), ("start",)),
    "OpenDataChannel": (("session",), ("start",)),
    "Publish": (("api",), ()),
    "PutGroupPolicy": (("iam",), ("group", "change")),
    "PutObject": (("file",), ("change",)),
    "PutUserPermissionsBoundary": (("iam",), ("user", "change")),
    "PutUserPolicy": (("iam",), ("user", "change")),
    "RemoveUserFromGroup": (("iam",), ("group", "change")),
    "SendCommand": (("process",), ()),
    "SetDefaultPolicyVersion": (("iam",), ("admin", "change")),
    "SetSecurityTokenServicePreferences": (("iam",), ("admin", "change")),
    "StartSession": (("session",), ("start",)),
    "Subscribe": (("configuration",), ("change",)),
    "TagUser": (("iam",), ("user", "change")),
    "TerminateSession": (("session",), ("end",)),
    "UntagUser": (("iam",), ("user", "change")),
    "UpdateAccessKey": (("iam",), ("user", "change")),
    "UpdateAccountPasswordPolicy": (("iam",), ("admin", "change")),
    "UpdateGroup": (("iam",), ("group", "change")),
    "UpdateLoginProfile": (("iam",), ("user", "change")),
    "UpdateRole": (("iam",), ("admin", "change")),
    "UpdateSSHPublicKey": (("iam",), ("user", "change")),
    "UpdateUser": (("iam",), ("user", "change")),
}


def categorize(action: str | None) -> Categorization:
    """The `event.category` and `event.type` values Elastic gives an action."""
    if action is None:
        return (), DEFAULT_TYPE
    return CATEGORIES.get(action, ((), DEFAULT_TYPE))
