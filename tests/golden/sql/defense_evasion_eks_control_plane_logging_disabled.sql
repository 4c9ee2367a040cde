(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'eks.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'UpdateClusterConfig', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(
    "aws.cloudtrail.request_parameters" LIKE '%logging%enabled=false%' ESCAPE '\',
    FALSE
  )
)
