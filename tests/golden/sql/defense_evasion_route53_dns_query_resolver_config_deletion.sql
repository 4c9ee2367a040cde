(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'route53resolver.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DeleteResolverQueryLogConfig', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
