(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 's3.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'GetObject', FALSE)
  )
  OR (
    COALESCE("event.action" = 'PutObject', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListObjects', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteObject', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ListBucket', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSAccount', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.user_identity.type" = 'Unknown', FALSE)
  )
)
AND (
  COALESCE("cloud.account.id" = 'anonymous', FALSE)
)
