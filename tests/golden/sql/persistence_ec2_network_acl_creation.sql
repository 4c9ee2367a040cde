(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'CreateNetworkAcl', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateNetworkAclEntry', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
