(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'CreateModelImportJob', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateCustomModelDeployment', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateMarketplaceModelEndpoint', FALSE)
  )
  OR (
    COALESCE("event.action" = 'RegisterMarketplaceModelEndpoint', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
