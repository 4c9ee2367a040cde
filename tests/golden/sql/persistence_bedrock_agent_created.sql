(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'CreateAgent', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  (
    COALESCE("aws.cloudtrail.user_identity.type" = 'IAMUser', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.user_identity.type" = 'Root', FALSE)
  )
)
