"""The simulated organisation: accounts, regions, tables, principals and where they call from.

Everything here is an immutable table. Source IPs are public addresses whose country the
`iptocc` registry data gives as stated (a test checks), so a rule keyed on country sees each
principal in exactly one country unless an attack says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PrincipalKind = Literal["role", "user", "sso", "service_role", "service", "web_identity"]


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    alias: str
    home_region: str


@dataclass(frozen=True, slots=True)
class Table:
    account: str
    region: str
    name: str
    keys: tuple[str, ...]  # partition key, then the sort key when there is one


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls. `name` is what a rule sees as `user.name` (the role name for a role)."""

    key: str
    account: str
    kind: PrincipalKind
    name: str
    session: str = ""  # role session name, for assumed roles
    ips: tuple[str, ...] = ()  # stable public IPs; empty for a principal calling as a service
    country: str | None = None  # what iptocc says of every address in `ips`
    agents: tuple[str, ...] = ()
    invoked_by: str = ""  # an AWS service acting for the principal: source address and agent


PROD = Account("418295736104", "acme-prod", "us-east-1")
STAGING = Account("527306847215", "acme-staging", "us-east-1")
ANALYTICS = Account("636417958326", "acme-analytics", "us-west-2")
SECURITY = Account("745528069437", "acme-security", "us-east-1")
ACCOUNTS: tuple[Account, ...] = (PROD, STAGING, ANALYTICS, SECURITY)

# Outsiders that appear inside records, never as a delivering account.
DATADOG_ACCOUNT = "464622532012"
ATTACKER_ACCOUNT = "981234567890"

TABLES: tuple[Table, ...] = (
    Table(PROD.id, "us-east-1", "orders", ("customerId", "orderId")),
    Table(PROD.id, "us-east-1", "order-items", ("orderId", "lineNo")),
    Table(PROD.id, "us-east-1", "customers", ("customerId",)),
    Table(PROD.id, "us-east-1", "products", ("sku",)),
    Table(PROD.id, "us-east-1", "sessions", ("sessionId",)),
    Table(PROD.id, "eu-west-1", "payments", ("paymentId",)),
    Table(PROD.id, "eu-west-1", "ledger", ("accountRef", "entryTs")),
    Table(STAGING.id, "us-east-1", "orders-staging", ("customerId", "orderId")),
    Table(STAGING.id, "us-east-1", "customers-staging", ("customerId",)),
    Table(STAGING.id, "us-east-1", "feature-flags", ("flag",)),
    Table(ANALYTICS.id, "us-west-2", "events-archive", ("eventDate", "eventKey")),
    Table(ANALYTICS.id, "us-west-2", "daily-aggregates", ("metric", "day")),
    Table(ANALYTICS.id, "us-west-2", "reports", ("reportId",)),
)


# A decoy: a believable table nobody uses, listed in the decoy rule's parameter by the demo.
DECOY = Table(PROD.id, "us-east-1", "payroll-archive", ("employeeId",))
DECOY_TABLES: tuple[str, ...] = (DECOY.name,)


def table(account: str, name: str) -> Table:
    for t in TABLES:
        if t.account == account and t.name == name:
            return t
    raise KeyError(f"{account}/{name}")


# User agents, copied in form from real CloudTrail records.
UA_BOTO_LAMBDA = (
    "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10.214-223.800.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.84"
)
UA_JAVA = (
    "aws-sdk-java/2.25.11 Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/"
    "17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy"
)
UA_GO = (
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 "
    "api/dynamodb#1.31.1"
)
UA_NODE = (
    "aws-sdk-js/3.554.0 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 lang/js md/nodejs#20.12.1 "
    "api/dynamodb#3.554.0 exec-env/AWS_ECS_FARGATE"
)
UA_CONSOLE = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
UA_CONSOLE_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0"
)
UA_CLI = (
    "aws-cli/2.15.38 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off"
)
UA_TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.8.2 (+https://www.terraform.io) "
    "terraform-provider-aws/5.46.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64"
)
UA_DATADOG = (
    "Datadog-AWS-Crawler/1.0 Boto3/1.34.84 Python/3.11.9 Linux/5.15.0-1057-aws "
    "Botocore/1.34.84"
)
UA_GLUE = (
    "aws-sdk-java/1.12.641 Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/"
    "25.402-b08 java/1.8.0_402 scala/2.12.17 vendor/Amazon.com_Inc. cfg/retry-mode/standard "
    "AWSGlueETL"
)
UA_ATHENA = "athena.amazonaws.com"
# what attackers use: stock tooling from hosting and VPN exits
UA_KALI_CLI = (
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 "
    "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#kali.2024 md/prompt#off"
)
UA_PACU = "Boto3/1.26.137 Python/3.10.12 Linux/6.2.0-1017-aws Botocore/1.29.137 Resource"
UA_PYREQ = "python-requests/2.31.0"

US_LAMBDA_IPS = ("3.80.12.7", "44.192.45.9")
US_FARGATE_IPS = ("54.80.3.3", "52.0.14.21")
EU_ECS_IPS = ("52.16.9.8", "34.240.1.1")
US_WEST_IPS = ("44.196.0.9", "3.233.147.12")
GITHUB_IPS = ("20.42.73.5", "4.148.0.9", "140.82.112.4")
DATADOG_IPS = ("3.233.147.12", "44.196.0.9")

PRINCIPALS: tuple[Principal, ...] = (
    # prod applications
    Principal("orders_api", PROD.id, "role", "orders-api-lambda-role", "orders-api-handler",
              US_LAMBDA_IPS, "US", (UA_BOTO_LAMBDA,)),
    Principal("payments", PROD.id, "role", "payments-service-task-role",
              "3f0c2a9e8b7d4c1fa6e5d4c3b2a19087", EU_ECS_IPS, "US", (UA_JAVA,)),
    Principal("reaper", PROD.id, "role", "session-reaper-lambda-role", "session-reaper",
              US_LAMBDA_IPS, "US", (UA_BOTO_LAMBDA,)),
    Principal("inventory", PROD.id, "role", "inventory-sync-task-role",
              "9a8b7c6d5e4f40312a1b0c9d8e7f6a5b", US_FARGATE_IPS, "US", (UA_GO,)),
    Principal("web", PROD.id, "role", "web-frontend-ec2-role", "i-0a1b2c3d4e5f60718",
              US_FARGATE_IPS, "US", (UA_NODE,)),
    Principal("eks", PROD.id, "role", "eks-node-group-role", "i-0f9e8d7c6b5a41302",
              ("52.0.14.21",), "US", (UA_GO,)),
    Principal("reporting", PROD.id, "user", "reporting-svc", "", ("216.160.83.56",), "US",
              (UA_BOTO_LAMBDA,)),
    Principal("datadog", PROD.id, "role", "DatadogIntegrationRole", "DatadogAWSIntegration",
              DATADOG_IPS, "US", (UA_DATADOG,)),
    # people, through IAM Identity Center permission sets
    Principal("alice", PROD.id, "sso", "AWSReservedSSO_AdministratorAccess_7f3a2b1c9d8e4f60",
              "alice@acme.example", ("81.2.69.160", "86.12.44.9"), "GB", (UA_CONSOLE, UA_CLI)),
    Principal("bob", PROD.id, "sso", "AWSReservedSSO_PowerUserAccess_2c4e6a8b0d1f3e5a",
              "bob@acme.example", ("73.162.10.44",), "US", (UA_CONSOLE_WIN, UA_CLI)),
    Principal("priya", ANALYTICS.id, "sso", "AWSReservedSSO_DataEngineer_5d7f9b1c3e5a7c9e",
              "priya@acme.example", ("49.207.48.9", "122.171.20.9"), "IN", (UA_CONSOLE, UA_CLI)),
    Principal("erik", ANALYTICS.id, "sso", "AWSReservedSSO_Analyst_8e0a2c4e6a8c0e2a",
              "erik@acme.example", ("89.160.20.128",), "SE", (UA_CONSOLE,)),
    Principal("dana", STAGING.id, "sso", "AWSReservedSSO_Developer_1b3d5f7a9c1e3b5d",
              "dana@acme.example", ("98.207.3.9",), "US", (UA_CONSOLE, UA_CLI)),
    # delivery pipelines
    Principal("ci_prod", PROD.id, "role", "github-actions-deployer", "GitHubActions",
              GITHUB_IPS, "US", (UA_TERRAFORM,)),
    Principal("ci_staging", STAGING.id, "role", "github-actions-integration", "GitHubActions",
              GITHUB_IPS, "US", (UA_BOTO_LAMBDA, UA_TERRAFORM)),
    Principal("gh_oidc", STAGING.id, "web_identity", "repo:acme/shop:ref:refs/heads/main",
              "", GITHUB_IPS, "US", ("aws-sdk-js/2.1563.0 callback",)),
    # staging and analytics workloads
    Principal("staging_app", STAGING.id, "role", "staging-app-task-role",
              "5e4d3c2b1a0f49e8d7c6b5a4f3e2d1c0", US_FARGATE_IPS, "US", (UA_NODE,)),
    Principal("etl", ANALYTICS.id, "role", "glue-etl-job-role", "GlueJobRunnerSession",
              US_WEST_IPS, "US", (UA_GLUE,)),
    Principal("auditor", SECURITY.id, "role", "security-audit-role", "prowler",
              ("44.192.45.9",), "US", (UA_BOTO_LAMBDA,)),
    # AWS services acting for the account
    Principal("backup", PROD.id, "service_role", "AWSBackupDefaultServiceRole",
              "AWSBackup-AWSBackupDefaultServiceRole", invoked_by="backup.amazonaws.com"),
    Principal("autoscaling", PROD.id, "service_role",
              "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable", "AutoScaling",
              invoked_by="application-autoscaling.amazonaws.com"),
    Principal("config", PROD.id, "service_role", "AWSServiceRoleForConfig",
              "AWSConfig-Describe", invoked_by="config.amazonaws.com"),
    Principal("firehose", ANALYTICS.id, "service_role", "firehose-delivery-role",
              "AWSFirehoseToS3", invoked_by="firehose.amazonaws.com"),
    Principal("ddb_kms", PROD.id, "service", "", invoked_by="dynamodb.amazonaws.com"),
    Principal("ddb_kms_an", ANALYTICS.id, "service", "", invoked_by="dynamodb.amazonaws.com"),
    Principal("trail", SECURITY.id, "service", "", invoked_by="cloudtrail.amazonaws.com"),
)


def principal(key: str) -> Principal:
    for p in PRINCIPALS:
        if p.key == key:
            return p
    raise KeyError(key)
