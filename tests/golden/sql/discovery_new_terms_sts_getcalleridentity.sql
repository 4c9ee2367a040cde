(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
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
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AssumedRole', FALSE)
  )
)
