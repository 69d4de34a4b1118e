//! The compiled view of IAM that requests signed with temporary credentials are decided
//! against, with no database read: [`IamView`] holds every role with its trust policy, its
//! identity policies (inline and the default versions of the attached managed ones) and its
//! permissions boundary, each compiled once by the policy engine, plus the OpenID Connect
//! providers. The view is immutable and swapped whole behind an `Arc`, so a reader keeps the
//! one it started with.
//!
//! # Staying current across nodes
//! Every IAM write moves storage's change counter in the same transaction. The node that
//! wrote rebuilds its view at once; every node compares the counter with its view's every
//! [`IAM_REFRESH_INTERVAL`] ([`Iam::run_refresh`]), and also when a role it is asked for is
//! missing (at most once per [`MISS_CHECK_INTERVAL`]), rebuilding when it moved. IAM holds
//! few rows, so a rebuild reads them all.
//!
//! # A document that no longer compiles
//! Documents are validated on write, so this only happens when the database was changed
//! behind gatehouse's back or by a newer engine. An identity policy that fails is left out
//! (that can only take permissions away); a role whose trust policy or boundary fails is
//! marked broken and every request with it is denied.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gatehouse_policy::Policy;
use gatehouse_storage::IamSnapshot;

use super::documents::tags_from_json;
use super::{Iam, IamError, OidcProvider, Tag};
use crate::time::unix_millis;

/// How often [`Iam::run_refresh`] compares the view with storage's change counter.
pub const IAM_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Least time between two counter checks caused by unknown roles.
const MISS_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// One role, compiled.
#[derive(Debug)]
pub struct CompiledRole {
    pub name: String,
    pub arn: String,
    /// `AROA…`: the first half of a session's `aws:userid`.
    pub role_id: String,
    pub max_session_duration: i64,
    /// `None` when the stored trust policy no longer compiles (the role is broken).
    pub trust: Option<Policy>,
    /// Inline policies and the attached managed policies' default versions.
    pub identity: Vec<Arc<Policy>>,
    /// The permissions boundary: `Some(None)` when the role has one that does not compile.
    pub boundary: Option<Option<Arc<Policy>>>,
    /// For `aws:PrincipalTag/*`.
    pub tags: Vec<Tag>,
}

impl CompiledRole {
    /// Whether every request with this role must be denied (see the module docs).
    pub fn is_broken(&self) -> bool {
        self.trust.is_none() || matches!(self.boundary, Some(None))
    }
}

/// Every role and provider at one version of storage's change counter.
#[derive(Debug, Default)]
pub struct IamView {
    /// The change counter this view was built at (0, an empty IAM, before the first build).
    pub version: i64,
    /// Keyed by the lower-case role name (names ignore case).
    roles: HashMap<String, Arc<CompiledRole>>,
    /// Managed policies by ARN (default versions), for session `PolicyArns`.
    managed: HashMap<String, Arc<Policy>>,
    providers: Vec<OidcProvider>,
}

impl IamView {
    /// The role named `name` (any case).
    pub fn role(&self, name: &str) -> Option<&Arc<CompiledRole>> {
        self.roles.get(&name.to_lowercase())
    }

    /// A managed policy's default version, compiled.
    pub fn managed_policy(&self, arn: &str) -> Option<&Arc<Policy>> {
        self.managed.get(arn)
    }

    /// The OpenID Connect providers.
    pub fn oidc_providers(&self) -> &[OidcProvider] {
        &self.providers
    }

    fn build(snapshot: IamSnapshot, account_id: &str) -> Self {
        let mut managed = HashMap::new();
        for (record, document) in &snapshot.policies {
            match Policy::parse(document) {
                Ok(policy) => {
                    managed.insert(record.arn.clone(), Arc::new(policy));
                }
                Err(e) => {
                    tracing::error!(arn = %record.arn, error = %e, "stored managed policy does not compile")
                }
            }
        }
        let mut inline: HashMap<&str, Vec<Arc<Policy>>> = HashMap::new();
        for (role, name, document) in &snapshot.role_policies {
            match Policy::parse(document) {
                Ok(policy) => inline
                    .entry(role.as_str())
                    .or_default()
                    .push(Arc::new(policy)),
                Err(e) => {
                    tracing::error!(%role, policy = %name, error = %e, "stored inline policy does not compile")
                }
            }
        }
        let mut attached: HashMap<&str, Vec<Arc<Policy>>> = HashMap::new();
        for (role, arn) in &snapshot.attachments {
            if let Some(policy) = managed.get(arn) {
                attached
                    .entry(role.as_str())
                    .or_default()
                    .push(Arc::clone(policy));
            }
        }
        let mut roles = HashMap::new();
        for record in snapshot.roles {
            let trust = match Policy::parse(&record.trust_policy) {
                Ok(policy) => Some(policy),
                Err(e) => {
                    tracing::error!(role = %record.name, error = %e, "stored trust policy does not compile");
                    None
                }
            };
            let boundary = record
                .boundary_arn
                .as_ref()
                .map(|arn| managed.get(arn).cloned());
            let mut identity = inline.remove(record.name.as_str()).unwrap_or_default();
            identity.extend(attached.remove(record.name.as_str()).unwrap_or_default());
            let arn = format!(
                "arn:aws:iam::{account_id}:role{}{}",
                record.path, record.name
            );
            roles.insert(
                record.name.to_lowercase(),
                Arc::new(CompiledRole {
                    arn,
                    role_id: record.role_id,
                    max_session_duration: record.max_session_duration,
                    trust,
                    identity,
                    boundary,
                    tags: tags_from_json(&record.tags),
                    name: record.name,
                }),
            );
        }
        let providers = snapshot
            .oidc_providers
            .into_iter()
            .map(OidcProvider::from_record)
            .collect();
        Self {
            version: snapshot.version,
            roles,
            managed,
            providers,
        }
    }
}

// === impl Iam ===

impl Iam {
    /// The current view (no storage access).
    pub fn view(&self) -> Arc<IamView> {
        match self.inner.view.read() {
            Ok(view) => Arc::clone(&view),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Rebuilds the view when storage's change counter moved past it; returns whether it
    /// did.
    pub async fn refresh(&self) -> Result<bool, IamError> {
        let version = self.store().iam().version().await?;
        if version == self.view().version {
            return Ok(false);
        }
        self.rebuild().await?;
        Ok(true)
    }

    /// Rebuilds the view from storage now (after this node's own writes).
    pub(super) async fn rebuild(&self) -> Result<(), IamError> {
        let snapshot = self.store().iam().snapshot().await?;
        let view = Arc::new(IamView::build(snapshot, &self.inner.account_id));
        let mut slot = match self.inner.view.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Two rebuilds racing: keep the newer.
        if view.version >= slot.version {
            *slot = view;
        }
        Ok(())
    }

    /// The compiled role named `name`: from the view, or — when the view lacks it — after
    /// checking storage's counter (at most once per second), so a role made on another node
    /// a moment ago is found.
    pub async fn compiled_role(&self, name: &str) -> Result<Option<Arc<CompiledRole>>, IamError> {
        if let Some(role) = self.view().role(name) {
            return Ok(Some(Arc::clone(role)));
        }
        let now = unix_millis(self.now());
        let last = self.inner.last_miss_check.load(Ordering::Relaxed);
        let interval = i64::try_from(MISS_CHECK_INTERVAL.as_millis()).unwrap_or(1000);
        if now.saturating_sub(last) >= interval {
            self.inner.last_miss_check.store(now, Ordering::Relaxed);
            self.refresh().await?;
        }
        Ok(self.view().role(name).cloned())
    }

    /// Keeps the view current until `shutdown` resolves (see the module docs). A failed
    /// check keeps the view and is retried at the next tick.
    pub async fn run_refresh(self, shutdown: impl std::future::Future<Output = ()>) {
        crate::periodic::every(IAM_REFRESH_INTERVAL, "IAM view refresh", shutdown, || {
            self.refresh()
        })
        .await;
    }

    /// When the view was built, for diagnostics.
    pub fn view_version(&self) -> i64 {
        self.view().version
    }
}
