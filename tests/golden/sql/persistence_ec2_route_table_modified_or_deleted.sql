(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'ReplaceRoute', FALSE)
  )
  OR (
    COALESCE("event.action" = 'ReplaceRouteTableAssociation', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteRouteTable', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteRoute', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DisassociateRouteTable', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
