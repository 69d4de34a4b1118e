//! Unit tests of the verifier's checks other than canonicalisation (which the AWS suite in
//! `tests/sigv4_suite.rs` pins byte for byte).

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z, the suite's timestamp.
const T0: i64 = 1_440_938_160;
const VANILLA_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

fn at(secs: i64) -> SystemTime {
    from_unix_seconds(secs)
}

fn config() -> VerifierConfig {
    VerifierConfig::new("service")
}

fn lookup(id: &str) -> Option<SecretKey> {
    (id == "AKIDEXAMPLE").then(|| SecretKey::new(SECRET))
}

fn run(headers: &[(&str, &[u8])], query: &str, now: i64) -> Result<VerifiedRequest, SigV4Error> {
    let req = Request {
        method: "GET",
        path: "/",
        query,
        headers,
        payload: Payload::Bytes(b""),
    };
    verify(&req, &config(), at(now), lookup)
}

/// Signs a request by asking the verifier for its string to sign: good enough to exercise the
/// checks around the signature; canonicalisation itself is pinned by the AWS suite.
fn sign_with_parser(req: &Request<'_>, cfg: &VerifierConfig, now: i64) -> String {
    let signed = parse(req, cfg, at(now)).unwrap();
    let key = signing_key(SECRET, signed.scope());
    hex(hmac::sign(&key, signed.string_to_sign().as_bytes()).as_ref())
}

#[test]
fn vanilla_header_request_verifies() {
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    let v = run(headers, "", T0).unwrap();
    assert_eq!(v.access_key_id, "AKIDEXAMPLE");
    assert_eq!(v.location, SignatureLocation::Header);
    assert_eq!(v.scope.region, "us-east-1");
    assert_eq!(v.signed_headers, ["host", "x-amz-date"]);
    assert_eq!(v.security_token, None);
    assert_eq!(v.request_time, at(T0));
}

#[test]
fn clock_skew_window() {
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    // (rule, now relative to the request time, accepted)
    let cases = [
        ("exactly 5 min later is accepted", 300, true),
        ("5 min + 1 s later is expired", 301, false),
        ("exactly 5 min earlier is accepted", -300, true),
        ("5 min + 1 s earlier is not yet current", -301, false),
    ];
    for (rule, offset, ok) in cases {
        let r = run(headers, "", T0 + offset);
        assert_eq!(r.is_ok(), ok, "{rule}: {r:?}");
    }
    assert!(matches!(
        run(headers, "", T0 + 301),
        Err(SigV4Error::Expired { .. })
    ));
    assert!(matches!(
        run(headers, "", T0 - 301),
        Err(SigV4Error::NotYetValid { .. })
    ));
    let mut cfg = config();
    cfg.max_clock_skew = Duration::from_secs(900);
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers,
        payload: Payload::Bytes(b""),
    };
    assert!(
        verify(&req, &cfg, at(T0 + 800), lookup).is_ok(),
        "configurable skew"
    );
}

#[test]
fn scope_checks() {
    let auth = |cred: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    };
    let check = |cred: &str| {
        let a = auth(cred);
        let headers: &[(&str, &[u8])] = &[
            ("Host", b"example.amazonaws.com"),
            ("X-Amz-Date", b"20150830T123600Z"),
            ("Authorization", a.as_bytes()),
        ];
        run(headers, "", T0)
    };
    assert!(matches!(
        check("AKIDEXAMPLE/20150830/us-east-1/cognito-idp/aws4_request"),
        Err(SigV4Error::WrongService { .. })
    ));
    assert!(matches!(
        check("AKIDEXAMPLE/20150831/us-east-1/service/aws4_request"),
        Err(SigV4Error::ScopeDateMismatch { .. })
    ));
    assert!(matches!(
        check("AKIDEXAMPLE/20150830/us-east-1/service/aws5_request"),
        Err(SigV4Error::Incomplete(_))
    ));
    assert!(matches!(
        check("20150830/us-east-1/service/aws4_request"),
        Err(SigV4Error::Incomplete(_))
    ));
    assert!(matches!(
        check("AKIDEXAMPLE/2015083/us-east-1/service/aws4_request"),
        Err(SigV4Error::Incomplete(_))
    ));
    assert_eq!(
        check("AKIDOTHER/20150830/us-east-1/service/aws4_request"),
        Err(SigV4Error::UnknownAccessKey)
    );
    // A region pinned in the config is enforced.
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers,
        payload: Payload::Bytes(b""),
    };
    let mut cfg = config();
    cfg.region = Some("eu-west-1".into());
    assert!(matches!(
        verify(&req, &cfg, at(T0), lookup),
        Err(SigV4Error::WrongRegion { .. })
    ));
    cfg.region = Some("us-east-1".into());
    assert!(verify(&req, &cfg, at(T0), lookup).is_ok());
}

#[test]
fn malformed_authorization_headers() {
    let cases = [
        (
            "wrong algorithm",
            "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
        ),
        ("sigv2", "AWS AKIDEXAMPLE:abc"),
        (
            "missing signature",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host",
        ),
        (
            "missing credential",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
        ),
        (
            "repeated component",
            "AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/service/aws4_request, Credential=a/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
        ),
        (
            "unknown component",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00, Extra=1",
        ),
        ("not key=value", "AWS4-HMAC-SHA256 Credential"),
        (
            "empty signed header",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;;x-amz-date, Signature=00",
        ),
        (
            "duplicate signed header",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;host, Signature=00",
        ),
        ("empty", ""),
    ];
    for (rule, auth) in cases {
        let headers: &[(&str, &[u8])] = &[
            ("Host", b"example.amazonaws.com"),
            ("X-Amz-Date", b"20150830T123600Z"),
            ("Authorization", auth.as_bytes()),
        ];
        assert!(
            matches!(run(headers, "", T0), Err(SigV4Error::Incomplete(_))),
            "{rule}: {:?}",
            run(headers, "", T0)
        );
    }
}

#[test]
fn header_presence_rules() {
    let no_auth: &[(&str, &[u8])] = &[("Host", b"example.amazonaws.com")];
    assert_eq!(run(no_auth, "", T0), Err(SigV4Error::MissingAuthentication));

    let twice: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
        ("authorization", VANILLA_AUTH.as_bytes()),
    ];
    assert!(matches!(run(twice, "", T0), Err(SigV4Error::Incomplete(_))));

    let both: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    assert!(matches!(
        run(both, "X-Amz-Signature=abc", T0),
        Err(SigV4Error::Incomplete(_))
    ));

    let no_date: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    assert!(matches!(
        run(no_date, "", T0),
        Err(SigV4Error::Incomplete(_))
    ));

    let bad_date: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"2015-08-30T12:36:00Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    assert!(matches!(
        run(bad_date, "", T0),
        Err(SigV4Error::Incomplete(_))
    ));

    let no_host: &[(&str, &[u8])] = &[
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    assert_eq!(
        run(no_host, "", T0),
        Err(SigV4Error::SignedHeaderMissing("host".into()))
    );

    let host_unsigned = VANILLA_AUTH.replace("host;x-amz-date", "x-amz-date");
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", host_unsigned.as_bytes()),
    ];
    assert_eq!(
        run(headers, "", T0),
        Err(SigV4Error::HeaderNotSigned("host"))
    );
}

#[test]
fn a_required_header_must_be_signed_even_when_sent() {
    // A JSON protocol names the operation in `x-amz-target`: a valid signature over the other
    // headers must not let the operation be swapped (DescribeUserPool replayed as DeleteUserPool).
    let cfg = config().require_signed("x-amz-target");
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        (
            "X-Amz-Target",
            b"AWSCognitoIdentityProviderService.DeleteUserPool",
        ),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers,
        payload: Payload::Bytes(b""),
    };
    assert_eq!(
        verify(&req, &cfg, at(T0), lookup),
        Err(SigV4Error::HeaderNotSigned("x-amz-target"))
    );
    // The same signature is fine where nothing more is required.
    assert!(verify(&req, &config(), at(T0), lookup).is_ok());

    // Presigned: `X-Amz-SignedHeaders=host` does not cover the target either.
    let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let presigned: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        (
            "X-Amz-Target",
            b"AWSCognitoIdentityProviderService.DeleteUserPool",
        ),
    ];
    let req = Request {
        query,
        headers: presigned,
        ..req
    };
    assert_eq!(
        parse(&req, &cfg, at(T0)).map(|_| ()),
        Err(SigV4Error::HeaderNotSigned("x-amz-target"))
    );

    // Signed, it verifies.
    let covered: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("X-Amz-Target", b"AWSCognitoIdentityProviderService.DeleteUserPool"),
        ("Authorization", b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"),
    ];
    let req = Request {
        query: "",
        headers: covered,
        ..req
    };
    let signature = sign_with_parser(&req, &cfg, T0);
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature={signature}"
    );
    let mut signed: Vec<(&str, &[u8])> = covered.to_vec();
    if let Some(last) = signed.last_mut() {
        *last = ("Authorization", auth.as_bytes());
    }
    let req = Request {
        headers: &signed,
        ..req
    };
    assert!(verify(&req, &cfg, at(T0), lookup).is_ok());
}

#[test]
fn date_header_fallback_and_session_token() {
    let cfg = config();
    let auth_prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=date;host;x-amz-security-token, Signature=";
    let placeholder = format!("{auth_prefix}{}", "0".repeat(64));
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"example.amazonaws.com"),
        ("Date", b"Sun, 30 Aug 2015 12:36:00 GMT"),
        ("X-Amz-Security-Token", b"session-token-value"),
        ("Authorization", placeholder.as_bytes()),
    ];
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let signed = parse(&req, &cfg, at(T0)).unwrap();
    assert!(
        signed.string_to_sign().contains("\n20150830T123600Z\n"),
        "Date header becomes the ISO time"
    );
    assert_eq!(signed.security_token(), Some("session-token-value"));
    let sig = sign_with_parser(&req, &cfg, T0);
    let real = format!("{auth_prefix}{sig}");
    headers[3] = ("Authorization", real.as_bytes());
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let v = verify(&req, &cfg, at(T0), lookup).unwrap();
    assert_eq!(v.security_token.as_deref(), Some("session-token-value"));

    // The token is signed: changing it breaks the signature.
    headers[2] = ("X-Amz-Security-Token", b"session-token-valuf");
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    assert_eq!(
        verify(&req, &cfg, at(T0), lookup),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn presigned_expiry() {
    let cfg = config();
    let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=60";
    let headers: &[(&str, &[u8])] = &[("Host", b"example.amazonaws.com")];
    let unsigned = format!("{base}&X-Amz-Signature=00");
    let req = Request {
        method: "GET",
        path: "/",
        query: &unsigned,
        headers,
        payload: Payload::Bytes(b""),
    };
    let sig = sign_with_parser(&req, &cfg, T0);
    let query = format!("{base}&X-Amz-Signature={sig}");
    let req = Request {
        method: "GET",
        path: "/",
        query: &query,
        headers,
        payload: Payload::Bytes(b""),
    };
    assert_eq!(
        verify(&req, &cfg, at(T0 + 60), lookup).unwrap().location,
        SignatureLocation::Query
    );
    assert!(matches!(
        verify(&req, &cfg, at(T0 + 61), lookup),
        Err(SigV4Error::PresignExpired { .. })
    ));
    assert!(matches!(
        verify(&req, &cfg, at(T0 - 301), lookup),
        Err(SigV4Error::NotYetValid { .. })
    ));

    for bad in ["0", "604801", "-1", "abc", ""] {
        let q = base.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={bad}"))
            + "&X-Amz-Signature=00";
        let req = Request {
            method: "GET",
            path: "/",
            query: &q,
            headers,
            payload: Payload::Bytes(b""),
        };
        assert!(
            matches!(parse(&req, &cfg, at(T0)), Err(SigV4Error::Incomplete(_))),
            "expires {bad}"
        );
    }
    let missing = base.replace("&X-Amz-Expires=60", "") + "&X-Amz-Signature=00";
    let req = Request {
        method: "GET",
        path: "/",
        query: &missing,
        headers,
        payload: Payload::Bytes(b""),
    };
    assert!(matches!(
        parse(&req, &cfg, at(T0)),
        Err(SigV4Error::Incomplete(_))
    ));
}

#[test]
fn payload_hash_rules() {
    let body = b"Param1=value1";
    let good = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
    let check = |declared: Option<&str>, payload: Payload<'_>, cfg: &VerifierConfig| {
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("Host", b"example.amazonaws.com"),
            ("X-Amz-Date", b"20150830T123600Z"),
            ("Authorization", VANILLA_AUTH.as_bytes()),
        ];
        if let Some(d) = declared {
            headers.push(("x-amz-content-sha256", d.as_bytes()));
        }
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload,
        };
        parse(&req, cfg, at(T0)).map(|s| {
            s.canonical_request()
                .rsplit(|&b| b == b'\n')
                .next()
                .unwrap()
                .to_vec()
        })
    };
    let cfg = config();
    assert_eq!(
        check(None, Payload::Bytes(body), &cfg).unwrap(),
        good.as_bytes()
    );
    assert_eq!(
        check(Some(good), Payload::Bytes(body), &cfg).unwrap(),
        good.as_bytes()
    );
    assert_eq!(
        check(Some(&good.to_uppercase()), Payload::Bytes(body), &cfg).unwrap(),
        good.to_uppercase().as_bytes()
    );
    assert_eq!(
        check(Some(good), Payload::Bytes(b"Param1=value2"), &cfg),
        Err(SigV4Error::PayloadHashMismatch)
    );
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest::digest(&digest::SHA256, body).as_ref());
    assert_eq!(
        check(None, Payload::Sha256(hash), &cfg).unwrap(),
        good.as_bytes()
    );
    assert_eq!(
        check(Some(good), Payload::FromHeader, &cfg).unwrap(),
        good.as_bytes()
    );
    assert!(matches!(
        check(None, Payload::FromHeader, &cfg),
        Err(SigV4Error::Incomplete(_))
    ));
    assert!(matches!(
        check(Some("UNSIGNED-PAYLOAD"), Payload::Bytes(body), &cfg),
        Err(SigV4Error::UnsupportedPayloadHash(_))
    ));
    assert!(matches!(
        check(
            Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            Payload::Bytes(body),
            &cfg
        ),
        Err(SigV4Error::UnsupportedPayloadHash(_))
    ));
    let mut open = config();
    open.allow_unsigned_payload = true;
    assert_eq!(
        check(Some("UNSIGNED-PAYLOAD"), Payload::Bytes(body), &open).unwrap(),
        b"UNSIGNED-PAYLOAD"
    );
}

#[test]
fn size_limits() {
    let long_auth = format!("{VANILLA_AUTH}{}", " ".repeat(MAX_AUTHORIZATION_LEN));
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", long_auth.as_bytes()),
    ];
    assert!(matches!(
        run(headers, "", T0),
        Err(SigV4Error::TooLarge {
            what: "Authorization header",
            ..
        })
    ));

    let many: Vec<String> = (0..=MAX_SIGNED_HEADERS).map(|i| format!("h{i}")).collect();
    let auth = VANILLA_AUTH.replace("host;x-amz-date", &format!("host;{}", many.join(";")));
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", auth.as_bytes()),
    ];
    assert!(matches!(
        run(headers, "", T0),
        Err(SigV4Error::TooLarge {
            what: "SignedHeaders",
            ..
        })
    ));

    let big = vec![b'a'; MAX_CANONICAL_HEADERS_LEN];
    let auth = VANILLA_AUTH.replace("host;x-amz-date", "big;host;x-amz-date");
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("Big", &big),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", auth.as_bytes()),
    ];
    assert!(matches!(
        run(headers, "", T0),
        Err(SigV4Error::TooLarge { .. })
    ));

    let long_query = "a=".to_owned() + &"b".repeat(MAX_QUERY_LEN);
    let headers: &[(&str, &[u8])] = &[("Host", b"example.amazonaws.com")];
    assert!(matches!(
        run(headers, &long_query, T0),
        Err(SigV4Error::TooLarge {
            what: "query string",
            ..
        })
    ));

    let long_key = "A".repeat(MAX_ACCESS_KEY_ID_LEN + 1);
    let auth = VANILLA_AUTH.replace("AKIDEXAMPLE", &long_key);
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", auth.as_bytes()),
    ];
    assert!(matches!(
        run(headers, "", T0),
        Err(SigV4Error::TooLarge {
            what: "access key id",
            ..
        })
    ));
}

#[test]
fn secret_key_debug_is_redacted() {
    assert_eq!(format!("{:?}", SecretKey::new(SECRET)), "SecretKey(..)");
}

#[test]
fn a_derived_key_verifies_only_its_own_scope() {
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("Authorization", VANILLA_AUTH.as_bytes()),
    ];
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers,
        payload: Payload::Bytes(b""),
    };
    let signed = parse(&req, &config(), at(T0)).unwrap();
    let secret = SecretKey::new(SECRET);
    let key = SigningKey::derive(&secret, signed.scope());
    assert_eq!(key.scope(), signed.scope());
    assert!(!format!("{key:?}").contains("wJalr"));
    signed.clone().verify_with(&key).unwrap();
    // The same secret derived for another day, region or service never matches.
    for other in [
        CredentialScope {
            date: "20150831".into(),
            ..signed.scope().clone()
        },
        CredentialScope {
            region: "eu-west-1".into(),
            ..signed.scope().clone()
        },
        CredentialScope {
            service: "other".into(),
            ..signed.scope().clone()
        },
    ] {
        let wrong = SigningKey::derive(&secret, &other);
        assert_eq!(
            signed.clone().verify_with(&wrong),
            Err(SigV4Error::SignatureMismatch),
            "{other:?}"
        );
    }
}
