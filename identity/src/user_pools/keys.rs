//! Per-pool key rings: loaded from storage (sealed PKCS#8), parsed once, cached in memory, and
//! reloaded when a token names an unknown `kid` or the entry is older than [`RING_TTL`], so
//! several nodes sharing one database see each other's rotations. Also signing-key rotation.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatehouse_storage::{KeyPurpose, SigningKeyRecord};

use super::{RotatedKeys, UserPoolError, UserPools};
use crate::time::{from_unix_millis, unix_millis, unix_seconds};
use crate::tokens::{Jwks, KeyRing, MAX_TOKEN_LIFETIME_SECS, SigningKey, TokenUse};

/// How long a cached ring is trusted before it is reloaded: bounds how long another node's
/// rotation goes unnoticed by a node that only signs.
pub const RING_TTL: Duration = Duration::from_secs(60);
/// Least time between two reloads caused by unknown `kid`s, so forged tokens with random kids
/// cannot turn every request into a database read.
const MISS_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct CachedRing {
    ring: Arc<KeyRing>,
    loaded_at: SystemTime,
}

fn purpose(key_use: TokenUse) -> KeyPurpose {
    match key_use {
        TokenUse::Id => KeyPurpose::Id,
        TokenUse::Access => KeyPurpose::Access,
    }
}

fn age(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

impl UserPools {
    /// Generates a fresh ID key and access key off the async runtime (RSA generation takes
    /// tens of milliseconds).
    pub(super) async fn generate_key_pair(
        &self,
    ) -> Result<(SigningKey, SigningKey), UserPoolError> {
        tokio::task::spawn_blocking(|| {
            Ok::<_, crate::tokens::TokenError>((
                SigningKey::generate(TokenUse::Id)?,
                SigningKey::generate(TokenUse::Access)?,
            ))
        })
        .await
        .map_err(|e| UserPoolError::internal("key generation", e))?
        .map_err(UserPoolError::from)
    }

    /// The storage record of a new active key.
    pub(super) fn key_record(
        &self,
        pool_id: &str,
        key: &SigningKey,
        now: SystemTime,
    ) -> Result<SigningKeyRecord, UserPoolError> {
        Ok(SigningKeyRecord {
            kid: key.kid().to_owned(),
            pool_id: pool_id.to_owned(),
            purpose: purpose(key.key_use()),
            algorithm: "RS256".into(),
            private_key: key.seal(self.sealer(), pool_id)?,
            public_jwk: serde_json::to_string(&key.jwk())
                .map_err(|e| UserPoolError::internal("jwk", e))?,
            created_at: unix_millis(now),
            retired_at: None,
            not_after: None,
        })
    }

    pub(super) fn cache_new_ring(
        &self,
        pool_id: &str,
        id_key: SigningKey,
        access_key: SigningKey,
        now: SystemTime,
    ) {
        let mut ring = KeyRing::new(self.issuer(pool_id));
        ring.insert(id_key, None);
        ring.insert(access_key, None);
        self.store_ring(pool_id, Arc::new(ring), now);
    }

    fn store_ring(&self, pool_id: &str, ring: Arc<KeyRing>, now: SystemTime) {
        if let Ok(mut rings) = self.inner.rings.write() {
            rings.insert(
                pool_id.to_owned(),
                CachedRing {
                    ring,
                    loaded_at: now,
                },
            );
        }
    }

    pub(super) fn forget_ring(&self, pool_id: &str) {
        if let Ok(mut rings) = self.inner.rings.write() {
            rings.remove(pool_id);
        }
    }

    fn cached_ring(&self, pool_id: &str) -> Option<(Arc<KeyRing>, SystemTime)> {
        let rings = self.inner.rings.read().ok()?;
        rings
            .get(pool_id)
            .map(|c| (Arc::clone(&c.ring), c.loaded_at))
    }

    /// Builds the ring from storage: every key whose tokens may still be live.
    async fn load_ring(
        &self,
        pool_id: &str,
        now: SystemTime,
    ) -> Result<Arc<KeyRing>, UserPoolError> {
        let records = self.store().signing_keys().list(pool_id).await?;
        let now_ms = unix_millis(now);
        let mut ring = KeyRing::new(self.issuer(pool_id));
        // Oldest first, so a later active key replaces an earlier one of the same use.
        for r in records {
            if r.not_after.is_some_and(|t| t <= now_ms) {
                continue;
            }
            let key_use = match r.purpose {
                KeyPurpose::Id => TokenUse::Id,
                KeyPurpose::Access => TokenUse::Access,
            };
            let key = SigningKey::open_sealed(self.sealer(), pool_id, key_use, &r.private_key)?;
            ring.insert(key, r.retired_at.map(|t| unix_seconds(from_unix_millis(t))));
        }
        let ring = Arc::new(ring);
        self.store_ring(pool_id, Arc::clone(&ring), now);
        Ok(ring)
    }

    /// The pool's key ring, from the cache unless it is older than [`RING_TTL`].
    pub async fn key_ring(&self, pool_id: &str) -> Result<Arc<KeyRing>, UserPoolError> {
        let now = self.now();
        match self.cached_ring(pool_id) {
            Some((ring, loaded_at)) if age(now, loaded_at) < RING_TTL => Ok(ring),
            _ => self.load_ring(pool_id, now).await,
        }
    }

    /// Loads (and opens with the master key) the key ring of every pool, so a start fails on a
    /// key that cannot be opened instead of a sign-in failing later; returns how many rings.
    pub async fn load_key_rings(&self) -> Result<usize, UserPoolError> {
        let now = self.now();
        let mut after: Option<String> = None;
        let mut loaded = 0;
        loop {
            let page = self
                .store()
                .user_pools()
                .list(1000, after.as_deref())
                .await?;
            for pool in &page.items {
                self.load_ring(&pool.id, now).await?;
                loaded += 1;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(loaded),
            }
        }
    }

    /// The pool's cached ring without waiting, for synchronous verifiers such as the gateway's
    /// authorizer, which must not touch the database per request. A missing or stale ring is
    /// (re)loaded in the background on the current tokio runtime, so the first request for a
    /// pool after start-up may get `None`.
    pub fn key_ring_cached(&self, pool_id: &str) -> Option<Arc<KeyRing>> {
        let now = self.now();
        let cached = self.cached_ring(pool_id);
        let stale = cached
            .as_ref()
            .is_none_or(|(_, loaded_at)| age(now, *loaded_at) >= RING_TTL);
        if stale {
            self.reload_in_background(pool_id);
        }
        cached.map(|(ring, _)| ring)
    }

    fn reload_in_background(&self, pool_id: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let first = match self.inner.reloading.lock() {
            Ok(mut reloading) => reloading.insert(pool_id.to_owned()),
            Err(_) => false,
        };
        if !first {
            return;
        }
        let this = self.clone();
        let pool_id = pool_id.to_owned();
        runtime.spawn(async move {
            let now = this.now();
            if let Err(err) = this.load_ring(&pool_id, now).await {
                tracing::debug!(pool = %pool_id, error = %err, "key ring reload failed");
            }
            if let Ok(mut reloading) = this.inner.reloading.lock() {
                reloading.remove(&pool_id);
            }
        });
    }

    /// The ring for verifying a token signed with `kid`: reloaded when the cached ring lacks
    /// the kid (another node rotated), at most once per second per pool.
    pub async fn key_ring_for_kid(
        &self,
        pool_id: &str,
        kid: &str,
    ) -> Result<Arc<KeyRing>, UserPoolError> {
        let now = self.now();
        let ring = self.key_ring(pool_id).await?;
        let known = ring.jwks().keys.iter().any(|k| k.kid == kid);
        if known {
            return Ok(ring);
        }
        match self.cached_ring(pool_id) {
            Some((_, loaded_at)) if age(now, loaded_at) < MISS_RELOAD_INTERVAL => Ok(ring),
            _ => self.load_ring(pool_id, now).await,
        }
    }

    /// The pool's JWKS (public keys of every key whose tokens may still be live), or
    /// `ResourceNotFound`.
    pub async fn jwks(&self, pool_id: &str) -> Result<Jwks, UserPoolError> {
        self.user_pool(pool_id).await?;
        Ok(self.key_ring(pool_id).await?.jwks())
    }

    /// The pool's OpenID discovery document, or `ResourceNotFound`.
    pub async fn openid_configuration(
        &self,
        pool_id: &str,
    ) -> Result<crate::tokens::OpenIdConfiguration, UserPoolError> {
        self.user_pool(pool_id).await?;
        let issuer = self.issuer(pool_id);
        Ok(crate::tokens::OpenIdConfiguration::new(&issuer, &issuer))
    }

    /// New ID and access keys sign from now on; the old ones are retired with
    /// `not_after = now + MAX_TOKEN_LIFETIME` and stay in the JWKS until then, so every token
    /// they signed still verifies. Keys whose time has passed are purged.
    pub async fn rotate_signing_keys(&self, pool_id: &str) -> Result<RotatedKeys, UserPoolError> {
        self.user_pool(pool_id).await?;
        let now = self.now();
        let before = self.store().signing_keys().list(pool_id).await?;
        let retired_kids: Vec<String> = before
            .iter()
            .filter(|r| r.retired_at.is_none())
            .map(|r| r.kid.clone())
            .collect();
        let (id_key, access_key) = self.generate_key_pair().await?;
        let now_ms = unix_millis(now);
        let not_after = now_ms.saturating_add(MAX_TOKEN_LIFETIME_SECS.saturating_mul(1000));
        for key in [&id_key, &access_key] {
            self.store()
                .signing_keys()
                .rotate(&self.key_record(pool_id, key, now)?, now_ms, not_after)
                .await?;
        }
        self.store().signing_keys().purge_expired(now_ms).await?;
        let rotated = RotatedKeys {
            id_kid: id_key.kid().to_owned(),
            access_kid: access_key.kid().to_owned(),
            retired_kids,
            retired_until: from_unix_millis(not_after),
        };
        self.forget_ring(pool_id);
        self.load_ring(pool_id, now).await?;
        Ok(rotated)
    }
}
