(
  COALESCE("event.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'sts.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'GetCallerIdentity', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE("aws.cloudtrail.user_identity.type" = 'AssumedRole', FALSE)
)
AND (
  COALESCE("user.id" LIKE '%:i-%' ESCAPE '\', FALSE)
)
AND (
  (
    COALESCE(NOT "source.as.organization.name" IS NULL, FALSE)
  )
  AND (
    NOT (
      (
        COALESCE("source.as.organization.name" LIKE 'AMAZON%' ESCAPE '\', FALSE)
      )
      OR (
        COALESCE("source.as.organization.name" LIKE 'Amazon%' ESCAPE '\', FALSE)
      )
      OR (
        COALESCE("source.as.organization.name" LIKE 'Google%' ESCAPE '\', FALSE)
      )
      OR (
        COALESCE("source.as.organization.name" = 'MongoDB, Inc.', FALSE)
      )
    )
  )
)
