//! Group operations: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
//! AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup.

use gatehouse_storage::{GroupRecord, StorageError};

use super::attributes::user_from_record;
use super::pools::{MAX_PAGE, decode_token, encode_token, not_found_as, page_size};
use super::{Group, Page, User, UserPoolError, UserPools};
use crate::time::{from_unix_millis, unix_millis};

/// The changes of UpdateGroup: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    /// New description.
    pub description: Option<String>,
    /// New precedence.
    pub precedence: Option<i64>,
    /// New role ARN.
    pub role_arn: Option<String>,
}

pub(crate) fn group_from_record(r: GroupRecord) -> Group {
    Group {
        pool_id: r.pool_id,
        name: r.name,
        description: r.description,
        precedence: r.precedence,
        role_arn: r.role_arn,
        created_at: from_unix_millis(r.created_at),
        updated_at: from_unix_millis(r.updated_at),
    }
}

fn group_not_found(name: &str) -> UserPoolError {
    UserPoolError::ResourceNotFound(format!("Group {name} not found."))
}

fn check_group(
    name: &str,
    description: Option<&str>,
    precedence: Option<i64>,
    role_arn: Option<&str>,
) -> Result<(), UserPoolError> {
    let len = name.chars().count();
    if !(1..=128).contains(&len) || name.chars().any(char::is_control) {
        return Err(UserPoolError::invalid(format!(
            "group name `{name}` must be 1 to 128 characters"
        )));
    }
    if description.is_some_and(|d| d.chars().count() > 2048) {
        return Err(UserPoolError::invalid(
            "description must be at most 2048 characters",
        ));
    }
    if precedence.is_some_and(|p| !(0..=i64::from(i32::MAX)).contains(&p)) {
        return Err(UserPoolError::invalid(
            "precedence must be between 0 and 2147483647",
        ));
    }
    if let Some(arn) = role_arn
        && (!(20..=2048).contains(&arn.len())
            || !arn.starts_with("arn:")
            || arn.split(':').count() < 6)
    {
        return Err(UserPoolError::invalid(format!(
            "role ARN `{arn}` is not a valid ARN"
        )));
    }
    Ok(())
}

impl UserPools {
    /// CreateGroup.
    pub async fn create_group(
        &self,
        pool_id: &str,
        name: &str,
        description: Option<String>,
        precedence: Option<i64>,
        role_arn: Option<String>,
    ) -> Result<Group, UserPoolError> {
        check_group(
            name,
            description.as_deref(),
            precedence,
            role_arn.as_deref(),
        )?;
        self.user_pool(pool_id).await?;
        let now = unix_millis(self.now());
        let record = GroupRecord {
            pool_id: pool_id.to_owned(),
            name: name.to_owned(),
            description,
            precedence,
            role_arn,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .groups()
            .create(&record)
            .await
            .map_err(|e| match e {
                StorageError::Conflict { .. } => {
                    UserPoolError::GroupExists("A group with the name already exists.".into())
                }
                other => not_found_as(other, || super::pools::pool_not_found(pool_id)),
            })?;
        Ok(group_from_record(record))
    }

    /// GetGroup.
    pub async fn get_group(&self, pool_id: &str, name: &str) -> Result<Group, UserPoolError> {
        self.user_pool(pool_id).await?;
        self.store()
            .groups()
            .get(pool_id, name)
            .await?
            .map(group_from_record)
            .ok_or_else(|| group_not_found(name))
    }

    /// ListGroups: `limit` 1..=60 (default 60), in name order.
    pub async fn list_groups(
        &self,
        pool_id: &str,
        limit: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<Page<Group>, UserPoolError> {
        let limit = page_size(limit, MAX_PAGE, "limit")?;
        self.user_pool(pool_id).await?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .store()
            .groups()
            .list(pool_id, limit, after.as_deref())
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(group_from_record).collect(),
            next: page.next.as_deref().map(encode_token),
        })
    }

    /// UpdateGroup: only the given fields change.
    pub async fn update_group(
        &self,
        pool_id: &str,
        name: &str,
        update: GroupUpdate,
    ) -> Result<Group, UserPoolError> {
        let current = self.get_group(pool_id, name).await?;
        check_group(
            name,
            update.description.as_deref(),
            update.precedence,
            update.role_arn.as_deref(),
        )?;
        let record = GroupRecord {
            pool_id: pool_id.to_owned(),
            name: name.to_owned(),
            description: update.description.or(current.description),
            precedence: update.precedence.or(current.precedence),
            role_arn: update.role_arn.or(current.role_arn),
            created_at: unix_millis(current.created_at),
            updated_at: unix_millis(self.now()),
        };
        self.store()
            .groups()
            .update(&record)
            .await
            .map_err(|e| not_found_as(e, || group_not_found(name)))?;
        Ok(group_from_record(record))
    }

    /// DeleteGroup (memberships go with it; users stay).
    pub async fn delete_group(&self, pool_id: &str, name: &str) -> Result<(), UserPoolError> {
        self.user_pool(pool_id).await?;
        self.store()
            .groups()
            .delete(pool_id, name)
            .await
            .map_err(|e| not_found_as(e, || group_not_found(name)))
    }

    /// AdminAddUserToGroup (adding a member twice is not an error).
    pub async fn admin_add_user_to_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        self.get_group(pool_id, group).await?;
        let user = self.require_user(&pool, username).await?;
        self.store()
            .groups()
            .add_member(pool_id, group, &user.sub)
            .await
            .map_err(|e| not_found_as(e, || group_not_found(group)))?;
        Ok(())
    }

    /// AdminRemoveUserFromGroup (removing a non-member is not an error).
    pub async fn admin_remove_user_from_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        self.get_group(pool_id, group).await?;
        let user = self.require_user(&pool, username).await?;
        self.store()
            .groups()
            .remove_member(pool_id, group, &user.sub)
            .await?;
        Ok(())
    }

    /// AdminListGroupsForUser: `limit` 1..=60, in name order.
    pub async fn admin_list_groups_for_user(
        &self,
        pool_id: &str,
        username: &str,
        limit: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<Page<Group>, UserPoolError> {
        let limit = page_size(limit, MAX_PAGE, "limit")?;
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .store()
            .groups()
            .for_user(pool_id, &user.sub, limit, after.as_deref())
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(group_from_record).collect(),
            next: page.next.as_deref().map(encode_token),
        })
    }

    /// ListUsersInGroup: `limit` 1..=60, in username order.
    pub async fn list_users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        limit: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<Page<User>, UserPoolError> {
        let limit = page_size(limit, MAX_PAGE, "limit")?;
        self.get_group(pool_id, group).await?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .store()
            .groups()
            .members(pool_id, group, limit, after.as_deref())
            .await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(user_from_record)
                .collect::<Result<_, _>>()?,
            next: page.next.as_deref().map(encode_token),
        })
    }
}
