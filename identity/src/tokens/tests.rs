//! Token issuance and verification tests. RSA keys are generated once per test binary.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use aws_lc_rs::hmac;

use super::*;
use crate::crypto::MasterKey;

const ISS: &str = "http://127.0.0.1:8000/us-east-1_TestPool1";
const NOW: i64 = 1_800_000_000;

struct Keys {
    id: Vec<u8>,
    access: Vec<u8>,
    id2: Vec<u8>,
}

/// PKCS#8 of three keys, generated once (RSA generation is the slow part).
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        id: SigningKey::generate(TokenUse::Id)
            .unwrap()
            .to_pkcs8()
            .unwrap(),
        access: SigningKey::generate(TokenUse::Access)
            .unwrap()
            .to_pkcs8()
            .unwrap(),
        id2: SigningKey::generate(TokenUse::Id)
            .unwrap()
            .to_pkcs8()
            .unwrap(),
    })
}

fn ring_with_issuer(iss: &str) -> KeyRing {
    let mut ring = KeyRing::new(iss);
    ring.insert(
        SigningKey::from_pkcs8(TokenUse::Id, &keys().id).unwrap(),
        None,
    );
    ring.insert(
        SigningKey::from_pkcs8(TokenUse::Access, &keys().access).unwrap(),
        None,
    );
    ring
}

fn ring() -> KeyRing {
    ring_with_issuer(ISS)
}

fn id_claims() -> IdTokenClaims {
    let mut attributes = BTreeMap::new();
    attributes.insert("email".to_owned(), serde_json::json!("jane@example.com"));
    attributes.insert("email_verified".to_owned(), serde_json::json!(true));
    attributes.insert("custom:tenant".to_owned(), serde_json::json!("acme"));
    IdTokenClaims {
        sub: "1b3c5e7a-0000-4000-8000-000000000001".into(),
        groups: vec!["admins".into()],
        iss: ISS.into(),
        username: "jane".into(),
        origin_jti: "origin-1".into(),
        aud: "client1234567890abcdefghij".into(),
        event_id: "event-1".into(),
        token_use: TokenUse::Id,
        auth_time: NOW - 10,
        exp: NOW + 3600,
        iat: NOW,
        jti: "jti-1".into(),
        attributes,
    }
}

fn access_claims() -> AccessTokenClaims {
    AccessTokenClaims {
        sub: "1b3c5e7a-0000-4000-8000-000000000001".into(),
        groups: Vec::new(),
        iss: ISS.into(),
        version: 2,
        client_id: "client1234567890abcdefghij".into(),
        origin_jti: "origin-1".into(),
        event_id: "event-1".into(),
        token_use: TokenUse::Access,
        scope: "aws.cognito.signin.user.admin".into(),
        auth_time: NOW - 10,
        exp: NOW + 3600,
        iat: NOW,
        jti: "jti-2".into(),
        username: "jane".into(),
        device_key: None,
        extra: Default::default(),
    }
}

fn part(token: &str, i: usize) -> serde_json::Value {
    let seg = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
}

/// A token with an arbitrary header and payload and the given signature bytes.
fn forge(
    header: &serde_json::Value,
    payload: &serde_json::Value,
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap())
    );
    let sig = sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[test]
fn id_token_round_trip_and_shape() {
    let ring = ring();
    let token = ring.sign_id_token(&id_claims()).unwrap();
    let header = part(&token, 0);
    assert_eq!(
        header,
        serde_json::json!({"kid": ring.active_key(TokenUse::Id).unwrap().kid(), "alg": "RS256"})
    );
    let payload = part(&token, 1);
    assert_eq!(payload["token_use"], "id");
    assert_eq!(payload["cognito:username"], "jane");
    assert_eq!(payload["cognito:groups"], serde_json::json!(["admins"]));
    assert_eq!(payload["email_verified"], true);
    assert_eq!(payload["custom:tenant"], "acme");
    assert_eq!(payload["aud"], "client1234567890abcdefghij");
    let verified = ring
        .verify_id_token(&token, NOW, Some("client1234567890abcdefghij"))
        .unwrap();
    assert_eq!(verified, id_claims());
}

#[test]
fn access_token_round_trip_and_shape() {
    let ring = ring();
    let token = ring.sign_access_token(&access_claims()).unwrap();
    let payload = part(&token, 1);
    assert_eq!(payload["token_use"], "access");
    assert_eq!(payload["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(payload["version"], 2);
    assert!(
        payload.get("cognito:groups").is_none(),
        "empty groups are omitted"
    );
    assert!(
        payload.get("aud").is_none(),
        "access tokens carry client_id, not aud"
    );
    assert_eq!(
        ring.verify_access_token(&token, NOW, Some("client1234567890abcdefghij"))
            .unwrap(),
        access_claims()
    );
    assert_ne!(
        ring.active_key(TokenUse::Id).unwrap().kid(),
        ring.active_key(TokenUse::Access).unwrap().kid(),
        "separate keys"
    );
}

#[test]
fn refusals() {
    let ring = ring();
    let id = ring.sign_id_token(&id_claims()).unwrap();
    let access = ring.sign_access_token(&access_claims()).unwrap();
    let id_kid = ring.active_key(TokenUse::Id).unwrap().kid().to_owned();

    assert_eq!(
        ring.verify_id_token(&id, NOW + 3600, None),
        Err(TokenError::Expired),
        "exp == now"
    );
    assert!(ring.verify_id_token(&id, NOW + 3599, None).is_ok());
    assert!(matches!(
        ring.verify_id_token(&id, NOW, Some("other")),
        Err(TokenError::WrongClient(_))
    ));
    assert!(matches!(
        ring.verify_access_token(&access, NOW, Some("other")),
        Err(TokenError::WrongClient(_))
    ));
    // An access token is not an ID token (its kid is an access key) and vice versa.
    assert_eq!(
        ring.verify_id_token(&access, NOW, None).map(|_| ()),
        Err(TokenError::WrongTokenUse("id"))
    );
    assert_eq!(
        ring.verify_access_token(&id, NOW, None).map(|_| ()),
        Err(TokenError::WrongTokenUse("access"))
    );

    // Tampered payload.
    let mut parts: Vec<&str> = id.split('.').collect();
    let mut claims = part(&id, 1);
    claims["cognito:username"] = "admin".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    parts[1] = &forged_payload;
    assert_eq!(
        ring.verify_id_token(&parts.join("."), NOW, None),
        Err(TokenError::InvalidSignature)
    );

    // alg: none, with and without a signature.
    let none = forge(
        &serde_json::json!({"alg": "none", "kid": id_kid}),
        &part(&id, 1),
        |_| Vec::new(),
    );
    assert!(matches!(
        ring.verify_id_token(&none, NOW, None),
        Err(TokenError::Malformed(_))
    ));
    let none_trimmed = none.trim_end_matches('.').to_owned() + ".";
    assert!(ring.verify_id_token(&none_trimmed, NOW, None).is_err());

    // HS256 with the public key as the HMAC secret (the classic confusion attack).
    let n = URL_SAFE_NO_PAD
        .decode(&ring.active_key(TokenUse::Id).unwrap().n)
        .unwrap();
    let hs = forge(
        &serde_json::json!({"alg": "HS256", "kid": id_kid}),
        &part(&id, 1),
        |m| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &n), m)
                .as_ref()
                .to_vec()
        },
    );
    assert!(matches!(
        ring.verify_id_token(&hs, NOW, None),
        Err(TokenError::UnsupportedAlgorithm(_))
    ));

    // Other RS-family algorithms are refused too.
    let rs512 = forge(
        &serde_json::json!({"alg": "RS512", "kid": id_kid}),
        &part(&id, 1),
        |_| vec![0; 256],
    );
    assert!(matches!(
        ring.verify_id_token(&rs512, NOW, None),
        Err(TokenError::UnsupportedAlgorithm(_))
    ));

    // kid missing or unknown.
    let no_kid = forge(&serde_json::json!({"alg": "RS256"}), &part(&id, 1), |_| {
        vec![0; 256]
    });
    assert_eq!(
        ring.verify_id_token(&no_kid, NOW, None),
        Err(TokenError::MissingKid)
    );
    let other_kid = forge(
        &serde_json::json!({"alg": "RS256", "kid": "nope"}),
        &part(&id, 1),
        |_| vec![0; 256],
    );
    assert_eq!(
        ring.verify_id_token(&other_kid, NOW, None),
        Err(TokenError::UnknownKid("nope".into()))
    );

    // Garbage and oversize.
    for bad in ["", "a", "a.b", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30"] {
        assert!(ring.verify_id_token(bad, NOW, None).is_err(), "{bad}");
    }
    let huge = format!("{id}{}", "A".repeat(MAX_TOKEN_LEN));
    assert_eq!(
        ring.verify_id_token(&huge, NOW, None),
        Err(TokenError::TooLarge)
    );

    // Another pool with the same key material: right signature, wrong issuer.
    let other = ring_with_issuer("http://127.0.0.1:8000/us-east-1_OtherPool");
    assert!(matches!(
        other.verify_id_token(&id, NOW, None),
        Err(TokenError::WrongIssuer(_))
    ));
}

#[test]
fn issuance_checks() {
    let ring = ring();
    let mut c = id_claims();
    c.attributes.insert("sub".into(), "spoof".into());
    assert_eq!(
        ring.sign_id_token(&c),
        Err(TokenError::ReservedClaim("sub".into()))
    );
    let mut c = id_claims();
    c.token_use = TokenUse::Access;
    assert_eq!(ring.sign_id_token(&c), Err(TokenError::WrongTokenUse("id")));
    let mut c = access_claims();
    c.iss = "http://elsewhere/pool".into();
    assert!(matches!(
        ring.sign_access_token(&c),
        Err(TokenError::WrongIssuer(_))
    ));
    let empty = KeyRing::new(ISS);
    assert_eq!(
        empty.sign_id_token(&id_claims()),
        Err(TokenError::NoSigningKey("id"))
    );
}

#[test]
fn rotation_keeps_old_tokens_valid_until_pruned() {
    let mut ring = ring();
    let old_token = ring.sign_id_token(&id_claims()).unwrap();
    let old_kid = ring.active_key(TokenUse::Id).unwrap().kid().to_owned();
    ring.rotate(
        SigningKey::from_pkcs8(TokenUse::Id, &keys().id2).unwrap(),
        NOW,
    );
    let new_token = ring.sign_id_token(&id_claims()).unwrap();
    assert_ne!(part(&new_token, 0)["kid"], part(&old_token, 0)["kid"]);
    assert!(ring.verify_id_token(&old_token, NOW, None).is_ok());
    assert!(ring.verify_id_token(&new_token, NOW, None).is_ok());
    assert_eq!(ring.jwks().keys.len(), 3);

    assert!(
        ring.prune(NOW + MAX_TOKEN_LIFETIME_SECS, MAX_TOKEN_LIFETIME_SECS)
            .is_empty()
    );
    assert_eq!(
        ring.prune(NOW + MAX_TOKEN_LIFETIME_SECS + 1, MAX_TOKEN_LIFETIME_SECS),
        std::slice::from_ref(&old_kid)
    );
    assert_eq!(ring.jwks().keys.len(), 2);
    assert_eq!(
        ring.verify_id_token(&old_token, NOW, None),
        Err(TokenError::UnknownKid(old_kid))
    );
    assert!(ring.verify_id_token(&new_token, NOW, None).is_ok());
}

#[test]
fn sealed_keys_round_trip_and_bind_pool_and_use() {
    let sealer = Sealer::new(&MasterKey::generate("k1").unwrap(), &[]).unwrap();
    let key = SigningKey::from_pkcs8(TokenUse::Id, &keys().id).unwrap();
    let blob = key.seal(&sealer, "us-east-1_TestPool1").unwrap();
    assert!(
        !blob
            .windows(16)
            .any(|w| keys().id.windows(16).any(|k| k == w)),
        "no plaintext key bytes"
    );
    let opened =
        SigningKey::open_sealed(&sealer, "us-east-1_TestPool1", TokenUse::Id, &blob).unwrap();
    assert_eq!(opened.kid(), key.kid());
    assert!(matches!(
        SigningKey::open_sealed(&sealer, "us-east-1_OtherPool", TokenUse::Id, &blob),
        Err(TokenError::Sealed(CryptoError::Unauthentic))
    ));
    assert!(matches!(
        SigningKey::open_sealed(&sealer, "us-east-1_TestPool1", TokenUse::Access, &blob),
        Err(TokenError::Sealed(CryptoError::Unauthentic))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8(TokenUse::Id, b"not a key"),
        Err(TokenError::Key(_))
    ));
}

#[test]
fn jwks_and_discovery_documents() {
    let ring = ring();
    let jwks = serde_json::to_value(ring.jwks()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        let mut members: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(
            members,
            ["alg", "e", "kid", "kty", "n", "use"],
            "public members only"
        );
        assert_eq!(k["alg"], "RS256");
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["e"], "AQAB");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(k["n"].as_str().unwrap())
                .unwrap()
                .len(),
            256,
            "2048-bit modulus"
        );
    }
    // A client building its key from the JWK verifies our tokens.
    let token = ring.sign_id_token(&id_claims()).unwrap();
    let jwk = &keys
        .iter()
        .find(|k| k["kid"] == part(&token, 0)["kid"])
        .unwrap();
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_aud = false;
    assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &key, &v).is_ok());

    assert_eq!(
        issuer("http://127.0.0.1:8000/", "us-east-1_abc"),
        "http://127.0.0.1:8000/us-east-1_abc"
    );
    let doc = serde_json::to_value(OpenIdConfiguration::new(ISS, ISS)).unwrap();
    assert_eq!(doc["issuer"], ISS);
    assert_eq!(doc["jwks_uri"], format!("{ISS}/.well-known/jwks.json"));
    assert_eq!(doc["token_endpoint"], format!("{ISS}/oauth2/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{ISS}/oauth2/userInfo"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert!(
        doc.get("end_session_endpoint").is_none(),
        "no RP-initiated logout"
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
}
