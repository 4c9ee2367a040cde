(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'secretsmanager.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'GetSecretValue', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    (
      (
        COALESCE("user_agent.name" = 'Chrome', FALSE)
      )
      OR (
        COALESCE("user_agent.name" = 'Firefox', FALSE)
      )
      OR (
        COALESCE("user_agent.name" = 'Safari', FALSE)
      )
      OR (
        COALESCE("user_agent.name" = 'Edge', FALSE)
      )
      OR (
        COALESCE("user_agent.name" = 'Brave', FALSE)
      )
      OR (
        COALESCE("user_agent.name" = 'Opera', FALSE)
      )
    )
    OR (
      (
        COALESCE("source.address" = 'kafka.amazonaws.com', FALSE)
      )
      OR (
        COALESCE("source.address" = 'apidestinations.events.amazonaws.com', FALSE)
      )
    )
  )
)
