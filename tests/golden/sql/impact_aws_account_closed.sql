(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.action" = 'CloseAccount', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  (
    COALESCE("event.provider" = 'account.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("event.provider" = 'organizations.amazonaws.com', FALSE)
  )
)
