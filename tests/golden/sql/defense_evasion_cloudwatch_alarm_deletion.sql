(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'monitoring.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DeleteAlarms', FALSE)
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
