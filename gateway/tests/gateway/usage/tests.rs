//! The cases: keys, throttling, quotas, the cache and the authorizers.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use gatehouse_gateway::definition::plans::{PlanDocument, QuotaDocument, ThrottleDocument};
use gatehouse_gateway::server::authorizers::{KeyRingVerifier, PoolTokenVerifier};
use gatehouse_gateway::server::usage::Usage;
use gatehouse_gateway::server::usage::manage::{CreatedApiKey, NewApiKey};
use gatehouse_identity::tokens::{AccessTokenClaims, IdTokenClaims, KeyRing, SigningKey, TokenUse};
use gatehouse_storage::testkit::TestStore;
use gatehouse_storage::{Store, StoreOptions};

use super::support::{authorizer_endpoint, backend, client, gateway, send};

const POOL_ARN: &str = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Test";
pub(super) const ISSUER: &str = "http://127.0.0.1:8000/us-east-1_Test";
/// A second pool whose users may have the same `sub` as the first one's.
const OTHER_POOL_ARN: &str = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Other";

pub(super) fn definition(backend: std::net::SocketAddr, auth: std::net::SocketAddr) -> String {
    r#"
version: 1
apis:
  shop:
    name: Shop
    authorizers:
      users:
        type: cognito_user_pools
        user_pools: [POOL, OTHER_POOL]
      gate:
        type: request
        endpoint: http://AUTH/authorize
        identity_source: [method.request.header.Authorization]
        result_ttl_seconds: 300
    resources:
      /open:
        GET:
          integration: {type: http_proxy, uri: "http://BACKEND/open"}
      /keyed:
        GET:
          api_key_required: true
          integration: {type: http_proxy, uri: "http://BACKEND/keyed"}
      /cached/{id}:
        GET:
          integration: {type: http_proxy, uri: "http://BACKEND/cached/{id}"}
      /cached-auth:
        GET:
          authorizer: gate
          integration: {type: http_proxy, uri: "http://BACKEND/cached-auth"}
      /big:
        GET:
          integration: {type: http_proxy, uri: "http://BACKEND/big"}
      /jwt:
        GET:
          authorizer: users
          integration: {type: http_proxy, uri: "http://BACKEND/jwt"}
      /scoped:
        GET:
          authorizer: users
          scopes: [orders/read]
          integration: {type: http_proxy, uri: "http://BACKEND/scoped"}
      /gated:
        GET:
          authorizer: gate
          integration: {type: http_proxy, uri: "http://BACKEND/gated"}
      /admin:
        GET:
          authorizer: gate
          integration: {type: http_proxy, uri: "http://BACKEND/admin"}
      /cached-jwt:
        GET:
          authorizer: users
          integration: {type: http_proxy, uri: "http://BACKEND/cached-jwt"}
stages:
  shop:
    prod:
      method_settings:
        "/cached/{id}/GET": {caching_enabled: true}
        "/cached-auth/GET": {caching_enabled: true}
        "/cached-jwt/GET": {caching_enabled: true}
        "/big/GET": {caching_enabled: true}
        "*/*": {caching_enabled: false}
      cache: {enabled: true, ttl_seconds: 300, size_mb: 16}
"#
    .replace("OTHER_POOL", OTHER_POOL_ARN)
    .replace("POOL", POOL_ARN)
    .replace("BACKEND", &backend.to_string())
    .replace("AUTH", &auth.to_string())
}

fn plan(rate: f64, burst: u32, quota: Option<u64>) -> PlanDocument {
    serde_json::from_value(serde_json::json!({
        "apiStages": [{"apiId": "shop", "stage": "prod"}],
    }))
    .map(|mut d: PlanDocument| {
        d.throttle = Some(ThrottleDocument {
            rate_limit: rate,
            burst_limit: burst,
        });
        d.quota = quota.map(|limit| QuotaDocument {
            limit,
            period: "DAY".into(),
            offset: 0,
        });
        d
    })
    .unwrap()
}

/// An enabled key named `name`, with a value drawn by the gateway.
async fn enabled_key(usage: &Usage, name: &str) -> CreatedApiKey {
    usage
        .create_key(NewApiKey {
            name: name.into(),
            enabled: true,
            ..NewApiKey::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn api_keys_missing_invalid_disabled_and_unplanned_are_forbidden() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    let plan = gw
        .usage
        .create_plan("basic", plan(1000.0, 1000, None))
        .await
        .unwrap();
    let key = enabled_key(&gw.usage, "mobile").await;
    assert_eq!(key.value.len(), 40);
    assert_eq!(key.key.prefix, &key.value[..8]);
    // Valid but in no plan of the stage.
    let r = gw.get("/prod/keyed", &[("x-api-key", &key.value)]).await;
    assert_eq!(
        (r.status, r.json()),
        (403, serde_json::json!({"message": "Forbidden"}))
    );
    gw.usage.add_plan_key(&plan.id, &key.key.id).await.unwrap();
    let r = gw.get("/prod/keyed", &[("x-api-key", &key.value)]).await;
    assert_eq!(r.status, 200);
    for headers in [vec![], vec![("x-api-key", "x".repeat(40))]] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = gw.get("/prod/keyed", &headers).await;
        assert_eq!(
            (r.status, r.json()),
            (403, serde_json::json!({"message": "Forbidden"}))
        );
    }
    gw.usage.set_key_enabled(&key.key.id, false).await.unwrap();
    assert_eq!(
        gw.get("/prod/keyed", &[("x-api-key", &key.value)])
            .await
            .status,
        403
    );
    gw.usage.set_key_enabled(&key.key.id, true).await.unwrap();
    assert_eq!(
        gw.get("/prod/keyed", &[("x-api-key", &key.value)])
            .await
            .status,
        200
    );
    // Open methods need no key.
    assert_eq!(gw.get("/prod/open", &[]).await.status, 200);
    // Listing never shows the value; deleting the key refuses it.
    let listed = gw.usage.list_keys().await.unwrap();
    assert_eq!(listed[0].usage_plan_ids, vec![plan.id.clone()]);
    gw.usage.delete_key(&key.key.id).await.unwrap();
    assert_eq!(
        gw.get("/prod/keyed", &[("x-api-key", &key.value)])
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn throttle_and_quota_answer_429_with_retry_after() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    let slow = gw
        .usage
        .create_plan("slow", plan(0.5, 2, None))
        .await
        .unwrap();
    let small = gw
        .usage
        .create_plan("small", plan(1000.0, 1000, Some(5)))
        .await
        .unwrap();
    let mut keys = Vec::new();
    for (name, plan) in [("a", &slow), ("b", &small)] {
        let k = gw
            .usage
            .create_key(NewApiKey {
                name: name.into(),
                enabled: true,
                value: Some(format!("{name}-key-value-of-at-least-thirty-chars")),
                ..NewApiKey::default()
            })
            .await
            .unwrap();
        gw.usage.add_plan_key(&plan.id, &k.key.id).await.unwrap();
        keys.push(k.value);
    }
    let throttled = [("x-api-key", keys[0].as_str())];
    assert_eq!(gw.get("/prod/keyed", &throttled).await.status, 200);
    assert_eq!(gw.get("/prod/keyed", &throttled).await.status, 200);
    let r = gw.get("/prod/keyed", &throttled).await;
    assert_eq!(
        (r.status, r.json()),
        (429, serde_json::json!({"message": "Too Many Requests"}))
    );
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);

    let quota = [("x-api-key", keys[1].as_str())];
    for _ in 0..5 {
        assert_eq!(gw.get("/prod/keyed", &quota).await.status, 200);
    }
    let r = gw.get("/prod/keyed", &quota).await;
    assert_eq!(
        (r.status, r.json()),
        (429, serde_json::json!({"message": "Limit Exceeded"}))
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    // GetUsage: today's 5 requests and nothing left, once this node's counts are written
    // (every second; no request waits for it).
    gw.usage.flush().await;
    let today = gw.usage.today();
    let report = gw
        .usage
        .usage(&small.id, None, &today, &today)
        .await
        .unwrap();
    assert_eq!(report.items.values().next().unwrap(), &vec![(5, 0)]);
}

#[tokio::test]
async fn quota_is_shared_by_two_gateways_on_postgresql() {
    let store = TestStore::postgres(StoreOptions::default()).await.unwrap();
    let other = Store::open(store.url(), StoreOptions::default())
        .await
        .unwrap();
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let def = definition(b.addr, auth);
    let one = gateway(store.store.clone(), &def, None).await;
    let two = gateway(other, &def, None).await;
    let limit = 40u64;
    let plan = one
        .usage
        .create_plan("shared", plan(10_000.0, 10_000, Some(limit)))
        .await
        .unwrap();
    let key = enabled_key(&one.usage, "shared").await;
    one.usage.add_plan_key(&plan.id, &key.key.id).await.unwrap();
    // The second node picks the key and its plan binding up by polling the generation
    // counter. Waiting for the key alone raced with the binding (the key could arrive in one
    // poll and the binding in the next): wait until the second node accepts the key. That
    // request counts against the quota like the others.
    let value = Arc::new(key.value);
    let probe = client();
    let mut learnt = false;
    for _ in 0..100 {
        let r = send(
            &probe,
            two.addr,
            "GET",
            "/prod/keyed",
            &[("x-api-key", &value)],
        )
        .await;
        if r.status == 200 {
            learnt = true;
            break;
        }
        assert_eq!(r.status, 403, "before the key is known");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(learnt, "the second node never learnt the key");
    let mut tasks = Vec::new();
    for addr in [one.addr, two.addr] {
        for _ in 0..4 {
            let value = Arc::clone(&value);
            tasks.push(tokio::spawn(async move {
                let c = client();
                let mut ok = 0u64;
                for _ in 0..20 {
                    let r = send(&c, addr, "GET", "/prod/keyed", &[("x-api-key", &value)]).await;
                    match r.status {
                        200 => ok += 1,
                        429 => {}
                        other => panic!("unexpected {other}"),
                    }
                }
                ok
            }));
        }
    }
    // The probe's request is one of them.
    let mut accepted = 1;
    for t in tasks {
        accepted += t.await.unwrap();
    }
    // Two nodes, each holding at most `u` requests unwritten (a batch, clamp(40 / 20, 1, 2) =
    // 2, plus those admitted while it was written): at most limit + (2 - 1) × u.
    let u = one.usage.most_unwritten().max(two.usage.most_unwritten());
    assert!(u >= 2, "a batch is written once it is full");
    let bound = limit + u;
    assert!(accepted <= bound, "accepted {accepted} > {bound}");
    assert!(accepted >= limit - 2, "accepted only {accepted}");
    one.usage.flush().await;
    two.usage.flush().await;
    let today = one.usage.today();
    let report = one
        .usage
        .usage(&plan.id, None, &today, &today)
        .await
        .unwrap();
    let (used, _) = report.items.values().next().unwrap()[0];
    assert_eq!(used, accepted);
}

/// A node remembers the key values it has served (so it skips their digest), yet refuses a
/// key once another node disabled or deleted it: what it remembers belongs to its key table,
/// which the other node's change replaces.
#[tokio::test]
async fn a_key_disabled_or_deleted_on_another_node_is_refused_here() {
    gatehouse_storage::testkit::each_backend(async |store| {
        let other = Store::open(store.url(), StoreOptions::default())
            .await
            .unwrap();
        let b = backend().await;
        let (auth, _) = authorizer_endpoint().await;
        let def = definition(b.addr, auth);
        let one = gateway(store.store.clone(), &def, None).await;
        let two = gateway(other, &def, None).await;
        let plan = one
            .usage
            .create_plan("nodes", plan(10_000.0, 10_000, None))
            .await
            .unwrap();
        let key = enabled_key(&one.usage, "nodes").await;
        one.usage.add_plan_key(&plan.id, &key.key.id).await.unwrap();
        let probe = client();
        let on_two = async || {
            send(
                &probe,
                two.addr,
                "GET",
                "/prod/keyed",
                &[("x-api-key", &key.value)],
            )
            .await
            .status
        };
        // The second node learns each change by polling storage's generation counter.
        let until = async |want: u16, what: &str| {
            for _ in 0..600 {
                if on_two().await == want {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the second node never answered {want} {what}");
        };
        until(200, "once the key was made").await;
        for _ in 0..3 {
            assert_eq!(on_two().await, 200, "a remembered key");
        }
        one.usage.set_key_enabled(&key.key.id, false).await.unwrap();
        until(403, "once the key was disabled").await;
        one.usage.set_key_enabled(&key.key.id, true).await.unwrap();
        until(200, "once the key was enabled again").await;
        one.usage.delete_key(&key.key.id).await.unwrap();
        until(403, "once the key was deleted").await;
        for _ in 0..3 {
            assert_eq!(on_two().await, 403, "a deleted key stays refused");
        }
    })
    .await;
}

#[tokio::test]
async fn cache_hits_misses_flush_size_limit_and_principal_isolation() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, calls) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    let first = gw.get("/prod/cached/1", &[]).await;
    assert_eq!(first.header("x-cache"), Some("Miss"));
    let second = gw.get("/prod/cached/1", &[]).await;
    assert_eq!(second.header("x-cache"), Some("Hit"));
    assert_eq!(first.body, second.body);
    assert_eq!(b.hits.load(Ordering::SeqCst), 1);
    // Another path is another entry.
    assert_eq!(
        gw.get("/prod/cached/2", &[]).await.header("x-cache"),
        Some("Miss")
    );
    // max-age=0 without permission (no authorizer) is ignored.
    let r = gw
        .get("/prod/cached/1", &[("cache-control", "max-age=0")])
        .await;
    assert_eq!(r.header("x-cache"), Some("Hit"));
    // Flush empties the stage.
    assert!(gw.cache.flush("shop", "prod"));
    assert_eq!(
        gw.get("/prod/cached/1", &[]).await.header("x-cache"),
        Some("Miss")
    );
    // Not cached: methods without caching, bodies over 1 MiB.
    assert_eq!(gw.get("/prod/open", &[]).await.header("x-cache"), None);
    let big = gw.get("/prod/big", &[]).await;
    assert_eq!(big.body.len(), 2 * 1024 * 1024);
    assert_eq!(
        gw.get("/prod/big", &[]).await.header("x-cache"),
        Some("Miss")
    );
    // Per principal: alice's entry is not bob's; the authorizer runs once per identity.
    let alice = gw
        .get("/prod/cached-auth", &[("authorization", "allow-alice")])
        .await;
    assert_eq!(alice.header("x-cache"), Some("Miss"));
    let bob = gw
        .get("/prod/cached-auth", &[("authorization", "allow-bob")])
        .await;
    assert_eq!(bob.header("x-cache"), Some("Miss"));
    assert_ne!(alice.body, bob.body);
    let alice2 = gw
        .get("/prod/cached-auth", &[("authorization", "allow-alice")])
        .await;
    assert_eq!(
        (alice2.header("x-cache"), &alice2.body),
        (Some("Hit"), &alice.body)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A caller whose policy allows execute-api:InvalidateCache refreshes with max-age=0.
    let admin = [("authorization", "allow-admin")];
    assert_eq!(
        gw.get("/prod/cached-auth", &admin).await.header("x-cache"),
        Some("Miss")
    );
    assert_eq!(
        gw.get("/prod/cached-auth", &admin).await.header("x-cache"),
        Some("Hit")
    );
    let refreshed = gw
        .get(
            "/prod/cached-auth",
            &[
                ("authorization", "allow-admin"),
                ("cache-control", "max-age=0"),
            ],
        )
        .await;
    assert_eq!(refreshed.header("x-cache"), Some("Miss"));
    let (hits, misses) = gw.cache.counts();
    assert!(hits >= 4 && misses >= 7, "{hits} {misses}");
}

#[tokio::test]
async fn request_authorizer_allows_denies_and_passes_context() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, calls) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    assert_eq!(
        (
            gw.get("/prod/gated", &[]).await.status,
            gw.get("/prod/gated", &[]).await.json()
        ),
        (401, serde_json::json!({"message": "Unauthorized"}))
    );
    assert_eq!(
        gw.get("/prod/gated", &[("authorization", "bad")])
            .await
            .status,
        401
    );
    let r = gw.get("/prod/gated", &[("authorization", "deny")]).await;
    assert_eq!(r.header("x-amzn-errortype"), Some("AccessDeniedException"));
    assert_eq!(
        (r.status, r.json()),
        (
            403,
            serde_json::json!({"message": "User is not authorized to access this resource with an explicit deny"})
        )
    );
    let r = gw.get("/prod/gated", &[("authorization", "other")]).await;
    assert_eq!(
        (r.status, r.json()),
        (
            403,
            serde_json::json!({"message": "User is not authorized to access this resource"})
        )
    );
    // Allowed: principal and context reach the backend; a client's own x-gatehouse-* is dropped.
    let r = gw
        .get(
            "/prod/gated",
            &[
                ("authorization", "allow-x"),
                ("x-gatehouse-principal-id", "forged"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let headers = &r.json()["headers"];
    assert_eq!(headers["x-gatehouse-principal-id"], "user-allow-x");
    use base64::Engine as _;
    let context: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(headers["x-gatehouse-authorizer-context"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(context["tenant"], "acme");
    assert_eq!(context["level"], "3");
    assert!(
        context["arn"]
            .as_str()
            .unwrap()
            .ends_with(":shop/prod/GET/gated")
    );
    // Cached per identity source: a second call does not reach the endpoint.
    let before = calls.load(Ordering::SeqCst);
    assert_eq!(
        gw.get("/prod/gated", &[("authorization", "allow-x")])
            .await
            .status,
        200
    );
    assert_eq!(calls.load(Ordering::SeqCst), before);
    // Forged claim headers on an open method are dropped too.
    let r = gw
        .get("/prod/open", &[("x-gatehouse-claims", "forged")])
        .await;
    assert!(r.json()["headers"].get("x-gatehouse-claims").is_none());
}

pub(super) fn ring() -> Arc<KeyRing> {
    ring_of(ISSUER)
}

/// A key ring (ID and access keys) of a pool with issuer `issuer`.
pub(super) fn ring_of(issuer: &str) -> Arc<KeyRing> {
    let mut ring = KeyRing::new(issuer);
    ring.insert(SigningKey::generate(TokenUse::Id).unwrap(), None);
    ring.insert(SigningKey::generate(TokenUse::Access).unwrap(), None);
    Arc::new(ring)
}

pub(super) fn access(now: i64, scope: &str, exp_in: i64) -> AccessTokenClaims {
    AccessTokenClaims {
        sub: "user-1".into(),
        groups: vec!["admins".into()],
        iss: ISSUER.into(),
        version: 2,
        client_id: "client-1".into(),
        origin_jti: "o".into(),
        event_id: "e".into(),
        token_use: TokenUse::Access,
        scope: scope.into(),
        auth_time: now,
        exp: now + exp_in,
        iat: now,
        jti: "j".into(),
        username: "alice".into(),
        device_key: None,
        extra: Default::default(),
    }
}

#[tokio::test]
async fn cognito_authorizer_verifies_local_tokens() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let keys = ring();
    let shared = Arc::clone(&keys);
    let verifier: Arc<dyn PoolTokenVerifier> = Arc::new(KeyRingVerifier::new(move |pool: &str| {
        (pool == "us-east-1_Test").then(|| Arc::clone(&shared))
    }));
    let gw = gateway(
        store.store.clone(),
        &definition(b.addr, auth),
        Some(verifier),
    )
    .await;
    use gatehouse_gateway::server::Clock as _;
    // The gateway runs on the system clock, so the tokens are minted against it too.
    let now = gatehouse_gateway::server::SystemClock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = keys
        .sign_access_token(&access(now, "orders/read", 3600))
        .unwrap();
    let r = gw
        .get(
            "/prod/jwt",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    let headers = &r.json()["headers"];
    assert_eq!(headers["x-gatehouse-claim-sub"], "user-1");
    assert_eq!(headers["x-gatehouse-principal-id"], "user-1");
    assert!(headers["x-gatehouse-claims"].as_str().is_some());
    // Raw token (no Bearer) as Cognito REST authorizers accept; scope present.
    assert_eq!(
        gw.get("/prod/scoped", &[("authorization", &token)])
            .await
            .status,
        200
    );
    let unscoped = keys
        .sign_access_token(&access(now, "profile", 3600))
        .unwrap();
    assert_eq!(
        gw.get("/prod/scoped", &[("authorization", &unscoped)])
            .await
            .status,
        401
    );
    let expired = keys
        .sign_access_token(&access(now - 7200, "orders/read", 3600))
        .unwrap();
    // Refused: missing, expired, alg none, HS256 confusion, unknown kid, tampered, oversized.
    let parts: Vec<&str> = token.split('.').collect();
    use base64::Engine as _;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "kid": "x"})),
        parts[1]
    );
    let hs = format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"alg": "HS256", "kid": "x"})),
        parts[1],
        parts[2]
    );
    let unknown_kid = format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"alg": "RS256", "kid": "nope"})),
        parts[1],
        parts[2]
    );
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::json!({"sub": "root"})),
        parts[2]
    );
    // The valid token is cached by now: one character changed in its signature must miss
    // the cache and fail verification, not borrow the cached claims.
    let at = token.len() - 10;
    let swapped = if &token[at..at + 1] == "A" { "B" } else { "A" };
    let flipped = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
    // The cache hashes a token's length and last 32 bytes only: a token that differs from
    // the cached one inside its claims, with the same length and signature, lands in the
    // same bucket and must still be compared whole and refused.
    let mut claims = parts[1].as_bytes().to_vec();
    let middle = claims.len() / 2;
    claims[middle] = if claims[middle] == b'A' { b'B' } else { b'A' };
    let same_tail = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8(claims).unwrap(),
        parts[2]
    );
    assert_eq!(same_tail.len(), token.len());
    assert_eq!(token[token.len() - 32..], same_tail[same_tail.len() - 32..]);
    for bad in [
        &expired,
        &none,
        &hs,
        &unknown_kid,
        &tampered,
        &flipped,
        &same_tail,
    ] {
        let r = gw.get("/prod/jwt", &[("authorization", bad)]).await;
        assert_eq!(
            (r.status, r.json()),
            (401, serde_json::json!({"message": "Unauthorized"}))
        );
    }
    assert_eq!(gw.get("/prod/jwt", &[]).await.status, 401);
    // Past 16 KiB the authorizer answers 401 itself: the header block may reach 32 KiB, so an
    // oversized token is not cut off by the listener's 431 first.
    let huge = format!("{token}{}", "a".repeat(17 * 1024));
    let r = gw.get("/prod/jwt", &[("authorization", &huge)]).await;
    assert_eq!(
        (r.status, r.json()),
        (401, serde_json::json!({"message": "Unauthorized"}))
    );
    // Just under the limit, a signature-less blob of the same shape is refused too (401).
    let near = format!("{}.{}.{}", parts[0], "a".repeat(15 * 1024), parts[2]);
    assert_eq!(
        gw.get("/prod/jwt", &[("authorization", &near)])
            .await
            .status,
        401
    );
}

/// What the revocation check of [`revoked_tokens_are_refused_even_when_cached`] refuses:
/// sign-ins by `origin_jti`, and tokens issued before a sign-out second; it also records
/// every question it was asked.
#[derive(Default)]
struct SignOuts {
    sessions: std::sync::Mutex<Vec<String>>,
    before: std::sync::atomic::AtomicI64,
    asked: std::sync::Mutex<Vec<(String, String, String, i64)>>,
}

#[tokio::test]
async fn revoked_tokens_are_refused_even_when_cached() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let keys = ring();
    let shared = Arc::clone(&keys);
    let outs = Arc::new(SignOuts::default());
    let check = Arc::clone(&outs);
    let verifier: Arc<dyn PoolTokenVerifier> = Arc::new(
        KeyRingVerifier::new(move |pool: &str| {
            (pool == "us-east-1_Test").then(|| Arc::clone(&shared))
        })
        .with_revocations(move |pool, sub, origin_jti, iat| {
            check.asked.lock().unwrap().push((
                pool.to_owned(),
                sub.to_owned(),
                origin_jti.to_owned(),
                iat,
            ));
            check
                .sessions
                .lock()
                .unwrap()
                .iter()
                .any(|s| s == origin_jti)
                || iat < check.before.load(Ordering::SeqCst)
        }),
    );
    let gw = gateway(
        store.store.clone(),
        &definition(b.addr, auth),
        Some(verifier),
    )
    .await;
    use gatehouse_gateway::server::Clock as _;
    let now = gatehouse_gateway::server::SystemClock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let get = async |token: &str| {
        let r = gw.get("/prod/jwt", &[("authorization", token)]).await;
        (r.status, r.json())
    };
    let first = keys
        .sign_access_token(&AccessTokenClaims {
            origin_jti: "sign-in-1".into(),
            iat: now - 10,
            ..access(now, "orders/read", 3600)
        })
        .unwrap();
    let id = keys
        .sign_id_token(&IdTokenClaims {
            sub: "user-1".into(),
            groups: vec![],
            iss: ISSUER.into(),
            username: "alice".into(),
            origin_jti: "sign-in-1".into(),
            aud: "client-1".into(),
            event_id: "e".into(),
            token_use: TokenUse::Id,
            auth_time: now - 10,
            exp: now + 3600,
            iat: now - 10,
            jti: "id-1".into(),
            attributes: Default::default(),
        })
        .unwrap();
    let other_sign_in = keys
        .sign_access_token(&AccessTokenClaims {
            origin_jti: "sign-in-2".into(),
            iat: now,
            ..access(now, "orders/read", 3600)
        })
        .unwrap();
    // Verified and cached; the check is asked with the token's claims.
    for token in [&first, &id, &other_sign_in] {
        assert_eq!(get(token).await.0, 200);
        assert_eq!(get(token).await.0, 200);
    }
    assert!(outs.asked.lock().unwrap().contains(&(
        "us-east-1_Test".into(),
        "user-1".into(),
        "sign-in-1".into(),
        now - 10
    )));
    // The sign-in is revoked: the cached access and id tokens of it are refused from the
    // next request on, the other sign-in is not.
    outs.sessions.lock().unwrap().push("sign-in-1".into());
    let refused = (401, serde_json::json!({"message": "Unauthorized"}));
    assert_eq!(get(&first).await, refused);
    assert_eq!(get(&id).await, refused);
    assert_eq!(get(&other_sign_in).await.0, 200);
    // A global sign-out after the other token was issued refuses it as well.
    outs.before.store(now + 1, Ordering::SeqCst);
    assert_eq!(get(&other_sign_in).await, refused);
    // Asked on every request: the cache answered the repeats, the check still ran each time.
    assert_eq!(outs.asked.lock().unwrap().len(), 10);
}
