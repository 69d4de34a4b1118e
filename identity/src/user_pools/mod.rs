//! The user-pool service layer: [`UserPools`] holds the store, the master-key sealer, the
//! password hasher, the delivery and the clock, and offers every Cognito user-pool operation as
//! a plain async method returning domain types or [`UserPoolError`].
//!
//! # Layout
//! - `config`: the pool and client configuration documents stored as JSON.
//! - `types`: domain types (pools, clients, users, groups, tokens, pages).
//! - `attributes`: schema validation, aliases, client read/write filtering.
//! - `keys`: the per-pool key-ring cache and signing-key rotation.
//! - `issue`: token issuance with Cognito's claims.
//! - `codes`: one-time codes (hashed, expiring, attempt-limited) and their delivery.
//! - `attempts`: the password lockout and the limits on code guesses and sends, counted in
//!   storage for every node.
//! - `auth_events`: each user's sign-in events (passwords checked, lockouts), for
//!   AdminListUserAuthEvents.
//! - `pools`, `clients`, `users`, `list_users`, `groups`: the operator operations.
//! - `auth_triggers`, `pre_token`: the authentication triggers (PreAuthentication,
//!   PostAuthentication, PreTokenGeneration) and how a PreTokenGeneration answer changes
//!   the tokens.
//! - `sign_up`, `auth`, `self_service`: the public operations (sign-up and recovery,
//!   authentication and challenges, what a user does with an access token).
//! - `srp_auth`: SRP sign-in and device SRP, and the sealed SRP verifiers of passwords.
//! - `challenges`: the sign-in chain after the password (new password, device SRP, MFA)
//!   and its sealed, single-use sessions.
//! - `custom_auth`: `CUSTOM_AUTH`, the challenges the pool's DefineAuthChallenge,
//!   CreateAuthChallenge and VerifyAuthChallengeResponse triggers run.
//! - `mfa`: software tokens, email codes, the pool's and the users' MFA settings.
//! - `devices`: remembered devices.
//! - `migration`: lazy migration of users missing locally (the upstream user pool a pool
//!   takes them from at their first sign-in or password reset).
//! - `refresh`: renewing a session with its refresh token, refresh-token rotation and the
//!   revocation of a token family on reuse.
//! - `resource_servers`: OAuth resource servers and their custom scopes.
//! - `domains`: the pools' domains (the OAuth endpoints and hosted pages by `Host`).
//! - `triggers`: the pool's Lambda triggers (`LambdaConfig`), their event envelope and the
//!   call through the function registry, with Cognito's errors.
//! - `revocations`: the in-memory view of signed-out tokens that the gateway checks on
//!   every request, kept in step with other nodes by a background refresh.
//!
//! Every operation reads the clock once at its start and passes that `now` down.

pub(crate) mod attempts;
mod attributes;
mod auth;
mod auth_events;
mod auth_triggers;
pub(crate) mod challenges;
mod clients;
mod codes;
pub mod config;
mod custom_auth;
mod devices;
mod domains;
mod error;
mod groups;
mod hosted_chain;
mod identity_providers;
mod import_jobs;
mod issue;
mod keys;
mod list_users;
mod mfa;
mod migration;
mod pools;
mod pre_token;
mod refresh;
mod resource_servers;
mod revocations;
mod self_service;
pub(crate) mod sign_up;
mod sign_up_hosted;
mod srp_auth;
mod transfer;
pub mod triggers;
mod types;
mod ui_customization;
mod users;

pub use attempts::{
    CODE_GUESSES, CODE_SENDS, CODE_WINDOW, LOCKOUT_RESET_AFTER, LOCKOUT_THRESHOLD, MAX_LOCKOUT,
};
pub(crate) use attributes::user_from_record;
pub use attributes::{AttributeWrite, is_email, is_phone_number};
pub use auth::{
    AuthOutcome, Challenge, MAX_CLIENT_METADATA_ENTRIES, MAX_CLIENT_METADATA_KEY,
    MAX_CLIENT_METADATA_VALUE, MAX_SESSION_LEN, NEW_PASSWORD_REQUIRED,
};
pub use auth_events::{AUTH_EVENT_LIFETIME, AuthEvent, AuthEventKind, PasswordOutcome};
pub use challenges::{
    DEVICE_PASSWORD_VERIFIER, DEVICE_SRP_AUTH, EMAIL_OTP, MFA_SETUP, SELECT_MFA_TYPE,
    SOFTWARE_TOKEN_MFA,
};
pub use clients::NewClient;
pub use clients::secret_hash;
pub use codes::{
    CODE_ATTEMPTS, CODE_LIFETIME, FORGOT_PASSWORD_CODE, SIGN_UP_CODE, verify_code_purpose,
};
pub use config::{ClientConfig, DeviceSettings, EmailMfaSettings, PoolConfig};
pub use custom_auth::{
    CUSTOM_CHALLENGE, MAX_ANSWER_BYTES, MAX_CUSTOM_SESSION_LEN, MAX_METADATA_BYTES,
    MAX_PARAMETERS_BYTES, MAX_SESSION_ROUNDS, SRP_A,
};
pub use devices::{Device, DeviceConfirmation, MAX_DEVICES_PAGE};
pub use domains::UserPoolDomain;
pub use error::UserPoolError;
pub use groups::GroupUpdate;
pub(crate) use hosted_chain::HostedRefusal;
pub use hosted_chain::{HOSTED_TRIES, SECRET_CODE};
pub use identity_providers::{
    GOOGLE_ISSUER, IdentityProvider, MAX_DETAIL_ENTRIES, MAX_DETAIL_LEN, MAX_IDP_IDENTIFIERS,
    MAX_PROVIDERS_PAGE, ProviderInput, ProviderType,
};
pub(crate) use identity_providers::{identities_json, identities_of, identity_entry};
pub use import_jobs::{
    CSV_STANDARD_COLUMNS, ImportJob, MAX_CSV_BYTES, UPLOAD_PATH, UPLOAD_URL_LIFETIME_MS,
    UploadError,
};
pub(crate) use issue::claim_value;
pub use issue::{ADMIN_SCOPE, GrantClaims, at_hash, refresh_token_hash};
pub use keys::RING_TTL;
pub use list_users::{
    FILTERABLE, ListUsersFilter, ListUsersRequest, MAX_LIST_USERS_LIMIT, parse_filter,
};
pub use mfa::{
    Factor, FactorPreference, MfaPreference, MfaSettings, PoolMfaConfig, PoolMfaUpdate,
    TOTP_SECRET_BYTES, TOTP_SKEW_STEPS, TOTP_STEP_SECS, TotpRefusal, check_totp, totp_code,
};
pub use migration::{
    DEFAULT_TIMEOUT as MIGRATION_TIMEOUT, MAX_TIMEOUT as MAX_MIGRATION_TIMEOUT, SetUpstreamPool,
    UpstreamCredentials, UpstreamPool,
};
pub use pools::{MAX_PAGE, schema_with};
pub(crate) use pre_token::TokenSource;
pub use resource_servers::{
    MAX_RESOURCE_SERVER_SCOPES, MAX_RESOURCE_SERVERS_PAGE, ResourceServer, ResourceServerScope,
};
pub use revocations::{
    REVOCATION_LIFETIME, REVOCATION_PURGE_INTERVAL, REVOCATION_REFRESH_INTERVAL, Revocations,
};
pub use self_service::SignedIn;
pub use sign_up::{SignUp, SignUpOutput};
pub use sign_up_hosted::{HOSTED_SIGN_UP_PROOF_LIFETIME, HostedSignUp};
pub use srp_auth::{PASSWORD_VERIFIER, SRP_TIMESTAMP_SKEW_SECS};
pub use transfer::{ExportPage, ExportedMfa, ExportedPool, ExportedUser, ImportOutcome};
pub use triggers::{TriggerData, TriggerEvent, TriggerKind, Triggers};
pub use types::{
    Client, CodeDeliveryDetails, Group, NewDeviceMetadata, Page, RotatedKeys, TokenOrigin, Tokens,
    User, UserPool, UserStatus, mask_destination,
};
pub use ui_customization::{
    ALL_CLIENTS, Branding, CSS_CLASSES, CssRule, Logo, MAX_CSS_BYTES, MAX_LOGO_BYTES,
    UiCustomization, parse_css,
};
pub use users::{AdminCreateUser, MessageAction};

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

use gatehouse_storage::Store;

use crate::clock::Clock;
use crate::crypto::{CodeHasher, Sealer};
use crate::delivery::Delivery;
use crate::functions::Functions;
use crate::password::PasswordHasher;
use crate::rate_limit::{SourceLimiter, SourceRateLimit};

/// Node-wide settings of the user-pool service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPoolsConfig {
    /// The region of pools made without one (`us-east-1`): the first the node serves.
    pub region: String,
    /// Further regions the node serves: an operator request signed for one of them makes
    /// its pools there (their ids, ARNs and issuers carry it).
    pub other_regions: Vec<String>,
    /// The account id in ARNs (`000000000000`).
    pub account_id: String,
    /// The base URL of issuers: `iss` = `{public_url}/{poolId}`.
    pub public_url: String,
    /// The limit per source address on the unauthenticated operations.
    pub source_rate_limit: SourceRateLimit,
}

/// The user-pool service. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct UserPools {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    /// Seals signing keys and client secrets at rest.
    sealer: Arc<Sealer>,
    /// Hashes one-time codes under a key derived from the master key.
    codes: CodeHasher,
    /// The bounded argon2id pool.
    passwords: PasswordHasher,
    delivery: Arc<dyn Delivery>,
    clock: Arc<dyn Clock>,
    config: UserPoolsConfig,
    /// Parsed key rings per pool: keys are parsed once, not per token. Refreshed when a `kid`
    /// is unknown or the entry is old, so nodes sharing a database see each other's rotations.
    rings: RwLock<HashMap<String, keys::CachedRing>>,
    /// Pools whose ring is being reloaded in the background (see `key_ring_cached`), so a burst
    /// of requests starts one reload, not one each.
    reloading: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Revoked sign-ins and signed-out users, in memory for the gateway's per-request check.
    revocations: Arc<Revocations>,
    /// The buckets per source address of the unauthenticated operations, shared by every
    /// adapter that serves them.
    source_limits: SourceLimiter,
    /// The function registry the pools' triggers are called through (the gateway's too),
    /// set once at start by [`UserPools::set_functions`]. Unset: no function is registered,
    /// so a pool naming a trigger is refused.
    functions: OnceLock<Functions>,
}

impl UserPools {
    /// The service over `store`, sealing secrets with `sealer`.
    pub fn new(
        store: Store,
        sealer: Arc<Sealer>,
        passwords: PasswordHasher,
        delivery: Arc<dyn Delivery>,
        clock: Arc<dyn Clock>,
        config: UserPoolsConfig,
    ) -> Self {
        let codes = CodeHasher::from_sealer(&sealer);
        let source_limits = SourceLimiter::new(config.source_rate_limit);
        Self {
            inner: Arc::new(Inner {
                store,
                sealer,
                codes,
                passwords,
                delivery,
                clock,
                config,
                rings: RwLock::new(HashMap::new()),
                reloading: std::sync::Mutex::new(std::collections::HashSet::new()),
                revocations: Arc::new(Revocations::default()),
                source_limits,
                functions: OnceLock::new(),
            }),
        }
    }

    /// Hands the service the function registry its pools' triggers are called through.
    /// Set once, at start; a second call is ignored (the first registry stays).
    pub fn set_functions(&self, functions: Functions) {
        if self.inner.functions.set(functions).is_err() {
            tracing::warn!("the user pools' function registry was set twice; the first is kept");
        }
    }

    /// The function registry, once set.
    pub fn functions(&self) -> Option<&Functions> {
        self.inner.functions.get()
    }

    /// The node settings.
    pub fn config(&self) -> &UserPoolsConfig {
        &self.inner.config
    }

    /// The limits per source address of the unauthenticated operations (see
    /// [`crate::rate_limit`]); adapters check them with the client address they resolved.
    pub fn source_limits(&self) -> &SourceLimiter {
        &self.inner.source_limits
    }

    /// The store (for operations added in other modules of this crate).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The password hasher.
    pub fn passwords(&self) -> &PasswordHasher {
        &self.inner.passwords
    }

    /// The master-key sealer.
    pub fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    /// The clock's current time: read once per operation.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// The issuer of a pool's tokens.
    pub fn issuer(&self, pool_id: &str) -> String {
        crate::tokens::issuer(&self.inner.config.public_url, pool_id)
    }

    /// Whether this node serves `region`.
    pub fn serves_region(&self, region: &str) -> bool {
        let config = &self.inner.config;
        config.region == region || config.other_regions.iter().any(|r| r == region)
    }

    /// The ARN of a pool, in the region its id carries.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        let region = pool_id
            .split_once('_')
            .map_or(self.inner.config.region.as_str(), |(region, _)| region);
        format!(
            "arn:aws:cognito-idp:{region}:{}:userpool/{pool_id}",
            self.inner.config.account_id
        )
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod public_tests;

#[cfg(test)]
mod hardening_tests;

#[cfg(test)]
mod mfa_tests;

#[cfg(test)]
mod custom_auth_tests;

#[cfg(test)]
mod rotation_tests;

#[cfg(test)]
mod details_tests;
