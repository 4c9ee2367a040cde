(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  (
    COALESCE("user_agent.original" LIKE '%S3 Browser%' ESCAPE '\', FALSE)
  )
  OR (
    COALESCE("user_agent.original" LIKE '%Cyberduck%' ESCAPE '\', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
