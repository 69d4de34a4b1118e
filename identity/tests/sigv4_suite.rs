//! The public AWS SigV4 test suite (`tests/data/sigv4`, see its README) run against the
//! verifier: every case's header-signed and presigned request must verify at the case's
//! timestamp, our canonical request and string to sign must equal AWS's byte for byte, and a
//! one-byte change to the signature, body, a signed header value or the date must be refused.
//!
//! Also: requests signed by an independent minimal signer (below) for what the suite lacks —
//! session tokens in presigned form, clock skew on both sides.

// Helpers outside `#[test]` functions are test code too: a panic there is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failing test"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{digest, hmac};
use gatehouse_identity::sigv4::{
    self, Payload, Request, SecretKey, SigV4Error, SignatureLocation, VerifierConfig,
};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigv4")
}

#[derive(serde::Deserialize)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

#[derive(serde::Deserialize)]
struct Context {
    credentials: Credentials,
    normalize: bool,
    region: String,
    service: String,
    timestamp: String,
    /// The session token was added after signing (not covered by the signature).
    #[serde(default)]
    omit_session_token: bool,
}

/// A request file parsed as an HTTP/1.1 server would see it (obsolete line folding unfolded
/// into the value, which the canonicaliser then folds to single spaces).
#[derive(Clone, Debug)]
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawRequest {
    fn parse(text: &[u8]) -> RawRequest {
        let text = std::str::from_utf8(text).unwrap();
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.split('\n');
        let request_line = lines.next().unwrap();
        // The target may contain raw spaces (the `get-space` cases): method is before the first
        // space, the version after the last.
        let (method, rest) = request_line.split_once(' ').unwrap();
        let (target, _version) = rest.rsplit_once(' ').unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                let last = headers.last_mut().unwrap();
                last.1.push(b' ');
                last.1.extend_from_slice(line.as_bytes());
            } else {
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.to_owned(), value.as_bytes().to_vec()));
            }
        }
        RawRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn verify(
        &self,
        config: &VerifierConfig,
        now: SystemTime,
        secret: &str,
    ) -> Result<sigv4::VerifiedRequest, SigV4Error> {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let req = Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            payload: Payload::Bytes(&self.body),
        };
        sigv4::verify(&req, config, now, |_| Some(SecretKey::new(secret)))
    }

    fn parse_only(
        &self,
        config: &VerifierConfig,
        now: SystemTime,
    ) -> Result<sigv4::SignedRequest, SigV4Error> {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let req = Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            payload: Payload::Bytes(&self.body),
        };
        sigv4::parse(&req, config, now)
    }
}

fn parse_timestamp(ts: &str) -> SystemTime {
    // `2015-08-30T12:36:00Z`: reuse the suite's own ISO form through a tiny converter.
    let digits: String = ts.chars().filter(char::is_ascii_digit).collect();
    let n = |r: std::ops::Range<usize>| digits[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let (hh, mm, ss) = (n(8..10), n(10..12), n(12..14));
    // days_from_civil, independent of the crate's copy.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH + Duration::from_secs((days * 86_400 + hh * 3600 + mm * 60 + ss) as u64)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

/// One-byte changes that must each make verification fail.
fn mutations(req: &RawRequest, location: SignatureLocation) -> Vec<(String, RawRequest)> {
    let mut out = Vec::new();
    let flip = |s: &str, at: usize| -> String {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    };

    // Signature: flip its first and its last hex digit.
    match location {
        SignatureLocation::Header => {
            let i = req
                .headers
                .iter()
                .position(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .unwrap();
            let auth = String::from_utf8(req.headers[i].1.clone()).unwrap();
            let sig_at = auth.find("Signature=").unwrap() + "Signature=".len();
            for at in [sig_at, auth.len() - 1] {
                let mut m = req.clone();
                m.headers[i].1 = flip(&auth, at).into_bytes();
                out.push((format!("signature byte {at}"), m));
            }
        }
        SignatureLocation::Query => {
            let sig_at = req.query.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
            for at in [sig_at, sig_at + 63] {
                let mut m = req.clone();
                m.query = flip(&req.query, at);
                out.push((format!("signature byte {at}"), m));
            }
        }
    }

    // Body: change one byte, or add one to an empty body.
    let mut m = req.clone();
    match m.body.first_mut() {
        Some(b) => *b ^= 0x01,
        None => m.body.push(b'x'),
    }
    out.push(("body".into(), m));

    // Every signed header value except the date (covered below): one byte changed.
    let signed: Vec<String> = match location {
        SignatureLocation::Header => {
            let auth = &req
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .unwrap()
                .1;
            let auth = String::from_utf8(auth.clone()).unwrap();
            let list = auth
                .split("SignedHeaders=")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .to_owned();
            list.split(';').map(str::to_owned).collect()
        }
        SignatureLocation::Query => {
            let list = req
                .query
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
                .unwrap();
            list.replace("%3B", ";")
                .split(';')
                .map(str::to_owned)
                .collect()
        }
    };
    for name in signed.iter().filter(|n| *n != "x-amz-date") {
        let i = req
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap();
        let mut m = req.clone();
        let value = &mut m.headers[i].1;
        // Change a non-whitespace byte (whitespace changes can be canonicalised away).
        let at = value.iter().position(|b| !b.is_ascii_whitespace()).unwrap();
        value[at] = if value[at] == b'a' { b'b' } else { b'a' };
        out.push((format!("signed header `{name}`"), m));
    }

    // Date: the seconds digit of X-Amz-Date (header or query).
    let mut m = req.clone();
    match location {
        SignatureLocation::Header => {
            let i = m
                .headers
                .iter()
                .position(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"))
                .unwrap();
            let v = String::from_utf8(m.headers[i].1.clone()).unwrap();
            let at = v.len() - 2;
            m.headers[i].1 = flip(&v, at).into_bytes();
        }
        SignatureLocation::Query => {
            let at = m.query.find("X-Amz-Date=").unwrap() + "X-Amz-Date=".len() + 14;
            m.query = flip(&m.query, at);
        }
    }
    out.push(("date".into(), m));
    out
}

#[test]
fn every_suite_case_verifies_and_every_mutation_is_refused() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(suite_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("context.json").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 38,
        "expected the whole suite, found {} cases",
        cases.len()
    );

    let mut accepted = 0;
    let mut refused = 0;
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let ctx: Context = serde_json::from_slice(&read(dir, "context.json")).unwrap();
        let now = parse_timestamp(&ctx.timestamp);
        let mut config = VerifierConfig::new(&ctx.service);
        config.normalize_path = ctx.normalize;
        config.region = Some(ctx.region.clone());

        for (prefix, location) in [
            ("header", SignatureLocation::Header),
            ("query", SignatureLocation::Query),
        ] {
            let req = RawRequest::parse(&read(dir, &format!("{prefix}-signed-request.txt")));
            let label = format!("{name} ({prefix})");

            match req.parse_only(&config, now) {
                Ok(parsed) => {
                    let want_creq = read(dir, &format!("{prefix}-canonical-request.txt"));
                    // A presigned URL whose token was appended after signing: AWS's canonical
                    // request is our token-less alternative.
                    let (creq, sts) = match parsed.token_unsigned_form() {
                        Some(alt) if ctx.omit_session_token => alt,
                        _ => (parsed.canonical_request(), parsed.string_to_sign()),
                    };
                    if creq != want_creq.as_slice() {
                        failures.push(format!(
                            "{label}: canonical request differs\n--- ours\n{}\n--- aws\n{}",
                            String::from_utf8_lossy(creq),
                            String::from_utf8_lossy(&want_creq)
                        ));
                    }
                    let want_sts = read(dir, &format!("{prefix}-string-to-sign.txt"));
                    if sts.as_bytes() != want_sts.as_slice() {
                        failures.push(format!("{label}: string to sign differs:\n{sts}"));
                    }
                    if parsed.access_key_id() != ctx.credentials.access_key_id {
                        failures.push(format!(
                            "{label}: access key id `{}`",
                            parsed.access_key_id()
                        ));
                    }
                }
                Err(e) => failures.push(format!("{label}: parse failed: {e}")),
            }

            match req.verify(&config, now, &ctx.credentials.secret_access_key) {
                Ok(v) => {
                    accepted += 1;
                    assert_eq!(v.location, location);
                    // The token is surfaced whenever the client sent one, signed or not.
                    if let Some(token) = &ctx.credentials.token {
                        assert_eq!(v.security_token.as_deref(), Some(token.as_str()), "{label}");
                        assert_eq!(v.security_token_signed, !ctx.omit_session_token, "{label}");
                    }
                }
                Err(e) => failures.push(format!("{label}: rejected: {e}")),
            }

            for (what, m) in mutations(&req, location) {
                match m.verify(&config, now, &ctx.credentials.secret_access_key) {
                    Ok(_) => failures.push(format!("{label}: accepted after changing {what}")),
                    Err(_) => refused += 1,
                }
            }
        }
    }
    println!(
        "sigv4 suite: {} cases, {accepted} signed requests accepted, {refused} mutations refused",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(accepted, cases.len() * 2);
}

// === independent minimal signer ===
//
// Written from the SigV4 specification for simple requests (path of unreserved characters, query
// already in canonical order, no repeated headers), deliberately sharing no code with the
// verifier, to create cases the suite lacks.

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn test_sign(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [&date[..8], region, service, "aws4_request"] {
        key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes())
            .as_ref()
            .to_vec();
    }
    hex(hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key),
        string_to_sign.as_bytes(),
    )
    .as_ref())
}

fn string_to_sign(date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    )
}

/// A header-signed `POST /` for cognito-idp, as botocore would send an Admin call.
fn signed_cognito_post(date: &str, token: Option<&str>, body: &str) -> RawRequest {
    let secret = "secret/KEY+value";
    let payload_hash = hex(digest::digest(&digest::SHA256, body.as_bytes()).as_ref());
    let mut canonical_headers = format!(
        "content-type:application/x-amz-json-1.1\nhost:127.0.0.1:8000\nx-amz-date:{date}\n"
    );
    let mut signed = "content-type;host;x-amz-date".to_owned();
    if let Some(t) = token {
        canonical_headers.push_str(&format!("x-amz-security-token:{t}\n"));
        signed.push_str(";x-amz-security-token");
    }
    canonical_headers.push_str("x-amz-target:AWSCognitoIdentityProviderService.ListUserPools\n");
    signed.push_str(";x-amz-target");
    let creq = format!("POST\n/\n\n{canonical_headers}\n{signed}\n{payload_hash}");
    let scope = format!("{}/us-east-1/cognito-idp/aws4_request", &date[..8]);
    let sig = test_sign(
        secret,
        date,
        "us-east-1",
        "cognito-idp",
        &string_to_sign(date, &scope, &creq),
    );
    let mut headers = vec![
        ("Content-Type".to_owned(), b"application/x-amz-json-1.1".to_vec()),
        ("Host".to_owned(), b"127.0.0.1:8000".to_vec()),
        ("X-Amz-Date".to_owned(), date.as_bytes().to_vec()),
        ("X-Amz-Target".to_owned(), b"AWSCognitoIdentityProviderService.ListUserPools".to_vec()),
        (
            "Authorization".to_owned(),
            format!("AWS4-HMAC-SHA256 Credential=AKIAGATEHOUSETEST0001/{scope}, SignedHeaders={signed}, Signature={sig}").into_bytes(),
        ),
    ];
    if let Some(t) = token {
        headers.push(("X-Amz-Security-Token".to_owned(), t.as_bytes().to_vec()));
    }
    RawRequest {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn independent_signer_session_token_and_skew() {
    let config = VerifierConfig::new("cognito-idp");
    let t = parse_timestamp("2026-11-27T10:00:00Z");
    let req = signed_cognito_post(
        "20261127T100000Z",
        Some("sealed-session-token"),
        r#"{"MaxResults":10}"#,
    );
    let v = req.verify(&config, t, "secret/KEY+value").unwrap();
    assert_eq!(v.access_key_id, "AKIAGATEHOUSETEST0001");
    assert_eq!(v.security_token.as_deref(), Some("sealed-session-token"));
    assert!(
        v.signed_headers
            .contains(&"x-amz-security-token".to_owned())
    );

    // Skew: accepted up to 5 minutes either way, refused beyond.
    assert!(
        req.verify(&config, t + Duration::from_secs(299), "secret/KEY+value")
            .is_ok()
    );
    assert!(
        req.verify(&config, t - Duration::from_secs(299), "secret/KEY+value")
            .is_ok()
    );
    assert!(matches!(
        req.verify(&config, t + Duration::from_secs(301), "secret/KEY+value"),
        Err(SigV4Error::Expired { .. })
    ));
    assert!(matches!(
        req.verify(&config, t - Duration::from_secs(301), "secret/KEY+value"),
        Err(SigV4Error::NotYetValid { .. })
    ));
    // Wrong secret.
    assert_eq!(
        req.verify(&config, t, "secret/KEY+valuf"),
        Err(SigV4Error::SignatureMismatch)
    );
    // Body changed after signing.
    let mut tampered = req.clone();
    tampered.body = br#"{"MaxResults":60}"#.to_vec();
    assert_eq!(
        tampered.verify(&config, t, "secret/KEY+value"),
        Err(SigV4Error::SignatureMismatch)
    );
    // The two-step API: parse, look up elsewhere (here: nowhere), then verify.
    let headers: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let view = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(&req.body),
    };
    let parsed = sigv4::parse(&view, &config, t).unwrap();
    assert_eq!(parsed.security_token(), Some("sealed-session-token"));
    assert!(parsed.verify(&SecretKey::new("secret/KEY+value")).is_ok());
}

#[test]
fn independent_signer_presigned_with_session_token() {
    let secret = "presign-secret";
    let date = "20261127T100000Z";
    let token = "tok/with+chars=";
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let scope = "20261127/eu-west-1/execute-api/aws4_request";
    let query_wo_sig = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={date}&X-Amz-Expires=900&X-Amz-Security-Token={}&X-Amz-SignedHeaders=host",
        enc(&format!("ASIAGATEHOUSETEST001/{scope}")),
        enc(token)
    );
    let empty_hash = hex(digest::digest(&digest::SHA256, b"").as_ref());
    let creq = format!("GET\n/prod/items\n{query_wo_sig}\nhost:api.local\n\nhost\n{empty_hash}");
    let sig = test_sign(
        secret,
        date,
        "eu-west-1",
        "execute-api",
        &string_to_sign(date, scope, &creq),
    );
    let req = RawRequest {
        method: "GET".into(),
        path: "/prod/items".into(),
        query: format!("{query_wo_sig}&X-Amz-Signature={sig}"),
        headers: vec![("Host".into(), b"api.local".to_vec())],
        body: Vec::new(),
    };
    let mut config = VerifierConfig::new("execute-api");
    config.region = Some("eu-west-1".into());
    let t = parse_timestamp("2026-11-27T10:00:00Z");
    let v = req
        .verify(&config, t + Duration::from_secs(900), secret)
        .unwrap();
    assert_eq!(v.security_token.as_deref(), Some(token));
    assert_eq!(v.location, SignatureLocation::Query);
    assert!(matches!(
        req.verify(&config, t + Duration::from_secs(901), secret),
        Err(SigV4Error::PresignExpired { .. })
    ));
    let mut changed = req.clone();
    changed.query = changed.query.replace("tok%2Fwith", "tok%2Fwitx");
    assert_eq!(
        changed.verify(&config, t, secret),
        Err(SigV4Error::SignatureMismatch)
    );
}
