//! The key and identity policies of the evaluation table, after the AWS KMS developer
//! guide's examples (`key-policy-default.md`, `key-policy-administrators.md`,
//! `key-policy-users.md`, `conditions-kms.md`, `key-policy-modifying-external-accounts.md`,
//! `iam-policies-best-practices.md`). Accounts: 111122223333 owns the keys, 444455556666 is
//! the external account.

/// The default key policy (CreateKey without a policy).
pub const DEFAULT: &str = r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[
 {"Sid":"Enable IAM User Permissions","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;

/// The console's default policy: the root, key administrators, key users, and grants for
/// AWS resources.
pub const CONSOLE: &str = r#"{"Version":"2012-10-17","Id":"key-consolepolicy-3","Statement":[
 {"Sid":"Enable IAM User Permissions","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"Allow access for Key Administrators","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:role/KMSAdminRole"},
  "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*",
   "kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource",
   "kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"},
 {"Sid":"Allow use of the key","Effect":"Allow",
  "Principal":{"AWS":["arn:aws:iam::111122223333:role/ExampleUserRole",
                      "arn:aws:iam::111122223333:user/ExampleUser"]},
  "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*",
   "kms:DescribeKey"],"Resource":"*"},
 {"Sid":"Allow attachment of persistent resources","Effect":"Allow",
  "Principal":{"AWS":["arn:aws:iam::111122223333:role/ExampleUserRole",
                      "arn:aws:iam::111122223333:user/ExampleUser"]},
  "Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*",
  "Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}"#;

/// Without the root statement: only the named principals, IAM policies do not count.
pub const NO_ROOT: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Key users only","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:user/ExampleUser"},
  "Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}]}"#;

/// kms:ViaService: usable only through EC2 and RDS in us-west-2.
pub const VIA: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "Action":["kms:Describe*","kms:Get*","kms:List*","kms:PutKeyPolicy"],"Resource":"*"},
 {"Sid":"Through EC2 and RDS","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:user/ExampleUser"},
  "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*",
   "kms:CreateGrant","kms:ListGrants","kms:DescribeKey"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:ViaService":["ec2.us-west-2.amazonaws.com",
                                                 "rds.us-west-2.amazonaws.com"]}}}]}"#;

/// Encryption-context conditions.
pub const EC: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"AppName","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:role/RoleForExampleApp"},
  "Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp"}}},
 {"Sid":"OnlyTheseKeys","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:user/ExampleUser"},
  "Action":"kms:GenerateDataKey","Resource":"*",
  "Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Purpose","Department"]}}},
 {"Sid":"SomeKey","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:user/ExampleUser"},
  "Action":"kms:Encrypt","Resource":"*",
  "Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Project"}}},
 {"Sid":"ContextRequired","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:user/ExampleUser"},
  "Action":"kms:ReEncryptFrom","Resource":"*",
  "Condition":{"Null":{"kms:EncryptionContextKeys":"false"},
               "StringLike":{"kms:EncryptionContext:Project":"Alpha*"}}},
 {"Sid":"IgnoreCase","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:user/ExampleUser"},
  "Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringEqualsIgnoreCase":{"kms:EncryptionContext:Dept":"it"}}}]}"#;

/// Cross-account: account 444455556666 may use the key (its IAM policies decide who).
pub const CROSS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},
  "Action":"kms:*","Resource":"*"},
 {"Sid":"Allow an external account to use this KMS key","Effect":"Allow",
  "Principal":{"AWS":["arn:aws:iam::444455556666:root"]},
  "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*",
   "kms:DescribeKey"],"Resource":"*"},
 {"Sid":"A named external role","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::444455556666:role/Analyst"},
  "Action":"kms:CreateGrant","Resource":"*"}]}"#;

/// Explicit denies over the root's allow.
pub const DENY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},
  "Action":"kms:*","Resource":"*"},
 {"Sid":"Users","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}},
 {"Sid":"NoDeletion","Effect":"Deny","Principal":{"AWS":"*"},
  "Action":["kms:ScheduleKeyDeletion","kms:Delete*"],"Resource":"*"},
 {"Sid":"NotThroughTheWrongService","Effect":"Deny","Principal":"*","Action":"kms:Decrypt",
  "Resource":"*","Condition":{"StringNotEqualsIfExists":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}},
 {"Sid":"DenyBob","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},
  "Action":"kms:*","Resource":"*"}]}"#;

/// NotPrincipal with Deny: everyone but the admin (and its account), and NotAction.
pub const NOT: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
 {"Sid":"OnlyAdminAdministers","Effect":"Deny",
  "NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/Admin","arn:aws:iam::111122223333:root"]},
  "Action":"kms:PutKeyPolicy","Resource":"*"},
 {"Sid":"UsersEverythingButAdmin","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111122223333:user/ExampleUser"},
  "NotAction":["kms:Put*","kms:ScheduleKeyDeletion","kms:Disable*"],"Resource":"*"},
 {"Sid":"CarolForgotTheAccount","Effect":"Deny",
  "NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/Carol"},
  "Action":"kms:TagResource","Resource":"*"}]}"#;

/// Global and key-property condition keys.
pub const GLOBAL: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"FromTheOffice","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Encrypt",
  "Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]},
   "StringEquals":{"aws:PrincipalAccount":"111122223333"}}},
 {"Sid":"UntilEndOf2030","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt",
  "Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2031-01-01T00:00:00Z"},
   "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/App*"}}},
 {"Sid":"Epoch","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:GenerateDataKey",
  "Resource":"*","Condition":{"NumericLessThan":{"aws:EpochTime":"2000000000"},
   "StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT","kms:KeyUsage":"ENCRYPT_DECRYPT"}}},
 {"Sid":"ByAlias","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:DescribeKey",
  "Resource":"*","Condition":{"StringLike":{"kms:RequestAlias":"alias/finance*"}}},
 {"Sid":"ByResourceAlias","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "Action":"kms:GetKeyPolicy","Resource":"*",
  "Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/team-a"}}},
 {"Sid":"TaggedKeys","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:ListGrants",
  "Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/Project":"Alpha"}}},
 {"Sid":"GrantOnlyDecrypt","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "Action":"kms:CreateGrant","Resource":"*",
  "Condition":{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","RetireGrant"]}}},
 {"Sid":"ServicePrincipal","Effect":"Allow","Principal":{"Service":"ebs.amazonaws.com"},
  "Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"},
 {"Sid":"ArnResource","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Sign",
  "Resource":"arn:aws:kms:us-east-1:111122223333:key/other-*"}]}"#;

/// The identity policies of the table's principals.
pub const ID_USE_ALL_KEYS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey*"],"Resource":"*"}]}"#;
pub const ID_DESCRIBE_ONE_KEY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"kms:DescribeKey",
  "Resource":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}"#;
pub const ID_DENY_DECRYPT: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"kms:*","Resource":"*"},
 {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*",
  "Condition":{"Bool":{"aws:ViaAWSService":"false"}}},
 {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringNotEquals":{"kms:EncryptionContext:Team":"blue"}}}]}"#;
pub const ID_NOT_ACTION: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","NotAction":["kms:Decrypt","kms:ReEncrypt*"],"Resource":"*"}]}"#;
