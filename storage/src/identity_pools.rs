//! Identity pools, their identities and the logins linked to them.
//!
//! A pool's configuration is JSON the identity crate owns. An identity is an id in one pool;
//! a login (`provider`, `subject`) names at most one identity per pool, so looking a login
//! up and linking it are one index probe each. Linking several logins at once (GetId with
//! more than one login, MergeDeveloperIdentities) runs in one transaction, moving the logins
//! of the identities it merges and deleting those identities.
//!
//! An identity whose last login is unlinked becomes disabled (it never turns into a guest);
//! linking a login to it again enables it.

use std::collections::BTreeMap;

use crate::db::{Conn, Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored identity pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityPoolRecord {
    pub id: String,
    pub name: String,
    /// JSON owned by the identity crate.
    pub config: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// A stored identity and the logins linked to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityRecord {
    pub id: String,
    pub pool_id: String,
    /// `(provider, subject)` pairs, in provider order.
    pub logins: Vec<(String, String)>,
    /// Its last login was unlinked: it gets nothing until a login is linked again.
    pub disabled: bool,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// A stored principal-tag attribute map: one identity provider of one pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagMapRecord {
    pub pool_id: String,
    pub provider: String,
    pub use_defaults: bool,
    /// JSON owned by the identity crate.
    pub tags: String,
    pub updated_at: EpochMillis,
}

/// What [`IdentityPools::resolve`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The identity the logins now belong to.
    pub identity_id: String,
    /// Whether it was made by this call.
    pub created: bool,
    /// Identities merged into it (their logins moved, the identities deleted).
    pub merged: Vec<String>,
}

/// Repository of identity pools and identities.
#[derive(Debug)]
pub struct IdentityPools<'s> {
    db: &'s Db,
}

const POOL_COLUMNS: &str = "id, name, config, created_at, updated_at";

// === impl IdentityPools ===

impl<'s> IdentityPools<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Creates a pool; [`StorageError::Conflict`] if the id is taken.
    pub async fn create(&self, pool: &IdentityPoolRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "INSERT INTO identity_pools (id, name, config, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5)",
                args![
                    &pool.id,
                    &pool.name,
                    &pool.config,
                    pool.created_at,
                    pool.updated_at
                ],
            )
            .await
            .map_err(|e| e.on_conflict(format!("identity pool `{}`", pool.id)))?;
        tx.commit().await
    }

    pub async fn get(&self, id: &str) -> Result<Option<IdentityPoolRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {POOL_COLUMNS} FROM identity_pools WHERE id = $1"),
                args![id],
                decode_pool,
            )
            .await
    }

    /// Pools in id order, `limit` at a time, starting after the id `after`.
    pub async fn list(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<IdentityPoolRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {POOL_COLUMNS} FROM identity_pools WHERE id > $1 ORDER BY id LIMIT $2"
                ),
                args![after.unwrap_or(""), fetch_limit(limit)],
                decode_pool,
            )
            .await?;
        Ok(into_page(rows, limit, |pool| pool.id.clone()))
    }

    /// Replaces the name and configuration; [`StorageError::NotFound`] without such a pool.
    pub async fn update(
        &self,
        id: &str,
        name: &str,
        config: &str,
        updated_at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE identity_pools SET name = $2, config = $3, updated_at = $4 WHERE id = $1",
                args![id, name, config, updated_at],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("identity pool `{id}`")));
        }
        tx.commit().await
    }

    /// Deletes the pool and, by cascade, its identities and their logins.
    pub async fn delete(&self, id: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        // Identities cascade from the pool, and their logins from them.
        let changed = tx
            .conn()
            .execute("DELETE FROM identity_pools WHERE id = $1", args![id])
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("identity pool `{id}`")));
        }
        tx.commit().await
    }

    // --- identities ---

    /// Creates an identity with no logins (a guest).
    pub async fn create_identity(
        &self,
        pool_id: &str,
        identity_id: &str,
        now: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        insert_identity(&mut tx.conn(), pool_id, identity_id, now)
            .await
            .map_err(|e| e.on_conflict(format!("identity `{identity_id}`")))?;
        tx.commit().await
    }

    /// The identity linked to a login, if any.
    pub async fn find_login(
        &self,
        pool_id: &str,
        provider: &str,
        subject: &str,
    ) -> Result<Option<String>, StorageError> {
        let mut lease = self.db.read().await?;
        login_owner(&mut lease.conn(), pool_id, provider, subject).await
    }

    /// Links every login in `logins` to one identity of `pool_id`: the identity some of them
    /// already belong to (the one of the first login that has one), or `new_identity_id`
    /// when none does. Identities the other logins belonged to are merged into it: their
    /// logins move over and they are deleted. All in one transaction.
    pub async fn resolve(
        &self,
        pool_id: &str,
        logins: &[(String, String)],
        new_identity_id: &str,
        now: EpochMillis,
    ) -> Result<Resolved, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let mut owners: Vec<String> = Vec::new();
        for (provider, subject) in logins {
            let owner = login_owner(&mut conn, pool_id, provider, subject).await?;
            if let Some(owner) = owner
                && !owners.contains(&owner)
            {
                owners.push(owner);
            }
        }
        let (mut identity_id, mut created) = match owners.first() {
            Some(first) => (first.clone(), false),
            None => {
                insert_identity(&mut conn, pool_id, new_identity_id, now).await?;
                (new_identity_id.to_owned(), true)
            }
        };
        let merged: Vec<String> = owners.iter().skip(1).cloned().collect();
        for other in &merged {
            merge_into(&mut conn, &identity_id, other).await?;
        }
        for (provider, subject) in logins {
            insert_login(&mut conn, pool_id, provider, subject, &identity_id, now).await?;
        }
        // Two first sign-ins with the same login racing on PostgreSQL: both saw no owner and
        // made an identity; the login went to whichever inserted it first. The loser's new
        // identity is dropped and the winner's answered.
        if created && let Some((provider, subject)) = logins.first() {
            let owner = login_owner(&mut conn, pool_id, provider, subject).await?;
            if let Some(owner) = owner
                && owner != identity_id
            {
                conn.execute("DELETE FROM identities WHERE id = $1", args![&identity_id])
                    .await?;
                identity_id = owner;
                created = false;
            }
        }
        conn.execute(
            "UPDATE identities SET updated_at = $2 WHERE id = $1",
            args![&identity_id, now],
        )
        .await?;
        tx.commit().await?;
        Ok(Resolved {
            identity_id,
            created,
            merged,
        })
    }

    /// Moves every login of `source` to `destination` (both of `pool_id`) and deletes
    /// `source`; [`StorageError::NotFound`] when either is missing.
    pub async fn merge(
        &self,
        pool_id: &str,
        destination: &str,
        source: &str,
        now: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        for id in [destination, source] {
            require_identity(&mut conn, pool_id, id).await?;
        }
        if destination != source {
            merge_into(&mut conn, destination, source).await?;
        }
        conn.execute(
            "UPDATE identities SET updated_at = $2 WHERE id = $1",
            args![destination, now],
        )
        .await?;
        tx.commit().await
    }

    /// Unlinks logins from an identity; returns how many were linked to it. An identity left
    /// with no login is disabled.
    pub async fn unlink(
        &self,
        identity_id: &str,
        logins: &[(String, String)],
        now: EpochMillis,
    ) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let mut removed = 0;
        for (provider, subject) in logins {
            removed += conn
                .execute(
                    "DELETE FROM identity_logins
                     WHERE identity_id = $1 AND provider = $2 AND subject = $3",
                    args![identity_id, provider, subject],
                )
                .await?;
        }
        if removed > 0 {
            conn.execute(
                "UPDATE identities SET updated_at = $2,
                        disabled = NOT EXISTS (SELECT 1 FROM identity_logins WHERE identity_id = $1)
                 WHERE id = $1",
                args![identity_id, now],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Links `logins` to the existing identity `identity_id` of `pool_id` and enables it:
    /// [`StorageError::NotFound`] without such an identity, [`StorageError::Conflict`] (naming
    /// the login's provider) when a login already belongs to another identity. All or nothing.
    pub async fn link(
        &self,
        pool_id: &str,
        identity_id: &str,
        logins: &[(String, String)],
        now: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        require_identity(&mut conn, pool_id, identity_id).await?;
        for (provider, subject) in logins {
            insert_login(&mut conn, pool_id, provider, subject, identity_id, now).await?;
            let owner = login_owner(&mut conn, pool_id, provider, subject).await?;
            if owner.as_deref() != Some(identity_id) {
                // Dropping the transaction rolls back the logins linked so far.
                return Err(StorageError::conflict(provider.clone()));
            }
        }
        conn.execute(
            "UPDATE identities SET updated_at = $2, disabled = $3 WHERE id = $1",
            args![identity_id, now, false],
        )
        .await?;
        tx.commit().await
    }

    /// An identity and its logins.
    pub async fn get_identity(&self, id: &str) -> Result<Option<IdentityRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let mut conn = lease.conn();
        let Some(mut identity) = conn
            .fetch_optional(
                "SELECT id, pool_id, disabled, created_at, updated_at FROM identities WHERE id = $1",
                args![id],
                decode_identity,
            )
            .await?
        else {
            return Ok(None);
        };
        identity.logins = logins_of(&mut conn, id).await?;
        Ok(Some(identity))
    }

    /// A pool's identities in id order with their logins, `limit` at a time; without the
    /// disabled ones when `hide_disabled`.
    pub async fn list_identities(
        &self,
        pool_id: &str,
        limit: u32,
        after: Option<&str>,
        hide_disabled: bool,
    ) -> Result<Page<IdentityRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let mut conn = lease.conn();
        let rows = conn
            .fetch_all(
                "SELECT id, pool_id, disabled, created_at, updated_at FROM identities
                 WHERE pool_id = $1 AND id > $2 AND NOT ($4 AND disabled)
                 ORDER BY id LIMIT $3",
                args![
                    pool_id,
                    after.unwrap_or(""),
                    fetch_limit(limit),
                    hide_disabled
                ],
                decode_identity,
            )
            .await?;
        let mut page = into_page(rows, limit, |identity| identity.id.clone());
        let (Some(first), Some(last)) = (page.items.first(), page.items.last()) else {
            return Ok(page);
        };
        // The page's logins in one read: those of the identities in its id range.
        let mut logins: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (identity_id, login) in conn
            .fetch_all(
                "SELECT identity_id, provider, subject FROM identity_logins
                 WHERE identity_id >= $1 AND identity_id <= $2 AND pool_id = $3
                 ORDER BY identity_id, provider, subject",
                args![&first.id, &last.id, pool_id],
                |row| {
                    Ok((
                        row.text("identity_id")?,
                        (row.text("provider")?, row.text("subject")?),
                    ))
                },
            )
            .await?
        {
            logins.entry(identity_id).or_default().push(login);
        }
        for identity in &mut page.items {
            identity.logins = logins.remove(&identity.id).unwrap_or_default();
        }
        Ok(page)
    }

    // --- principal-tag attribute maps ---

    /// Stores the map of `map.provider` in `map.pool_id`, replacing the one there;
    /// [`StorageError::NotFound`] without such a pool.
    pub async fn put_tag_map(&self, map: &TagMapRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let pool = conn
            .fetch_optional(
                "SELECT id FROM identity_pools WHERE id = $1",
                args![&map.pool_id],
                |row| row.text("id"),
            )
            .await?;
        if pool.is_none() {
            return Err(StorageError::not_found(format!(
                "identity pool `{}`",
                map.pool_id
            )));
        }
        conn.execute(
            "INSERT INTO identity_pool_tag_maps (pool_id, provider, use_defaults, tags, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (pool_id, provider) DO UPDATE SET
                 use_defaults = excluded.use_defaults, tags = excluded.tags,
                 updated_at = excluded.updated_at",
            args![
                &map.pool_id,
                &map.provider,
                map.use_defaults,
                &map.tags,
                map.updated_at
            ],
        )
        .await?;
        tx.commit().await
    }

    /// Removes the map of `provider` in `pool_id`; whether there was one.
    pub async fn delete_tag_map(
        &self,
        pool_id: &str,
        provider: &str,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "DELETE FROM identity_pool_tag_maps WHERE pool_id = $1 AND provider = $2",
                args![pool_id, provider],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// The maps of `pool_id`, in provider order.
    pub async fn tag_maps(&self, pool_id: &str) -> Result<Vec<TagMapRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT pool_id, provider, use_defaults, tags, updated_at
                 FROM identity_pool_tag_maps WHERE pool_id = $1 ORDER BY provider",
                args![pool_id],
                |row| {
                    Ok(TagMapRecord {
                        pool_id: row.text("pool_id")?,
                        provider: row.text("provider")?,
                        use_defaults: row.boolean("use_defaults")?,
                        tags: row.text("tags")?,
                        updated_at: row.int("updated_at")?,
                    })
                },
            )
            .await
    }

    /// Deletes identities (and their logins); returns the ids that did not exist.
    pub async fn delete_identities(&self, ids: &[String]) -> Result<Vec<String>, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let mut missing = Vec::new();
        for id in ids {
            let changed = conn
                .execute("DELETE FROM identities WHERE id = $1", args![id])
                .await?;
            if changed == 0 {
                missing.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(missing)
    }
}

/// Adds an identity with no logins; [`StorageError::NotFound`] without the pool.
async fn insert_identity(
    conn: &mut Conn<'_>,
    pool_id: &str,
    identity_id: &str,
    now: EpochMillis,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO identities (id, pool_id, created_at, updated_at) VALUES ($1, $2, $3, $3)",
        args![identity_id, pool_id, now],
    )
    .await
    .map_err(|e| e.on_missing(format!("identity pool `{pool_id}`")))?;
    Ok(())
}

/// Links a login to `identity_id` unless it is linked already (to it or to another).
async fn insert_login(
    conn: &mut Conn<'_>,
    pool_id: &str,
    provider: &str,
    subject: &str,
    identity_id: &str,
    now: EpochMillis,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO identity_logins (pool_id, provider, subject, identity_id, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (pool_id, provider, subject) DO NOTHING",
        args![pool_id, provider, subject, identity_id, now],
    )
    .await?;
    Ok(())
}

/// [`StorageError::NotFound`] unless `identity_id` is an identity of `pool_id`.
async fn require_identity(
    conn: &mut Conn<'_>,
    pool_id: &str,
    identity_id: &str,
) -> Result<(), StorageError> {
    conn.fetch_optional(
        "SELECT id FROM identities WHERE id = $1 AND pool_id = $2",
        args![identity_id, pool_id],
        |row| row.text("id"),
    )
    .await?
    .map(|_| ())
    .ok_or_else(|| StorageError::not_found(format!("identity `{identity_id}`")))
}

/// The identity a login is linked to, if any.
async fn login_owner(
    conn: &mut Conn<'_>,
    pool_id: &str,
    provider: &str,
    subject: &str,
) -> Result<Option<String>, StorageError> {
    conn.fetch_optional(
        "SELECT identity_id FROM identity_logins
         WHERE pool_id = $1 AND provider = $2 AND subject = $3",
        args![pool_id, provider, subject],
        |row| row.text("identity_id"),
    )
    .await
}

async fn merge_into(
    conn: &mut Conn<'_>,
    destination: &str,
    source: &str,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE identity_logins SET identity_id = $1 WHERE identity_id = $2",
        args![destination, source],
    )
    .await?;
    conn.execute("DELETE FROM identities WHERE id = $1", args![source])
        .await?;
    Ok(())
}

async fn logins_of(
    conn: &mut Conn<'_>,
    identity_id: &str,
) -> Result<Vec<(String, String)>, StorageError> {
    conn.fetch_all(
        "SELECT provider, subject FROM identity_logins WHERE identity_id = $1
         ORDER BY provider, subject",
        args![identity_id],
        |row| Ok((row.text("provider")?, row.text("subject")?)),
    )
    .await
}

fn decode_pool(row: &dyn DbRow) -> Result<IdentityPoolRecord, StorageError> {
    Ok(IdentityPoolRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        config: row.text("config")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

fn decode_identity(row: &dyn DbRow) -> Result<IdentityRecord, StorageError> {
    Ok(IdentityRecord {
        id: row.text("id")?,
        pool_id: row.text("pool_id")?,
        logins: Vec::new(),
        disabled: row.boolean("disabled")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
