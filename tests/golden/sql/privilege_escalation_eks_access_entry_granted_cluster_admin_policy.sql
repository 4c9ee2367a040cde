(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'eks.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'AssociateAccessPolicy', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  (
    COALESCE(
      "aws.cloudtrail.request_parameters" LIKE '%AmazonEKSClusterAdminPolicy%' ESCAPE '\',
      FALSE
    )
  )
  OR (
    COALESCE(
      "aws.cloudtrail.request_parameters" LIKE '%AmazonEKSAdminPolicy%' ESCAPE '\',
      FALSE
    )
  )
)
