(
  COALESCE("event.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'kms.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'PutKeyPolicy', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSService', FALSE)
  )
)
