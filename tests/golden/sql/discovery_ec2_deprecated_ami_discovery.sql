(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DescribeImages', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(
    ARRAY_CONTAINS(
      TH_FLAT("aws.cloudtrail.flattened.request_parameters", 'includeDeprecated'),
      'true'
    ),
    FALSE
  )
)
