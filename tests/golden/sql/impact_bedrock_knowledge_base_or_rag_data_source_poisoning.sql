(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'bedrock.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'IngestKnowledgeBaseDocuments', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteKnowledgeBaseDocuments', FALSE)
  )
  OR (
    COALESCE("event.action" = 'UpdateKnowledgeBase', FALSE)
  )
  OR (
    COALESCE("event.action" = 'CreateDataSource', FALSE)
  )
  OR (
    COALESCE("event.action" = 'UpdateDataSource', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteDataSource', FALSE)
  )
  OR (
    COALESCE("event.action" = 'StartIngestionJob', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteKnowledgeBase', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
