(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'cloudtrail.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'PutEventSelectors', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(
    "aws.cloudtrail.request_parameters" LIKE '%includeManagementEvents%false%' ESCAPE '\',
    FALSE
  )
)
