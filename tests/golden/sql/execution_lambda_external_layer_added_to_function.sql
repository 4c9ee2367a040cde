(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'lambda.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  (
    COALESCE("event.action" LIKE 'PublishLayerVersion%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("event.action" LIKE 'UpdateFunctionConfiguration%' ESCAPE '\', FALSE)
  )
)
