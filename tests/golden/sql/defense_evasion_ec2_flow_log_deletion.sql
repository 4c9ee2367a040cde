(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'ec2.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'DeleteFlowLogs', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
