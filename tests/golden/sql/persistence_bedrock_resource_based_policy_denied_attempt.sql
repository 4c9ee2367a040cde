(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'PutResourcePolicy', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteResourcePolicy', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'failure', FALSE)
)
AND (
  (
    COALESCE("aws.cloudtrail.error_code" = 'AccessDenied', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.error_code" = 'AccessDeniedException', FALSE)
  )
)
