(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'DeleteGuardrail', FALSE)
  )
  OR (
    COALESCE("event.action" = 'UpdateGuardrail', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteEnforcedGuardrailConfiguration', FALSE)
  )
  OR (
    COALESCE("event.action" = 'PutEnforcedGuardrailConfiguration', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
