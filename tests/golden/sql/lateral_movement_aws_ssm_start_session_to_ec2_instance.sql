(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ssm.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'StartSession', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
