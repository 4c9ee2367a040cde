(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ssm.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'CreateDocument', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(
    ARRAY_CONTAINS(
      TH_FLAT("aws.cloudtrail.flattened.response_elements", 'documentDescription.documentType'),
      'Command'
    ),
    FALSE
  )
)
