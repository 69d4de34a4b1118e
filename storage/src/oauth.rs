//! What the OAuth 2.0 / OpenID Connect provider keeps: resource servers and their scopes, the
//! pools' domains, authorization codes (single-use, by hash), the hosted pages' sign-in
//! sessions (by hash of the cookie value) and what each OAuth sign-in was granted.
//!
//! JSON columns (`scopes`, `custom_config`, `details`) belong to the identity crate; storage
//! never looks inside. Codes and session ids arrive already hashed.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

// === resource servers ===

/// A stored resource server (CreateResourceServer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceServerRecord {
    pub pool_id: String,
    /// `Identifier`, the prefix of its scopes (`https://api.example.com`).
    pub identifier: String,
    pub name: String,
    /// JSON owned by the identity crate.
    pub scopes: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// Repository of resource servers.
#[derive(Debug)]
pub struct ResourceServers<'s> {
    db: &'s Db,
}

const RS_COLUMNS: &str = "pool_id, identifier, name, scopes, created_at, updated_at";

impl<'s> ResourceServers<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Adds a resource server; [`StorageError::Conflict`] if the pool has one with this
    /// identifier, [`StorageError::NotFound`] if the pool is missing.
    pub async fn create(&self, server: &ResourceServerRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                format!(
                    "INSERT INTO resource_servers ({RS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ),
                args![
                    &server.pool_id,
                    &server.identifier,
                    &server.name,
                    &server.scopes,
                    server.created_at,
                    server.updated_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("resource server `{}`", server.identifier))
                    .on_missing(format!("user pool `{}`", server.pool_id))
            })?;
        tx.commit().await
    }

    /// The pool's resource server with this identifier.
    pub async fn get(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<Option<ResourceServerRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {RS_COLUMNS} FROM resource_servers WHERE pool_id = $1 AND identifier = $2"
                ),
                args![pool_id, identifier],
                decode_resource_server,
            )
            .await
    }

    /// Replaces name and scopes; [`StorageError::NotFound`] if there is no such server.
    pub async fn update(
        &self,
        pool_id: &str,
        identifier: &str,
        name: &str,
        scopes: &str,
        updated_at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE resource_servers SET name = $3, scopes = $4, updated_at = $5
                 WHERE pool_id = $1 AND identifier = $2",
                args![pool_id, identifier, name, scopes, updated_at],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!(
                "resource server `{identifier}`"
            )));
        }
        tx.commit().await
    }

    /// The pool's resource servers in identifier order, `limit` at a time, after `after`.
    pub async fn list(
        &self,
        pool_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<ResourceServerRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let items = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {RS_COLUMNS} FROM resource_servers
                     WHERE pool_id = $1 AND ($2 IS NULL OR identifier > $2)
                     ORDER BY identifier LIMIT $3"
                ),
                args![pool_id, after, fetch_limit(limit)],
                decode_resource_server,
            )
            .await?;
        Ok(into_page(items, limit, |r| r.identifier.clone()))
    }

    /// Every resource server of the pool (the scopes a client may be given).
    pub async fn all(&self, pool_id: &str) -> Result<Vec<ResourceServerRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {RS_COLUMNS} FROM resource_servers WHERE pool_id = $1 ORDER BY identifier"
                ),
                args![pool_id],
                decode_resource_server,
            )
            .await
    }

    /// Deletes one; [`StorageError::NotFound`] if there is no such server.
    pub async fn delete(&self, pool_id: &str, identifier: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM resource_servers WHERE pool_id = $1 AND identifier = $2",
                args![pool_id, identifier],
            )
            .await?;
        if deleted == 0 {
            return Err(StorageError::not_found(format!(
                "resource server `{identifier}`"
            )));
        }
        tx.commit().await
    }
}

fn decode_resource_server(row: &dyn DbRow) -> Result<ResourceServerRecord, StorageError> {
    Ok(ResourceServerRecord {
        pool_id: row.text("pool_id")?,
        identifier: row.text("identifier")?,
        name: row.text("name")?,
        scopes: row.text("scopes")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

// === domains ===

/// A pool's domain (CreateUserPoolDomain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainRecord {
    /// The prefix, or the whole host name of a custom domain.
    pub domain: String,
    pub pool_id: String,
    /// JSON owned by the identity crate; `None` for a prefix domain.
    pub custom_config: Option<String>,
    pub created_at: EpochMillis,
}

/// Repository of domains.
#[derive(Debug)]
pub struct Domains<'s> {
    db: &'s Db,
}

const DOMAIN_COLUMNS: &str = "domain, pool_id, custom_config, created_at";

impl<'s> Domains<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Adds a domain; [`StorageError::Conflict`] when the domain is taken or the pool already
    /// has one, [`StorageError::NotFound`] when the pool is missing.
    pub async fn create(&self, domain: &DomainRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                format!("INSERT INTO user_pool_domains ({DOMAIN_COLUMNS}) VALUES ($1, $2, $3, $4)"),
                args![
                    &domain.domain,
                    &domain.pool_id,
                    &domain.custom_config,
                    domain.created_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("domain `{}`", domain.domain))
                    .on_missing(format!("user pool `{}`", domain.pool_id))
            })?;
        tx.commit().await
    }

    /// The domain with this name, whatever its pool.
    pub async fn get(&self, domain: &str) -> Result<Option<DomainRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {DOMAIN_COLUMNS} FROM user_pool_domains WHERE domain = $1"),
                args![domain],
                decode_domain,
            )
            .await
    }

    /// The pool's domain.
    pub async fn for_pool(&self, pool_id: &str) -> Result<Option<DomainRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {DOMAIN_COLUMNS} FROM user_pool_domains WHERE pool_id = $1"),
                args![pool_id],
                decode_domain,
            )
            .await
    }

    /// Deletes the pool's domain `domain`; [`StorageError::NotFound`] when the pool has no
    /// such domain.
    pub async fn delete(&self, pool_id: &str, domain: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM user_pool_domains WHERE pool_id = $1 AND domain = $2",
                args![pool_id, domain],
            )
            .await?;
        if deleted == 0 {
            return Err(StorageError::not_found(format!("domain `{domain}`")));
        }
        tx.commit().await
    }
}

fn decode_domain(row: &dyn DbRow) -> Result<DomainRecord, StorageError> {
    Ok(DomainRecord {
        domain: row.text("domain")?,
        pool_id: row.text("pool_id")?,
        custom_config: row.opt_text("custom_config")?,
        created_at: row.int("created_at")?,
    })
}

// === authorization codes ===

/// A stored authorization code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCodeRecord {
    /// A hash of the code (the caller hashes).
    pub code_hash: Vec<u8>,
    pub pool_id: String,
    pub client_id: String,
    pub sub: String,
    /// JSON owned by the identity crate.
    pub details: String,
    pub created_at: EpochMillis,
    pub expires_at: EpochMillis,
    /// When it was redeemed.
    pub used_at: Option<EpochMillis>,
    /// The sign-in its redemption started.
    pub origin_jti: Option<String>,
    /// When someone tried to redeem it again.
    pub reused_at: Option<EpochMillis>,
}

/// What [`AuthCodes::redeem`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redemption {
    /// No code has this hash.
    Missing,
    /// The code was unused; it is now marked used by this redemption (the record as stored).
    Redeemed(AuthCodeRecord),
    /// The code had been redeemed before; it is now marked reused (the record as stored,
    /// with the `origin_jti` of the first redemption).
    AlreadyUsed(AuthCodeRecord),
}

/// Repository of authorization codes.
#[derive(Debug)]
pub struct AuthCodes<'s> {
    db: &'s Db,
}

const CODE_COLUMNS: &str = "code_hash, pool_id, client_id, sub, details, created_at, expires_at, used_at, origin_jti, reused_at";

impl<'s> AuthCodes<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores a new code; [`StorageError::NotFound`] when the pool is missing.
    pub async fn insert(&self, code: &AuthCodeRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                format!(
                    "INSERT INTO oauth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ),
                args![
                    &code.code_hash,
                    &code.pool_id,
                    &code.client_id,
                    &code.sub,
                    &code.details,
                    code.created_at,
                    code.expires_at,
                    code.used_at,
                    &code.origin_jti,
                    code.reused_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict("authorization code")
                    .on_missing(format!("user pool `{}`", code.pool_id))
            })?;
        tx.commit().await
    }

    /// Redeems the code at `now` for the sign-in `origin_jti`, in one transaction: an unused
    /// code is marked used (and remembers `origin_jti`); a used one is marked reused, so the
    /// first redemption can tell that a second came (see [`AuthCodes::get`]). Expiry is the
    /// caller's to judge.
    pub async fn redeem(
        &self,
        code_hash: &[u8],
        origin_jti: &str,
        now: EpochMillis,
    ) -> Result<Redemption, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let redeemed = conn
            .fetch_optional(
                format!(
                    "UPDATE oauth_codes SET used_at = $2, origin_jti = $3
                     WHERE code_hash = $1 AND used_at IS NULL RETURNING {CODE_COLUMNS}"
                ),
                args![code_hash, now, origin_jti],
                decode_code,
            )
            .await?;
        if let Some(code) = redeemed {
            tx.commit().await?;
            return Ok(Redemption::Redeemed(code));
        }
        let reused = conn
            .fetch_optional(
                format!(
                    "UPDATE oauth_codes SET reused_at = COALESCE(reused_at, $2)
                     WHERE code_hash = $1 RETURNING {CODE_COLUMNS}"
                ),
                args![code_hash, now],
                decode_code,
            )
            .await?;
        tx.commit().await?;
        Ok(match reused {
            Some(code) => Redemption::AlreadyUsed(code),
            None => Redemption::Missing,
        })
    }

    /// The code with this hash, as stored now.
    pub async fn get(&self, code_hash: &[u8]) -> Result<Option<AuthCodeRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {CODE_COLUMNS} FROM oauth_codes WHERE code_hash = $1"),
                args![code_hash],
                decode_code,
            )
            .await
    }

    /// Deletes codes that expired at or before `before`; returns how many.
    pub async fn purge_expired(&self, before: EpochMillis) -> Result<u64, StorageError> {
        purge_expired(self.db, "oauth_codes", before).await
    }
}

fn decode_code(row: &dyn DbRow) -> Result<AuthCodeRecord, StorageError> {
    Ok(AuthCodeRecord {
        code_hash: row.bytes("code_hash")?,
        pool_id: row.text("pool_id")?,
        client_id: row.text("client_id")?,
        sub: row.text("sub")?,
        details: row.text("details")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        used_at: row.opt_int("used_at")?,
        origin_jti: row.opt_text("origin_jti")?,
        reused_at: row.opt_int("reused_at")?,
    })
}

// === hosted sessions ===

/// A hosted pages' sign-in session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedSessionRecord {
    /// A hash of the cookie value (the caller hashes).
    pub id_hash: Vec<u8>,
    pub pool_id: String,
    pub sub: String,
    /// JSON owned by the identity crate.
    pub details: String,
    pub created_at: EpochMillis,
    pub expires_at: EpochMillis,
}

/// Repository of hosted sessions.
#[derive(Debug)]
pub struct HostedSessions<'s> {
    db: &'s Db,
}

const SESSION_COLUMNS: &str = "id_hash, pool_id, sub, details, created_at, expires_at";

impl<'s> HostedSessions<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores a new session; [`StorageError::NotFound`] when the pool is missing.
    pub async fn insert(&self, session: &HostedSessionRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                format!("INSERT INTO hosted_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                args![
                    &session.id_hash,
                    &session.pool_id,
                    &session.sub,
                    &session.details,
                    session.created_at,
                    session.expires_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict("hosted session")
                    .on_missing(format!("user pool `{}`", session.pool_id))
            })?;
        tx.commit().await
    }

    /// The session with this hash, expired or not: the caller decides.
    pub async fn get(&self, id_hash: &[u8]) -> Result<Option<HostedSessionRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {SESSION_COLUMNS} FROM hosted_sessions WHERE id_hash = $1"),
                args![id_hash],
                decode_session,
            )
            .await
    }

    /// Ends a session; `Ok(false)` if there was none.
    pub async fn delete(&self, id_hash: &[u8]) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM hosted_sessions WHERE id_hash = $1",
                args![id_hash],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Deletes sessions that expired at or before `before`; returns how many.
    pub async fn purge_expired(&self, before: EpochMillis) -> Result<u64, StorageError> {
        purge_expired(self.db, "hosted_sessions", before).await
    }
}

fn decode_session(row: &dyn DbRow) -> Result<HostedSessionRecord, StorageError> {
    Ok(HostedSessionRecord {
        id_hash: row.bytes("id_hash")?,
        pool_id: row.text("pool_id")?,
        sub: row.text("sub")?,
        details: row.text("details")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
    })
}

// === grants ===

/// What one OAuth sign-in was granted (by its `origin_jti`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthGrantRecord {
    pub pool_id: String,
    pub origin_jti: String,
    /// JSON owned by the identity crate.
    pub details: String,
    /// When the sign-in's refresh token expires (then the row can go).
    pub expires_at: EpochMillis,
}

/// Repository of OAuth grants.
#[derive(Debug)]
pub struct OAuthGrants<'s> {
    db: &'s Db,
}

impl<'s> OAuthGrants<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores a grant; [`StorageError::Conflict`] if the sign-in has one.
    pub async fn insert(&self, grant: &OAuthGrantRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "INSERT INTO oauth_grants (pool_id, origin_jti, details, expires_at)
                 VALUES ($1, $2, $3, $4)",
                args![
                    &grant.pool_id,
                    &grant.origin_jti,
                    &grant.details,
                    grant.expires_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("grant `{}`", grant.origin_jti))
                    .on_missing(format!("user pool `{}`", grant.pool_id))
            })?;
        tx.commit().await
    }

    /// The grant of the sign-in `origin_jti`.
    pub async fn get(
        &self,
        pool_id: &str,
        origin_jti: &str,
    ) -> Result<Option<OAuthGrantRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT pool_id, origin_jti, details, expires_at FROM oauth_grants
                 WHERE pool_id = $1 AND origin_jti = $2",
                args![pool_id, origin_jti],
                |row: &dyn DbRow| {
                    Ok(OAuthGrantRecord {
                        pool_id: row.text("pool_id")?,
                        origin_jti: row.text("origin_jti")?,
                        details: row.text("details")?,
                        expires_at: row.int("expires_at")?,
                    })
                },
            )
            .await
    }

    /// Deletes grants that expired at or before `before`; returns how many.
    pub async fn purge_expired(&self, before: EpochMillis) -> Result<u64, StorageError> {
        purge_expired(self.db, "oauth_grants", before).await
    }
}

/// Deletes the rows of `table` (one of this module's) that expired at or before `before`.
async fn purge_expired(
    db: &Db,
    table: &'static str,
    before: EpochMillis,
) -> Result<u64, StorageError> {
    let mut tx = db.write().await?;
    let deleted = tx
        .conn()
        .execute(
            format!("DELETE FROM {table} WHERE expires_at <= $1"),
            args![before],
        )
        .await?;
    tx.commit().await?;
    Ok(deleted)
}
