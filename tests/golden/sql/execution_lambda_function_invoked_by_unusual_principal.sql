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
  COALESCE(NOT "aws.cloudtrail.user_identity.arn" IS NULL, FALSE)
)
