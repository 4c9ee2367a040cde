(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'sts.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'GetFederationToken', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
