//! Signed-out tokens, in memory: [`Revocations`] answers "is this token refused?" without
//! touching storage, for the gateway's JWT authorizer on every request.
//!
//! # What is refused
//! Two kinds of stored revocation (storage's `token_revocations` table): a sign-in
//! (`origin_jti`, written by RevokeToken and GlobalSignOut: every access and id token of that
//! sign-in) and a user (`sub`, written by GlobalSignOut, AdminUserGlobalSignOut,
//! AdminDisableUser, AdminDeleteUser and DeleteUser: every token issued, by `iat`, strictly
//! before the sign-out's second). The last three also revoke the sign-ins whose refresh
//! tokens they ended, so tokens of the very same second are refused too, and a sign-in still
//! in flight when they commit gets no tokens at all (storage refuses its refresh token, see
//! `issue`). A revocation is kept for
//! [`REVOCATION_LIFETIME`] after it was made: no token it could refuse lives longer.
//!
//! # Propagation
//! The node that revokes updates its own view at once, after the row is committed. Every
//! other node's view follows through [`UserPools::run_revocation_refresh`], which reads the
//! rows written after the last `seq` it saw every [`REVOCATION_REFRESH_INTERVAL`]: a sign-out
//! on one node is refused by every node's gateway at most one refresh interval plus one
//! query after it returned (while storage is reachable; on a failed query the view keeps
//! what it had and the next tick retries). Self-service calls (GetUser, …) do not use this
//! view: they read storage, so there a sign-out holds on every node at once.
//!
//! The view is a two-level map (`pool → subject → …`) behind a `RwLock`, so a lookup hashes
//! the borrowed `&str`s of the token's claims and allocates nothing.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use gatehouse_storage::{RevocationKind, RevocationRecord};

use super::{UserPoolError, UserPools};
use crate::time::unix_millis;

/// How long a revocation is kept after it was made. Cognito's access and id tokens live at
/// most one day (`ClientConfig::validate` holds gatehouse's to the same bound), so a day
/// after a sign-out no token it could refuse is still valid and the row can go.
pub const REVOCATION_LIFETIME: Duration = Duration::from_secs(86_400);

/// How often [`UserPools::run_revocation_refresh`] reads other nodes' revocations.
pub const REVOCATION_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// How often [`UserPools::run_revocation_refresh`] deletes expired revocations (from storage
/// and from the view): they refuse nothing, so this only bounds the table's size.
pub const REVOCATION_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// Rows read per query while catching up with the change feed.
const FEED_BATCH: u32 = 1000;

/// The in-memory copy of the unexpired revocations (see the module docs).
#[derive(Debug, Default)]
pub struct Revocations {
    state: RwLock<View>,
}

#[derive(Debug, Default)]
struct View {
    /// pool → `origin_jti` → when the revocation expires (Unix ms), for purging.
    sessions: HashMap<String, HashMap<String, i64>>,
    /// pool → `sub` → the sign-out.
    users: HashMap<String, HashMap<String, SignedOut>>,
    /// The highest change-feed `seq` applied: the next refresh reads what came after it.
    seq: i64,
    /// Whether the unexpired rows were loaded once (before that, the feed is read from 0).
    loaded: bool,
}

#[derive(Debug, Clone, Copy)]
struct SignedOut {
    /// Tokens with an `iat` (whole seconds) below this are refused.
    before: i64,
    /// Unix ms after which the entry refuses nothing.
    expires_at: i64,
}

// === impl Revocations ===

impl Revocations {
    /// Whether a token of pool `pool_id` with these claims has been revoked: its sign-in
    /// (`origin_jti`), or its user (`sub`) signed out after it was issued (`iat`, Unix
    /// seconds). No storage access and no allocation.
    pub fn is_revoked(&self, pool_id: &str, sub: &str, origin_jti: &str, iat: i64) -> bool {
        let view = self.state.read().unwrap_or_else(PoisonError::into_inner);
        if view
            .sessions
            .get(pool_id)
            .is_some_and(|sessions| sessions.contains_key(origin_jti))
        {
            return true;
        }
        view.users
            .get(pool_id)
            .and_then(|users| users.get(sub))
            .is_some_and(|out| iat < out.before)
    }

    /// The highest change-feed `seq` applied so far.
    pub fn seq(&self) -> i64 {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .seq
    }

    /// Adds stored rows to the view (those expired at `now_ms` are skipped); with `advance`,
    /// moves the feed position past them. This node's own writes are applied without
    /// `advance`: rows of other nodes with a lower `seq` may not have been read yet.
    fn apply(&self, records: &[RevocationRecord], now_ms: i64, advance: bool) {
        let mut view = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for record in records {
            if advance {
                view.seq = view.seq.max(record.seq);
            }
            if record.expires_at <= now_ms {
                continue;
            }
            match record.kind {
                RevocationKind::Session => {
                    let expires = view
                        .sessions
                        .entry(record.pool_id.clone())
                        .or_default()
                        .entry(record.subject.clone())
                        .or_insert(record.expires_at);
                    *expires = (*expires).max(record.expires_at);
                }
                RevocationKind::User => {
                    let before = record.revoked_at.div_euclid(1000);
                    let out = view
                        .users
                        .entry(record.pool_id.clone())
                        .or_default()
                        .entry(record.subject.clone())
                        .or_insert(SignedOut {
                            before,
                            expires_at: record.expires_at,
                        });
                    out.before = out.before.max(before);
                    out.expires_at = out.expires_at.max(record.expires_at);
                }
            }
        }
    }

    /// Drops the entries expired at `now_ms`; returns how many.
    fn forget_expired(&self, now_ms: i64) -> usize {
        let mut view = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut dropped = 0;
        for sessions in view.sessions.values_mut() {
            let before = sessions.len();
            sessions.retain(|_, expires_at| *expires_at > now_ms);
            dropped += before - sessions.len();
        }
        view.sessions.retain(|_, sessions| !sessions.is_empty());
        for users in view.users.values_mut() {
            let before = users.len();
            users.retain(|_, out| out.expires_at > now_ms);
            dropped += before - users.len();
        }
        view.users.retain(|_, users| !users.is_empty());
        dropped
    }
}

// === impl UserPools ===

impl UserPools {
    /// This node's in-memory view of revoked tokens (see [`Revocations`]), for synchronous
    /// checks such as the gateway's authorizer.
    pub fn revocations(&self) -> &std::sync::Arc<Revocations> {
        &self.inner.revocations
    }

    /// Brings the view up to date with storage: the first call loads every unexpired
    /// revocation, later calls read the rows written after the last `seq` seen. Returns how
    /// many rows were read.
    pub async fn refresh_revocations(&self) -> Result<usize, UserPoolError> {
        let now_ms = unix_millis(self.now());
        let view = self.revocations();
        let store = self.store().revocations();
        let loaded = view
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .loaded;
        if !loaded {
            // Writers are serialized and `seq` is handed out in commit order, so the highest
            // `seq` loaded marks a point before which nothing can appear later.
            let rows = store.load_unexpired(now_ms).await?;
            view.apply(&rows, now_ms, true);
            view.state
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .loaded = true;
            return Ok(rows.len());
        }
        let mut read = 0;
        loop {
            let rows = store.changes_after(view.seq(), FEED_BATCH).await?;
            view.apply(&rows, now_ms, true);
            read += rows.len();
            if rows.len() < usize::try_from(FEED_BATCH).unwrap_or(usize::MAX) {
                return Ok(read);
            }
        }
    }

    /// Deletes the revocations expired now from storage and from the view; returns how many
    /// rows storage deleted.
    pub async fn purge_revocations(&self) -> Result<u64, UserPoolError> {
        let now_ms = unix_millis(self.now());
        let deleted = self.store().revocations().purge_expired(now_ms).await?;
        self.revocations().forget_expired(now_ms);
        Ok(deleted)
    }

    /// The background task that keeps the view in step with other nodes (every
    /// [`REVOCATION_REFRESH_INTERVAL`]) and purges expired revocations and attempt counters
    /// (every [`REVOCATION_PURGE_INTERVAL`]), until `shutdown` resolves. Errors are logged and
    /// retried on the next tick.
    pub async fn run_revocation_refresh(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut refresh = tokio::time::interval(REVOCATION_REFRESH_INTERVAL);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut purge = tokio::time::interval(REVOCATION_PURGE_INTERVAL);
        purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = refresh.tick() => {
                    if let Err(err) = self.refresh_revocations().await {
                        tracing::warn!(error = %err, "token revocations not refreshed");
                    }
                }
                _ = purge.tick() => {
                    match self.purge_revocations().await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(purged = n, "expired token revocations purged"),
                        Err(err) => tracing::warn!(error = %err, "token revocations not purged"),
                    }
                    // Expired attempt counters (lockouts, code budgets) go at the same pace.
                    match self.purge_attempt_counters().await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(purged = n, "expired attempt counters purged"),
                        Err(err) => tracing::warn!(error = %err, "attempt counters not purged"),
                    }
                    match crate::oauth2::purge_expired(&self).await {
                        Ok(n) => tracing::debug!(purged = n, "expired codes and hosted sessions purged"),
                        Err(err) => tracing::warn!(error = %err, "codes and hosted sessions not purged"),
                    }
                    match self.purge_spent_sessions().await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(purged = n, "expired spent sessions purged"),
                        Err(err) => tracing::warn!(error = %err, "spent sessions not purged"),
                    }
                }
            }
        }
    }

    /// Records a revocation in storage and, once committed, in this node's view.
    pub(super) async fn record_revocation(
        &self,
        pool_id: &str,
        kind: RevocationKind,
        subject: &str,
        now_ms: i64,
    ) -> Result<(), UserPoolError> {
        let lifetime = i64::try_from(REVOCATION_LIFETIME.as_millis()).unwrap_or(i64::MAX);
        let stored = self
            .store()
            .revocations()
            .record(
                pool_id,
                kind,
                subject,
                now_ms,
                now_ms.saturating_add(lifetime),
            )
            .await?;
        self.revocations().apply(&[stored], now_ms, false);
        Ok(())
    }
}
