(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'logs.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DeleteLogGroup', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(NOT "source.ip" IS NULL, FALSE)
)
AND (
  NOT (
    COALESCE("user_agent.original" = 'AWS Internal', FALSE)
  )
)
