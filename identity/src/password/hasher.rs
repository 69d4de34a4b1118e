//! [`PasswordHasher`]: argon2id off the async runtime, on a bounded pool.
//!
//! Each hash or verification holds one of `max_concurrent` permits (default: the number of
//! cores) while it runs on tokio's blocking threads, so at most that many argon2 computations
//! run at once and async worker threads never run one. Callers beyond that wait in a queue of at
//! most `max_waiting`; past it they get [`PasswordError::Overloaded`] at once (Cognito's
//! `TooManyRequestsException`), so a login storm degrades into quick refusals rather than
//! unbounded memory (each argon2 run allocates `m_cost` KiB).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use super::{Argon2Params, PasswordError, hash_password, verify_password};

/// Pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHasherConfig {
    /// argon2id cost for new hashes (and the dummy hash).
    pub params: Argon2Params,
    /// How many computations may run at once.
    pub max_concurrent: usize,
    /// How many callers may wait for a permit before new ones are refused.
    pub max_waiting: usize,
}

impl Default for PasswordHasherConfig {
    fn default() -> Self {
        Self {
            params: Argon2Params::default(),
            max_concurrent: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_waiting: 1024,
        }
    }
}

/// A point-in-time view of the pool, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Computations running now.
    pub running: usize,
    /// Callers waiting for a permit.
    pub waiting: usize,
}

/// The bounded argon2id service. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: PasswordHasherConfig,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    running: Arc<AtomicUsize>,
    /// A hash of a random password with the current parameters: verifying against it costs what
    /// a real verification costs, so an unknown user takes as long as a wrong password.
    dummy_hash: String,
    /// Verifications started, and how many of them used the dummy hash: lets tests check
    /// that the unknown-user path does the same work as a wrong password (timing is never
    /// asserted directly).
    verifications: AtomicU64,
    dummy_verifications: AtomicU64,
    /// Other computations started ([`PasswordHasher::compute`]: SRP exchanges), so tests
    /// can check that a name nobody holds costs the exchange a real user's costs.
    computations: AtomicU64,
}

/// Decrements a counter when dropped, so a cancelled caller leaves the counts right.
struct CountGuard<'a>(&'a AtomicUsize);

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordHasher {
    /// Builds the pool and computes the dummy hash (one argon2 run, on the calling thread: call
    /// at start-up, before serving).
    pub fn new(config: PasswordHasherConfig) -> Result<Self, PasswordError> {
        if config.max_concurrent == 0 {
            return Err(PasswordError::InvalidParams(
                "max_concurrent must be at least 1".into(),
            ));
        }
        let dummy_password = crate::ids::refresh_token();
        let dummy_hash = hash_password(&dummy_password, &config.params)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                permits: Arc::new(Semaphore::new(config.max_concurrent)),
                waiting: AtomicUsize::new(0),
                running: Arc::new(AtomicUsize::new(0)),
                dummy_hash,
                verifications: AtomicU64::new(0),
                dummy_verifications: AtomicU64::new(0),
                computations: AtomicU64::new(0),
            }),
        })
    }

    /// The pool settings.
    pub fn config(&self) -> &PasswordHasherConfig {
        &self.inner.config
    }

    /// Running and waiting counts.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            running: self.inner.running.load(Ordering::SeqCst),
            waiting: self.inner.waiting.load(Ordering::SeqCst),
        }
    }

    /// How many verifications were started: `(all, against the dummy hash)`.
    pub fn verification_counts(&self) -> (u64, u64) {
        (
            self.inner.verifications.load(Ordering::SeqCst),
            self.inner.dummy_verifications.load(Ordering::SeqCst),
        )
    }

    /// How many computations ([`PasswordHasher::compute`]) were started.
    pub fn computation_count(&self) -> u64 {
        self.inner.computations.load(Ordering::SeqCst)
    }

    /// Hashes a new password with the configured parameters (PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        let params = self.inner.config.params;
        self.run(move || hash_password(&password, &params)).await
    }

    /// Verifies `password` against the stored hash, or against the dummy hash when `stored` is
    /// `None` (unknown user: always `false`, in the time a real check takes).
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        let password = password.to_owned();
        let known = stored.is_some();
        self.inner.verifications.fetch_add(1, Ordering::SeqCst);
        if !known {
            self.inner
                .dummy_verifications
                .fetch_add(1, Ordering::SeqCst);
        }
        let phc = stored.unwrap_or(&self.inner.dummy_hash).to_owned();
        let matched = self.run(move || verify_password(&password, &phc)).await?;
        Ok(known && matched)
    }

    /// Runs other CPU-heavy password work (SRP's 3072-bit exponentiations) on the same
    /// bounded pool, so that a storm of SRP sign-ins queues with the argon2 runs instead of
    /// stalling the async runtime.
    pub async fn compute<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        self.inner.computations.fetch_add(1, Ordering::SeqCst);
        self.run(move || Ok(work())).await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let inner = &self.inner;
        let permit = {
            if inner.waiting.fetch_add(1, Ordering::SeqCst) >= inner.config.max_waiting {
                inner.waiting.fetch_sub(1, Ordering::SeqCst);
                return Err(PasswordError::Overloaded);
            }
            let _waiting = CountGuard(&inner.waiting);
            Arc::clone(&inner.permits)
                .acquire_owned()
                .await
                .map_err(|e| PasswordError::WorkerStopped(e.to_string()))?
        };
        let running = Arc::clone(&inner.running);
        running.fetch_add(1, Ordering::SeqCst);
        let task = tokio::task::spawn_blocking(move || {
            // The permit and the running count live exactly as long as the computation, even if
            // the caller stops waiting for it.
            let _permit = permit;
            let _running = OwnedCountGuard(running);
            work()
        });
        task.await
            .map_err(|e| PasswordError::WorkerStopped(e.to_string()))?
    }
}

struct OwnedCountGuard(Arc<AtomicUsize>);

impl Drop for OwnedCountGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_concurrent: usize, max_waiting: usize) -> PasswordHasherConfig {
        PasswordHasherConfig {
            params: Argon2Params {
                m_cost_kib: 1024,
                t_cost: 2,
                p_cost: 1,
            },
            max_concurrent,
            max_waiting,
        }
    }

    #[tokio::test]
    async fn hash_verify_and_dummy() {
        let h = PasswordHasher::new(config(2, 16)).unwrap();
        let phc = h.hash("Passw0rd!").await.unwrap();
        assert!(h.verify("Passw0rd!", Some(&phc)).await.unwrap());
        assert!(!h.verify("Passw0rd?", Some(&phc)).await.unwrap());
        assert!(
            !h.verify("Passw0rd!", None).await.unwrap(),
            "unknown user never matches"
        );
        assert_eq!(h.verification_counts(), (3, 1));
        assert_eq!(
            h.stats(),
            PoolStats {
                running: 0,
                waiting: 0
            }
        );
    }

    /// A storm of verifications queues on the pool while other async work on the same runtime
    /// keeps running: on a single-threaded runtime, 200 ping-pongs through a channel finish while
    /// most verifications are still queued, and no more than `max_concurrent` ever run at once.
    #[tokio::test(flavor = "current_thread")]
    async fn other_tasks_progress_during_a_storm() {
        let h = PasswordHasher::new(config(1, 64)).unwrap();
        let phc = h.hash("Passw0rd!").await.unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let mut storm = Vec::new();
        for _ in 0..16 {
            let (h, phc, done) = (h.clone(), phc.clone(), Arc::clone(&done));
            storm.push(tokio::spawn(async move {
                let ok = h.verify("Passw0rd!", Some(&phc)).await.unwrap();
                done.fetch_add(1, Ordering::SeqCst);
                ok
            }));
        }
        // Let every storm task reach the pool.
        for _ in 0..100 {
            tokio::task::yield_now().await;
            if h.stats().waiting + h.stats().running == 16 {
                break;
            }
        }
        assert!(h.stats().running <= 1);

        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u32>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u32>(1);
        let echo = tokio::spawn(async move {
            while let Some(n) = ping_rx.recv().await {
                if pong_tx.send(n).await.is_err() {
                    break;
                }
            }
        });
        for i in 0..200 {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i));
            assert!(h.stats().running <= 1, "concurrency bound");
        }
        let finished_during_pings = done.load(Ordering::SeqCst);
        assert!(
            finished_during_pings < 16,
            "the ping-pong should finish long before 16 sequential argon2 runs"
        );
        drop(ping_tx);
        echo.await.unwrap();
        for t in storm {
            assert!(t.await.unwrap());
        }
        assert_eq!(done.load(Ordering::SeqCst), 16);
        assert_eq!(
            h.stats(),
            PoolStats {
                running: 0,
                waiting: 0
            }
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn full_queue_refuses_quickly() {
        let h = PasswordHasher::new(config(1, 2)).unwrap();
        // The one permit is held by a computation that runs until the test lets it go, so the
        // counts below cannot move under the test's feet however fast argon2 is.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let holder = {
            let h = h.clone();
            tokio::spawn(async move { h.compute(move || gate.recv().is_ok()).await })
        };
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move { h.hash("Passw0rd!").await }));
        }
        let full = PoolStats {
            running: 1,
            waiting: 2,
        };
        while h.stats() != full {
            tokio::task::yield_now().await;
        }
        assert_eq!(h.hash("Passw0rd!").await, Err(PasswordError::Overloaded));
        assert_eq!(
            h.stats(),
            full,
            "a refused caller leaves the counts as they were"
        );
        release.send(()).unwrap();
        assert_eq!(holder.await.unwrap(), Ok(true));
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(
            h.stats(),
            PoolStats {
                running: 0,
                waiting: 0
            }
        );
    }

    #[test]
    fn zero_concurrency_is_refused() {
        assert!(matches!(
            PasswordHasher::new(config(0, 1)),
            Err(PasswordError::InvalidParams(_))
        ));
    }
}
