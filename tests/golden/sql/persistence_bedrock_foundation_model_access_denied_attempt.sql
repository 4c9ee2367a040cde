(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'PutFoundationModelEntitlement', FALSE)
  )
  OR (
    COALESCE("event.action" = 'PutUseCaseForModelAccess', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateFoundationModelAgreement', FALSE)
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
