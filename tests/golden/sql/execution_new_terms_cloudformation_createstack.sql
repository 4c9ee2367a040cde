(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'cloudformation.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'CreateStack', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateStackInstances', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
