(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'cloudshell.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'CreateEnvironment', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
