(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DescribeInstanceAttribute', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(
    ARRAY_CONTAINS(TH_FLAT("aws.cloudtrail.flattened.request_parameters", 'attribute'), 'userData'),
    FALSE
  )
)
AND (
  NOT (
    (
      COALESCE("aws.cloudtrail.user_identity.invoked_by" = 'AWS Internal', FALSE)
    )
    OR (
      COALESCE("aws.cloudtrail.user_identity.invoked_by" = 'cloudformation.amazonaws.com', FALSE)
    )
    OR (
      COALESCE("aws.cloudtrail.user_identity.invoked_by" = 'aidevops.amazonaws.com', FALSE)
    )
    OR (
      COALESCE(
        "aws.cloudtrail.user_identity.invoked_by" = 'elasticmapreduce.amazonaws.com',
        FALSE
      )
    )
    OR (
      COALESCE("aws.cloudtrail.user_identity.invoked_by" = 'aiops.amazonaws.com', FALSE)
    )
  )
)
