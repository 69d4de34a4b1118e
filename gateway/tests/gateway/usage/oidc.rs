//! The JWT authorizer against a remote OIDC issuer served by the test (an axum app on
//! loopback publishing discovery and a JWKS): RS256 tokens verified through discovery, key
//! rotation picked up by a rate-limited JWKS refetch, unknown kids refused, and the usual
//! forgeries (wrong issuer or audience, expired, `alg: none`, HS256 keyed with public
//! material) answered 401. Fetches are bounded per issuer whatever tokens say (on a clock
//! the test moves), the issuer is compared exactly, and keys come only from an `https`
//! `jwks_uri` (or `http` on loopback) that a discovery document of the same issuer names.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_gateway::server::authorizers::AuthorizerConfig;
use gatehouse_gateway::server::{Clock, ServiceConfig, SystemClock};
use gatehouse_identity::clock::FixedClock;
use gatehouse_identity::tokens::{IdTokenClaims, KeyRing, SigningKey, TokenUse};
use gatehouse_storage::StoreOptions;
use gatehouse_storage::testkit::TestStore;
use serde_json::{Value, json};

use super::support::{backend, gateway};

/// The issuer: what it publishes and how often its discovery document and JWKS were
/// fetched.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    discovery: Arc<Mutex<Value>>,
    discoveries: Arc<AtomicUsize>,
}

async fn issuer() -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let jwks = Arc::new(Mutex::new(Vec::new()));
    let fetches = Arc::new(AtomicUsize::new(0));
    let discoveries = Arc::new(AtomicUsize::new(0));
    let discovery = Arc::new(Mutex::new(json!({
        "issuer": url,
        "jwks_uri": format!("{url}/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
    })));
    let (keys, count) = (Arc::clone(&jwks), Arc::clone(&fetches));
    let (document, asked) = (Arc::clone(&discovery), Arc::clone(&discoveries));
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                asked.fetch_add(1, Ordering::SeqCst);
                let d = document.lock().unwrap().clone();
                async move { axum::Json(d) }
            }),
        )
        .route(
            "/keys",
            axum::routing::get(move || {
                count.fetch_add(1, Ordering::SeqCst);
                let keys = keys.lock().unwrap().clone();
                async move { axum::Json(json!({ "keys": keys })) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Issuer {
        url,
        jwks,
        fetches,
        discovery,
        discoveries,
    }
}

impl Issuer {
    fn publish(&self, keys: &[&SigningKey]) {
        *self.jwks.lock().unwrap() = keys
            .iter()
            .map(|k| serde_json::to_value(k.jwk()).unwrap())
            .collect();
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
    /// `(discovery documents, JWKS)` served so far.
    fn served(&self) -> (usize, usize) {
        (self.discoveries.load(Ordering::SeqCst), self.fetches())
    }
    /// Changes one field of the discovery document.
    fn discover(&self, field: &str, value: &str) {
        self.discovery.lock().unwrap()[field] = json!(value);
    }
}

fn now() -> i64 {
    // The gateway runs on the system clock, so tokens are minted against it.
    SystemClock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An RS256 ID token signed by `key`, with `iss`, `aud` and expiry as given.
fn token(key: &SigningKey, iss: &str, aud: &str, exp_in: i64) -> String {
    token_at(key, iss, aud, exp_in, now())
}

/// [`token`] issued at `now` (Unix seconds).
fn token_at(key: &SigningKey, iss: &str, aud: &str, exp_in: i64, now: i64) -> String {
    let mut ring = KeyRing::new(iss);
    ring.insert(
        SigningKey::from_pkcs8(TokenUse::Id, &key.to_pkcs8().unwrap()).unwrap(),
        None,
    );
    ring.sign_id_token(&IdTokenClaims {
        sub: "remote-user".into(),
        groups: Vec::new(),
        iss: iss.into(),
        username: "remote".into(),
        origin_jti: "o".into(),
        aud: aud.into(),
        event_id: "e".into(),
        token_use: TokenUse::Id,
        auth_time: now,
        exp: now + exp_in,
        iat: now,
        jti: "j".into(),
        attributes: Default::default(),
    })
    .unwrap()
}

fn definition(backend: SocketAddr, issuer: &str) -> String {
    format!(
        r#"
version: 1
apis:
  shop:
    authorizers:
      partners:
        type: jwt
        issuer: {issuer}
        audiences: [client-1]
    resources:
      /remote:
        GET:
          authorizer: partners
          integration: {{type: http_proxy, uri: "http://{backend}/remote"}}
stages:
  shop:
    prod: {{}}
"#
    )
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

const INTERVAL: Duration = Duration::from_millis(800);

#[tokio::test]
async fn remote_issuer_rotation_refetch_and_forgeries() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let idp = issuer().await;
    let k1 = SigningKey::generate(TokenUse::Id).unwrap();
    idp.publish(&[&k1]);
    // A refetch interval long enough that "within the interval" holds on a loaded machine.
    let gw = super::support::gateway_with(
        store.store.clone(),
        &definition(b.addr, &idp.url),
        None,
        gatehouse_gateway::server::authorizers::AuthorizerConfig {
            jwks_refetch_interval: INTERVAL,
            ..Default::default()
        },
    )
    .await;
    let status = |r: &super::support::Answer| (r.status, r.json());
    let unauthorized = (401, json!({"message": "Unauthorized"}));

    // A token from the published key: discovery, then the JWKS, then cached.
    let t1 = token(&k1, &idp.url, "client-1", 3600);
    let r = gw.get("/prod/remote", &[("authorization", &t1)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["headers"]["x-gatehouse-claim-sub"], "remote-user");
    assert_eq!(idp.fetches(), 1);
    let r = gw
        .get(
            "/prod/remote",
            &[("authorization", &format!("Bearer {t1}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(idp.fetches(), 1, "verified tokens are cached");

    // Rotation: the issuer signs with a new kid. A token with an unknown kid refetches the
    // JWKS, but at most once per interval.
    let k2 = SigningKey::generate(TokenUse::Id).unwrap();
    let t2 = token(&k2, &idp.url, "client-1", 3600);
    // Not published yet: refused; the refetch it caused saw no such key.
    tokio::time::sleep(INTERVAL + Duration::from_millis(100)).await;
    assert_eq!(
        status(&gw.get("/prod/remote", &[("authorization", &t2)]).await),
        unauthorized
    );
    assert_eq!(idp.fetches(), 2);
    // Published now, but within the interval: no refetch, still refused.
    idp.publish(&[&k1, &k2]);
    assert_eq!(
        gw.get("/prod/remote", &[("authorization", &t2)])
            .await
            .status,
        401
    );
    assert_eq!(idp.fetches(), 2, "refetches are rate limited");
    // After the interval: refetched, accepted; the old key still verifies.
    tokio::time::sleep(INTERVAL + Duration::from_millis(100)).await;
    let r = gw.get("/prod/remote", &[("authorization", &t2)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(idp.fetches(), 3);
    assert_eq!(
        gw.get(
            "/prod/remote",
            &[("authorization", &token(&k1, &idp.url, "client-1", 3600))]
        )
        .await
        .status,
        200
    );

    // Forgeries and mismatches: all 401 with API Gateway's body.
    let header = |v: Value| b64(&v);
    let payload = t1.split('.').nth(1).unwrap().to_owned();
    let none = format!(
        "{}.{payload}.",
        header(json!({"alg": "none", "kid": k1.kid()}))
    );
    // HS256 keyed with the issuer's public modulus, the classic RS/HS confusion.
    let hs_input = format!(
        "{}.{payload}",
        header(json!({"alg": "HS256", "kid": k1.kid(), "typ": "JWT"}))
    );
    let modulus = serde_json::to_value(k1.jwk()).unwrap()["n"]
        .as_str()
        .unwrap()
        .to_owned();
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, modulus.as_bytes()),
        hs_input.as_bytes(),
    );
    let hs = format!("{hs_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    let stranger = SigningKey::generate(TokenUse::Id).unwrap();
    let cases = [
        (
            "issuer not accepted",
            token(&k1, "http://127.0.0.1:1/other", "client-1", 3600),
        ),
        (
            "audience not accepted",
            token(&k1, &idp.url, "client-2", 3600),
        ),
        (
            "expired beyond the leeway",
            token(&k1, &idp.url, "client-1", -120),
        ),
        ("alg none", none),
        ("HS256 with the public key", hs),
        (
            "kid the issuer never published",
            token(&stranger, &idp.url, "client-1", 3600),
        ),
        ("tampered payload", {
            let mut parts: Vec<String> = t1.split('.').map(str::to_owned).collect();
            parts[1] =
                b64(&json!({"sub": "root", "iss": idp.url, "aud": "client-1", "exp": now() + 60}));
            parts.join(".")
        }),
    ];
    for (rule, bad) in &cases {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let r = gw.get("/prod/remote", &[("authorization", bad)]).await;
        assert_eq!(status(&r), unauthorized, "{rule}");
    }
    assert_eq!(gw.get("/prod/remote", &[]).await.status, 401);
}

/// The same issuer over TLS: a self-signed certificate for 127.0.0.1 made with rcgen.
/// Returns the issuer URL and the certificate (DER).
async fn tls_issuer(jwks: Value) -> (String, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_der = certified.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone().into()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, discovery, jwks) = (acceptor.clone(), discovery.clone(), jwks.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let body = if req.uri().path() == "/keys" {
                            jwks.to_string()
                        } else {
                            discovery.to_string()
                        };
                        async move {
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(bytes::Bytes::from(body)),
                            ))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (url, cert_der)
}

#[tokio::test]
async fn https_issuer_is_trusted_only_through_its_certificate() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let key = SigningKey::generate(TokenUse::Id).unwrap();
    let (url, cert) = tls_issuer(json!({"keys": [serde_json::to_value(key.jwk()).unwrap()]})).await;
    let t = token(&key, &url, "client-1", 3600);
    // Trusted: the issuer's certificate is an extra root.
    let trusting = super::support::gateway_with(
        store.store.clone(),
        &definition(b.addr, &url),
        None,
        gatehouse_gateway::server::authorizers::AuthorizerConfig {
            extra_root_certificates: vec![cert],
            ..Default::default()
        },
    )
    .await;
    let r = trusting.get("/prod/remote", &[("authorization", &t)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    // Not trusted (only the Mozilla roots): the keys cannot be fetched, the token is refused.
    let other = TestStore::sqlite(StoreOptions::default()).await;
    let strict = gateway(other.store.clone(), &definition(b.addr, &url), None).await;
    let r = strict.get("/prod/remote", &[("authorization", &t)]).await;
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"message": "Unauthorized"}))
    );
}

/// A gateway on a clock the test moves, in front of `idp` with the given refetch interval.
async fn on_fixed_clock(
    idp: &Issuer,
    interval: Duration,
) -> (super::support::Gateway, Arc<FixedClock>, TestStore) {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let clock = Arc::new(FixedClock::new(
        std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ));
    let gw = super::support::gateway_on(
        store.store.clone(),
        &definition(b.addr, &idp.url),
        None,
        AuthorizerConfig {
            jwks_refetch_interval: interval,
            ..Default::default()
        },
        ServiceConfig::default(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .await;
    (gw, clock, store)
}

fn unix(clock: &FixedClock) -> i64 {
    clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn fetches_are_bounded_per_issuer_whatever_tokens_say() {
    let idp = issuer().await;
    let k1 = SigningKey::generate(TokenUse::Id).unwrap();
    idp.publish(&[&k1]);
    let interval = Duration::from_secs(30);
    let (gw, clock, _store) = on_fixed_clock(&idp, interval).await;
    let get = async |token: &str| {
        gw.get("/prod/remote", &[("authorization", token)])
            .await
            .status
    };

    // First token: one discovery, one JWKS.
    assert_eq!(
        get(&token_at(&k1, &idp.url, "client-1", 3600, unix(&clock))).await,
        200
    );
    assert_eq!(idp.served(), (1, 1));

    // Within the interval, a flood of unknown kids and other spellings of the issuer: all
    // refused, nothing fetched.
    let strangers: Vec<SigningKey> = (0..3)
        .map(|_| SigningKey::generate(TokenUse::Id).unwrap())
        .collect();
    let spellings = [
        format!("{}/", idp.url),
        format!("{}//", idp.url),
        idp.url.replace("http://", "HTTP://"),
        format!("{}/.", idp.url),
        format!("{}?x=1", idp.url),
    ];
    for round in 0..4 {
        clock.advance(Duration::from_secs(5) / 4);
        let now = unix(&clock);
        for key in &strangers {
            let t = token_at(key, &idp.url, "client-1", 3600 + round, now);
            assert_eq!(get(&t).await, 401, "unknown kid");
        }
        for iss in &spellings {
            let t = token_at(&k1, iss, "client-1", 3600 + round, now);
            assert_eq!(get(&t).await, 401, "issuer spelt `{iss}`");
        }
    }
    assert_eq!(idp.served(), (1, 1), "no fetch within the interval");

    // One interval after the first fetch: one refetch, whatever comes next.
    clock.advance(interval);
    let now = unix(&clock);
    for key in &strangers {
        assert_eq!(
            get(&token_at(key, &idp.url, "client-1", 3600, now)).await,
            401
        );
    }
    assert_eq!(idp.served(), (2, 2), "one refetch per interval");

    // Rotation: published now, picked up at the next interval, not before.
    let k2 = SigningKey::generate(TokenUse::Id).unwrap();
    idp.publish(&[&k1, &k2]);
    let t2 = token_at(&k2, &idp.url, "client-1", 3600, now);
    assert_eq!(get(&t2).await, 401);
    assert_eq!(idp.served(), (2, 2));
    clock.advance(interval);
    assert_eq!(get(&t2).await, 200);
    assert_eq!(idp.served(), (3, 3));

    // Other spellings of the issuer still fetch nothing, even past the interval.
    clock.advance(interval * 2);
    let now = unix(&clock);
    for iss in &spellings {
        assert_eq!(get(&token_at(&k1, iss, "client-1", 3600, now)).await, 401);
    }
    assert_eq!(idp.served(), (3, 3));
}

#[tokio::test]
async fn keys_come_only_from_what_the_issuers_discovery_allows() {
    let interval = Duration::from_secs(30);
    let key = SigningKey::generate(TokenUse::Id).unwrap();
    // `(rule, the discovery field to change, its new value for this issuer)`.
    type Change = fn(&Issuer) -> String;
    let cases: [(&str, &str, Change); 4] = [
        ("a jwks_uri that is not http(s)", "jwks_uri", |idp| {
            idp.url.replace("http://", "ftp://") + "/keys"
        }),
        ("a jwks_uri without a host", "jwks_uri", |_| {
            "https:///keys".to_owned()
        }),
        (
            "plain http to a host that is not loopback",
            "jwks_uri",
            |idp| {
                let port = idp.url.rsplit(':').next().unwrap().to_owned();
                format!("http://192.0.2.1:{port}/keys")
            },
        ),
        ("a discovery document of another issuer", "issuer", |_| {
            "https://accounts.example.com".to_owned()
        }),
    ];
    for (rule, field, value) in cases {
        let idp = issuer().await;
        idp.publish(&[&key]);
        idp.discover(field, &value(&idp));
        let (gw, clock, _store) = on_fixed_clock(&idp, interval).await;
        let t = token_at(&key, &idp.url, "client-1", 3600, unix(&clock));
        let r = gw.get("/prod/remote", &[("authorization", &t)]).await;
        assert_eq!(r.status, 401, "{rule}");
        assert_eq!(idp.served(), (1, 0), "{rule}: the keys are never fetched");
    }
    // Loopback on both sides, by name or address, over plain http: accepted.
    let idp = issuer().await;
    idp.publish(&[&key]);
    let keys_by_name = format!("{}/keys", idp.url.replace("127.0.0.1", "localhost"));
    idp.discover("jwks_uri", &keys_by_name);
    let (gw, clock, _store) = on_fixed_clock(&idp, interval).await;
    let t = token_at(&key, &idp.url, "client-1", 3600, unix(&clock));
    assert_eq!(
        gw.get("/prod/remote", &[("authorization", &t)])
            .await
            .status,
        200
    );
    assert_eq!(idp.served(), (1, 1));
}
