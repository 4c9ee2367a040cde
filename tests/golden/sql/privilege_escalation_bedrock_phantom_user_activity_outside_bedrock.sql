(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("aws.cloudtrail.user_identity.type" = 'IAMUser', FALSE)
)
AND (
  COALESCE("user.name" LIKE 'BedrockAPIKey-%' ESCAPE '\', FALSE)
)
AND (
  NOT (
    (
      COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
    )
    OR (
      COALESCE("event.provider" = 'signin.amazonaws.com', FALSE)
    )
    OR (
      COALESCE("event.provider" = 'agreement-marketplace.amazonaws.com', FALSE)
    )
    OR (
      COALESCE("event.provider" = 'discovery-marketplace.amazonaws.com', FALSE)
    )
  )
)
AND (
  NOT (
    (
      COALESCE("event.action" = 'GetCallerIdentity', FALSE)
    )
    OR (
      COALESCE("event.action" = 'GetSessionToken', FALSE)
    )
    OR (
      COALESCE("event.action" = 'GetAccessKeyInfo', FALSE)
    )
  )
)
