(
  COALESCE("event.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'AssociateIamInstanceProfile', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ReplaceIamInstanceProfile', FALSE)
  )
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
  NOT (
    COALESCE("aws.cloudtrail.user_identity.invoked_by" = 'ssm.amazonaws.com', FALSE)
  )
)
