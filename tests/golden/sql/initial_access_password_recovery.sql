(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'signin.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'PasswordRecoveryRequested', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
