//! Roles: CreateRole, GetRole, ListRoles, UpdateAssumeRolePolicy, DeleteRole, the inline
//! policies (PutRolePolicy, GetRolePolicy, ListRolePolicies, DeleteRolePolicy), attached
//! managed policies (AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies), the
//! permissions boundary and tags. Every write rebuilds this node's compiled view.

use std::time::SystemTime;

use gatehouse_storage::{RoleRecord, StorageError};

use super::documents::{
    DocumentKind, Tag, check_name, check_path, check_policy, check_tags, merge_tags,
    tags_from_json, tags_json,
};
use super::{Iam, IamError, Listing};
use crate::ids;
use crate::time::{from_unix_millis, unix_millis};

/// A role's session length when CreateRole names none (one hour).
pub const DEFAULT_MAX_SESSION_SECS: i64 = 3600;
/// The range IAM allows for `MaxSessionDuration` (one to twelve hours).
const SESSION_RANGE: std::ops::RangeInclusive<i64> = 3600..=43_200;

/// What CreateRole asks for.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    pub name: String,
    /// `/` when `None`.
    pub path: Option<String>,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
}

/// A role as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub arn: String,
    pub role_id: String,
    pub path: String,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
    pub created_at: SystemTime,
}

fn no_such_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

impl Iam {
    fn role_from_record(&self, r: RoleRecord) -> Role {
        Role {
            arn: self.role_arn(&r.path, &r.name),
            name: r.name,
            role_id: r.role_id,
            path: r.path,
            trust_policy: r.trust_policy,
            description: r.description,
            max_session_duration: r.max_session_duration,
            permissions_boundary: r.boundary_arn,
            tags: tags_from_json(&r.tags),
            created_at: from_unix_millis(r.created_at),
        }
    }

    async fn role_record(&self, name: &str) -> Result<RoleRecord, IamError> {
        self.store()
            .iam()
            .get_role(name)
            .await?
            .ok_or_else(|| no_such_role(name))
    }

    async fn check_boundary(&self, arn: &str) -> Result<(), IamError> {
        match self.store().iam().get_policy(arn).await? {
            Some(_) => Ok(()),
            None => Err(IamError::NoSuchEntity(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            ))),
        }
    }

    /// CreateRole.
    pub async fn create_role(&self, new: NewRole) -> Result<Role, IamError> {
        check_name("roleName", &new.name, 64)?;
        let path = new.path.unwrap_or_else(|| "/".into());
        check_path(&path)?;
        check_policy(&new.trust_policy, DocumentKind::Trust)?;
        check_tags(&new.tags)?;
        let max_session_duration = new.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION_SECS);
        if !SESSION_RANGE.contains(&max_session_duration) {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{max_session_duration}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
            )));
        }
        if let Some(description) = &new.description
            && description.chars().count() > 1000
        {
            return Err(IamError::Validation(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000".into(),
            ));
        }
        if let Some(arn) = &new.permissions_boundary {
            self.check_boundary(arn).await?;
        }
        let record = RoleRecord {
            name: new.name.clone(),
            role_id: ids::iam_unique_id("AROA"),
            path,
            trust_policy: new.trust_policy,
            description: new.description,
            max_session_duration,
            boundary_arn: new.permissions_boundary,
            tags: tags_json(&new.tags),
            created_at: unix_millis(self.now()),
        };
        match self.store().iam().create_role(&record).await {
            Ok(()) => {}
            Err(StorageError::Conflict { .. }) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Role with name {} already exists.",
                    new.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await?;
        Ok(self.role_from_record(record))
    }

    /// GetRole.
    pub async fn get_role(&self, name: &str) -> Result<Role, IamError> {
        let record = self.role_record(name).await?;
        Ok(self.role_from_record(record))
    }

    /// ListRoles: roles whose path starts with `path_prefix` (every role for `/`), at most
    /// `max_items` (see [`super::max_items`]) after `marker`.
    pub async fn list_roles(
        &self,
        path_prefix: &str,
        max_items: Option<i64>,
        marker: Option<&str>,
    ) -> Result<Listing<Role>, IamError> {
        let limit = super::max_items(max_items)?;
        let page = self
            .store()
            .iam()
            .list_roles(path_prefix, limit, marker)
            .await?;
        Ok(Listing {
            items: page
                .items
                .into_iter()
                .map(|r| self.role_from_record(r))
                .collect(),
            marker: page.next,
        })
    }

    async fn update_role_with(
        &self,
        name: &str,
        change: impl FnOnce(&mut RoleRecord),
    ) -> Result<(), IamError> {
        let mut record = self.role_record(name).await?;
        change(&mut record);
        match self.store().iam().update_role(&record).await {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => return Err(no_such_role(name)),
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }

    /// UpdateAssumeRolePolicy.
    pub async fn update_assume_role_policy(
        &self,
        name: &str,
        document: String,
    ) -> Result<(), IamError> {
        check_policy(&document, DocumentKind::Trust)?;
        self.update_role_with(name, |r| r.trust_policy = document)
            .await
    }

    /// PutRolePermissionsBoundary.
    pub async fn put_role_permissions_boundary(
        &self,
        name: &str,
        arn: String,
    ) -> Result<(), IamError> {
        self.check_boundary(&arn).await?;
        self.update_role_with(name, |r| r.boundary_arn = Some(arn))
            .await
    }

    /// DeleteRolePermissionsBoundary.
    pub async fn delete_role_permissions_boundary(&self, name: &str) -> Result<(), IamError> {
        self.update_role_with(name, |r| r.boundary_arn = None).await
    }

    /// TagRole.
    pub async fn tag_role(&self, name: &str, tags: Vec<Tag>) -> Result<(), IamError> {
        let mut current = tags_from_json(&self.role_record(name).await?.tags);
        merge_tags(&mut current, tags);
        check_tags(&current)?;
        self.update_role_with(name, |r| r.tags = tags_json(&current))
            .await
    }

    /// UntagRole.
    pub async fn untag_role(&self, name: &str, keys: &[String]) -> Result<(), IamError> {
        let mut current = tags_from_json(&self.role_record(name).await?.tags);
        current.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
        self.update_role_with(name, |r| r.tags = tags_json(&current))
            .await
    }

    /// ListRoleTags.
    pub async fn list_role_tags(&self, name: &str) -> Result<Vec<Tag>, IamError> {
        Ok(tags_from_json(&self.role_record(name).await?.tags))
    }

    /// DeleteRole: refused while the role has inline or attached policies, as IAM does.
    pub async fn delete_role(&self, name: &str) -> Result<(), IamError> {
        match self.store().iam().delete_role(name).await {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => return Err(no_such_role(name)),
            Err(StorageError::Conflict { .. }) => {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }

    // --- inline policies ---

    /// PutRolePolicy.
    pub async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        check_name("policyName", policy_name, 128)?;
        check_policy(document, DocumentKind::Inline)?;
        match self
            .store()
            .iam()
            .put_role_policy(role, policy_name, document)
            .await
        {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => return Err(no_such_role(role)),
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }

    /// GetRolePolicy: the document as stored.
    pub async fn get_role_policy(&self, role: &str, policy_name: &str) -> Result<String, IamError> {
        let record = self.role_record(role).await?;
        self.store()
            .iam()
            .get_role_policy(&record.name, policy_name)
            .await?
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "The role policy with name {policy_name} cannot be found."
                ))
            })
    }

    /// ListRolePolicies.
    pub async fn list_role_policies(&self, role: &str) -> Result<Vec<String>, IamError> {
        let record = self.role_record(role).await?;
        Ok(self.store().iam().list_role_policies(&record.name).await?)
    }

    /// DeleteRolePolicy.
    pub async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), IamError> {
        self.role_record(role).await?;
        match self
            .store()
            .iam()
            .delete_role_policy(role, policy_name)
            .await
        {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => {
                return Err(IamError::NoSuchEntity(format!(
                    "The role policy with name {policy_name} cannot be found."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }

    // --- attached managed policies ---

    /// AttachRolePolicy.
    pub async fn attach_role_policy(&self, role: &str, arn: &str) -> Result<(), IamError> {
        self.role_record(role).await?;
        if self.store().iam().get_policy(arn).await?.is_none() {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        match self.store().iam().attach_role_policy(role, arn).await {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => return Err(no_such_role(role)),
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }

    /// DetachRolePolicy.
    pub async fn detach_role_policy(&self, role: &str, arn: &str) -> Result<(), IamError> {
        self.role_record(role).await?;
        match self.store().iam().detach_role_policy(role, arn).await {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }

    /// ListAttachedRolePolicies: `(name, ARN)` pairs.
    pub async fn list_attached_role_policies(
        &self,
        role: &str,
    ) -> Result<Vec<(String, String)>, IamError> {
        let record = self.role_record(role).await?;
        Ok(self
            .store()
            .iam()
            .list_attached_role_policies(&record.name)
            .await?)
    }
}
