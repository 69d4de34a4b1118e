//! Functions over HTTP: gatehouse has no Lambda, so a Lambda function ARN named anywhere
//! (a user pool's `LambdaConfig`, a gateway method's `aws_proxy` integration, a Lambda
//! authorizer) is an HTTP endpoint the operator runs. This registry is the one way any crate
//! calls one: [`Functions::invoke`] POSTs the event a Lambda would receive to the endpoint
//! registered for the ARN, signed (see [`signature`]), and hands back the answer's body.
//!
//! # Where registrations come from
//! - the configuration, read once at start (`[[functions]]` in the config file,
//!   `gatehouse serve --function ARN=URL`, `GATEHOUSE_FUNCTIONS`): [`FunctionSpec`]s handed
//!   to [`Functions::new`];
//! - the operator API (`/gatehouse/functions`, [`crate::http::functions`]), stored with their
//!   secrets sealed by the master key, so every node sees them; each node polls the store's
//!   change counter ([`Functions::run_refresh`]) and reloads on a change.
//!
//! On a clash the configuration wins: the operator API refuses to register or delete an ARN
//! the node's configuration defines, and a stored registration of such an ARN (made on a node
//! whose configuration lacks it) is ignored on this node, with a warning.
//!
//! Which registration a called ARN finds follows Lambda's qualifiers (see [`arn`]): the
//! qualified registration first, then the function's unqualified one.
//!
//! # A call
//! - one POST of the event (`Content-Type: application/json`) with the signature headers
//!   and [`signature::FUNCTION_HEADER`] naming the ARN as called, through the one outbound
//!   client setup ([`crate::https::client`]: `http://`, or `https://` verified against the
//!   Mozilla roots and any extra roots);
//! - a connection that cannot be made is tried again, at most [`FunctionSettings::connect_attempts`]
//!   times in all and within the time limit; nothing else is retried, since once a
//!   connection is made the endpoint may have received the event and run;
//! - the whole call, answer included, is bounded by the function's time limit (default 5 s,
//!   Cognito's), and the answer by [`FunctionSettings::max_answer_bytes`] (6 MiB, Lambda's
//!   limit on a synchronous answer); events larger than [`FunctionSettings::max_event_bytes`]
//!   are not sent;
//! - a 2xx answer is the function's result; any other status, or a 2xx with
//!   `X-Amz-Function-Error` (how Lambda's invoke API and its runtime emulator mark a
//!   function's error), is [`FunctionError::Failed`], with `errorType`/`errorMessage` read
//!   from a Lambda-shaped error body.
//!
//! The registry is in memory ([`arc_swap`]): a call costs a hash lookup, never a database read.

mod arn;
mod error;
mod invoke;
pub mod signature;

pub use arn::{ArnError, FunctionArn};
pub use error::{FunctionError, FunctionsError};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use gatehouse_storage::{FunctionPut, FunctionRecord, Store};
use http_body_util::Full;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::crypto::{Sealer, hex_lower, random_bytes};
use crate::https::HttpsClient;
use crate::time::{from_unix_millis, unix_millis, unix_seconds};

/// A function's time limit when none is given: Cognito's limit on a trigger.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time limit accepted (Lambda's own maximum).
pub const MAX_TIMEOUT_MS: u64 = 900_000;
/// Registrations the operator API keeps at most.
pub const MAX_STORED_FUNCTIONS: i64 = 1_000;
/// How often [`Functions::run_refresh`] looks at the store's change counter.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The registry: cheap to clone, shared by every caller.
#[derive(Clone, Debug)]
pub struct Functions {
    inner: Arc<Inner>,
}

/// How calls are made.
#[derive(Debug, Clone)]
pub struct FunctionSettings {
    /// Largest event sent (6 MiB, Lambda's limit on a synchronous request).
    pub max_event_bytes: usize,
    /// Largest answer read (6 MiB, Lambda's limit on a synchronous answer).
    pub max_answer_bytes: usize,
    /// Connection attempts per call, the first included (default 3).
    pub connect_attempts: u32,
    /// Pause before the second attempt, doubled before each later one (default 50 ms).
    pub retry_backoff: Duration,
    /// Certificates (DER) trusted for `https://` endpoints besides the Mozilla roots.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

/// An HMAC signing secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Arc<str>);

/// One function's endpoint and how it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub arn: FunctionArn,
    pub url: String,
    pub timeout: Duration,
    pub secret: SigningSecret,
}

/// Where a registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionSource {
    /// Flags, environment or config file of this node.
    Configuration,
    /// The operator API (stored; every node has it).
    OperatorApi,
}

/// A registration as the operator API shows it (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The ARN it is registered under (`:$LATEST` removed).
    pub arn: String,
    pub url: String,
    pub timeout_ms: u64,
    pub source: FunctionSource,
    /// Stored registrations only.
    pub created_at: Option<SystemTime>,
    pub updated_at: Option<SystemTime>,
}

/// A registration asked for through the operator API.
#[derive(Clone, PartialEq, Eq)]
pub struct NewFunction {
    pub arn: String,
    pub url: String,
    /// Default [`DEFAULT_TIMEOUT`].
    pub timeout_ms: Option<u64>,
    /// `None`: one is generated and handed back once.
    pub secret: Option<String>,
}

/// What [`Functions::register`] did.
#[derive(Clone, PartialEq, Eq)]
pub struct Registration {
    pub function: FunctionInfo,
    /// A new registration (not a replacement).
    pub created: bool,
    /// The secret generated for it, shown once.
    pub generated_secret: Option<SigningSecret>,
}

#[derive(Debug)]
struct Inner {
    /// This node's configuration, by registration key: it wins over stored ones.
    configured: BTreeMap<String, Arc<Entry>>,
    /// What calls read: the configured registrations and the stored ones, swapped whole.
    table: ArcSwap<Table>,
    /// Stored registrations and the key their secrets are sealed with (`None`: configuration
    /// only).
    store: Option<(Store, Arc<Sealer>)>,
    clock: Arc<dyn Clock>,
    client: HttpsClient<Full<Bytes>>,
    settings: FunctionSettings,
    /// Counts table changes, for those who rebuild something from the registry.
    changes: watch::Sender<u64>,
    /// One rebuild at a time, so an older snapshot never replaces a newer one.
    rebuilding: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Table {
    /// The store's change counter this table was built at (-1: never read).
    version: i64,
    entries: HashMap<String, Arc<Entry>>,
}

#[derive(Debug)]
struct Entry {
    spec: FunctionSpec,
    source: FunctionSource,
    created_at: Option<i64>,
    updated_at: Option<i64>,
}

/// Additional data of a sealed secret: the secret of one ARN cannot be moved to another.
const SECRET_AAD: &str = "gatehouse function secret\0";

// === impl FunctionSettings ===

impl Default for FunctionSettings {
    fn default() -> Self {
        Self {
            max_event_bytes: 6 * 1024 * 1024,
            max_answer_bytes: 6 * 1024 * 1024,
            connect_attempts: 3,
            retry_backoff: Duration::from_millis(50),
            extra_root_certificates: Vec::new(),
        }
    }
}

// === impl SigningSecret ===

impl SigningSecret {
    /// A secret given by the operator: 16 to 256 printable ASCII characters, no spaces.
    pub fn new(text: &str) -> Result<Self, FunctionsError> {
        if (16..=256).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(text.into()))
        } else {
            Err(FunctionsError::InvalidSecret)
        }
    }

    /// 32 random bytes as 64 lower-case hex digits.
    pub fn generate() -> Self {
        Self(hex_lower(&random_bytes::<32>()).into())
    }

    /// The secret's text: what the HMAC is keyed with, and what the endpoint must know.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

// === impl FunctionSpec ===

impl FunctionSpec {
    /// Checks a registration: the ARN, the URL (`http://` or `https://` with a host, no user
    /// info, no fragment) and the time limit (1 to [`MAX_TIMEOUT_MS`]; default 5 s).
    pub fn new(
        arn: &str,
        url: &str,
        timeout_ms: Option<u64>,
        secret: SigningSecret,
    ) -> Result<Self, FunctionsError> {
        let parsed = FunctionArn::parse(arn).map_err(|reason| FunctionsError::InvalidArn {
            arn: arn.to_owned(),
            reason,
        })?;
        check_url(url)?;
        let timeout = match timeout_ms {
            None => DEFAULT_TIMEOUT,
            Some(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => Duration::from_millis(ms),
            Some(ms) => return Err(FunctionsError::InvalidTimeout(ms)),
        };
        Ok(Self {
            arn: parsed,
            url: url.to_owned(),
            timeout,
            secret,
        })
    }
}

/// A URL a function may be registered at. The error names it without user info or query,
/// where a password or a token may be.
fn check_url(url: &str) -> Result<(), FunctionsError> {
    let bad = || FunctionsError::InvalidUrl(shown_url(url));
    let uri: hyper::Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let authority = uri.authority().ok_or_else(bad)?;
    if !scheme_ok
        || authority.as_str().contains('@')
        || authority.host().is_empty()
        || url.contains('#')
        || url.len() > 2048
    {
        return Err(bad());
    }
    Ok(())
}

/// `url` without user info and with `?…` for a query: safe to show in errors and logs.
pub fn shown_url(url: &str) -> String {
    let (rest, query) = match url.split_once('?') {
        Some((rest, _)) => (rest, "?…"),
        None => (url, ""),
    };
    let shown = match rest.split_once("://") {
        Some((scheme, after)) => {
            let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => rest.to_owned(),
    };
    format!("{shown}{query}")
}

// === impl Functions ===

impl Functions {
    /// A registry of `configured` functions and, with `store`, the ones the operator API
    /// stored (loaded by [`Functions::refresh`]; call it once before serving).
    pub fn new(
        configured: Vec<FunctionSpec>,
        store: Option<(Store, Arc<Sealer>)>,
        clock: Arc<dyn Clock>,
        settings: FunctionSettings,
    ) -> Result<Self, FunctionsError> {
        let client = crate::https::client(
            &settings.extra_root_certificates,
            // Each call is bounded by its own time limit too.
            DEFAULT_TIMEOUT,
        )
        .map_err(FunctionsError::Client)?;
        let configured: BTreeMap<String, Arc<Entry>> = configured
            .into_iter()
            .map(|spec| {
                (
                    spec.arn.key(),
                    Arc::new(Entry {
                        spec,
                        source: FunctionSource::Configuration,
                        created_at: None,
                        updated_at: None,
                    }),
                )
            })
            .collect();
        let table = Table {
            version: -1,
            entries: configured
                .iter()
                .map(|(k, v)| (k.clone(), Arc::clone(v)))
                .collect(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                configured,
                table: ArcSwap::from_pointee(table),
                store,
                clock,
                client,
                settings,
                changes: watch::Sender::new(0),
                rebuilding: tokio::sync::Mutex::new(()),
            }),
        })
    }

    // --- calls ---

    /// Calls the function registered for `arn` with `event` (JSON text) and returns the
    /// answer's body.
    pub async fn invoke(&self, arn: &str, event: Bytes) -> Result<Bytes, FunctionError> {
        let called = FunctionArn::parse(arn).map_err(|_| FunctionError::InvalidArn {
            arn: arn.to_owned(),
        })?;
        let entry = self
            .entry_for(&called)
            .ok_or_else(|| FunctionError::NotRegistered {
                arn: arn.to_owned(),
            })?;
        let settings = &self.inner.settings;
        if event.len() > settings.max_event_bytes {
            return Err(FunctionError::EventTooLarge {
                arn: arn.to_owned(),
                limit: settings.max_event_bytes,
            });
        }
        let now = unix_seconds(self.inner.clock.now());
        invoke::call(&self.inner.client, &entry.spec, arn, event, now, settings).await
    }

    /// [`Functions::invoke`] with a JSON event and a JSON answer.
    pub async fn invoke_json(
        &self,
        arn: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, FunctionError> {
        let body = Bytes::from(serde_json::to_vec(event).unwrap_or_default());
        let answer = self.invoke(arn, body).await?;
        serde_json::from_slice(&answer).map_err(|_| FunctionError::NotJson {
            arn: arn.to_owned(),
        })
    }

    /// Whether a call to `arn` would find an endpoint (no storage access).
    pub fn is_registered(&self, arn: &str) -> bool {
        FunctionArn::parse(arn).is_ok_and(|called| self.entry_for(&called).is_some())
    }

    /// The signing secret of the registration a call to `arn` would use (what a sender
    /// trigger's codes are sealed for).
    pub(crate) fn signing_secret(&self, arn: &str) -> Option<SigningSecret> {
        let called = FunctionArn::parse(arn).ok()?;
        self.entry_for(&called).map(|e| e.spec.secret.clone())
    }

    fn entry_for(&self, called: &FunctionArn) -> Option<Arc<Entry>> {
        let table = self.inner.table.load();
        called
            .lookup_keys()
            .find_map(|key| table.entries.get(&key).cloned())
    }

    /// A receiver of the change count: it moves whenever the registrations change (here or,
    /// after a refresh, on another node).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    // --- registrations ---

    /// Every registration, ordered by ARN.
    pub fn list(&self) -> Vec<FunctionInfo> {
        let table = self.inner.table.load();
        let mut all: Vec<FunctionInfo> = table.entries.values().map(|e| e.info()).collect();
        all.sort_by(|a, b| a.arn.cmp(&b.arn));
        all
    }

    /// The registration made under `arn` exactly (`:$LATEST` ignored).
    pub fn get(&self, arn: &str) -> Result<FunctionInfo, FunctionsError> {
        let key = registration_key(arn)?;
        self.inner
            .table
            .load()
            .entries
            .get(&key)
            .map(|e| e.info())
            .ok_or(FunctionsError::NotFound(key))
    }

    /// Registers (or replaces) a function through the operator API: stored, its secret
    /// sealed; a secret is generated when none is given.
    pub async fn register(&self, new: NewFunction) -> Result<Registration, FunctionsError> {
        let (secret, generated) = match &new.secret {
            Some(text) => (SigningSecret::new(text)?, false),
            None => (SigningSecret::generate(), true),
        };
        let spec = FunctionSpec::new(&new.arn, &new.url, new.timeout_ms, secret)?;
        let key = spec.arn.key();
        if self.inner.configured.contains_key(&key) {
            return Err(FunctionsError::Configured(key));
        }
        let (store, sealer) = self.inner.store.as_ref().ok_or(FunctionsError::NoStore)?;
        let now = unix_millis(self.inner.clock.now());
        let sealed = sealer.seal(spec.secret.expose().as_bytes(), &secret_aad(&key))?;
        let record = FunctionRecord {
            arn: key.clone(),
            url: spec.url.clone(),
            timeout_ms: i64::try_from(spec.timeout.as_millis()).unwrap_or(i64::MAX),
            secret: sealed,
            created_at: now,
            updated_at: now,
        };
        let put = store.functions().put(&record, MAX_STORED_FUNCTIONS).await?;
        let created = match put {
            FunctionPut::Created => true,
            FunctionPut::Replaced => false,
            FunctionPut::TooMany => return Err(FunctionsError::TooMany(MAX_STORED_FUNCTIONS)),
        };
        self.rebuild().await?;
        let function = self.get(&key)?;
        Ok(Registration {
            function,
            created,
            generated_secret: generated.then_some(spec.secret),
        })
    }

    /// Removes a registration the operator API made.
    pub async fn delete(&self, arn: &str) -> Result<(), FunctionsError> {
        let key = registration_key(arn)?;
        if self.inner.configured.contains_key(&key) {
            return Err(FunctionsError::Configured(key));
        }
        let (store, _) = self.inner.store.as_ref().ok_or(FunctionsError::NoStore)?;
        match store.functions().delete(&key).await {
            Ok(()) => {}
            Err(gatehouse_storage::StorageError::NotFound { .. }) => {
                return Err(FunctionsError::NotFound(key));
            }
            Err(other) => return Err(other.into()),
        }
        self.rebuild().await
    }

    /// Reloads the stored registrations when the store's change counter moved; returns
    /// whether it did.
    pub async fn refresh(&self) -> Result<bool, FunctionsError> {
        let Some((store, _)) = &self.inner.store else {
            return Ok(false);
        };
        let version = store.functions().version().await?;
        if version == self.inner.table.load().version {
            return Ok(false);
        }
        self.rebuild().await?;
        Ok(true)
    }

    /// Keeps the registry current until `shutdown` resolves. A failed check keeps the
    /// registry and is retried at the next tick.
    pub async fn run_refresh(self, shutdown: impl std::future::Future<Output = ()>) {
        crate::periodic::every(
            REFRESH_INTERVAL,
            "function registry refresh",
            shutdown,
            || self.refresh(),
        )
        .await;
    }

    /// Rebuilds the table from the configuration and the store now.
    async fn rebuild(&self) -> Result<(), FunctionsError> {
        let Some((store, sealer)) = &self.inner.store else {
            return Ok(());
        };
        let _one = self.inner.rebuilding.lock().await;
        let snapshot = store.functions().snapshot().await?;
        if snapshot.version <= self.inner.table.load().version {
            return Ok(());
        }
        let mut entries: HashMap<String, Arc<Entry>> = self
            .inner
            .configured
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for record in snapshot.functions {
            if self.inner.configured.contains_key(&record.arn) {
                tracing::warn!(
                    arn = %record.arn,
                    "a function registered through the operator API is also in this node's configuration; the configuration wins here"
                );
                continue;
            }
            match stored_entry(&record, sealer) {
                Ok(entry) => {
                    entries.insert(record.arn.clone(), Arc::new(entry));
                }
                Err(error) => {
                    tracing::error!(arn = %record.arn, %error, "stored function left out");
                }
            }
        }
        self.inner.table.store(Arc::new(Table {
            version: snapshot.version,
            entries,
        }));
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }
}

/// The key of a registration named by the operator.
fn registration_key(arn: &str) -> Result<String, FunctionsError> {
    FunctionArn::parse(arn)
        .map(|a| a.key())
        .map_err(|reason| FunctionsError::InvalidArn {
            arn: arn.to_owned(),
            reason,
        })
}

fn secret_aad(key: &str) -> Vec<u8> {
    let mut aad = SECRET_AAD.as_bytes().to_vec();
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// A stored record as a table entry: its secret opened.
fn stored_entry(record: &FunctionRecord, sealer: &Sealer) -> Result<Entry, FunctionsError> {
    let secret = sealer.open(&record.secret, &secret_aad(&record.arn))?;
    let secret = String::from_utf8(secret).map_err(|_| FunctionsError::InvalidSecret)?;
    let spec = FunctionSpec::new(
        &record.arn,
        &record.url,
        u64::try_from(record.timeout_ms).ok(),
        SigningSecret::new(&secret)?,
    )?;
    Ok(Entry {
        spec,
        source: FunctionSource::OperatorApi,
        created_at: Some(record.created_at),
        updated_at: Some(record.updated_at),
    })
}

// === impl Entry ===

impl Entry {
    fn info(&self) -> FunctionInfo {
        FunctionInfo {
            arn: self.spec.arn.key(),
            url: self.spec.url.clone(),
            timeout_ms: u64::try_from(self.spec.timeout.as_millis()).unwrap_or(u64::MAX),
            source: self.source,
            created_at: self.created_at.map(from_unix_millis),
            updated_at: self.updated_at.map(from_unix_millis),
        }
    }
}

impl std::fmt::Debug for NewFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewFunction")
            .field("arn", &self.arn)
            .field("url", &self.url)
            .field("timeout_ms", &self.timeout_ms)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish()
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("function", &self.function)
            .field("created", &self.created)
            .field("generated_secret", &self.generated_secret)
            .finish()
    }
}

#[cfg(test)]
mod tests;
