(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'dynamodb.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'ExportTableToPointInTime', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
