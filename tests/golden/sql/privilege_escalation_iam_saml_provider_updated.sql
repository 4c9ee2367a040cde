(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'UpdateSAMLProvider', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    (
      COALESCE("source.address" = 'sso.amazonaws.com', FALSE)
    )
    AND (
      COALESCE("user_agent.original" = 'sso.amazonaws.com', FALSE)
    )
  )
)
