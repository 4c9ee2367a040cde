(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'secretsmanager.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'GetSecretValue', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
