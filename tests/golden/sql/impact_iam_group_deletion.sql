(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DeleteGroup', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
