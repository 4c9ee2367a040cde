(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'kms.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'DisableKey', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ScheduleKeyDeletion', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
