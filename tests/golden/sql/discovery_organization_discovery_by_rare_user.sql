(
  COALESCE("data_stream.dataset" = 'aws.cloudtrail', FALSE)
)
AND (
  COALESCE("event.outcome" = 'success', FALSE)
)
AND (
  COALESCE(NOT "source.ip" IS NULL, FALSE)
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.session_credential_from_console" = TRUE, FALSE)
  )
)
AND (
  NOT (
    COALESCE("aws.cloudtrail.user_identity.type" = 'AWSService', FALSE)
  )
)
AND (
  (
    (
      COALESCE("event.provider" = 'organizations.amazonaws.com', FALSE)
    )
    AND (
      (
        COALESCE("event.action" = 'DescribeOrganization', FALSE)
      )
      OR (
        COALESCE("event.action" = 'DescribeOrgnanizationalUnit', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListAccounts', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListRoots', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListOrganizationalUnitsForParent', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListAccountsForParent', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListPolicies', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListAWSServiceAccessForOrganization', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListDelegatedAdministrators', FALSE)
      )
      OR (
        COALESCE("event.action" = 'ListDelegatedServicesForAccount', FALSE)
      )
      OR (
        COALESCE("event.action" = 'DescribeResourcePolicy', FALSE)
      )
    )
  )
  OR (
    (
      COALESCE("event.provider" = 'iam.amazonaws.com', FALSE)
    )
    AND (
      (
        COALESCE("event.action" = 'ListAccountAliases', FALSE)
      )
      OR (
        COALESCE("event.action" = 'GetAccountSummary', FALSE)
      )
    )
  )
)
