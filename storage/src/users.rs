//! Users of a pool: the user row (status, password hash, attributes as JSON), the alias
//! rows that make an email or phone number identify one user, the search rows behind
//! ListUsers filters, and keyset-paginated listing.

use std::collections::BTreeMap;

use crate::db::{Arg, Conn, Db, DbRow, args};
use crate::{Backend, EpochMillis, StorageError, fetch_limit};

/// The standard attributes that ListUsers can filter on besides username, sub, status and
/// enabled (Cognito's list). Storage keeps a search row for each one a user has, unless
/// the value is longer than [`MAX_INDEXED_VALUE_BYTES`].
pub const SEARCHABLE_ATTRIBUTES: &[&str] = &[
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
];

/// Longer values are neither searchable nor allowed as aliases: PostgreSQL cannot index
/// arbitrarily long keys, and storage behaves the same on both backends.
pub const MAX_INDEXED_VALUE_BYTES: usize = 1024;

/// A value that must identify exactly one user in its pool, e.g. (`email`, `a@example.com`)
/// when email is an alias or the username attribute. The identity crate decides which
/// values are aliases (for instance only verified ones); storage enforces uniqueness.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Alias {
    pub name: String,
    pub value: String,
}

/// What [`Users::create`] writes.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub pool_id: String,
    /// The user's key: a UUID chosen by the caller, unique across pools.
    pub sub: String,
    pub username: String,
    /// The form of the username that names the user, unique in the pool: the username
    /// folded to lower case where the pool ignores case, else the username itself. The
    /// caller decides; [`Users::get_by_key`] finds the user by it.
    pub username_key: String,
    /// The Cognito user status (`UNCONFIRMED`, `CONFIRMED`, …), not interpreted here.
    pub status: String,
    pub enabled: bool,
    /// A PHC-format password hash; `None` for users without a password (federated).
    pub password_hash: Option<String>,
    /// The SRP verifier of the same password, sealed by the caller.
    pub srp_verifier: Option<Vec<u8>>,
    pub attributes: BTreeMap<String, String>,
    pub aliases: Vec<Alias>,
    pub created_at: EpochMillis,
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub pool_id: String,
    pub sub: String,
    pub username: String,
    pub status: String,
    pub enabled: bool,
    pub password_hash: Option<String>,
    /// The sealed SRP verifier of the password; `None` when the password predates SRP.
    pub srp_verifier: Option<Vec<u8>>,
    pub attributes: BTreeMap<String, String>,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// How a filter compares text: Cognito's `=` and `^=`. Both are exact, byte-wise
/// comparisons; case folding, if wanted, is the caller's to do before storing and querying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextMatch {
    Equals(String),
    StartsWith(String),
}

/// A ListUsers filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserFilter {
    Username(TextMatch),
    /// The username key ([`NewUser::username_key`]): usernames of a pool that ignores case.
    UsernameKey(TextMatch),
    Sub(TextMatch),
    /// `cognito:user_status`.
    Status(TextMatch),
    /// `status = "Enabled"` / `"Disabled"`.
    Enabled(bool),
    /// One of [`SEARCHABLE_ATTRIBUTES`].
    Attribute {
        name: String,
        matches: TextMatch,
    },
}

/// Where a listing resumes: the sort key and username of the last user returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCursor {
    /// The filtered column's value for prefix filters (users are then ordered by it
    /// first); empty when users are ordered by username alone.
    pub key: String,
    pub username: String,
}

/// A ListUsers request.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    pub filter: Option<UserFilter>,
    /// Page size, clamped to 1..=1000.
    pub limit: u32,
    /// The `next` of the previous page. A cursor only makes sense with the same filter.
    pub cursor: Option<UserCursor>,
}

/// One page of users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<UserRecord>,
    pub next: Option<UserCursor>,
}

/// Repository of users.
#[derive(Debug)]
pub struct Users<'s> {
    db: &'s Db,
}

pub(crate) const COLUMNS: &str = "u.sub, u.pool_id, u.username, u.status, u.enabled, u.password_hash, \
                       u.srp_verifier, u.attributes, u.created_at, u.updated_at";

// === impl UserCursor ===

impl UserCursor {
    /// A printable token: `{key length}:{key}{username}`. Callers that hand it to clients
    /// may wrap or seal it further.
    pub fn to_token(&self) -> String {
        format!("{}:{}{}", self.key.len(), self.key, self.username)
    }

    /// Reads a token made by [`UserCursor::to_token`].
    pub fn from_token(token: &str) -> Result<Self, StorageError> {
        let invalid = || StorageError::invalid("pagination token");
        let (len, rest) = token.split_once(':').ok_or_else(invalid)?;
        let len: usize = len.parse().map_err(|_| invalid())?;
        let key = rest.get(..len).ok_or_else(invalid)?;
        let username = rest.get(len..).ok_or_else(invalid)?;
        if username.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            key: key.to_owned(),
            username: username.to_owned(),
        })
    }
}

// === impl Users ===

impl<'s> Users<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Creates the user with its alias and search rows in one transaction.
    /// [`StorageError::Conflict`] if the username (or sub) is taken,
    /// [`StorageError::AliasTaken`] if an alias belongs to someone else,
    /// [`StorageError::NotFound`] if the pool is missing.
    pub async fn create(&self, user: &NewUser) -> Result<UserRecord, StorageError> {
        let attributes = encode_attributes(&user.attributes)?;
        let mut tx = self.db.write().await?;
        insert_user(&mut tx.conn(), user, &attributes).await?;
        tx.commit().await?;
        Ok(UserRecord {
            pool_id: user.pool_id.clone(),
            sub: user.sub.clone(),
            username: user.username.clone(),
            status: user.status.clone(),
            enabled: user.enabled,
            password_hash: user.password_hash.clone(),
            srp_verifier: user.srp_verifier.clone(),
            attributes: user.attributes.clone(),
            created_at: user.created_at,
            updated_at: user.created_at,
        })
    }

    /// Creates many users in one transaction (imports, benchmarks): all or none.
    pub async fn create_many(&self, users: &[NewUser]) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        for user in users {
            let attributes = encode_attributes(&user.attributes)?;
            insert_user(&mut conn, user, &attributes).await?;
        }
        tx.commit().await
    }

    /// The user whose username key ([`NewUser::username_key`]) is `key`.
    pub async fn get_by_key(
        &self,
        pool_id: &str,
        key: &str,
    ) -> Result<Option<UserRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM users u WHERE u.pool_id = $1 AND u.username_key = $2"
                ),
                args![pool_id, key],
                decode,
            )
            .await
    }

    /// The user with this username (exact, case-sensitive).
    pub async fn get(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<Option<UserRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM users u WHERE u.pool_id = $1 AND u.username = $2"),
                args![pool_id, username],
                decode,
            )
            .await
    }

    pub async fn get_by_sub(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<Option<UserRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM users u WHERE u.pool_id = $1 AND u.sub = $2"),
                args![pool_id, sub],
                decode,
            )
            .await
    }

    /// The user an alias value belongs to.
    pub async fn find_by_alias(
        &self,
        pool_id: &str,
        name: &str,
        value: &str,
    ) -> Result<Option<UserRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM user_aliases a JOIN users u ON u.sub = a.sub
                     WHERE a.pool_id = $1 AND a.name = $2 AND a.value = $3"
                ),
                args![pool_id, name, value],
                decode,
            )
            .await
    }

    /// The user's alias values, sorted.
    pub async fn aliases(&self, pool_id: &str, sub: &str) -> Result<Vec<Alias>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT name, value FROM user_aliases WHERE pool_id = $1 AND sub = $2
                 ORDER BY name, value",
                args![pool_id, sub],
                |row| {
                    Ok(Alias {
                        name: row.text("name")?,
                        value: row.text("value")?,
                    })
                },
            )
            .await
    }

    /// How many users the pool has.
    pub async fn count(&self, pool_id: &str) -> Result<i64, StorageError> {
        let mut lease = self.db.read().await?;
        let count = lease
            .conn()
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM users WHERE pool_id = $1",
                args![pool_id],
                |row| row.int("n"),
            )
            .await?;
        Ok(count.unwrap_or(0))
    }

    /// One page of the pool's users matching the filter, in a stable order: by username,
    /// or for prefix filters on another column by (that column, username). Each page is an
    /// index range scan, so its cost does not grow with the pool or the page number.
    pub async fn list(&self, pool_id: &str, query: &UserQuery) -> Result<UserPage, StorageError> {
        let plan = ListPlan::new(pool_id, query)?;
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(plan.sql, &plan.args, |row| {
                let key = match plan.keyed {
                    true => row.text("sort_key")?,
                    false => String::new(),
                };
                Ok((decode(row)?, key))
            })
            .await?;
        let mut rows = rows;
        let limit = usize::try_from(query.limit.clamp(1, 1000)).unwrap_or(1000);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(user, key)| UserCursor {
                key: key.clone(),
                username: user.username.clone(),
            })
        } else {
            None
        };
        Ok(UserPage {
            users: rows.into_iter().map(|(user, _)| user).collect(),
            next,
        })
    }

    /// The query plan of [`Users::list`] for `query`, for tests that pin index use. On
    /// PostgreSQL, sequential scans and sorts are disabled for the explanation, so a
    /// `Seq Scan` or `Sort` in the plan means no index can serve the query.
    #[cfg(feature = "testkit")]
    #[doc(hidden)]
    pub async fn explain_list(
        &self,
        pool_id: &str,
        query: &UserQuery,
    ) -> Result<String, StorageError> {
        let plan = ListPlan::new(pool_id, query)?;
        // A transaction that is never committed: the settings vanish with it.
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let lines = match self.db.backend() {
            crate::Backend::Sqlite => {
                conn.fetch_all(
                    format!("EXPLAIN QUERY PLAN {}", plan.sql),
                    &plan.args,
                    |row| row.text("detail"),
                )
                .await?
            }
            crate::Backend::Postgres => {
                conn.execute("SET LOCAL enable_seqscan = off", &[]).await?;
                conn.execute("SET LOCAL enable_sort = off", &[]).await?;
                conn.fetch_all(format!("EXPLAIN {}", plan.sql), &plan.args, |row| {
                    row.text("QUERY PLAN")
                })
                .await?
            }
        };
        Ok(lines.join("\n"))
    }

    /// Sets the status (`CONFIRMED`, `FORCE_CHANGE_PASSWORD`, …).
    pub async fn set_status(
        &self,
        pool_id: &str,
        sub: &str,
        status: &str,
        updated_at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE users SET status = $3, updated_at = $4 WHERE pool_id = $1 AND sub = $2",
                args![pool_id, sub, status, updated_at],
            )
            .await?;
        found(changed, sub)?;
        tx.commit().await
    }

    /// Enables or disables the user. Disabling also revokes every live refresh token of the
    /// user (at `updated_at`), in the same transaction, and returns their `origin_jti`s: the
    /// sign-ins that just ended, whose access and id tokens the caller can now refuse.
    pub async fn set_enabled(
        &self,
        pool_id: &str,
        sub: &str,
        enabled: bool,
        updated_at: EpochMillis,
    ) -> Result<Vec<String>, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "UPDATE users SET enabled = $3, updated_at = $4 WHERE pool_id = $1 AND sub = $2",
                args![pool_id, sub, enabled, updated_at],
            )
            .await?;
        found(changed, sub)?;
        let sessions = if enabled {
            Vec::new()
        } else {
            revoke_refresh_tokens(&mut conn, pool_id, sub, updated_at).await?
        };
        tx.commit().await?;
        Ok(sessions)
    }

    /// Replaces the password hash, its sealed SRP verifier and the status together (a
    /// password change often moves the user out of `FORCE_CHANGE_PASSWORD` or
    /// `RESET_REQUIRED`). With
    /// `revoke_refresh_tokens`, every live refresh token of the user is revoked in the same
    /// transaction (a password reset ends the sessions it replaces); their `origin_jti`s
    /// are returned.
    #[expect(
        clippy::too_many_arguments,
        reason = "the hash and its verifier are written together with the status"
    )]
    pub async fn set_password(
        &self,
        pool_id: &str,
        sub: &str,
        password_hash: Option<&str>,
        srp_verifier: Option<&[u8]>,
        status: &str,
        updated_at: EpochMillis,
        revoke_refresh_tokens_too: bool,
    ) -> Result<Vec<String>, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "UPDATE users SET password_hash = $3, status = $4, updated_at = $5,
                                  srp_verifier = $6
                 WHERE pool_id = $1 AND sub = $2",
                args![
                    pool_id,
                    sub,
                    password_hash,
                    status,
                    updated_at,
                    srp_verifier
                ],
            )
            .await?;
        found(changed, sub)?;
        let sessions = if revoke_refresh_tokens_too {
            revoke_refresh_tokens(&mut conn, pool_id, sub, updated_at).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok(sessions)
    }

    /// Stores the sealed SRP verifier of a user whose password predates SRP, computed from
    /// the password that just matched `password_hash`: written only while the user still has
    /// that hash and no verifier (a password set meanwhile brought its own). Returns whether
    /// it was written.
    pub async fn set_srp_verifier(
        &self,
        pool_id: &str,
        sub: &str,
        password_hash: &str,
        srp_verifier: &[u8],
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE users SET srp_verifier = $4
                 WHERE pool_id = $1 AND sub = $2 AND password_hash = $3 AND srp_verifier IS NULL",
                args![pool_id, sub, password_hash, srp_verifier],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Sets the status and revokes every live refresh token of the user, in one transaction
    /// (AdminResetUserPassword); returns the revoked tokens' `origin_jti`s.
    pub async fn set_status_and_revoke(
        &self,
        pool_id: &str,
        sub: &str,
        status: &str,
        updated_at: EpochMillis,
    ) -> Result<Vec<String>, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "UPDATE users SET status = $3, updated_at = $4 WHERE pool_id = $1 AND sub = $2",
                args![pool_id, sub, status, updated_at],
            )
            .await?;
        found(changed, sub)?;
        let sessions = revoke_refresh_tokens(&mut conn, pool_id, sub, updated_at).await?;
        tx.commit().await?;
        Ok(sessions)
    }

    /// Replaces the whole attribute map and alias set, and rebuilds the search rows, in one
    /// transaction. [`StorageError::AliasTaken`] (and nothing changed) if an alias belongs
    /// to another user.
    pub async fn update_attributes(
        &self,
        pool_id: &str,
        sub: &str,
        attributes: &BTreeMap<String, String>,
        aliases: &[Alias],
        updated_at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        write_attributes(
            &mut tx.conn(),
            pool_id,
            sub,
            attributes,
            aliases,
            updated_at,
        )
        .await?;
        tx.commit().await
    }

    /// [`Users::update_attributes`] and a status change from `from` to `to`, in one
    /// transaction (ConfirmSignUp: the verified address and the confirmation together).
    /// [`StorageError::NotFound`], and nothing changed, when the user is missing or its
    /// status is no longer `from` (another confirmation got in first).
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct fact of the change"
    )]
    pub async fn update_attributes_and_status(
        &self,
        pool_id: &str,
        sub: &str,
        attributes: &BTreeMap<String, String>,
        aliases: &[Alias],
        from: &str,
        to: &str,
        updated_at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "UPDATE users SET status = $4, updated_at = $5
                 WHERE pool_id = $1 AND sub = $2 AND status = $3",
                args![pool_id, sub, from, to, updated_at],
            )
            .await?;
        found(changed, sub)?;
        write_attributes(&mut conn, pool_id, sub, attributes, aliases, updated_at).await?;
        tx.commit().await
    }

    /// Deletes the user and, by cascade, its alias and search rows, group memberships,
    /// codes and refresh tokens. Returns the `origin_jti`s of the refresh tokens that were
    /// still live: the sign-ins that ended with the user.
    pub async fn delete(&self, pool_id: &str, sub: &str) -> Result<Vec<String>, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        if self.db.backend() == Backend::Postgres {
            // A sign-in storing its refresh token holds the user's row (see
            // `RefreshTokens::insert`): wait for it here, so that its token is among the
            // sessions read next instead of vanishing unnamed with the user.
            conn.execute(
                "SELECT 1 FROM users WHERE pool_id = $1 AND sub = $2 FOR UPDATE",
                args![pool_id, sub],
            )
            .await?;
        }
        let sessions = conn
            .fetch_all(
                "SELECT origin_jti FROM refresh_tokens
                 WHERE pool_id = $1 AND sub = $2 AND revoked_at IS NULL",
                args![pool_id, sub],
                |row| row.text("origin_jti"),
            )
            .await?;
        let changed = conn
            .execute(
                "DELETE FROM users WHERE pool_id = $1 AND sub = $2",
                args![pool_id, sub],
            )
            .await?;
        found(changed, sub)?;
        tx.commit().await?;
        Ok(sessions)
    }
}

/// Writes a user's attribute map, its alias rows and its search rows.
async fn write_attributes(
    conn: &mut Conn<'_>,
    pool_id: &str,
    sub: &str,
    attributes: &BTreeMap<String, String>,
    aliases: &[Alias],
    updated_at: EpochMillis,
) -> Result<(), StorageError> {
    let encoded = encode_attributes(attributes)?;
    let username = conn
        .fetch_optional(
            "UPDATE users SET attributes = $3, updated_at = $4 WHERE pool_id = $1 AND sub = $2
             RETURNING username",
            args![pool_id, sub, &encoded, updated_at],
            |row| row.text("username"),
        )
        .await?
        .ok_or_else(|| user_not_found(sub))?;
    conn.execute("DELETE FROM user_aliases WHERE sub = $1", args![sub])
        .await?;
    conn.execute("DELETE FROM user_search WHERE sub = $1", args![sub])
        .await?;
    insert_index_rows(conn, pool_id, sub, &username, attributes, aliases).await
}

/// Revokes every live refresh token of a user at `at`; returns their `origin_jti`s.
async fn revoke_refresh_tokens(
    conn: &mut Conn<'_>,
    pool_id: &str,
    sub: &str,
    at: EpochMillis,
) -> Result<Vec<String>, StorageError> {
    conn.fetch_all(
        "UPDATE refresh_tokens SET revoked_at = $3
         WHERE sub = $2 AND pool_id = $1 AND revoked_at IS NULL
         RETURNING origin_jti",
        args![pool_id, sub, at],
        |row| row.text("origin_jti"),
    )
    .await
}

// === ListUsers plans ===

/// The SQL and binds of one ListUsers page. Every shape reads one index in order:
/// `users_by_username`, `users_by_sub`, `users_by_username_key`, `users_by_status`,
/// `users_by_enabled`, or the primary key of `user_search`.
struct ListPlan<'q> {
    sql: String,
    args: Vec<Arg<'q>>,
    /// Whether rows are ordered by (`sort_key`, username) rather than username alone.
    keyed: bool,
    /// The cursor's sort key, while it can still replace a prefix's lower bound.
    cursor_key: Option<&'q str>,
    /// Set when a cursor's key lies before the filter's prefix (a forged or stale token):
    /// the cursor is ignored rather than let rows outside the filter through.
    ignore_cursor: bool,
}

impl<'q> ListPlan<'q> {
    fn new(pool_id: &'q str, query: &'q UserQuery) -> Result<Self, StorageError> {
        let mut plan = Self {
            sql: String::with_capacity(512),
            args: vec![Arg::Text(pool_id)],
            keyed: false,
            cursor_key: query.cursor.as_ref().map(|c| c.key.as_str()),
            ignore_cursor: false,
        };
        // The column that holds the username in the table driving the scan: for attribute
        // filters it is the copy in `user_search`, so the index order serves ORDER BY.
        let mut username_col = "u.username";
        let mut key_col = "";
        // A sort key that is unique in the pool (sub) needs no username to break ties,
        // and PostgreSQL would sort to add one.
        let mut unique_key = false;
        let mut conditions = String::new();
        match &query.filter {
            None => {}
            Some(UserFilter::Username(matches)) => {
                // Ordered by username alone: the cursor's username is its sort key.
                plan.cursor_key = query.cursor.as_ref().map(|c| c.username.as_str());
                plan.text_condition(&mut conditions, "u.username", matches, &mut key_col)?;
                // Ordering by username alone already is ordering by the key.
                key_col = "";
            }
            Some(UserFilter::Sub(matches)) => {
                plan.text_condition(&mut conditions, "u.sub", matches, &mut key_col)?;
                unique_key = true;
            }
            Some(UserFilter::UsernameKey(matches)) => {
                plan.text_condition(&mut conditions, "u.username_key", matches, &mut key_col)?;
                // Ordered by the key even for `=`: the key's own index then serves the one
                // row, instead of a walk of the pool in username order.
                key_col = "u.username_key";
                unique_key = true;
            }
            Some(UserFilter::Status(matches)) => {
                plan.text_condition(&mut conditions, "u.status", matches, &mut key_col)?;
            }
            Some(UserFilter::Enabled(enabled)) => {
                let n = plan.push(Arg::Bool(*enabled));
                conditions.push_str(&format!(" AND u.enabled = ${n}"));
            }
            Some(UserFilter::Attribute { name, matches }) => {
                if !SEARCHABLE_ATTRIBUTES.contains(&name.as_str()) {
                    return Err(StorageError::invalid(format!(
                        "filter: attribute `{name}` is not searchable"
                    )));
                }
                username_col = "s.username";
                let n = plan.push(Arg::Text(name));
                conditions.push_str(&format!(" AND s.name = ${n}"));
                plan.text_condition(&mut conditions, "s.value", matches, &mut key_col)?;
            }
        }
        let from = match username_col {
            "s.username" => "user_search s JOIN users u ON u.sub = s.sub WHERE s.pool_id = $1",
            _ => "users u WHERE u.pool_id = $1",
        };
        if let Some(cursor) = query.cursor.as_ref().filter(|_| !plan.ignore_cursor) {
            if key_col.is_empty() {
                let n = plan.push(Arg::Text(&cursor.username));
                conditions.push_str(&format!(" AND {username_col} > ${n}"));
            } else if unique_key {
                let k = plan.push(Arg::Text(&cursor.key));
                conditions.push_str(&format!(" AND {key_col} > ${k}"));
            } else {
                // A row-value comparison: both backends turn it into one index range.
                let k = plan.push(Arg::Text(&cursor.key));
                let u = plan.push(Arg::Text(&cursor.username));
                conditions.push_str(&format!(" AND ({key_col}, {username_col}) > (${k}, ${u})"));
            }
        }
        let limit = plan.push(Arg::Int(fetch_limit(query.limit)));
        plan.keyed = !key_col.is_empty();
        let (select_key, order) = if plan.keyed {
            (
                format!(", {key_col} AS sort_key"),
                if unique_key {
                    key_col.to_owned()
                } else {
                    format!("{key_col}, {username_col}")
                },
            )
        } else {
            (String::new(), username_col.to_owned())
        };
        plan.sql = format!(
            "SELECT {COLUMNS}{select_key} FROM {from}{conditions} ORDER BY {order} LIMIT ${limit}"
        );
        Ok(plan)
    }

    /// Adds a bind value and returns its placeholder number.
    fn push(&mut self, arg: Arg<'q>) -> usize {
        self.args.push(arg);
        self.args.len()
    }

    /// `col = v`, or for a prefix `col >= p AND col < successor(p)` (an index range on
    /// both backends, unlike LIKE), which also makes `col` the first sort key.
    fn text_condition(
        &mut self,
        conditions: &mut String,
        col: &'static str,
        matches: &'q TextMatch,
        key_col: &mut &'static str,
    ) -> Result<(), StorageError> {
        match matches {
            TextMatch::Equals(value) => {
                let n = self.push(Arg::Text(value));
                conditions.push_str(&format!(" AND {col} = ${n}"));
            }
            TextMatch::StartsWith(prefix) => {
                *key_col = col;
                if prefix.is_empty() {
                    return Ok(());
                }
                // With a cursor at or past the prefix, the cursor comparison is the lower
                // bound; writing both would make SQLite seek from the prefix (the simpler
                // bound) and walk every earlier page again.
                match self.cursor_key {
                    Some(key) if key >= prefix.as_str() => {}
                    cursor => {
                        self.ignore_cursor = cursor.is_some();
                        let n = self.push(Arg::Text(prefix));
                        conditions.push_str(&format!(" AND {col} >= ${n}"));
                    }
                }
                if let Some(upper) = prefix_upper_bound(prefix) {
                    let m = self.push(Arg::OwnedText(upper));
                    conditions.push_str(&format!(" AND {col} < ${m}"));
                }
            }
        }
        Ok(())
    }
}

// === helpers ===

async fn insert_user(
    conn: &mut Conn<'_>,
    user: &NewUser,
    attributes: &str,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO users (sub, pool_id, username, status, enabled, password_hash, attributes,
                            created_at, updated_at, username_key, srp_verifier)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)",
        args![
            &user.sub,
            &user.pool_id,
            &user.username,
            &user.status,
            user.enabled,
            &user.password_hash,
            attributes,
            user.created_at,
            &user.username_key,
            &user.srp_verifier,
        ],
    )
    .await
    .map_err(|e| {
        e.on_conflict(format!("user `{}`", user.username))
            .on_missing(format!("user pool `{}`", user.pool_id))
    })?;
    insert_index_rows(
        conn,
        &user.pool_id,
        &user.sub,
        &user.username,
        &user.attributes,
        &user.aliases,
    )
    .await
}

/// Writes the alias rows and the search rows of one user.
async fn insert_index_rows(
    conn: &mut Conn<'_>,
    pool_id: &str,
    sub: &str,
    username: &str,
    attributes: &BTreeMap<String, String>,
    aliases: &[Alias],
) -> Result<(), StorageError> {
    for alias in aliases {
        if alias.value.len() > MAX_INDEXED_VALUE_BYTES {
            return Err(StorageError::invalid(format!(
                "alias `{}`: the value is too long",
                alias.name
            )));
        }
        conn.execute(
            "INSERT INTO user_aliases (pool_id, name, value, sub) VALUES ($1, $2, $3, $4)",
            args![pool_id, &alias.name, &alias.value, sub],
        )
        .await
        .map_err(|e| match e {
            StorageError::Conflict { .. } => StorageError::AliasTaken {
                name: alias.name.clone(),
                value: alias.value.clone(),
            },
            other => other,
        })?;
    }
    for name in SEARCHABLE_ATTRIBUTES {
        let Some(value) = attributes.get(*name) else {
            continue;
        };
        if value.len() > MAX_INDEXED_VALUE_BYTES {
            continue;
        }
        conn.execute(
            "INSERT INTO user_search (pool_id, name, value, username, sub) VALUES ($1, $2, $3, $4, $5)",
            args![pool_id, *name, value, username, sub],
        )
        .await?;
    }
    Ok(())
}

fn encode_attributes(attributes: &BTreeMap<String, String>) -> Result<String, StorageError> {
    serde_json::to_string(attributes).map_err(|_| StorageError::invalid("user attributes"))
}

pub(crate) fn decode(row: &dyn DbRow) -> Result<UserRecord, StorageError> {
    let attributes = row.text("attributes")?;
    let sub = row.text("sub")?;
    let attributes = serde_json::from_str(&attributes)
        .map_err(|_| StorageError::corrupt(format!("attributes of user `{sub}`")))?;
    Ok(UserRecord {
        pool_id: row.text("pool_id")?,
        sub,
        username: row.text("username")?,
        status: row.text("status")?,
        enabled: row.boolean("enabled")?,
        password_hash: row.opt_text("password_hash")?,
        srp_verifier: row.opt_bytes("srp_verifier")?,
        attributes,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

fn user_not_found(sub: &str) -> StorageError {
    StorageError::not_found(format!("user `{sub}`"))
}

fn found(changed: u64, sub: &str) -> Result<(), StorageError> {
    if changed == 0 {
        Err(user_not_found(sub))
    } else {
        Ok(())
    }
}

/// The smallest string greater than every string that starts with `prefix`, in code-point
/// order (which is UTF-8 byte order, the order of both backends' indexes here); `None` when
/// there is none (the prefix is all `char::MAX`).
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            // Skip the surrogate range, which `char` cannot hold.
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{UserCursor, prefix_upper_bound};

    #[test]
    fn upper_bound_increments_the_last_char() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound("é").as_deref(), Some("ê"));
    }

    #[test]
    fn cursor_token_round_trips_and_rejects_garbage() {
        for (key, username) in [("", "alice"), ("a:b", "c:d"), ("é", "ü"), ("12", "3")] {
            let cursor = UserCursor {
                key: key.to_owned(),
                username: username.to_owned(),
            };
            assert_eq!(UserCursor::from_token(&cursor.to_token()).unwrap(), cursor);
        }
        for bad in [
            "",
            "x",
            "3:ab",
            "1:é",
            "-1:a",
            "0:",
            "99999999999999999999:a",
        ] {
            assert!(UserCursor::from_token(bad).is_err(), "{bad}");
        }
    }
}
