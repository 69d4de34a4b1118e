//! Managed policies: CreatePolicy, GetPolicy, CreatePolicyVersion, GetPolicyVersion,
//! ListPolicyVersions, ListPolicies, DeletePolicy. Documents are validated by the policy
//! engine on write; a policy keeps at most [`MAX_POLICY_VERSIONS`] versions, as IAM.

use std::time::SystemTime;

use gatehouse_storage::{ManagedPolicyRecord, PolicyVersionRecord, StorageError};

use super::documents::{
    DocumentKind, Tag, check_name, check_path, check_policy, check_tags, tags_from_json, tags_json,
};
use super::{Iam, IamError, Listing};
use crate::ids;
use crate::time::{from_unix_millis, unix_millis};

/// Most versions one managed policy keeps (IAM's quota).
pub const MAX_POLICY_VERSIONS: i64 = 5;

/// A managed policy as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    pub policy_id: String,
    pub path: String,
    pub description: Option<String>,
    pub default_version: String,
    pub attachment_count: i64,
    pub tags: Vec<Tag>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    pub is_default: bool,
    pub created_at: SystemTime,
}

fn no_such_policy(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

fn from_record(r: ManagedPolicyRecord) -> ManagedPolicy {
    ManagedPolicy {
        tags: tags_from_json(&r.tags),
        arn: r.arn,
        name: r.name,
        policy_id: r.policy_id,
        path: r.path,
        description: r.description,
        default_version: r.default_version,
        attachment_count: r.attachments,
        created_at: from_unix_millis(r.created_at),
        updated_at: from_unix_millis(r.updated_at),
    }
}

impl Iam {
    async fn policy_record(&self, arn: &str) -> Result<ManagedPolicyRecord, IamError> {
        self.store()
            .iam()
            .get_policy(arn)
            .await?
            .ok_or_else(|| no_such_policy(arn))
    }

    /// CreatePolicy.
    pub async fn create_policy(
        &self,
        name: &str,
        path: Option<String>,
        document: &str,
        description: Option<String>,
        tags: Vec<Tag>,
    ) -> Result<ManagedPolicy, IamError> {
        check_name("policyName", name, 128)?;
        let path = path.unwrap_or_else(|| "/".into());
        check_path(&path)?;
        check_policy(document, DocumentKind::Managed)?;
        check_tags(&tags)?;
        let now = unix_millis(self.now());
        let arn = self.policy_arn(&path, name);
        let record = ManagedPolicyRecord {
            arn: arn.clone(),
            name: name.to_owned(),
            policy_id: ids::iam_unique_id("ANPA"),
            path,
            description,
            default_version: "v1".into(),
            next_version: 2,
            tags: tags_json(&tags),
            created_at: now,
            updated_at: now,
            attachments: 0,
        };
        match self.store().iam().create_policy(&record, document).await {
            Ok(()) => {}
            Err(StorageError::Conflict { .. }) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await?;
        Ok(from_record(record))
    }

    /// GetPolicy.
    pub async fn get_policy(&self, arn: &str) -> Result<ManagedPolicy, IamError> {
        Ok(from_record(self.policy_record(arn).await?))
    }

    /// ListPolicies: this account's managed policies whose path starts with `path_prefix`;
    /// with `only_attached`, those attached to a role; at most `max_items` (see
    /// [`super::max_items`]) after `marker`.
    pub async fn list_policies(
        &self,
        path_prefix: &str,
        only_attached: bool,
        max_items: Option<i64>,
        marker: Option<&str>,
    ) -> Result<Listing<ManagedPolicy>, IamError> {
        let limit = super::max_items(max_items)?;
        let page = self
            .store()
            .iam()
            .list_policies(path_prefix, only_attached, limit, marker)
            .await?;
        Ok(Listing {
            items: page.items.into_iter().map(from_record).collect(),
            marker: page.next,
        })
    }

    /// CreatePolicyVersion.
    pub async fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion, IamError> {
        check_policy(document, DocumentKind::Managed)?;
        let now = self.now();
        let version_id = match self
            .store()
            .iam()
            .create_policy_version(
                arn,
                document,
                set_as_default,
                MAX_POLICY_VERSIONS,
                unix_millis(now),
            )
            .await
        {
            Ok(id) => id,
            Err(StorageError::NotFound { .. }) => return Err(no_such_policy(arn)),
            Err(StorageError::Conflict { .. }) => {
                return Err(IamError::LimitExceeded(format!(
                    "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                )));
            }
            Err(e) => return Err(e.into()),
        };
        self.rebuild().await?;
        Ok(PolicyVersion {
            version_id,
            document: document.to_owned(),
            is_default: set_as_default,
            created_at: now,
        })
    }

    fn version_of(record: PolicyVersionRecord, default: &str) -> PolicyVersion {
        PolicyVersion {
            is_default: record.version_id == default,
            version_id: record.version_id,
            document: record.document,
            created_at: from_unix_millis(record.created_at),
        }
    }

    /// GetPolicyVersion.
    pub async fn get_policy_version(
        &self,
        arn: &str,
        version_id: &str,
    ) -> Result<PolicyVersion, IamError> {
        let policy = self.policy_record(arn).await?;
        let record = self
            .store()
            .iam()
            .get_policy_version(arn, version_id)
            .await?
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "Policy {arn} version {version_id} does not exist or is not attachable."
                ))
            })?;
        Ok(Self::version_of(record, &policy.default_version))
    }

    /// ListPolicyVersions, newest first.
    pub async fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>, IamError> {
        let policy = self.policy_record(arn).await?;
        Ok(self
            .store()
            .iam()
            .list_policy_versions(arn)
            .await?
            .into_iter()
            .map(|v| Self::version_of(v, &policy.default_version))
            .collect())
    }

    /// DeletePolicy: refused while it is attached to a role or bounds one.
    pub async fn delete_policy(&self, arn: &str) -> Result<(), IamError> {
        match self.store().iam().delete_policy(arn).await {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => return Err(no_such_policy(arn)),
            Err(StorageError::Conflict { .. }) => {
                return Err(IamError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }
}
