(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'sts.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'AssumeRoot', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
