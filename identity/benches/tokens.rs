//! RS256 token signing and verification (`cargo bench -p gatehouse-identity --bench tokens`).
//!
//! `sign/keyring` is what gatehouse does (key parsed once, aws-lc-rs); `sign/jsonwebtoken_encode`
//! is `jsonwebtoken::encode` with its aws-lc backend, which re-parses the DER key on every call,
//! for comparison. `verify/keyring` is a full ID-token verification (header, kid, signature,
//! claims).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark setup: a panic is a failed run"
)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_identity::tokens::{IdTokenClaims, KeyRing, SigningKey, TokenUse};

const ISS: &str = "http://127.0.0.1:8000/us-east-1_BenchPool";

fn claims() -> IdTokenClaims {
    let mut attributes = BTreeMap::new();
    attributes.insert("email".to_owned(), serde_json::json!("jane@example.com"));
    attributes.insert("email_verified".to_owned(), serde_json::json!(true));
    IdTokenClaims {
        sub: "1b3c5e7a-0000-4000-8000-000000000001".into(),
        groups: vec!["admins".into()],
        iss: ISS.into(),
        username: "jane".into(),
        origin_jti: "origin".into(),
        aud: "client1234567890abcdefghij".into(),
        event_id: "event".into(),
        token_use: TokenUse::Id,
        auth_time: 1_800_000_000,
        exp: 1_800_003_600,
        iat: 1_800_000_000,
        jti: "jti".into(),
        attributes,
    }
}

/// Reads one DER tag-length-value, returning (tag, contents, rest).
fn der_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        l if l < 0x80 => (usize::from(l), 2),
        0x81 => (usize::from(input[2]), 3),
        0x82 => (usize::from(input[2]) << 8 | usize::from(input[3]), 4),
        other => panic!("unsupported DER length form {other:#x}"),
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The RFC 8017 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (what jsonwebtoken wants).
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
    let (_, info, _) = der_tlv(pkcs8); // SEQUENCE PrivateKeyInfo
    let (_, _, rest) = der_tlv(info); // INTEGER version
    let (_, _, rest) = der_tlv(rest); // SEQUENCE AlgorithmIdentifier
    let (tag, key, _) = der_tlv(rest); // OCTET STRING privateKey
    assert_eq!(tag, 0x04);
    key.to_vec()
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate(TokenUse::Id).unwrap();
    let pkcs8 = key.to_pkcs8().unwrap();
    let kid = key.kid().to_owned();
    let mut ring = KeyRing::new(ISS);
    ring.insert(key, None);
    let claims = claims();
    let token = ring.sign_id_token(&claims).unwrap();

    let encoding = jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1_from_pkcs8(&pkcs8));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid);
    header.typ = None;
    // Both produce tokens the ring verifies.
    let jwt_token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
    ring.verify_id_token(&jwt_token, 1_800_000_000, None)
        .unwrap();

    let mut g = c.benchmark_group("rs256");
    g.bench_function("sign/keyring", |b| {
        b.iter(|| ring.sign_id_token(black_box(&claims)).unwrap())
    });
    g.bench_function("sign/jsonwebtoken_encode", |b| {
        b.iter(|| jsonwebtoken::encode(black_box(&header), black_box(&claims), &encoding).unwrap())
    });
    g.bench_function("verify/keyring", |b| {
        b.iter(|| {
            ring.verify_id_token(
                black_box(&token),
                1_800_000_000,
                Some("client1234567890abcdefghij"),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
