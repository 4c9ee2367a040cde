(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'rds.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'DeleteDBCluster', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteGlobalCluster', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteDBInstance', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
