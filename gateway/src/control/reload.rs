//! Hot reload: the [`Reloader`] re-reads the `--api` files on SIGHUP, when they change and
//! when the function registry changes ([`Reloader::with_changes`]), and hands the result to
//! the data plane's [`Live`], which swaps it in only if it loads, compiles and every step
//! prepared for it; otherwise the reason is logged and the old definition keeps serving.
//!
//! Why the registry: a definition naming a Lambda function that is not registered is refused
//! (at load for a literal ARN, at compile for one a stage's variables complete). Registering
//! the function — through the operator API, on any node — moves the registry's change count;
//! every node's reloader then loads its files again, so the methods that named it become
//! servable without a restart. Without files, [`rebuild_on_changes`] recompiles the current
//! definition (run-time deployments included) instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::control::files::{load_gateway, read_sources};
use crate::definition::error::Warning;
use crate::definition::limits::Limits;
use crate::server::{Clock, Live, ReloadError};

use tokio::sync::watch;

/// Re-reads definition files and swaps the result in.
#[derive(Debug)]
pub struct Reloader {
    files: Vec<PathBuf>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    live: Arc<Live>,
    interval: Duration,
    /// Moves when the function registry changes: reload then too.
    changes: Option<watch::Receiver<u64>>,
}

// === impl Reloader ===

impl Reloader {
    /// Watches `files` (and the files beside them they import) and reloads `live`.
    pub fn new(files: Vec<PathBuf>, live: Arc<Live>, clock: Arc<dyn Clock>) -> Self {
        Self {
            files,
            limits: Limits::default(),
            clock,
            live,
            interval: Duration::from_secs(1),
            changes: None,
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Reloads also whenever `changes` moves (the function registry's change count).
    pub fn with_changes(mut self, changes: watch::Receiver<u64>) -> Self {
        self.changes = Some(changes);
        self
    }

    /// How often modification times are polled (default 1 s).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Loads the files now and swaps the result in. The error says why it was refused; the
    /// old definition keeps serving.
    pub fn reload(&self) -> Result<Vec<Warning>, ReloadError> {
        // A live gateway built from its sources keeps them (run-time deployments need them).
        if self.live.snapshot().source.is_some() {
            let loaded = read_sources(&self.files, self.clock.now(), &self.limits);
            let (source, mut warnings) = match loaded {
                Ok(ok) => ok,
                Err(err) => {
                    self.live.metrics().reload(false);
                    return Err(err);
                }
            };
            warnings.extend(self.live.replace_source(source, &self.limits)?);
            return Ok(warnings);
        }
        let loaded = load_gateway(&self.files, self.clock.now(), &self.limits);
        let (gateway, warnings) = match loaded {
            Ok(ok) => ok,
            Err(err) => {
                self.live.metrics().reload(false);
                return Err(err);
            }
        };
        self.live.replace(gateway)?;
        Ok(warnings)
    }

    /// Reloads on SIGHUP and whenever a watched file's modification time or size changes,
    /// until `shutdown` resolves. Results are logged.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let mut changes = self.changes.take();
        let this = Arc::new(self);
        let mut seen = this.fingerprint();
        let mut ticker = tokio::time::interval(this.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        tokio::pin!(shutdown);
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<Option<()>>();
            let changed = async {
                match changes.as_mut() {
                    Some(changes) => changes.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let reason = tokio::select! {
                () = &mut shutdown => return,
                _ = hup => "SIGHUP",
                true = changed => "function registry change",
                _ = ticker.tick() => {
                    let now = this.fingerprint();
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    "file change"
                }
            };
            let worker = Arc::clone(&this);
            // Parsing and compiling is CPU work: keep it off the request threads' queue.
            match tokio::task::spawn_blocking(move || worker.reload()).await {
                Ok(Ok(warnings)) => {
                    tracing::info!(reason, "gateway definition reloaded");
                    for warning in warnings {
                        tracing::warn!(%warning, "gateway definition");
                    }
                }
                Ok(Err(err)) => {
                    tracing::error!(reason, error = %err, "gateway definition refused; the previous one keeps serving");
                }
                Err(err) => tracing::error!(%err, "gateway reload task failed"),
            }
        }
    }

    /// Modification time and size of every watched file and of the directory entries beside
    /// them that definitions may import.
    fn fingerprint(&self) -> Vec<Option<(SystemTime, u64)>> {
        let mut out = Vec::new();
        for file in &self.files {
            out.push(stat(file));
            // Imported OpenAPI files live beside the declarative file.
            if let Some(dir) = file.parent()
                && let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                })
            {
                let mut beside: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json" | "toml"))
                    })
                    .collect();
                beside.sort();
                out.extend(beside.iter().map(|p| stat(p)));
            }
        }
        out
    }
}

/// Recompiles `live`'s definition whenever `changes` moves (the function registry's change
/// count), until `shutdown` resolves: for a gateway without definition files to reload.
pub async fn rebuild_on_changes(
    live: Arc<Live>,
    limits: Limits,
    mut changes: watch::Receiver<u64>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                match live.rebuild(&limits).await {
                    Ok(_) => tracing::info!("gateway definition recompiled after a function registry change"),
                    Err(err) => tracing::error!(error = %err, "gateway definition refused after a function registry change; the previous one keeps serving"),
                }
            }
        }
    }
}

fn stat(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
