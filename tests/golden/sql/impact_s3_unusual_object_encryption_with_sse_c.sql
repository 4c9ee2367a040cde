(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 's3.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'PutObject', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CopyObject', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(
    ARRAY_CONTAINS(
      TH_FLAT(
        "aws.cloudtrail.flattened.request_parameters",
        'x-amz-server-side-encryption-customer-algorithm'
      ),
      'AES256'
    ),
    FALSE
  )
)
