(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
)
AND (
  COALESCE("event.action" = 'AttachRolePolicy', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    COALESCE(
      ARRAY_LENGTH(
        LIST_FILTER("related.entity", LAMBDA x : x LIKE 'arn:aws:iam::aws:policy%' ESCAPE '\')
      ) > 0,
      FALSE
    )
  )
)
