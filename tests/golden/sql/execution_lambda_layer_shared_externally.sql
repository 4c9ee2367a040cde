(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'lambda.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" LIKE 'AddLayerVersionPermission%' ESCAPE '\', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
