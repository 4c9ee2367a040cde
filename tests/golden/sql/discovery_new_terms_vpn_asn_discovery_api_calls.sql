(
  COALESCE("event.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  (
    COALESCE(NOT "aws.cloudtrail.user_identity.arn" IS NULL, FALSE)
  )
  AND (
    NOT (
      COALESCE(
        "aws.cloudtrail.user_identity.arn" LIKE '%AWSServiceRoleForConfig%' ESCAPE '\',
        FALSE
      )
    )
  )
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSService', FALSE)
  )
)
AND (
  (
    COALESCE("event.provider" = 'sts.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 's3.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'lambda.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'rds.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'dynamodb.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'kms.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'cloudtrail.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
  )
)
AND (
  (
    COALESCE("event.action" = 'GetCallerIdentity', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListUsers', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListRoles', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListAccessKeys', FALSE)
  )
  OR (
    COALESCE("event.action" = 'GetAccountSummary', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListAccountAliases', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListGroups', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListMFADevices', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListBuckets', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DescribeInstances', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DescribeRegions', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DescribeVpcs', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DescribeSecurityGroups', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListFunctions', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DescribeDBInstances', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DescribeDBSnapshots', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListTables', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListKeys', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListAliases', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DescribeTrails', FALSE)
  )
  OR (
    COALESCE("event.action" = 'LookupEvents', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListFoundationModels', FALSE)
  )
)
AND (
  (
    COALESCE("source.as.number" = 216025, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 57138, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 207137, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 212238, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 199218, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 209103, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 209854, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 141039, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 147049, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 53314, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 60068, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 9009, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 20473, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 63949, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 39351, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 51765, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 204187, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 29066, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 206092, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 208172, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 9002, FALSE)
  )
  OR (
    COALESCE("source.as.number" = 49981, FALSE)
  )
)
