(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'signin.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'ConsoleLogin', FALSE)
)
AND (
  COALESCE("aws.cloudtrail.user_identity.type" = 'Root', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
