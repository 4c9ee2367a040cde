(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'CreateLoginProfile', FALSE)
  )
  OR (
    COALESCE("event.action" = 'UpdateLoginProfile', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSService', FALSE)
  )
)
AND (
  NOT (
    (
      COALESCE("user_agent.original" LIKE '%terraform%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%pulumi%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%ansible%' ESCAPE '\', FALSE)
    )
  )
)
AND (
  NOT (
    (
      COALESCE("aws.cloudtrail.user_identity.arn" LIKE '%terraform%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("aws.cloudtrail.user_identity.arn" LIKE '%pulumi%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("aws.cloudtrail.user_identity.arn" LIKE '%ansible%' ESCAPE '\', FALSE)
    )
  )
)
AND (
  NOT (
    (
      COALESCE("source.as.organization.name" LIKE 'Amazon%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("source.as.organization.name" LIKE 'AMAZON%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("source.as.organization.name" LIKE 'Google%' ESCAPE '\', FALSE)
    )
  )
)
AND (
  NOT (
    (
      COALESCE("source.address" = 'cloudformation.amazonaws.com', FALSE)
    )
    OR (
      COALESCE("source.address" = 'servicecatalog.amazonaws.com', FALSE)
    )
  )
)
