(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'route53.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'AssociateVPCWithHostedZone', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
