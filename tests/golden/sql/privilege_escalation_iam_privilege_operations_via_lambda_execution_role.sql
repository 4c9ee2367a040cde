(
  COALESCE("event.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE("aws.cloudtrail.user_identity.type" = 'AssumedRole', FALSE)
)
AND (
  (
    COALESCE("aws.cloudtrail.user_identity.invoked_by" = 'lambda.amazonaws.com', FALSE)
  )
  OR (
    COALESCE("user_agent.original" LIKE '%AWS\_Lambda%' ESCAPE '\', FALSE)
  )
)
AND (
  (
    COALESCE("event.action" = 'AddRoleToInstanceProfile', FALSE)
  )
  OR (
    COALESCE("event.action" = 'AddUserToGroup', FALSE)
  )
  OR (
    COALESCE("event.action" = 'AttachGroupPolicy', FALSE)
  )
  OR (
    COALESCE("event.action" = 'AttachRolePolicy', FALSE)
  )
  OR (
    COALESCE("event.action" = 'AttachUserPolicy', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateAccessKey', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateInstanceProfile', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateRole', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateUser', FALSE)
  )
  OR (
    COALESCE("event.action" = 'PutRolePolicy', FALSE)
  )
  OR (
    COALESCE("event.action" = 'PutUserPolicy', FALSE)
  )
)
