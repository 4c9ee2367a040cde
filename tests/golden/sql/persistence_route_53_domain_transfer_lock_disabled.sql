(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'route53domains.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DisableDomainTransferLock', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
