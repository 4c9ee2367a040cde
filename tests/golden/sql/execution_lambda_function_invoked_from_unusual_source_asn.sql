(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'lambda.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" LIKE 'Invoke%' ESCAPE '\', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    COALESCE(NOT "aws.cloudtrail.user_identity.invoked_by" IS NULL, FALSE)
  )
)
AND (
  (
    COALESCE(NOT "source.as.organization.name" IS NULL, FALSE)
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
      OR (
        COALESCE("source.as.organization.name" LIKE 'GOOGLE%' ESCAPE '\', FALSE)
      )
      OR (
        COALESCE("source.as.organization.name" LIKE 'Microsoft%' ESCAPE '\', FALSE)
      )
      OR (
        COALESCE("source.as.organization.name" LIKE 'MICROSOFT%' ESCAPE '\', FALSE)
      )
    )
  )
)
