//! Lazy migration: a user who does not exist locally may come from elsewhere, at the moment
//! they sign in with a password or ask for a password reset, as Cognito's UserMigration
//! trigger lets a pool take its users from an older system one by one.
//!
//! # The one interface
//! [`MigrationSource`] is what "elsewhere" has to answer: a sign-in with a password
//! ([`MigrationSource::sign_in`]) and a password reset ([`MigrationSource::forgot_password`])
//! for a name missing locally. The sign-in and ForgotPassword paths call
//! [`UserPools::migrate_on_sign_in`] and [`UserPools::migrate_on_forgot_password`] and
//! nothing else; [`UserPools::migration_sources`] says which sources a pool has. Today that
//! is the upstream user pool (`upstream`: any Cognito-compatible endpoint, AWS's own or
//! another gatehouse); a further kind of source is one more implementation and one more
//! line there.
//!
//! # What is created
//! The user gets the source's username, its `sub` when it is a UUID not taken here (so data
//! keyed by `sub` keeps working; Cognito's own trigger gives a new one), the attributes this
//! pool's schema knows (others are dropped, each name logged) and, after a sign-in, the
//! password just verified (kept even where this pool's policy would refuse it as a new
//! password: the user could not sign in otherwise). Then the sign-in runs locally as for any
//! user: the lockout, MFA and the rest apply. Concurrent first sign-ins of one user create
//! one user (the username and `sub` are unique in storage; the loser signs in against the
//! winner's row).
//!
//! # Guessing
//! A sign-in sent to a source is a password guess: it is refused unasked while the name is
//! locked out, and its outcome counts on the name's lockout counter (see `attempts`), so a
//! source cannot be used to guess faster than a local user. A name the source does not know
//! and a wrong password are answered alike when the client prevents user-existence errors,
//! after the same local work. A source that cannot answer fails the operation with
//! `InternalErrorException` and nothing is created.

mod function;
mod upstream;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use gatehouse_storage::{MigrationSourceRecord, NewUser, StorageError};

pub use upstream::{
    DEFAULT_TIMEOUT, MAX_TIMEOUT, SetUpstreamPool, UpstreamCredentials, UpstreamPool,
};

use super::attempts::{PASSWORD, Subject};
use super::attributes::{AttributeWrite, stored_attributes};
use super::auth::incorrect_credentials;
use super::{UserPool, UserPoolError, UserPools, UserStatus};
use crate::time::unix_millis;

/// A user a source found, to be created here.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MigratedUser {
    /// The source's username (the name typed may have been an alias of it).
    pub(crate) username: String,
    /// Its attributes as the source has them, `sub` included when the source shows it.
    pub(crate) attributes: BTreeMap<String, String>,
    /// The status it gets here.
    pub(crate) status: UserStatus,
    /// Whether it keeps the password of the sign-in that found it (a password reset: never).
    pub(crate) keeps_password: bool,
    /// An email or phone number it takes as an alias from another user is moved to it
    /// (UserMigration's `forceAliasCreation`); otherwise such a user is refused.
    pub(crate) force_alias_creation: bool,
    /// It gets a new `sub`, whatever its attributes say (UserMigration, as Cognito does).
    pub(crate) new_sub: bool,
}

impl std::fmt::Debug for MigratedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigratedUser")
            .field("status", &self.status)
            .field("keeps_password", &self.keeps_password)
            .finish_non_exhaustive()
    }
}

/// What a source says about a sign-in with a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignInLookup {
    /// The password is right: create this user.
    Found(MigratedUser),
    /// The source has no such user.
    Missing,
    /// The user exists there but the password is wrong (or the source refused the user).
    WrongPassword,
    /// The password is right but the source cannot hand the user over by password alone (a
    /// second factor there): the user must reset the password.
    ResetRequired,
    /// The password is right but the user has not confirmed the sign-up there.
    NotConfirmed,
}

/// What a source says about a password reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResetLookup {
    /// Create this user, without a password, so that the reset code flow proceeds.
    Found(MigratedUser),
    /// No such user (or none the source can hand over this way).
    Missing,
}

/// Why a source could not answer. The cause is logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrationError {
    #[error("the migration source did not answer: {0}")]
    Unavailable(String),
    /// The source answered with an error of its own to give the client as it is (the
    /// UserMigration trigger: Cognito's trigger errors).
    #[error("the migration function failed: {0}")]
    Answer(UserPoolError),
}

/// The future a source answers with.
pub(crate) type Lookup<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, MigrationError>> + Send + 'a>>;

/// Where a user missing locally may come from (see the module docs).
pub(crate) trait MigrationSource: Send + Sync {
    /// A sign-in of `username` with `password` (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH).
    fn sign_in<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        now: SystemTime,
    ) -> Lookup<'a, SignInLookup>;

    /// ForgotPassword for `username`.
    fn forgot_password<'a>(&'a self, username: &'a str, now: SystemTime)
    -> Lookup<'a, ResetLookup>;
}

/// A configured source that could not be built: every lookup is unavailable.
struct Broken(String);

impl MigrationSource for Broken {
    fn sign_in<'a>(&'a self, _: &'a str, _: &'a str, _: SystemTime) -> Lookup<'a, SignInLookup> {
        Box::pin(async { Err(MigrationError::Unavailable(self.0.clone())) })
    }

    fn forgot_password<'a>(&'a self, _: &'a str, _: SystemTime) -> Lookup<'a, ResetLookup> {
        Box::pin(async { Err(MigrationError::Unavailable(self.0.clone())) })
    }
}

/// The one answer of a source that could not answer (see the module docs).
fn unavailable(e: MigrationError) -> UserPoolError {
    tracing::warn!(error = %e, "lazy migration failed");
    match e {
        MigrationError::Unavailable(_) => UserPoolError::MigrationUnavailable(
            "The user pool users are migrated from could not be reached; nothing was changed, try again later.".into(),
        ),
        MigrationError::Answer(e) => e,
    }
}

// === impl UserPools ===

impl UserPools {
    /// The sources the pool takes missing users from, in the order they are asked: its
    /// upstream user pool, then its UserMigration trigger (told the request's app client and
    /// `ClientMetadata`).
    pub(crate) async fn migration_sources(
        &self,
        pool: &UserPool,
        client_id: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Vec<Box<dyn MigrationSource>>, UserPoolError> {
        let mut sources: Vec<Box<dyn MigrationSource>> = Vec::new();
        if let Some(record) = self.store().migration_sources().get(&pool.id).await? {
            // A source that cannot be built (its secret does not open) fails the users it
            // would be asked about, never the users the pool has.
            match self.upstream_source(&record) {
                Ok(source) => sources.push(Box::new(source)),
                Err(e) => sources.push(Box::new(Broken(e.to_string()))),
            }
        }
        if pool.config.triggers()?.user_migration.is_some() {
            sources.push(Box::new(function::FunctionSource {
                pools: self.clone(),
                pool: pool.clone(),
                client_id: client_id.map(str::to_owned),
                metadata: metadata.clone(),
            }));
        }
        Ok(sources)
    }

    /// A sign-in with a password for `username`, whom this pool does not have, with the
    /// pool's `sources` (read by the caller for every sign-in, whether the user exists or not,
    /// so that a pool that migrates from nowhere answers both after the same reads).
    /// `Ok(false)`: there is no source (answer as for any unknown user). `Ok(true)`: the user
    /// exists here now (created here, or by a sign-in of the same user racing this one), and
    /// the sign-in goes on locally. An error is the answer to give.
    pub(crate) async fn migrate_on_sign_in(
        &self,
        pool: &UserPool,
        sources: &[Box<dyn MigrationSource>],
        uniform: bool,
        username: &str,
        password: &str,
        now: SystemTime,
    ) -> Result<bool, UserPoolError> {
        if sources.is_empty() {
            return Ok(false);
        }
        // A locked name is refused before any source is asked.
        let subject = Subject::of(self, pool, None, username);
        self.check_lockout(pool, &subject, PASSWORD, now).await?;
        let mut answer = SignInLookup::Missing;
        for source in sources {
            answer = source
                .sign_in(username, password, now)
                .await
                .map_err(unavailable)?;
            if answer != SignInLookup::Missing {
                break;
            }
        }
        let matched = matches!(
            answer,
            SignInLookup::Found(_) | SignInLookup::ResetRequired | SignInLookup::NotConfirmed
        );
        self.record_check(pool, &subject, PASSWORD, matched, now)
            .await?;
        match answer {
            SignInLookup::Found(user) => {
                let reset = user.status == UserStatus::ResetRequired;
                self.create_migrated(pool, username, user, Some(password), now)
                    .await?;
                if reset {
                    // Created, without the password: it must be reset first (Cognito's
                    // `finalUserStatus: RESET_REQUIRED`).
                    return Err(UserPoolError::PasswordResetRequired(
                        "Password reset required for the user".into(),
                    ));
                }
                Ok(true)
            }
            SignInLookup::Missing if !uniform => {
                Err(UserPoolError::UserNotFound("User does not exist.".into()))
            }
            SignInLookup::Missing | SignInLookup::WrongPassword => Err(incorrect_credentials()),
            SignInLookup::ResetRequired => Err(UserPoolError::PasswordResetRequired(
                "Password reset required for the user".into(),
            )),
            SignInLookup::NotConfirmed => Err(UserPoolError::UserNotConfirmed(
                "User is not confirmed.".into(),
            )),
        }
    }

    /// ForgotPassword for `username`, whom this pool does not have, with the pool's `sources`
    /// (read for every request, as for a sign-in): `Ok(true)` when a source had the user and
    /// it now exists here (in RESET_REQUIRED, without a password), so the reset goes on as for
    /// any user; `Ok(false)` otherwise.
    pub(crate) async fn migrate_on_forgot_password(
        &self,
        pool: &UserPool,
        sources: &[Box<dyn MigrationSource>],
        username: &str,
        now: SystemTime,
    ) -> Result<bool, UserPoolError> {
        for source in sources {
            match source
                .forgot_password(username, now)
                .await
                .map_err(unavailable)?
            {
                ResetLookup::Found(user) => {
                    self.create_migrated(pool, username, user, None, now)
                        .await?;
                    return Ok(true);
                }
                ResetLookup::Missing => {}
            }
        }
        Ok(false)
    }

    /// Creates the user a source found (see the module docs), with `password` when the source
    /// verified it. A user of that name created meanwhile (a racing sign-in) is success.
    async fn create_migrated(
        &self,
        pool: &UserPool,
        typed: &str,
        found: MigratedUser,
        password: Option<&str>,
        now: SystemTime,
    ) -> Result<(), UserPoolError> {
        let attributes = self.migrated_attributes(pool, &found.attributes);
        self.check_required_attributes(pool, &attributes)
            .map_err(|e| {
                tracing::warn!(error = %e, "a migrated user lacks an attribute this pool requires");
                UserPoolError::InvalidUserPoolConfiguration(
                    "The migrated user does not have every attribute this user pool requires."
                        .into(),
                )
            })?;
        let upstream_sub = found
            .attributes
            .get("sub")
            .filter(|s| is_uuid(s) && !found.new_sub)
            .cloned();
        let mut sub = upstream_sub.clone().unwrap_or_else(crate::ids::uuid_v4);
        if found.force_alias_creation {
            self.take_aliases(pool, &sub, &found.username, &attributes, now)
                .await?;
        }
        for _ in 0..2 {
            let username = if pool.config.uses_username_attributes() {
                sub.clone()
            } else {
                found.username.clone()
            };
            let secrets = match password.filter(|_| found.keeps_password) {
                Some(password) => Some(
                    self.password_secrets(pool, &sub, &username, password)
                        .await?,
                ),
                None => None,
            };
            let created = self
                .store()
                .users()
                .create(&NewUser {
                    pool_id: pool.id.clone(),
                    sub: sub.clone(),
                    username_key: self.username_key(pool, &username),
                    username,
                    status: found.status.as_str().into(),
                    enabled: true,
                    password_hash: secrets.as_ref().map(|s| s.hash.clone()),
                    srp_verifier: secrets.map(|s| s.srp_verifier),
                    attributes: stored_attributes(&attributes),
                    aliases: self.aliases_for(pool, &attributes),
                    created_at: unix_millis(now),
                })
                .await;
            match created {
                Ok(_) => return Ok(()),
                Err(StorageError::Conflict { .. }) => {
                    if self.find_user(pool, typed).await?.is_some() {
                        // Another sign-in of the same user created it first.
                        return Ok(());
                    }
                    if upstream_sub.as_deref() != Some(sub.as_str()) {
                        break;
                    }
                    // The source's sub belongs to a user of another pool here: a new one.
                    sub = crate::ids::uuid_v4();
                }
                Err(StorageError::AliasTaken { name, .. }) => {
                    return Err(UserPoolError::AliasExists(format!(
                        "An account with the given {name} already exists."
                    )));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(UserPoolError::UsernameExists(
            "A user of this name exists in this user pool under another name.".into(),
        ))
    }

    /// Moves the email and phone number aliases `attributes` would take from the users who
    /// hold them to the user about to be created as `sub` (`forceAliasCreation`).
    async fn take_aliases(
        &self,
        pool: &UserPool,
        sub: &str,
        username: &str,
        attributes: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<(), UserPoolError> {
        // The user does not exist yet: a stand-in with its `sub` is who takes the aliases.
        let taker = super::User {
            pool_id: pool.id.clone(),
            username: username.to_owned(),
            sub: sub.to_owned(),
            status: UserStatus::Confirmed,
            enabled: true,
            attributes: attributes.clone(),
            password_hash: None,
            srp_verifier: None,
            created_at: now,
            updated_at: now,
        };
        for name in ["email", "phone_number"] {
            self.claim_alias(pool, &taker, name, attributes, true, now)
                .await?;
        }
        Ok(())
    }

    /// The attributes of a migrated user this pool keeps: known to its schema, valid, not
    /// empty, booleans in their stored case; the others are dropped (their names logged).
    fn migrated_attributes(
        &self,
        pool: &UserPool,
        given: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let given: Vec<(String, String)> = given
            .iter()
            .filter(|(name, value)| *name != "sub" && !value.is_empty())
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let mut kept = BTreeMap::new();
        for (name, value) in self.canonical_attributes(pool, &given) {
            let one = [(name.clone(), value.clone())];
            match self.validate_attributes(pool, None, &one, AttributeWrite::Create) {
                Ok(()) => {
                    kept.insert(name, value);
                }
                Err(_) => tracing::info!(attribute = %name, "a migrated attribute was dropped"),
            }
        }
        kept
    }
}

/// Whether `s` has a UUID's shape (8-4-4-4-12 hexadecimal digits).
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How long one call to a source may take, within bounds.
pub(crate) fn bounded_timeout(ms: i64) -> Duration {
    let ms = u64::try_from(ms).unwrap_or(0);
    Duration::from_millis(ms).clamp(Duration::from_secs(1), MAX_TIMEOUT)
}

/// The stored record's creation time kept when a source is replaced.
pub(crate) fn keep_created(existing: Option<&MigrationSourceRecord>, now: i64) -> i64 {
    existing.map_or(now, |r| r.created_at)
}

#[cfg(test)]
mod tests {
    use super::is_uuid;

    #[test]
    fn only_uuids_are_kept_as_sub() {
        let cases = [
            ("3f1c2b7a-9d4e-4c1a-8b2f-0a1b2c3d4e5f", true),
            ("3F1C2B7A-9D4E-4C1A-8B2F-0A1B2C3D4E5F", true),
            ("3f1c2b7a9d4e4c1a8b2f0a1b2c3d4e5f", false),
            ("3f1c2b7a-9d4e-4c1a-8b2f-0a1b2c3d4e5", false),
            ("../../etc-passwd-xxxx-xxxx-xxxxxxxxxxxx", false),
            ("", false),
        ];
        for (s, expected) in cases {
            assert_eq!(is_uuid(s), expected, "{s:?}");
        }
    }
}
