(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'lambda.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'DeleteFunction', FALSE)
  )
  OR (
    COALESCE("event.action" LIKE 'DeleteFunction20%' ESCAPE '\', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
