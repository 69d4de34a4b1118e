//! Identity pools (Cognito Identity): pools and their roles and role mappings, identities
//! made from logins or for guests, and temporary credentials for them.
//!
//! # Layout
//! - `error`: [`IdentityPoolError`], one variant per Cognito Identity exception.
//! - `pools`: the operator operations on pools, roles and identities.
//! - `logins`: verifying a `Logins` map (user-pool ID tokens, fully: signature, issuer,
//!   audience, `token_use`, expiry, sign-outs).
//! - [`crate::oidc`] (shared with the user pools' federation): tokens of registered OpenID
//!   Connect providers (their issuers' keys fetched and cached), for `Logins` and
//!   AssumeRoleWithWebIdentity.
//! - `openid`: GetOpenIdToken, the `{public_url}/cognito-identity` issuer's key, discovery
//!   and JWKS, and the verification of its tokens for AssumeRoleWithWebIdentity.
//! - `developer`: developer-authenticated identities (GetOpenIdTokenForDeveloperIdentity,
//!   LookupDeveloperIdentity, MergeDeveloperIdentities, UnlinkDeveloperIdentity) and
//!   UnlinkIdentity.
//! - `principal_tags`: the principal-tag attribute maps and the session tags logins bring.
//! - `credentials`: GetId and GetCredentialsForIdentity (the enhanced flow), role choice
//!   (default roles, role mappings by token or rules), the trust policy check.
//!
//! Every operation reads the clock once at its start and passes that `now` down.

mod credentials;
mod developer;
mod error;
mod logins;
mod openid;
mod pools;
mod principal_tags;

pub use crate::oidc::{
    LEEWAY_SECS as OIDC_LEEWAY_SECS, MAX_DOCUMENT_BYTES as MAX_OIDC_DOCUMENT_BYTES,
    OidcFetchConfig, REFETCH_INTERVAL as OIDC_REFETCH_INTERVAL,
};
pub use credentials::IdentityCredentials;
pub use developer::{DEVELOPER_TOKEN_SECS, MAX_DEVELOPER_TOKEN_SECS};
pub use error::IdentityPoolError;
pub use logins::{LoginKind, MAX_LOGINS, VerifiedLogin};
pub use openid::{OPENID_ISSUER_PATH, OPENID_TOKEN_SECS, OpenIdIssuerConfiguration, OpenIdToken};
pub use pools::{
    AmbiguousRoleResolution, CognitoProvider, IdentityDescription, IdentityPool,
    IdentityPoolConfig, MappingRule, MatchType, RoleMapping, RoleMappingType,
};
pub use principal_tags::{DEFAULT_PRINCIPAL_TAGS, PrincipalTagMap};

use std::sync::Arc;
use std::time::SystemTime;

use gatehouse_storage::Store;

use crate::clock::Clock;
use crate::iam::Iam;
use crate::sts::Sts;
use crate::user_pools::UserPools;

/// Node-wide settings of the identity-pool service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPoolsConfig {
    /// The region of pools made without a signed region.
    pub region: String,
    /// The base URL of this service (the user pools' issuers live under it).
    pub public_url: String,
    /// How OpenID Connect providers' keys are fetched.
    pub oidc: OidcFetchConfig,
}

/// The identity-pool service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IdentityPools {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    user_pools: UserPools,
    iam: Iam,
    sts: Sts,
    clock: Arc<dyn Clock>,
    config: IdentityPoolsConfig,
    /// The OpenID issuer's key, loaded (or made) once on first use.
    openid_key: tokio::sync::OnceCell<Arc<crate::tokens::SigningKey>>,
    /// OpenID Connect providers' keys, fetched on demand.
    oidc: Arc<crate::oidc::OidcIssuers>,
}

impl IdentityPools {
    /// The service over `store`, verifying logins against `user_pools`, roles from `iam`,
    /// credentials from `sts`.
    pub fn new(
        store: Store,
        user_pools: UserPools,
        iam: Iam,
        sts: Sts,
        clock: Arc<dyn Clock>,
        config: IdentityPoolsConfig,
    ) -> Self {
        let oidc = Arc::new(crate::oidc::OidcIssuers::new(&config.oidc));
        Self {
            inner: Arc::new(Inner {
                oidc,
                store,
                user_pools,
                iam,
                sts,
                clock,
                config,
                openid_key: tokio::sync::OnceCell::new(),
            }),
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// The upstream issuers' key cache and outbound client, shared with the user pools'
    /// federation (one cache of each issuer's keys per node).
    pub fn oidc_issuers(&self) -> Arc<crate::oidc::OidcIssuers> {
        Arc::clone(&self.inner.oidc)
    }

    /// The user-pool service logins are verified against.
    pub fn user_pools(&self) -> &UserPools {
        &self.inner.user_pools
    }

    /// The ARN of an identity pool.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        let region = pool_id.split_once(':').map_or("", |(r, _)| r);
        format!(
            "arn:aws:cognito-identity:{region}:{}:identitypool/{pool_id}",
            self.inner.iam.account_id()
        )
    }
}
