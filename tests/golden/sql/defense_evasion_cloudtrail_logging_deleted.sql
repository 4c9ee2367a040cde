(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'cloudtrail.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DeleteTrail', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
