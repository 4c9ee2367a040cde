(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.provider" = 'backup.amazonaws.com', FALSE)
)
AND (
  (
    COALESCE("event.action" = 'DeleteBackupVault', FALSE)
  )
  OR (
    COALESCE("event.action" = 'DeleteBackupVaultLockConfiguration', FALSE)
  )
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSService', FALSE)
  )
)
