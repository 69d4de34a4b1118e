//! Developer-authenticated identities and unlinking: GetOpenIdTokenForDeveloperIdentity,
//! LookupDeveloperIdentity, MergeDeveloperIdentities, UnlinkDeveloperIdentity (operator) and
//! UnlinkIdentity (public).
//!
//! A developer login is the pair (the pool's `DeveloperProviderName`, a developer user
//! identifier the operator's back end vouches for); it is stored like any other login, so a
//! developer identifier names at most one identity of its pool. Only the operator may name
//! one: in a public call's `Logins` the developer provider is not a supported provider, and
//! every operator call that names a provider must name this pool's own.
//!
//! UnlinkIdentity removes only logins the caller proved in the same call: each name in
//! `LoginsToRemove` must be the key (or the canonical provider) of a `Logins` entry that
//! verified and is linked to the identity. An identity whose last login goes is disabled
//! (see `gatehouse_storage::IdentityPools::unlink`): it never falls back to a guest.

use std::collections::BTreeMap;

use gatehouse_storage::StorageError;

use super::logins::{MAX_LOGINS, VerifiedLogin};
use super::pools::{IdentityPool, MAX_LIST};
use super::{IdentityPoolError, IdentityPools, OpenIdToken};
use crate::time::unix_millis;

/// Longest developer user identifier (Cognito's limit).
const MAX_DEVELOPER_USER_IDENTIFIER: usize = 1024;
/// Lifetime of a developer OpenID token without `TokenDuration` (Cognito's default).
pub const DEVELOPER_TOKEN_SECS: i64 = 900;
/// Longest `TokenDuration` (Cognito's limit, one day).
pub const MAX_DEVELOPER_TOKEN_SECS: i64 = 86_400;

fn invalid(message: impl Into<String>) -> IdentityPoolError {
    IdentityPoolError::InvalidParameter(message.into())
}

fn identity_not_found(identity_id: &str) -> IdentityPoolError {
    IdentityPoolError::ResourceNotFound(format!("Identity '{identity_id}' not found."))
}

fn check_identifier(identifier: &str) -> Result<(), IdentityPoolError> {
    if identifier.is_empty() || identifier.chars().count() > MAX_DEVELOPER_USER_IDENTIFIER {
        return Err(invalid(format!(
            "a developer user identifier has 1 to {MAX_DEVELOPER_USER_IDENTIFIER} characters"
        )));
    }
    Ok(())
}

/// `cognito-identity.amazonaws.com:amr` of an authenticated caller with these logins.
pub(super) fn authenticated_amr<'a>(
    logins: impl Iterator<Item = (&'a str, String)>,
) -> Vec<String> {
    let mut amr = vec!["authenticated".to_owned()];
    for (provider, detail) in logins {
        amr.push(provider.to_owned());
        amr.push(format!("{provider}:{detail}"));
    }
    amr
}

impl IdentityPools {
    /// The pool's developer provider name, checked against `named` when the call names one.
    fn developer_provider<'p>(
        pool: &'p IdentityPool,
        named: Option<&str>,
    ) -> Result<&'p str, IdentityPoolError> {
        let own = pool
            .config
            .developer_provider_name
            .as_deref()
            .ok_or_else(|| {
                invalid(format!(
                    "Identity pool '{}' has no DeveloperProviderName.",
                    pool.id
                ))
            })?;
        match named {
            Some(name) if name != own => Err(invalid(format!(
                "DeveloperProviderName `{name}` is not the developer provider of identity pool '{}'.",
                pool.id
            ))),
            _ => Ok(own),
        }
    }

    /// The identity, when it belongs to `pool_id`.
    async fn identity_in_pool(
        &self,
        pool_id: &str,
        identity_id: &str,
    ) -> Result<gatehouse_storage::IdentityRecord, IdentityPoolError> {
        match self
            .store()
            .identity_pools()
            .get_identity(identity_id)
            .await?
        {
            Some(identity) if identity.pool_id == pool_id => Ok(identity),
            _ => Err(identity_not_found(identity_id)),
        }
    }

    /// GetOpenIdTokenForDeveloperIdentity: links the developer login (and any other logins,
    /// verified) to `identity_id`, or to the identity they resolve to (made on first use),
    /// and signs an OpenID token for it valid `token_duration` seconds, carrying
    /// `principal_tags` as session tags.
    pub async fn get_open_id_token_for_developer_identity(
        &self,
        pool_id: &str,
        identity_id: Option<&str>,
        logins: &BTreeMap<String, String>,
        principal_tags: &BTreeMap<String, String>,
        token_duration: Option<i64>,
    ) -> Result<OpenIdToken, IdentityPoolError> {
        let tags = super::principal_tags::developer_tags(principal_tags)?;
        let pool = self.identity_pool(pool_id).await?;
        let developer = Self::developer_provider(&pool, None)?;
        let lifetime = token_duration.unwrap_or(DEVELOPER_TOKEN_SECS);
        if !(1..=MAX_DEVELOPER_TOKEN_SECS).contains(&lifetime) {
            return Err(invalid(format!(
                "TokenDuration must be between 1 and {MAX_DEVELOPER_TOKEN_SECS} seconds"
            )));
        }
        if logins.len() > MAX_LOGINS {
            return Err(IdentityPoolError::LimitExceeded(format!(
                "A maximum of {MAX_LOGINS} logins may be provided."
            )));
        }
        let identifier = logins.get(developer).ok_or_else(|| {
            invalid(format!(
                "Logins must contain the developer provider `{developer}`."
            ))
        })?;
        check_identifier(identifier)?;
        let others: BTreeMap<String, String> = logins
            .iter()
            .filter(|(key, _)| key.as_str() != developer)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let verified = self.verify_logins(&pool, &others).await?;
        if verified.iter().any(VerifiedLogin::is_own_token) {
            return Err(invalid(
                "Logins cannot link a token of cognito-identity.amazonaws.com: it names an identity, not a user",
            ));
        }
        let mut keys = vec![(developer.to_owned(), identifier.clone())];
        keys.extend(
            verified
                .iter()
                .map(|l| (l.provider.clone(), l.subject.clone())),
        );
        let now = unix_millis(self.now());
        let identity_id = match identity_id {
            Some(id) => {
                match self
                    .store()
                    .identity_pools()
                    .link(pool_id, id, &keys, now)
                    .await
                {
                    Ok(()) => id.to_owned(),
                    Err(StorageError::NotFound { .. }) => return Err(identity_not_found(id)),
                    Err(StorageError::Conflict { what }) if what == developer => {
                        return Err(IdentityPoolError::DeveloperUserAlreadyRegistered(
                            "The developer user identifier is already linked to another identity."
                                .into(),
                        ));
                    }
                    Err(StorageError::Conflict { .. }) => {
                        return Err(IdentityPoolError::ResourceConflict(
                            "A login is already linked to another identity.".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                let region = pool_id.split_once(':').map_or("", |(r, _)| r);
                let new_id = format!("{region}:{}", crate::ids::uuid_v4());
                self.store()
                    .identity_pools()
                    .resolve(pool_id, &keys, &new_id, now)
                    .await?
                    .identity_id
            }
        };
        let developer_detail = format!("{pool_id}:{identifier}");
        let amr = authenticated_amr(
            std::iter::once((developer, developer_detail)).chain(
                verified
                    .iter()
                    .map(|l| (l.provider.as_str(), format!("CognitoSignIn:{}", l.subject))),
            ),
        );
        let token = self
            .sign_openid_token(&identity_id, pool_id, amr, &tags, lifetime)
            .await?;
        Ok(OpenIdToken { identity_id, token })
    }

    /// LookupDeveloperIdentity: the identity of a developer user identifier, or the
    /// developer user identifiers of an identity (both must agree when both are given),
    /// `max_results` identifiers at a time after `next_token`.
    pub async fn lookup_developer_identity(
        &self,
        pool_id: &str,
        identity_id: Option<&str>,
        developer_user_identifier: Option<&str>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(String, Vec<String>, Option<String>), IdentityPoolError> {
        let max_results = max_results.unwrap_or(MAX_LIST);
        if !(1..=MAX_LIST).contains(&max_results) {
            return Err(invalid(format!(
                "MaxResults must be between 1 and {MAX_LIST}"
            )));
        }
        let pool = self.identity_pool(pool_id).await?;
        let developer = Self::developer_provider(&pool, None)?;
        let identity_id = match (identity_id, developer_user_identifier) {
            (None, None) => {
                return Err(invalid(
                    "IdentityId or DeveloperUserIdentifier must be given.",
                ));
            }
            (Some(id), None) => id.to_owned(),
            (given, Some(identifier)) => {
                check_identifier(identifier)?;
                let owner = self
                    .store()
                    .identity_pools()
                    .find_login(pool_id, developer, identifier)
                    .await?
                    .ok_or_else(|| {
                        IdentityPoolError::ResourceNotFound(
                            "The developer user identifier is not linked to an identity.".into(),
                        )
                    })?;
                if given.is_some_and(|id| id != owner) {
                    return Err(IdentityPoolError::ResourceConflict(
                        "The developer user identifier is linked to another identity.".into(),
                    ));
                }
                owner
            }
        };
        let identity = self.identity_in_pool(pool_id, &identity_id).await?;
        let after = next_token.unwrap_or("");
        let mut identifiers: Vec<String> = identity
            .logins
            .into_iter()
            .filter(|(provider, subject)| provider == developer && subject.as_str() > after)
            .map(|(_, subject)| subject)
            .collect();
        let limit = usize::try_from(max_results).unwrap_or(usize::MAX);
        let next = if identifiers.len() > limit {
            identifiers.truncate(limit);
            identifiers.last().cloned()
        } else {
            None
        };
        Ok((identity_id, identifiers, next))
    }

    /// The identity a developer user identifier of `pool` is linked to.
    async fn developer_owner(
        &self,
        pool_id: &str,
        developer: &str,
        identifier: &str,
    ) -> Result<String, IdentityPoolError> {
        check_identifier(identifier)?;
        self.store()
            .identity_pools()
            .find_login(pool_id, developer, identifier)
            .await?
            .ok_or_else(|| {
                IdentityPoolError::ResourceNotFound(format!(
                    "Developer user identifier '{identifier}' is not linked to an identity."
                ))
            })
    }

    /// MergeDeveloperIdentities: moves every login of the source identifier's identity to
    /// the destination identifier's, deleting the source identity; answers the destination.
    pub async fn merge_developer_identities(
        &self,
        pool_id: &str,
        provider_name: &str,
        source: &str,
        destination: &str,
    ) -> Result<String, IdentityPoolError> {
        let pool = self.identity_pool(pool_id).await?;
        let developer = Self::developer_provider(&pool, Some(provider_name))?;
        let into = self
            .developer_owner(pool_id, developer, destination)
            .await?;
        let from = self.developer_owner(pool_id, developer, source).await?;
        if from != into {
            match self
                .store()
                .identity_pools()
                .merge(pool_id, &into, &from, unix_millis(self.now()))
                .await
            {
                Ok(()) => {}
                Err(StorageError::NotFound { .. }) => {
                    return Err(IdentityPoolError::ResourceConflict(
                        "The identities changed while they were being merged; try again.".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(into)
    }

    /// UnlinkDeveloperIdentity.
    pub async fn unlink_developer_identity(
        &self,
        pool_id: &str,
        identity_id: &str,
        provider_name: &str,
        identifier: &str,
    ) -> Result<(), IdentityPoolError> {
        let pool = self.identity_pool(pool_id).await?;
        let developer = Self::developer_provider(&pool, Some(provider_name))?;
        check_identifier(identifier)?;
        self.identity_in_pool(pool_id, identity_id).await?;
        let removed = self
            .store()
            .identity_pools()
            .unlink(
                identity_id,
                &[(developer.to_owned(), identifier.to_owned())],
                unix_millis(self.now()),
            )
            .await?;
        if removed == 0 {
            return Err(IdentityPoolError::ResourceNotFound(format!(
                "Developer user identifier '{identifier}' is not linked to identity '{identity_id}'."
            )));
        }
        Ok(())
    }

    /// UnlinkIdentity: removes the logins named in `to_remove`, each proven in `logins`.
    pub async fn unlink_identity(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
        to_remove: &[String],
    ) -> Result<(), IdentityPoolError> {
        if logins.is_empty() {
            return Err(invalid("Logins must prove the logins to remove."));
        }
        if to_remove.is_empty() || to_remove.len() > MAX_LOGINS {
            return Err(invalid(format!(
                "LoginsToRemove must have 1 to {MAX_LOGINS} members"
            )));
        }
        let caller = self.authorize_identity(identity_id, logins).await?;
        // `verify_logins` answers in key order: pair each key with its verified login.
        let proven: Vec<(&String, &VerifiedLogin)> = logins.keys().zip(&caller.verified).collect();
        let mut pairs = Vec::with_capacity(to_remove.len());
        for name in to_remove {
            let login = proven
                .iter()
                .filter(|(_, login)| !login.is_own_token())
                .find(|(key, login)| *key == name || login.provider == *name)
                .map(|(_, login)| *login)
                .ok_or_else(|| {
                    IdentityPoolError::NotAuthorized(format!(
                        "The login `{name}` to remove is not proven by Logins."
                    ))
                })?;
            pairs.push((login.provider.clone(), login.subject.clone()));
        }
        self.store()
            .identity_pools()
            .unlink(identity_id, &pairs, unix_millis(self.now()))
            .await?;
        Ok(())
    }
}
