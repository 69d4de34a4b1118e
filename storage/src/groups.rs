//! Groups of a pool and their members.

use crate::db::{Db, DbRow, args};
use crate::users::{self, UserRecord};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    pub pool_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Lower wins when a user's groups carry different roles.
    pub precedence: Option<i64>,
    pub role_arn: Option<String>,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// Repository of groups and memberships.
#[derive(Debug)]
pub struct Groups<'s> {
    db: &'s Db,
}

const COLUMNS: &str =
    "g.pool_id, g.name, g.description, g.precedence, g.role_arn, g.created_at, g.updated_at";

impl<'s> Groups<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// [`StorageError::Conflict`] if the pool already has a group of that name,
    /// [`StorageError::NotFound`] if the pool is missing.
    pub async fn create(&self, group: &GroupRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "INSERT INTO user_groups (pool_id, name, description, precedence, role_arn,
                                          created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![
                    &group.pool_id,
                    &group.name,
                    &group.description,
                    group.precedence,
                    &group.role_arn,
                    group.created_at,
                    group.updated_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("group `{}`", group.name))
                    .on_missing(format!("user pool `{}`", group.pool_id))
            })?;
        tx.commit().await
    }

    pub async fn get(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<Option<GroupRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM user_groups g WHERE g.pool_id = $1 AND g.name = $2"),
                args![pool_id, name],
                decode,
            )
            .await
    }

    /// The pool's groups in name order, after the name `after`.
    pub async fn list(
        &self,
        pool_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<GroupRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM user_groups g WHERE g.pool_id = $1 AND g.name > $2
                     ORDER BY g.name LIMIT $3"
                ),
                args![pool_id, after.unwrap_or(""), fetch_limit(limit)],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |group| group.name.clone()))
    }

    /// Replaces description, precedence, role and `updated_at` (the key is pool and name).
    pub async fn update(&self, group: &GroupRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_groups SET description = $3, precedence = $4, role_arn = $5,
                                        updated_at = $6
                 WHERE pool_id = $1 AND name = $2",
                args![
                    &group.pool_id,
                    &group.name,
                    &group.description,
                    group.precedence,
                    &group.role_arn,
                    group.updated_at,
                ],
            )
            .await?;
        if changed == 0 {
            return Err(group_not_found(&group.name));
        }
        tx.commit().await
    }

    /// Deletes the group and its memberships (the users stay).
    pub async fn delete(&self, pool_id: &str, name: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "DELETE FROM user_groups WHERE pool_id = $1 AND name = $2",
                args![pool_id, name],
            )
            .await?;
        if changed == 0 {
            return Err(group_not_found(name));
        }
        tx.commit().await
    }

    /// Adds the user to the group; `Ok(false)` if it already was a member.
    /// [`StorageError::NotFound`] if the group or the user is not in this pool.
    pub async fn add_member(
        &self,
        pool_id: &str,
        group: &str,
        sub: &str,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.fetch_optional(
            "SELECT name FROM user_groups WHERE pool_id = $1 AND name = $2",
            args![pool_id, group],
            |row| row.text("name"),
        )
        .await?
        .ok_or_else(|| group_not_found(group))?;
        let username = conn
            .fetch_optional(
                "SELECT username FROM users WHERE pool_id = $1 AND sub = $2",
                args![pool_id, sub],
                |row| row.text("username"),
            )
            .await?
            .ok_or_else(|| StorageError::not_found(format!("user `{sub}`")))?;
        let added = conn
            .execute(
                "INSERT INTO group_members (pool_id, group_name, username, sub)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                args![pool_id, group, &username, sub],
            )
            .await?;
        tx.commit().await?;
        Ok(added > 0)
    }

    /// Removes the user from the group; `Ok(false)` if it was not a member.
    pub async fn remove_member(
        &self,
        pool_id: &str,
        group: &str,
        sub: &str,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let removed = tx
            .conn()
            .execute(
                "DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND sub = $3",
                args![pool_id, group, sub],
            )
            .await?;
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// The group's members in username order, after the username `after`.
    pub async fn members(
        &self,
        pool_id: &str,
        group: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<UserRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {} FROM group_members m JOIN users u ON u.sub = m.sub
                     WHERE m.pool_id = $1 AND m.group_name = $2 AND m.username > $3
                     ORDER BY m.username LIMIT $4",
                    users::COLUMNS
                ),
                args![pool_id, group, after.unwrap_or(""), fetch_limit(limit)],
                users::decode,
            )
            .await?;
        Ok(into_page(rows, limit, |user| user.username.clone()))
    }

    /// The user's groups in name order, after the name `after`.
    pub async fn for_user(
        &self,
        pool_id: &str,
        sub: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<GroupRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM group_members m
                     JOIN user_groups g ON g.pool_id = m.pool_id AND g.name = m.group_name
                     WHERE m.sub = $1 AND m.pool_id = $2 AND m.group_name > $3
                     ORDER BY m.group_name LIMIT $4"
                ),
                args![sub, pool_id, after.unwrap_or(""), fetch_limit(limit)],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |group| group.name.clone()))
    }
}

fn group_not_found(name: &str) -> StorageError {
    StorageError::not_found(format!("group `{name}`"))
}

fn decode(row: &dyn DbRow) -> Result<GroupRecord, StorageError> {
    Ok(GroupRecord {
        pool_id: row.text("pool_id")?,
        name: row.text("name")?,
        description: row.opt_text("description")?,
        precedence: row.opt_int("precedence")?,
        role_arn: row.opt_text("role_arn")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
