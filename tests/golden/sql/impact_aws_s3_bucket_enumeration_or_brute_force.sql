(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 's3.amazonaws.com', FALSE)
)
AND (
  COALESCE("aws.cloudtrail.error_code" = 'AccessDenied', FALSE)
)
AND (
  COALESCE(NOT "tls.client.server_name" IS NULL, FALSE)
)
