//! Moving users from one gatehouse service to another without a password reset (`gatehouse
//! users export` / `import`): attributes, status, groups and MFA settings as they are, and the
//! secrets — the argon2id hash, the SRP verifier, the TOTP seed — opened with this service's
//! master key and sealed again under a key the operator passes, bound to their pool, user and
//! kind, so a line cannot lend its secrets to another user. Nothing secret leaves in clear.
//!
//! The SRP verifier depends on the pool id (SRP's `x` hashes the pool's name), so it is carried
//! over only into a pool with the same id; elsewhere it is dropped and computed again at the
//! user's next password sign-in.

use std::collections::BTreeMap;

use gatehouse_storage::{
    GroupRecord, MfaFlags, NewUser, NewUserPool, StorageError, UserCursor, UserQuery,
};

use super::attributes::stored_attributes;
use super::config::PoolConfig;
use super::{UserPoolError, UserPools, UserStatus};
use crate::crypto::Sealer;
use crate::time::unix_millis;

/// The pool the users come from, as stored (its configuration JSON as the service keeps it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedPool {
    pub id: String,
    pub name: String,
    pub config: String,
}

/// One user, its secrets sealed under the transfer key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedUser {
    pub username: String,
    pub sub: String,
    pub status: String,
    pub enabled: bool,
    pub attributes: BTreeMap<String, String>,
    pub groups: Vec<String>,
    pub created_at: i64,
    pub mfa: ExportedMfa,
    /// The PHC-format argon2id hash, sealed under the transfer key.
    pub password_hash: Option<Vec<u8>>,
    /// The SRP salt and verifier, sealed under the transfer key.
    pub srp_verifier: Option<Vec<u8>>,
    /// The verified TOTP seed, sealed under the transfer key.
    pub totp_secret: Option<Vec<u8>>,
}

/// The user's MFA settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportedMfa {
    pub totp_name: Option<String>,
    /// The time step of the last accepted code, so a code seen before the move is not
    /// accepted again after it.
    pub totp_last_step: i64,
    pub totp_enabled: bool,
    pub totp_preferred: bool,
    pub email_enabled: bool,
    pub email_preferred: bool,
}

/// What importing one user did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    /// A user with this sub or name is already in the pool; it was left as it is.
    AlreadyThere,
}

/// One page of exported users and where the next one starts.
#[derive(Debug)]
pub struct ExportPage {
    pub users: Vec<ExportedUser>,
    pub next: Option<UserCursor>,
}

/// Users exported per page.
const EXPORT_PAGE: u32 = 200;
const SECRET_KINDS: [&str; 3] = ["password hash", "srp verifier", "totp secret"];

fn transfer_aad(kind: &str, pool_id: &str, sub: &str) -> Vec<u8> {
    format!("gatehouse user export v1|{kind}|{pool_id}|{sub}").into_bytes()
}

// === impl UserPools ===

impl UserPools {
    /// The pool as stored, for the head of an export.
    pub async fn export_pool(&self, pool_id: &str) -> Result<ExportedPool, UserPoolError> {
        let record = self
            .store()
            .user_pools()
            .get(pool_id)
            .await?
            .ok_or_else(|| {
                UserPoolError::ResourceNotFound(format!("User pool {pool_id} does not exist."))
            })?;
        Ok(ExportedPool {
            id: record.id,
            name: record.name,
            config: record.config,
        })
    }

    /// One page of the pool's users, secrets sealed again under `key`.
    pub async fn export_users(
        &self,
        pool_id: &str,
        key: &Sealer,
        cursor: Option<UserCursor>,
    ) -> Result<ExportPage, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let page = self
            .store()
            .users()
            .list(
                pool_id,
                &UserQuery {
                    filter: None,
                    limit: EXPORT_PAGE,
                    cursor,
                },
            )
            .await?;
        let mut users = Vec::with_capacity(page.users.len());
        for record in page.users {
            let reseal = |kind: &str, plain: &[u8]| {
                key.seal(plain, &transfer_aad(kind, pool_id, &record.sub))
                    .map_err(|e| UserPoolError::internal("sealing for export", e))
            };
            let password_hash = record
                .password_hash
                .as_deref()
                .map(|hash| reseal("password hash", hash.as_bytes()))
                .transpose()?;
            let srp_verifier = match &record.srp_verifier {
                Some(sealed) => {
                    let plain = self.open_verifier_blob(&pool.id, &record.sub, sealed)?;
                    Some(reseal("srp verifier", &plain)?)
                }
                None => None,
            };
            let mfa_record = self.store().mfa().get(pool_id, &record.sub).await?;
            let (mfa, totp_secret) = match mfa_record {
                Some(m) => {
                    let secret = match &m.totp_secret {
                        Some(sealed) => {
                            let plain = self.open_totp(&pool, &record.sub, sealed)?;
                            Some(reseal("totp secret", &plain)?)
                        }
                        None => None,
                    };
                    (
                        ExportedMfa {
                            totp_name: m.totp_name,
                            totp_last_step: m.totp_last_step,
                            totp_enabled: m.flags.totp_enabled,
                            totp_preferred: m.flags.totp_preferred,
                            email_enabled: m.flags.email_enabled,
                            email_preferred: m.flags.email_preferred,
                        },
                        secret,
                    )
                }
                None => (
                    ExportedMfa {
                        totp_last_step: -1,
                        ..ExportedMfa::default()
                    },
                    None,
                ),
            };
            let mut groups = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .store()
                    .groups()
                    .for_user(pool_id, &record.sub, 1000, after.as_deref())
                    .await?;
                groups.extend(page.items.into_iter().map(|g| g.name));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            users.push(ExportedUser {
                username: record.username,
                sub: record.sub,
                status: record.status,
                enabled: record.enabled,
                attributes: record.attributes,
                groups,
                created_at: record.created_at,
                mfa,
                password_hash,
                srp_verifier,
                totp_secret,
            });
        }
        Ok(ExportPage {
            users,
            next: page.next,
        })
    }

    /// Makes the exported pool here, with the same id, name and configuration (and new
    /// signing keys), unless a pool with that id exists; returns whether it made it.
    pub async fn import_pool(&self, pool: &ExportedPool) -> Result<bool, UserPoolError> {
        if self.store().user_pools().get(&pool.id).await?.is_some() {
            return Ok(false);
        }
        let config: PoolConfig = serde_json::from_str(&pool.config)
            .map_err(|e| UserPoolError::invalid(format!("exported pool configuration: {e}")))?;
        config.validate()?;
        let region = pool.id.split_once('_').map_or("", |(region, _)| region);
        if !self.serves_region(region) {
            return Err(UserPoolError::invalid(format!(
                "the pool `{}` is in region `{region}`, which this service does not serve (--region)",
                pool.id
            )));
        }
        let now = self.now();
        let (id_key, access_key) = self.generate_key_pair().await?;
        let records = vec![
            self.key_record(&pool.id, &id_key, now)?,
            self.key_record(&pool.id, &access_key, now)?,
        ];
        let json = serde_json::to_string(&config)
            .map_err(|e| UserPoolError::internal("pool configuration", e))?;
        self.store()
            .user_pools()
            .create(&NewUserPool {
                id: pool.id.clone(),
                name: pool.name.clone(),
                config: json,
                created_at: unix_millis(now),
                signing_keys: records,
            })
            .await?;
        self.cache_new_ring(&pool.id, id_key, access_key, now);
        Ok(true)
    }

    /// Checks that `key` opens every secret of `user` exported from `source_pool_id`,
    /// without writing anything: an import checks every line before it writes the first.
    pub fn check_exported_user(
        &self,
        source_pool_id: &str,
        key: &Sealer,
        user: &ExportedUser,
    ) -> Result<(), UserPoolError> {
        UserStatus::parse(&user.status)
            .ok_or_else(|| UserPoolError::invalid(format!("status `{}`", user.status)))?;
        let blobs = [&user.password_hash, &user.srp_verifier, &user.totp_secret];
        for (kind, blob) in SECRET_KINDS.iter().zip(blobs) {
            if let Some(blob) = blob {
                key.open(blob, &transfer_aad(kind, source_pool_id, &user.sub))
                    .map_err(|_| {
                        UserPoolError::invalid(format!(
                            "the {kind} of user `{}` does not open with this key",
                            user.username
                        ))
                    })?;
            }
        }
        Ok(())
    }

    /// Imports one exported user into `pool_id`, its secrets sealed again with this service's
    /// master key. A user already there (same sub, name or alias) is left alone.
    pub async fn import_user(
        &self,
        source_pool_id: &str,
        pool_id: &str,
        key: &Sealer,
        user: &ExportedUser,
    ) -> Result<ImportOutcome, UserPoolError> {
        self.check_exported_user(source_pool_id, key, user)?;
        let pool = self.user_pool(pool_id).await?;
        let open = |kind: &str, blob: &Option<Vec<u8>>| {
            blob.as_ref()
                .map(|b| key.open(b, &transfer_aad(kind, source_pool_id, &user.sub)))
                .transpose()
                .map_err(|e| UserPoolError::internal("opening an exported secret", e))
        };
        let password_hash = open("password hash", &user.password_hash)?
            .map(String::from_utf8)
            .transpose()
            .map_err(|e| UserPoolError::invalid(format!("exported password hash: {e}")))?;
        // The verifier hashes the pool's name: valid only in a pool with the same id.
        let srp_verifier = match open("srp verifier", &user.srp_verifier)? {
            Some(plain) if source_pool_id == pool.id => {
                Some(self.seal_verifier_blob(&pool.id, &user.sub, &plain)?)
            }
            _ => None,
        };
        let totp_secret = open("totp secret", &user.totp_secret)?;
        let now = unix_millis(self.now());
        let attributes = stored_attributes(&user.attributes);
        let created = self
            .store()
            .users()
            .create(&NewUser {
                pool_id: pool.id.clone(),
                sub: user.sub.clone(),
                username_key: self.username_key(&pool, &user.username),
                username: user.username.clone(),
                status: user.status.clone(),
                enabled: user.enabled,
                password_hash,
                srp_verifier,
                aliases: self.aliases_for(&pool, &attributes),
                attributes,
                created_at: user.created_at,
            })
            .await;
        match created {
            Ok(_) => {}
            Err(StorageError::Conflict { .. } | StorageError::AliasTaken { .. }) => {
                return Ok(ImportOutcome::AlreadyThere);
            }
            Err(other) => return Err(other.into()),
        }
        let flags = MfaFlags {
            totp_enabled: user.mfa.totp_enabled,
            totp_preferred: user.mfa.totp_preferred,
            email_enabled: user.mfa.email_enabled,
            email_preferred: user.mfa.email_preferred,
        };
        let mfa = self.store().mfa();
        match totp_secret {
            Some(secret) => {
                let sealed = self.seal_totp(&pool, &user.sub, &secret)?;
                mfa.set_pending_totp(&pool.id, &user.sub, &sealed, now)
                    .await?;
                mfa.confirm_totp(
                    &pool.id,
                    &user.sub,
                    &sealed,
                    user.mfa.totp_name.as_deref(),
                    user.mfa.totp_last_step,
                    flags,
                    now,
                )
                .await?;
            }
            None if flags != MfaFlags::default() => {
                mfa.set_flags(&pool.id, &user.sub, flags, now).await?;
            }
            None => {}
        }
        let groups = self.store().groups();
        for name in &user.groups {
            if groups.get(&pool.id, name).await?.is_none() {
                let made = groups
                    .create(&GroupRecord {
                        pool_id: pool.id.clone(),
                        name: name.clone(),
                        description: None,
                        precedence: None,
                        role_arn: None,
                        created_at: now,
                        updated_at: now,
                    })
                    .await;
                match made {
                    Ok(()) | Err(StorageError::Conflict { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            groups.add_member(&pool.id, name, &user.sub).await?;
        }
        Ok(ImportOutcome::Imported)
    }
}
