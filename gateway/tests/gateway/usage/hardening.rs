//! What an attacker tries against the authorizers and the cache: another spelling of a
//! denied path, a `Connection` header naming the gateway's claim headers, a forged
//! `X-Forwarded-For` against an `aws:SourceIp` condition, and a token whose `sub` another
//! issuer also has (or that has none) hoping for someone else's cached response.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use gatehouse_gateway::server::authorizers::{
    AuthorizerConfig, KeyRingVerifier, PoolTokenVerifier,
};
use gatehouse_gateway::server::{Clock as _, ServiceConfig, SystemClock};
use gatehouse_identity::net::TrustedProxies;
use gatehouse_identity::tokens::{AccessTokenClaims, KeyRing};
use gatehouse_storage::StoreOptions;
use gatehouse_storage::testkit::TestStore;
use serde_json::json;

use super::support::{Answer, authorizer_endpoint, backend, gateway, gateway_on};
use super::tests::{access, definition, ring, ring_of};

fn now() -> i64 {
    SystemClock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn status(r: &Answer) -> (u16, serde_json::Value) {
    (r.status, r.json())
}

#[tokio::test]
async fn the_method_arn_is_the_path_routing_matched() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    let explicit_deny = (
        403,
        json!({"message": "User is not authorized to access this resource with an explicit deny"}),
    );
    // The policy denies `…/GET/admin*`; every spelling that routes to `/admin` is denied.
    for path in [
        "/prod/%61dmin",
        "/prod/admin",
        "/prod/admin/",
        "/prod/%61%64%6d%69%6e",
        "/prod//admin",
        "//prod/admin//",
    ] {
        let r = gw.get(path, &[("authorization", "no-admin")]).await;
        assert_eq!(status(&r), explicit_deny, "{path}");
    }
    assert_eq!(b.hits.load(Ordering::SeqCst), 0);
    // The rest of the API stays open to the same caller. The endpoint's answer is cached
    // per identity source, so its context holds the ARN of the first call, for
    // `/prod/%61dmin`: the decoded path.
    let r = gw
        .get("/prod/g%61ted", &[("authorization", "no-admin")])
        .await;
    assert_eq!(r.status, 200);
    use base64::Engine as _;
    let context: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                r.json()["headers"]["x-gatehouse-authorizer-context"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert!(
        context["arn"]
            .as_str()
            .unwrap()
            .ends_with(":shop/prod/GET/admin"),
        "{context}"
    );
}

#[tokio::test]
async fn invalidate_cache_is_checked_on_the_same_arn() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    // The caller may invalidate `…/GET/cached-auth` only; it asks through another spelling.
    let path = "/prod/cached%2Dauth";
    let caller = ("authorization", "refresher");
    let first = gw.get(path, &[caller]).await;
    assert_eq!(first.header("x-cache"), Some("Miss"));
    assert_eq!(gw.get(path, &[caller]).await.header("x-cache"), Some("Hit"));
    let refreshed = gw
        .get(path, &[caller, ("cache-control", "max-age=0")])
        .await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(
        refreshed.header("x-cache"),
        Some("Miss"),
        "the refresh is allowed on the decoded path's ARN"
    );
    assert_eq!(b.hits.load(Ordering::SeqCst), 2);
}

/// A pool verifier knowing the shared test pool and a second pool of another issuer.
fn two_pools(first: Arc<KeyRing>, second: Arc<KeyRing>) -> Arc<dyn PoolTokenVerifier> {
    Arc::new(KeyRingVerifier::new(move |pool: &str| match pool {
        "us-east-1_Test" => Some(Arc::clone(&first)),
        "us-east-1_Other" => Some(Arc::clone(&second)),
        _ => None,
    }))
}

#[tokio::test]
async fn a_connection_header_cannot_remove_the_gateways_claims() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let keys = ring();
    let other = ring_of("http://127.0.0.1:8000/us-east-1_Other");
    let gw = gateway(
        store.store.clone(),
        &definition(b.addr, auth),
        Some(two_pools(Arc::clone(&keys), other)),
    )
    .await;
    let token = keys
        .sign_access_token(&access(now(), "orders/read", 3600))
        .unwrap();
    let r = gw
        .get(
            "/prod/jwt",
            &[
                ("authorization", &token),
                (
                    "connection",
                    "x-gatehouse-claims, x-gatehouse-claim-sub, x-gatehouse-principal-id",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let headers = &r.json()["headers"];
    assert_eq!(headers["x-gatehouse-claim-sub"], "user-1");
    assert_eq!(headers["x-gatehouse-principal-id"], "user-1");
    assert!(headers["x-gatehouse-claims"].as_str().is_some());
    // A REQUEST authorizer's context header survives the same trick.
    let r = gw
        .get(
            "/prod/gated",
            &[
                ("authorization", "allow-x"),
                (
                    "connection",
                    "x-gatehouse-authorizer-context, x-gatehouse-principal-id",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let headers = &r.json()["headers"];
    assert_eq!(headers["x-gatehouse-principal-id"], "user-allow-x");
    assert!(headers["x-gatehouse-authorizer-context"].as_str().is_some());
}

#[tokio::test]
async fn the_cache_principal_is_issuer_and_subject() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let keys = ring();
    let other = ring_of("http://127.0.0.1:8000/us-east-1_Other");
    let gw = gateway(
        store.store.clone(),
        &definition(b.addr, auth),
        Some(two_pools(Arc::clone(&keys), Arc::clone(&other))),
    )
    .await;
    let now = now();
    let sign = |ring: &KeyRing, sub: &str, jti: &str| {
        ring.sign_access_token(&AccessTokenClaims {
            iss: ring.issuer().into(),
            sub: sub.into(),
            jti: jti.into(),
            ..access(now, "orders/read", 3600)
        })
        .unwrap()
    };
    let alice = sign(&keys, "user-1", "a1");
    let alice_again = sign(&keys, "user-1", "a2");
    let namesake = sign(&other, "user-1", "b1");
    let anonymous = sign(&keys, "", "c1");
    let other_anonymous = sign(&keys, "", "c2");
    // `check(rule, token, expected X-Cache)`, in order: each request may fill the cache.
    let cases: [(&str, &String, &str); 7] = [
        ("first request of a user", &alice, "Miss"),
        ("same token", &alice, "Hit"),
        (
            "another token of the same user and issuer",
            &alice_again,
            "Hit",
        ),
        ("the same sub at another issuer", &namesake, "Miss"),
        ("a token without sub", &anonymous, "Miss"),
        (
            "another token without sub shares nothing",
            &other_anonymous,
            "Miss",
        ),
        ("the token without sub again", &anonymous, "Hit"),
    ];
    for (rule, token, expected) in cases {
        let r = gw
            .get("/prod/cached-jwt", &[("authorization", token)])
            .await;
        assert_eq!(r.status, 200, "{rule}");
        assert_eq!(r.header("x-cache"), Some(expected), "{rule}");
    }
    assert_eq!(b.hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn aws_source_ip_is_the_resolved_client() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let on = async |proxies: &[&str]| {
        gateway_on(
            store.store.clone(),
            &definition(b.addr, auth),
            None,
            AuthorizerConfig::default(),
            ServiceConfig {
                trusted_proxies: TrustedProxies::parse(proxies).unwrap(),
                ..ServiceConfig::default()
            },
            Arc::new(SystemClock),
        )
        .await
    };
    let denied = (
        403,
        json!({"message": "User is not authorized to access this resource"}),
    );
    let caller = ("authorization", "from-doc-net");
    // The policy allows 198.51.100.0/24 only; the test client connects from 127.0.0.1.
    let direct = on(&[]).await;
    let forged = direct
        .get(
            "/prod/gated",
            &[caller, ("x-forwarded-for", "198.51.100.7")],
        )
        .await;
    assert_eq!(status(&forged), denied, "a client's own X-Forwarded-For");
    let proxied = on(&["127.0.0.1"]).await;
    let r = proxied
        .get(
            "/prod/gated",
            &[caller, ("x-forwarded-for", "198.51.100.7")],
        )
        .await;
    assert_eq!(r.status, 200, "named by a trusted proxy");
    assert_eq!(
        r.json()["headers"]["x-forwarded-for"],
        "198.51.100.7, 127.0.0.1"
    );
    let r = proxied.get("/prod/gated", &[caller]).await;
    assert_eq!(status(&r), denied, "the proxy itself is not in the network");
}

/// `execute-api:InvalidateCache` is evaluated with the same request context as
/// `execute-api:Invoke` (`aws:SourceIp`, `aws:CurrentTime`, `aws:EpochTime`): a `Deny` on the
/// caller's address applies to cache refreshes too.
#[tokio::test]
async fn cache_invalidation_sees_the_source_address() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    let caller = ("authorization", "refresher-not-on-loopback");
    assert_eq!(
        gw.get("/prod/cached-auth", &[caller])
            .await
            .header("x-cache"),
        Some("Miss")
    );
    let refresh = gw
        .get(
            "/prod/cached-auth",
            &[caller, ("cache-control", "max-age=0")],
        )
        .await;
    assert_eq!(refresh.status, 200);
    assert_eq!(
        refresh.header("x-cache"),
        Some("Hit"),
        "denied from 127.0.0.1: served from the cache"
    );
}
