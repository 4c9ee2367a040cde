(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'sns.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'CreateTopic', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
