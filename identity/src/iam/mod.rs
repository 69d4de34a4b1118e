//! The IAM subset: roles (trust policy, inline and attached managed policies, permissions
//! boundary, tags), managed policies with versions, OpenID Connect providers, and the
//! simulation of policies with the policy engine.
//!
//! # Layout
//! - `error`: [`IamError`], one variant per IAM error code.
//! - `documents`: validation of policy documents on write (the engine's validator, IAM's
//!   size quotas and principal rules), names, paths and tags.
//! - `roles`, `policies`, `oidc`: the operations.
//! - `cache`: the compiled view every request with temporary credentials reads
//!   ([`IamView`]): roles with their trust, identity and boundary policies compiled once,
//!   rebuilt when storage's change counter moves (this node's writes at once, other nodes'
//!   within [`IAM_REFRESH_INTERVAL`]).
//! - `simulate`: SimulateCustomPolicy and SimulatePrincipalPolicy.
//!
//! Every operation reads the clock once and passes that `now` down.

mod cache;
mod documents;
mod error;
mod oidc;
mod policies;
mod roles;
mod simulate;

pub use cache::{CompiledRole, IAM_REFRESH_INTERVAL, IamView};
pub use documents::{
    MAX_INLINE_POLICY_CHARS, MAX_MANAGED_POLICY_CHARS, MAX_TRUST_POLICY_CHARS, Tag,
};
pub use error::IamError;
pub use oidc::OidcProvider;
pub(crate) use oidc::is_loopback_url;
pub use policies::{MAX_POLICY_VERSIONS, ManagedPolicy, PolicyVersion};
pub use roles::{DEFAULT_MAX_SESSION_SECS, NewRole, Role};
pub use simulate::{SimulationRequest, SimulationResult};

/// `MaxItems` of a listing without one (IAM's default).
pub const DEFAULT_MAX_ITEMS: u32 = 100;
/// Largest `MaxItems` (IAM's limit).
pub const MAX_ITEMS: u32 = 1000;

/// One page of ListRoles or ListPolicies: the items, and the `Marker` of the next page when
/// the listing is truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub marker: Option<String>,
}

/// Checks `MaxItems` (1 to [`MAX_ITEMS`], [`DEFAULT_MAX_ITEMS`] when absent).
fn max_items(requested: Option<i64>) -> Result<u32, IamError> {
    let n = requested.unwrap_or(i64::from(DEFAULT_MAX_ITEMS));
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_ITEMS).contains(n))
        .ok_or_else(|| {
            IamError::Validation(format!(
                "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and {MAX_ITEMS}"
            ))
        })
}

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use gatehouse_storage::Store;

use crate::clock::Clock;

/// Validates a session policy (AssumeRole's `Policy`) with the engine's validator.
pub fn check_session_policy(text: &str) -> Result<(), IamError> {
    documents::check_policy(text, documents::DocumentKind::Session).map(|_| ())
}

/// The IAM service. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Iam {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    /// The account id in ARNs (`000000000000`).
    account_id: String,
    /// The compiled roles and providers, swapped whole on change.
    view: RwLock<Arc<IamView>>,
    /// When the view was last compared with storage's counter on a miss (Unix ms), so a
    /// flood of requests naming unknown roles cannot turn each into a database read.
    last_miss_check: std::sync::atomic::AtomicI64,
}

// === impl Iam ===

impl Iam {
    /// The service over `store`, naming ARNs with `account_id`. The view starts empty: call
    /// [`Iam::refresh`] before serving.
    pub fn new(store: Store, clock: Arc<dyn Clock>, account_id: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                account_id,
                view: RwLock::new(Arc::new(IamView::default())),
                last_miss_check: std::sync::atomic::AtomicI64::new(i64::MIN),
            }),
        }
    }

    /// The account id in ARNs.
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// The ARN of a role.
    pub fn role_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:role{path}{name}", self.inner.account_id)
    }

    /// The ARN of a managed policy.
    pub fn policy_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:policy{path}{name}", self.inner.account_id)
    }

    /// The role name an ARN of this account names (`arn:aws:iam::{account}:role/{path/}name`).
    pub fn role_name_of_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let rest = arn
            .strip_prefix("arn:aws:iam::")?
            .strip_prefix(self.inner.account_id.as_str())?
            .strip_prefix(":role/")?;
        rest.rsplit('/').next().filter(|name| !name.is_empty())
    }
}
