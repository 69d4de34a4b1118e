//! The verifier with a fixed clock: credentials verify until they expire and are refused
//! with `Expired` after, whatever the signature; a wrong secret is a signature mismatch; the
//! operator's key verifies without a token.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gatehouse_storage::StoreOptions;
use gatehouse_storage::testkit::TestStore;

use super::*;
use crate::clock::FixedClock;
use crate::crypto::MasterKey;
use crate::http::OperatorCredentials;
use crate::sigv4::{self, Payload, SigV4Error, VerifierConfig};

const T0: u64 = 1_800_000_000;

fn role() -> CompiledRole {
    CompiledRole {
        name: "Auth".into(),
        arn: "arn:aws:iam::000000000000:role/Auth".into(),
        role_id: "AROAEXAMPLE".into(),
        max_session_duration: 3600,
        trust: None,
        identity: Vec::new(),
        boundary: None,
        tags: Vec::new(),
    }
}

/// Signs a GetCallerIdentity POST at `at` (Unix seconds) with `key`/`secret`/`token` and
/// verifies it at `now`.
fn check(
    verifier: &CredentialVerifier,
    key: &str,
    secret: &str,
    token: Option<&str>,
    at: u64,
    now: u64,
) -> Result<Authenticated, CredentialError> {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let host = "127.0.0.1:8000";
    let outgoing = sigv4::Outgoing {
        method: "POST",
        path: "/",
        host,
        headers: &[],
        body,
    };
    let credentials = sigv4::SigningCredentials {
        access_key_id: key.into(),
        secret_access_key: secret.into(),
        session_token: token.map(str::to_owned),
    };
    let added = sigv4::sign(
        &outgoing,
        &credentials,
        "us-east-1",
        "sts",
        UNIX_EPOCH + Duration::from_secs(at),
    )
    .unwrap();
    let mut headers: Vec<(&str, &[u8])> = vec![("host", host.as_bytes())];
    headers.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));
    let request = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(body),
    };
    let config = VerifierConfig::new("sts");
    verifier.authenticate(&request, &config, UNIX_EPOCH + Duration::from_secs(now))
}

#[tokio::test]
async fn credentials_verify_until_they_expire() {
    let db = TestStore::sqlite(StoreOptions::default()).await;
    let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
    let sealer = Arc::new(
        crate::crypto::Sealer::new(&MasterKey::from_bytes("k1", [9; 32]).unwrap(), &[]).unwrap(),
    );
    let iam = Iam::new(db.store.clone(), clock.clone(), "000000000000".into());
    let sts = Sts::new(sealer.clone(), iam.clone(), clock.clone());
    let operator = OperatorCredentials {
        access_key_id: "AKIAOPERATOR00000000".into(),
        secret_access_key: "operator-secret".into(),
    };
    let verifier = CredentialVerifier::new(sealer, operator, iam, vec!["us-east-1".into()]);
    let role = role();
    let issued = sts
        .issue(
            SessionRequest {
                role: &role,
                source: SessionSource::CognitoIdentity,
                session_name: COGNITO_SESSION_NAME.into(),
                duration_secs: 3600,
                identity_id: Some("us-east-1:id".into()),
                identity_pool_id: Some("us-east-1:pool".into()),
                amr: vec!["authenticated".into()],
                web_identity_keys: Vec::new(),
                session_policy: None,
                policy_arns: Vec::new(),
                tags: Vec::new(),
            },
            UNIX_EPOCH + Duration::from_secs(T0),
        )
        .unwrap();
    let (key, secret, token) = (
        issued.access_key_id.as_str(),
        issued.secret_access_key.as_str(),
        Some(issued.session_token.as_str()),
    );
    // (rule, signed at, verified at, expected)
    let cases: &[(&str, u64, u64, Result<(), CredentialError>)] = &[
        ("fresh credentials verify", T0, T0, Ok(())),
        ("a second before expiry", T0 + 3599, T0 + 3599, Ok(())),
        (
            "at expiry they are refused",
            T0 + 3600,
            T0 + 3600,
            Err(CredentialError::Expired),
        ),
        (
            "long after too",
            T0 + 90_000,
            T0 + 90_000,
            Err(CredentialError::Expired),
        ),
    ];
    for (rule, at, now, expected) in cases {
        let got = check(&verifier, key, secret, token, *at, *now).map(|_| ());
        assert_eq!(&got, expected, "{rule}");
    }
    let got = check(&verifier, key, "wrong-secret", token, T0, T0).map(|_| ());
    assert_eq!(
        got,
        Err(CredentialError::Signature(SigV4Error::SignatureMismatch))
    );
    let got = check(&verifier, key, secret, None, T0, T0).map(|_| ());
    assert_eq!(
        got,
        Err(CredentialError::InvalidToken),
        "an ASIA key without its token"
    );
    let operator = check(
        &verifier,
        "AKIAOPERATOR00000000",
        "operator-secret",
        None,
        T0,
        T0,
    )
    .unwrap();
    assert!(matches!(operator.principal, Principal::Operator { .. }));
    let session = check(&verifier, key, secret, token, T0, T0).unwrap();
    let claims = session.principal.session().unwrap();
    assert_eq!(claims.identity_id.as_deref(), Some("us-east-1:id"));
    // The role is not in IAM: the session authenticates but may do nothing.
    assert!(matches!(
        verifier.permissions(&session.principal),
        Permissions::Nothing
    ));
}

/// A verifier over a fresh store and a sealer, with `max` opened tokens cached, and a
/// function issuing a session at a given time.
async fn cached_verifier(max: usize) -> (CredentialVerifier, Sts, TestStore) {
    let db = TestStore::sqlite(StoreOptions::default()).await;
    let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
    let sealer = Arc::new(
        crate::crypto::Sealer::new(&MasterKey::from_bytes("k1", [9; 32]).unwrap(), &[]).unwrap(),
    );
    let iam = Iam::new(db.store.clone(), clock.clone(), "000000000000".into());
    let sts = Sts::new(sealer.clone(), iam.clone(), clock);
    let operator = OperatorCredentials {
        access_key_id: "AKIAOPERATOR00000000".into(),
        secret_access_key: "operator-secret".into(),
    };
    let verifier = CredentialVerifier::new(sealer, operator, iam, vec!["us-east-1".into()])
        .with_session_cache_capacity(max);
    (verifier, sts, db)
}

fn issue(sts: &Sts, at: u64, identity: &str) -> Credentials {
    sts.issue(
        SessionRequest {
            role: &role(),
            source: SessionSource::CognitoIdentity,
            session_name: COGNITO_SESSION_NAME.into(),
            duration_secs: 3600,
            identity_id: Some(identity.into()),
            identity_pool_id: Some("us-east-1:pool".into()),
            amr: vec!["authenticated".into()],
            web_identity_keys: Vec::new(),
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
        },
        UNIX_EPOCH + Duration::from_secs(at),
    )
    .unwrap()
}

#[tokio::test]
async fn a_cached_token_is_still_checked_on_every_request() {
    let (verifier, sts, _db) = cached_verifier(verify::MAX_CACHED_SESSIONS).await;
    // Issued a minute before midnight UTC, so the signing key's date changes while it is valid.
    let midnight = T0 - T0 % 86_400 + 86_400;
    let at = midnight - 60;
    let issued = issue(&sts, at, "us-east-1:id");
    let (key, secret, token) = (
        issued.access_key_id.as_str(),
        issued.secret_access_key.as_str(),
        issued.session_token.as_str(),
    );
    // A wrong secret opens the token but verifies nothing, and caches nothing.
    assert_eq!(
        check(&verifier, key, "wrong-secret", Some(token), at, at).map(|_| ()),
        Err(CredentialError::Signature(SigV4Error::SignatureMismatch))
    );
    assert_eq!(verifier.cached_sessions(), 0);
    let first = check(&verifier, key, secret, Some(token), at, at).unwrap();
    assert_eq!(verifier.cached_sessions(), 1);
    // From the cache: the same claims, the signature still checked.
    let again = check(&verifier, key, secret, Some(token), at + 1, at + 1).unwrap();
    assert_eq!(
        again.principal.session().unwrap().identity_id,
        first.principal.session().unwrap().identity_id
    );
    assert_eq!(
        check(&verifier, key, "wrong-secret", Some(token), at, at).map(|_| ()),
        Err(CredentialError::Signature(SigV4Error::SignatureMismatch)),
        "a cached token with a wrong secret"
    );
    // After midnight the scope's date changes: the key is derived again and still verifies.
    check(
        &verifier,
        key,
        secret,
        Some(token),
        midnight + 5,
        midnight + 5,
    )
    .unwrap();
    assert_eq!(verifier.cached_sessions(), 1);
    // Expiry is checked on every request, cached or not.
    assert_eq!(
        check(&verifier, key, secret, Some(token), at + 3600, at + 3600).map(|_| ()),
        Err(CredentialError::Expired)
    );
    // A token differing in one character, or presented with another access key id, is not
    // the cached one: it must open on its own, and does not.
    let mut tampered = token.to_owned().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        check(&verifier, key, secret, Some(&tampered), at, at).map(|_| ()),
        Err(CredentialError::InvalidToken)
    );
    let other = issue(&sts, at, "us-east-1:other");
    assert_eq!(
        check(&verifier, &other.access_key_id, secret, Some(token), at, at).map(|_| ()),
        Err(CredentialError::InvalidToken),
        "the cached token under another access key id"
    );
    assert_eq!(
        check(
            &verifier,
            key,
            &other.secret_access_key,
            Some(&other.session_token),
            at,
            at
        )
        .map(|_| ()),
        Err(CredentialError::InvalidToken),
        "another token under the cached access key id"
    );
    assert_eq!(verifier.cached_sessions(), 1);
}

#[tokio::test]
async fn the_token_cache_stays_bounded() {
    let (verifier, sts, _db) = cached_verifier(4).await;
    let issued: Vec<_> = (0..4)
        .map(|i| issue(&sts, T0, &format!("us-east-1:{i}")))
        .collect();
    for c in &issued {
        check(
            &verifier,
            &c.access_key_id,
            &c.secret_access_key,
            Some(&c.session_token),
            T0,
            T0,
        )
        .unwrap();
    }
    assert_eq!(verifier.cached_sessions(), 4);
    // Full of live sessions: a fifth empties it and is the only one kept.
    let fifth = issue(&sts, T0, "us-east-1:5");
    check(
        &verifier,
        &fifth.access_key_id,
        &fifth.secret_access_key,
        Some(&fifth.session_token),
        T0,
        T0,
    )
    .unwrap();
    assert_eq!(verifier.cached_sessions(), 1);
    // Expired entries go first: three sessions issued an hour later fill it to four, and a
    // further one drops only the one that has expired by then.
    let later = T0 + 3000;
    for i in 0..3 {
        let c = issue(&sts, later, &format!("us-east-1:later-{i}"));
        check(
            &verifier,
            &c.access_key_id,
            &c.secret_access_key,
            Some(&c.session_token),
            later,
            later,
        )
        .unwrap();
    }
    assert_eq!(verifier.cached_sessions(), 4);
    let now = T0 + 3600;
    let c = issue(&sts, now, "us-east-1:last");
    check(
        &verifier,
        &c.access_key_id,
        &c.secret_access_key,
        Some(&c.session_token),
        now,
        now,
    )
    .unwrap();
    assert_eq!(verifier.cached_sessions(), 4);
}

/// The cache finds an entry by access key id but uses it only for the very token that opened
/// and verified: a request whose signature does not verify never writes it, another token
/// under the same id (even one that opens) is opened and verified on its own, and a cached
/// token presented under another cached id is refused.
#[tokio::test]
async fn the_token_cache_is_written_only_by_verified_requests_and_used_only_for_their_token() {
    let (verifier, sts, _db) = cached_verifier(verify::MAX_CACHED_SESSIONS).await;
    let sealer =
        crate::crypto::Sealer::new(&MasterKey::from_bytes("k1", [9; 32]).unwrap(), &[]).unwrap();
    let issued = issue(&sts, T0, "us-east-1:id");
    let (key, secret, token) = (
        issued.access_key_id.as_str(),
        issued.secret_access_key.as_str(),
        issued.session_token.as_str(),
    );
    // The same claims sealed again: another token, valid under the same access key id.
    let resealed = SessionClaims::open(&sealer, key, token)
        .unwrap()
        .seal(&sealer)
        .unwrap();
    assert_ne!(resealed, token);
    let mismatch = Err(CredentialError::Signature(SigV4Error::SignatureMismatch));

    // An unverified request writes nothing.
    assert_eq!(
        check(&verifier, key, "wrong-secret", Some(token), T0, T0).map(|_| ()),
        mismatch
    );
    assert_eq!(verifier.cached_token(key), None);
    check(&verifier, key, secret, Some(token), T0, T0).unwrap();
    assert_eq!(verifier.cached_token(key).as_deref(), Some(token));

    // Another token under the cached id, with a wrong secret: refused, the entry kept.
    assert_eq!(
        check(&verifier, key, "wrong-secret", Some(&resealed), T0, T0).map(|_| ()),
        mismatch
    );
    assert_eq!(verifier.cached_token(key).as_deref(), Some(token));
    // A token that does not open under the cached id: refused, the entry kept.
    let mut tampered = token.to_owned().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        check(&verifier, key, secret, Some(&tampered), T0, T0).map(|_| ()),
        Err(CredentialError::InvalidToken)
    );
    assert_eq!(verifier.cached_token(key).as_deref(), Some(token));
    // The resealed token with the right secret verifies on its own and takes the place.
    check(&verifier, key, secret, Some(&resealed), T0 + 1, T0 + 1).unwrap();
    assert_eq!(
        verifier.cached_token(key).as_deref(),
        Some(resealed.as_str())
    );
    assert_eq!(verifier.cached_sessions(), 1);

    // A cached token presented under another cached access key id is not that id's entry.
    let other = issue(&sts, T0, "us-east-1:other");
    check(
        &verifier,
        &other.access_key_id,
        &other.secret_access_key,
        Some(&other.session_token),
        T0,
        T0,
    )
    .unwrap();
    assert_eq!(
        check(
            &verifier,
            &other.access_key_id,
            &other.secret_access_key,
            Some(&resealed),
            T0,
            T0
        )
        .map(|_| ()),
        Err(CredentialError::InvalidToken)
    );
    assert_eq!(verifier.cached_sessions(), 2);
}
