(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'ModifyImageAttribute', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE("aws.cloudtrail.request_parameters" LIKE '%add=%' ESCAPE '\', FALSE)
)
AND (
  NOT (
    COALESCE(
      "aws.cloudtrail.user_identity.invoked_by" = 'assets.marketplace.amazonaws.com',
      FALSE
    )
  )
)
