(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'CreateNetworkAclEntry', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ReplaceNetworkAclEntry', FALSE)
  )
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSService', FALSE)
  )
)
AND (
  (
    COALESCE("event.outcome" = 'success', FALSE)
  )
  OR (
    COALESCE("event.outcome" = 'failure', FALSE)
  )
)
AND (
  COALESCE(
    ARRAY_CONTAINS(TH_FLAT("aws.cloudtrail.flattened.request_parameters", 'aclProtocol'), '-1'),
    FALSE
  )
)
AND (
  COALESCE(
    ARRAY_CONTAINS(TH_FLAT("aws.cloudtrail.flattened.request_parameters", 'ruleAction'), 'allow'),
    FALSE
  )
)
AND (
  NOT (
    (
      COALESCE("user_agent.original" LIKE '%Terraform%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%terraform%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" = 'cloudformation.amazonaws.com', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%pulumi%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%Pulumi%' ESCAPE '\', FALSE)
    )
  )
)
