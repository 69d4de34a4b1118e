//! The IAM subset: roles (trust policy, inline policies, attached managed policies, a
//! permissions boundary, tags), managed policies with their versions, and OpenID Connect
//! providers; plus the change counter (`iam_version`) every write bumps in its own
//! transaction, so nodes holding compiled policies in memory know when to reload them.
//!
//! Role names are unique ignoring case: callers pass the name, storage keys it by its
//! lower-case form. Policy documents and tag lists are text the identity crate owns.

use crate::db::{Conn, Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: String,
    /// `AROA…`.
    pub role_id: String,
    pub path: String,
    /// The trust (assume-role) policy document.
    pub trust_policy: String,
    pub description: Option<String>,
    /// Seconds.
    pub max_session_duration: i64,
    /// The managed policy ARN that bounds the role's permissions.
    pub boundary_arn: Option<String>,
    /// JSON owned by the identity crate.
    pub tags: String,
    pub created_at: EpochMillis,
}

/// A stored managed policy (without its versions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPolicyRecord {
    pub arn: String,
    pub name: String,
    /// `ANPA…`.
    pub policy_id: String,
    pub path: String,
    pub description: Option<String>,
    /// `v1`, `v2`, …
    pub default_version: String,
    /// The number the next version gets.
    pub next_version: i64,
    pub tags: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
    /// How many roles it is attached to (filled by reads).
    pub attachments: i64,
}

/// One version of a managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    pub arn: String,
    pub version_id: String,
    pub document: String,
    pub created_at: EpochMillis,
}

/// A stored OpenID Connect provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProviderRecord {
    pub arn: String,
    /// The issuer URL without its scheme, as IAM keeps it.
    pub url: String,
    /// JSON array of client ids (audiences).
    pub client_ids: String,
    /// JSON array of thumbprints.
    pub thumbprints: String,
    pub tags: String,
    pub created_at: EpochMillis,
}

/// Everything the policy cache compiles, read at one `version`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IamSnapshot {
    pub version: i64,
    pub roles: Vec<RoleRecord>,
    /// `(role name, policy name, document)`.
    pub role_policies: Vec<(String, String, String)>,
    /// `(role name, policy ARN)`.
    pub attachments: Vec<(String, String)>,
    /// Each managed policy with its default version's document.
    pub policies: Vec<(ManagedPolicyRecord, String)>,
    pub oidc_providers: Vec<OidcProviderRecord>,
}

/// Repository of the IAM subset.
#[derive(Debug)]
pub struct Iam<'s> {
    db: &'s Db,
}

const ROLE_COLUMNS: &str = "name, role_id, path, trust_policy, description, max_session_duration, \
                            boundary_arn, tags, created_at";
const POLICY_COLUMNS: &str = "iam_policies.arn, iam_policies.name, iam_policies.policy_id, \
     iam_policies.path, iam_policies.description, iam_policies.default_version, \
     iam_policies.next_version, iam_policies.tags, iam_policies.created_at, \
     iam_policies.updated_at, \
     (SELECT COUNT(*) FROM iam_role_attachments a WHERE a.policy_arn = iam_policies.arn) AS attachments";
const PROVIDER_COLUMNS: &str = "arn, url, client_ids, thumbprints, tags, created_at";

/// How often [`Iam::snapshot`] re-reads when a write lands between its first and last read.
const SNAPSHOT_ATTEMPTS: usize = 5;

fn key(name: &str) -> String {
    name.to_lowercase()
}

// === impl Iam ===

impl<'s> Iam<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// The change counter: grows with every IAM write.
    pub async fn version(&self) -> Result<i64, StorageError> {
        let mut lease = self.db.read().await?;
        version(&mut lease.conn()).await
    }

    /// Every role, policy and provider, consistent with one [`Iam::version`].
    pub async fn snapshot(&self) -> Result<IamSnapshot, StorageError> {
        for _ in 0..SNAPSHOT_ATTEMPTS {
            let mut lease = self.db.read().await?;
            let mut conn = lease.conn();
            let before = version(&mut conn).await?;
            let roles = conn
                .fetch_all(
                    format!("SELECT {ROLE_COLUMNS} FROM iam_roles ORDER BY name_key"),
                    args![],
                    decode_role,
                )
                .await?;
            let role_policies = conn
                .fetch_all(
                    "SELECT r.name, p.policy_name, p.document FROM iam_role_policies p
                     JOIN iam_roles r ON r.name_key = p.name_key
                     ORDER BY p.name_key, p.policy_name",
                    args![],
                    |row| {
                        Ok((
                            row.text("name")?,
                            row.text("policy_name")?,
                            row.text("document")?,
                        ))
                    },
                )
                .await?;
            let attachments = conn
                .fetch_all(
                    "SELECT r.name, a.policy_arn FROM iam_role_attachments a
                     JOIN iam_roles r ON r.name_key = a.name_key
                     ORDER BY a.name_key, a.policy_arn",
                    args![],
                    |row| Ok((row.text("name")?, row.text("policy_arn")?)),
                )
                .await?;
            let policies = conn
                .fetch_all(
                    format!(
                        "SELECT {POLICY_COLUMNS}, v.document AS document FROM iam_policies
                         JOIN iam_policy_versions v ON v.arn = iam_policies.arn
                          AND v.version_id = iam_policies.default_version
                         ORDER BY iam_policies.arn"
                    ),
                    args![],
                    |row| Ok((decode_policy(row)?, row.text("document")?)),
                )
                .await?;
            let oidc_providers = conn
                .fetch_all(
                    format!("SELECT {PROVIDER_COLUMNS} FROM iam_oidc_providers ORDER BY arn"),
                    args![],
                    decode_provider,
                )
                .await?;
            if version(&mut conn).await? == before {
                return Ok(IamSnapshot {
                    version: before,
                    roles,
                    role_policies,
                    attachments,
                    policies,
                    oidc_providers,
                });
            }
        }
        Err(StorageError::Busy)
    }

    // --- roles ---

    /// Creates a role; [`StorageError::Conflict`] when the name (in any case) is taken.
    pub async fn create_role(&self, role: &RoleRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO iam_roles (name_key, name, role_id, path, trust_policy, description,
                                    max_session_duration, boundary_arn, tags, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            args![
                &key(&role.name),
                &role.name,
                &role.role_id,
                &role.path,
                &role.trust_policy,
                &role.description,
                role.max_session_duration,
                &role.boundary_arn,
                &role.tags,
                role.created_at
            ],
        )
        .await
        .map_err(|e| e.on_conflict(format!("role `{}`", role.name)))?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    pub async fn get_role(&self, name: &str) -> Result<Option<RoleRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {ROLE_COLUMNS} FROM iam_roles WHERE name_key = $1"),
                args![&key(name)],
                decode_role,
            )
            .await
    }

    /// Roles whose path starts with `path_prefix`, in name order (ignoring case), `limit`
    /// at a time after the page key `after`.
    pub async fn list_roles(
        &self,
        path_prefix: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<RoleRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let roles = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {ROLE_COLUMNS} FROM iam_roles
                     WHERE name_key > $1 AND substr(path, 1, length($2)) = $2
                     ORDER BY name_key LIMIT $3"
                ),
                args![after.unwrap_or(""), path_prefix, fetch_limit(limit)],
                decode_role,
            )
            .await?;
        Ok(into_page(roles, limit, |r| key(&r.name)))
    }

    /// Replaces the role's mutable fields (trust policy, description, session duration,
    /// boundary, tags) with `role`'s; [`StorageError::NotFound`] without such a role.
    pub async fn update_role(&self, role: &RoleRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "UPDATE iam_roles SET trust_policy = $2, description = $3,
                        max_session_duration = $4, boundary_arn = $5, tags = $6
                 WHERE name_key = $1",
                args![
                    &key(&role.name),
                    &role.trust_policy,
                    &role.description,
                    role.max_session_duration,
                    &role.boundary_arn,
                    &role.tags
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("role `{}`", role.name)));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Deletes a role with no inline or attached policies left, as IAM requires:
    /// [`StorageError::Conflict`] while it has some.
    pub async fn delete_role(&self, name: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let name_key = key(name);
        let attached = conn
            .fetch_optional(
                "SELECT (SELECT COUNT(*) FROM iam_role_policies WHERE name_key = $1)
                      + (SELECT COUNT(*) FROM iam_role_attachments WHERE name_key = $1) AS n",
                args![&name_key],
                |row| row.int("n"),
            )
            .await?
            .unwrap_or(0);
        if attached > 0 {
            return Err(StorageError::conflict(format!("policies of role `{name}`")));
        }
        let changed = conn
            .execute(
                "DELETE FROM iam_roles WHERE name_key = $1",
                args![&name_key],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("role `{name}`")));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Sets (creates or replaces) an inline policy of a role.
    pub async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO iam_role_policies (name_key, policy_name, document) VALUES ($1, $2, $3)
             ON CONFLICT (name_key, policy_name) DO UPDATE SET document = excluded.document",
            args![&key(role), policy_name, document],
        )
        .await
        .map_err(|e| e.on_missing(format!("role `{role}`")))?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    pub async fn get_role_policy(
        &self,
        role: &str,
        policy_name: &str,
    ) -> Result<Option<String>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT document FROM iam_role_policies WHERE name_key = $1 AND policy_name = $2",
                args![&key(role), policy_name],
                |row| row.text("document"),
            )
            .await
    }

    /// The names of a role's inline policies, in order.
    pub async fn list_role_policies(&self, role: &str) -> Result<Vec<String>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT policy_name FROM iam_role_policies WHERE name_key = $1
                 ORDER BY policy_name",
                args![&key(role)],
                |row| row.text("policy_name"),
            )
            .await
    }

    /// Removes an inline policy; [`StorageError::NotFound`] when there is none by that name.
    pub async fn delete_role_policy(
        &self,
        role: &str,
        policy_name: &str,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "DELETE FROM iam_role_policies WHERE name_key = $1 AND policy_name = $2",
                args![&key(role), policy_name],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!(
                "policy `{policy_name}` of role `{role}`"
            )));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Attaches a managed policy (attaching twice is a no-op).
    pub async fn attach_role_policy(&self, role: &str, arn: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO iam_role_attachments (name_key, policy_arn) VALUES ($1, $2)
             ON CONFLICT (name_key, policy_arn) DO NOTHING",
            args![&key(role), arn],
        )
        .await
        .map_err(|e| e.on_missing(format!("role `{role}` or policy `{arn}`")))?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Detaches a managed policy; [`StorageError::NotFound`] when it was not attached.
    pub async fn detach_role_policy(&self, role: &str, arn: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "DELETE FROM iam_role_attachments WHERE name_key = $1 AND policy_arn = $2",
                args![&key(role), arn],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!(
                "policy `{arn}` attached to role `{role}`"
            )));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// The managed policies attached to a role: `(name, ARN)` in ARN order.
    pub async fn list_attached_role_policies(
        &self,
        role: &str,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT p.name, p.arn FROM iam_role_attachments a
                 JOIN iam_policies p ON p.arn = a.policy_arn
                 WHERE a.name_key = $1 ORDER BY p.arn",
                args![&key(role)],
                |row| Ok((row.text("name")?, row.text("arn")?)),
            )
            .await
    }

    // --- managed policies ---

    /// Creates a managed policy with its first version (`v1`, the default).
    pub async fn create_policy(
        &self,
        policy: &ManagedPolicyRecord,
        document: &str,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO iam_policies (arn, name, policy_id, path, description, default_version,
                                       next_version, tags, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            args![
                &policy.arn,
                &policy.name,
                &policy.policy_id,
                &policy.path,
                &policy.description,
                &policy.default_version,
                policy.next_version,
                &policy.tags,
                policy.created_at
            ],
        )
        .await
        .map_err(|e| e.on_conflict(format!("policy `{}`", policy.arn)))?;
        conn.execute(
            "INSERT INTO iam_policy_versions (arn, version_id, document, created_at)
             VALUES ($1, $2, $3, $4)",
            args![
                &policy.arn,
                &policy.default_version,
                document,
                policy.created_at
            ],
        )
        .await?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    pub async fn get_policy(&self, arn: &str) -> Result<Option<ManagedPolicyRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {POLICY_COLUMNS} FROM iam_policies WHERE arn = $1"),
                args![arn],
                decode_policy,
            )
            .await
    }

    /// Managed policies whose path starts with `path_prefix` (with `only_attached`, those
    /// attached to a role), in ARN order, `limit` at a time after the ARN `after`.
    pub async fn list_policies(
        &self,
        path_prefix: &str,
        only_attached: bool,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<ManagedPolicyRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let policies = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {POLICY_COLUMNS} FROM iam_policies
                     WHERE arn > $1 AND substr(path, 1, length($2)) = $2
                       AND (NOT $3 OR EXISTS (SELECT 1 FROM iam_role_attachments b
                                              WHERE b.policy_arn = iam_policies.arn))
                     ORDER BY arn LIMIT $4"
                ),
                args![
                    after.unwrap_or(""),
                    path_prefix,
                    only_attached,
                    fetch_limit(limit)
                ],
                decode_policy,
            )
            .await?;
        Ok(into_page(policies, limit, |p| p.arn.clone()))
    }

    /// Adds a version (named `v{next_version}`), optionally making it the default, keeping
    /// at most `max_versions`: [`StorageError::Conflict`] when the policy has that many.
    /// Returns the new version id.
    pub async fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_default: bool,
        max_versions: i64,
        now: EpochMillis,
    ) -> Result<String, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let (next, count) = conn
            .fetch_optional(
                "SELECT next_version,
                        (SELECT COUNT(*) FROM iam_policy_versions v WHERE v.arn = $1) AS n
                 FROM iam_policies WHERE arn = $1",
                args![arn],
                |row| Ok((row.int("next_version")?, row.int("n")?)),
            )
            .await?
            .ok_or_else(|| StorageError::not_found(format!("policy `{arn}`")))?;
        if count >= max_versions {
            return Err(StorageError::conflict(format!(
                "versions of policy `{arn}`"
            )));
        }
        let version_id = format!("v{next}");
        conn.execute(
            "INSERT INTO iam_policy_versions (arn, version_id, document, created_at)
             VALUES ($1, $2, $3, $4)",
            args![arn, &version_id, document, now],
        )
        .await?;
        conn.execute(
            "UPDATE iam_policies SET next_version = next_version + 1, updated_at = $2,
                    default_version = CASE WHEN $3 THEN $4 ELSE default_version END
             WHERE arn = $1",
            args![arn, now, set_default, &version_id],
        )
        .await?;
        bump(&mut conn).await?;
        tx.commit().await?;
        Ok(version_id)
    }

    pub async fn get_policy_version(
        &self,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<PolicyVersionRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT arn, version_id, document, created_at FROM iam_policy_versions
                 WHERE arn = $1 AND version_id = $2",
                args![arn, version_id],
                decode_version,
            )
            .await
    }

    /// A policy's versions, newest first.
    pub async fn list_policy_versions(
        &self,
        arn: &str,
    ) -> Result<Vec<PolicyVersionRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT arn, version_id, document, created_at FROM iam_policy_versions
                 WHERE arn = $1 ORDER BY created_at DESC, version_id DESC",
                args![arn],
                decode_version,
            )
            .await
    }

    /// Deletes a managed policy and its versions: [`StorageError::Conflict`] while it is
    /// attached to a role or is a role's permissions boundary, as IAM refuses.
    pub async fn delete_policy(&self, arn: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let in_use = conn
            .fetch_optional(
                "SELECT (SELECT COUNT(*) FROM iam_role_attachments WHERE policy_arn = $1)
                      + (SELECT COUNT(*) FROM iam_roles WHERE boundary_arn = $1) AS n",
                args![arn],
                |row| row.int("n"),
            )
            .await?
            .unwrap_or(0);
        if in_use > 0 {
            return Err(StorageError::conflict(format!(
                "attachments of policy `{arn}`"
            )));
        }
        let changed = conn
            .execute("DELETE FROM iam_policies WHERE arn = $1", args![arn])
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("policy `{arn}`")));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    // --- OpenID Connect providers ---

    pub async fn create_oidc_provider(
        &self,
        provider: &OidcProviderRecord,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO iam_oidc_providers (arn, url, client_ids, thumbprints, tags, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                &provider.arn,
                &provider.url,
                &provider.client_ids,
                &provider.thumbprints,
                &provider.tags,
                provider.created_at
            ],
        )
        .await
        .map_err(|e| e.on_conflict(format!("provider `{}`", provider.arn)))?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    pub async fn get_oidc_provider(
        &self,
        arn: &str,
    ) -> Result<Option<OidcProviderRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {PROVIDER_COLUMNS} FROM iam_oidc_providers WHERE arn = $1"),
                args![arn],
                decode_provider,
            )
            .await
    }

    pub async fn list_oidc_providers(&self) -> Result<Vec<OidcProviderRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!("SELECT {PROVIDER_COLUMNS} FROM iam_oidc_providers ORDER BY arn"),
                args![],
                decode_provider,
            )
            .await
    }

    pub async fn delete_oidc_provider(&self, arn: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute("DELETE FROM iam_oidc_providers WHERE arn = $1", args![arn])
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("provider `{arn}`")));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }
}

async fn version(conn: &mut Conn<'_>) -> Result<i64, StorageError> {
    conn.fetch_optional(
        "SELECT version FROM iam_version WHERE id = 1",
        args![],
        |row| row.int("version"),
    )
    .await?
    .ok_or_else(|| StorageError::corrupt("iam_version has no row"))
}

/// Moves the change counter on, inside the writer's transaction.
async fn bump(conn: &mut Conn<'_>) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE iam_version SET version = version + 1 WHERE id = 1",
        args![],
    )
    .await?;
    Ok(())
}

fn decode_role(row: &dyn DbRow) -> Result<RoleRecord, StorageError> {
    Ok(RoleRecord {
        name: row.text("name")?,
        role_id: row.text("role_id")?,
        path: row.text("path")?,
        trust_policy: row.text("trust_policy")?,
        description: row.opt_text("description")?,
        max_session_duration: row.int("max_session_duration")?,
        boundary_arn: row.opt_text("boundary_arn")?,
        tags: row.text("tags")?,
        created_at: row.int("created_at")?,
    })
}

fn decode_policy(row: &dyn DbRow) -> Result<ManagedPolicyRecord, StorageError> {
    Ok(ManagedPolicyRecord {
        arn: row.text("arn")?,
        name: row.text("name")?,
        policy_id: row.text("policy_id")?,
        path: row.text("path")?,
        description: row.opt_text("description")?,
        default_version: row.text("default_version")?,
        next_version: row.int("next_version")?,
        tags: row.text("tags")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        attachments: row.int("attachments")?,
    })
}

fn decode_version(row: &dyn DbRow) -> Result<PolicyVersionRecord, StorageError> {
    Ok(PolicyVersionRecord {
        arn: row.text("arn")?,
        version_id: row.text("version_id")?,
        document: row.text("document")?,
        created_at: row.int("created_at")?,
    })
}

fn decode_provider(row: &dyn DbRow) -> Result<OidcProviderRecord, StorageError> {
    Ok(OidcProviderRecord {
        arn: row.text("arn")?,
        url: row.text("url")?,
        client_ids: row.text("client_ids")?,
        thumbprints: row.text("thumbprints")?,
        tags: row.text("tags")?,
        created_at: row.int("created_at")?,
    })
}
