(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DeletePolicy', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSService', FALSE)
  )
)
AND (
  (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%Boundary%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%boundary%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%Deny%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%deny%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%Restrict%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%restrict%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%Guard%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%guard%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%SCP%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%Guardrail%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("aws.cloudtrail.request_parameters" LIKE '%guardrail%' ESCAPE '\', FALSE)
  )
)
AND (
  NOT (
    (
      COALESCE("user_agent.original" LIKE '%Terraform%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%terraform%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" = 'cloudformation.amazonaws.com', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%pulumi%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%Pulumi%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%ansible%' ESCAPE '\', FALSE)
    )
    OR (
      COALESCE("user_agent.original" LIKE '%Ansible%' ESCAPE '\', FALSE)
    )
  )
)
