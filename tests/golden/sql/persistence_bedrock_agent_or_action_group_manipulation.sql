(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'UpdateAgent', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateAgentActionGroup', FALSE)
  )
  OR (
    COALESCE("event.action" = 'UpdateAgentActionGroup', FALSE)
  )
  OR (
    COALESCE("event.action" = 'AssociateAgentCollaborator', FALSE)
  )
  OR (
    COALESCE("event.action" = 'UpdateAgentCollaborator', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateAgentAlias', FALSE)
  )
  OR (
    COALESCE("event.action" = 'UpdateAgentAlias', FALSE)
  )
  OR (
    COALESCE("event.action" = 'PrepareAgent', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
