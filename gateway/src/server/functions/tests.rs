//! The Lambda proxy translation as tables: one request seen through each payload format
//! (checked field by field against the shapes in API Gateway's developer guide, "Input format
//! of a Lambda function for proxy integration" and "Payload format version" of HTTP APIs),
//! and answers of every kind with the response or the reason they are refused.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::*;

const T: u64 = 1_767_225_600;

struct Request {
    headers: HeaderMap,
    claims: BTreeMap<String, String>,
    context: BTreeMap<String, String>,
    variables: BTreeMap<String, String>,
    identity: Identity,
}

fn request() -> Request {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "shop.example.com:8080"),
        ("user-agent", "curl/8"),
        ("accept", "text/plain"),
        ("accept", "application/json"),
        ("cookie", "a=1; b=2"),
        ("content-type", "application/json"),
        ("x-forwarded-for", "203.0.113.9"),
        ("x-gatehouse-principal-id", "someone"),
        ("x-forwarded-proto", "forged"),
    ] {
        headers.append(name, HeaderValue::from_static(value));
    }
    Request {
        headers,
        claims: BTreeMap::from([
            ("sub".to_owned(), "u-1".to_owned()),
            ("scope".to_owned(), "orders/read orders/write".to_owned()),
        ]),
        context: BTreeMap::from([("tenant".to_owned(), "acme".to_owned())]),
        variables: BTreeMap::from([("alias".to_owned(), "live".to_owned())]),
        identity: Identity {
            api_key: Some("k-123".into()),
            api_key_id: Some("key1".into()),
            ..Identity::default()
        },
    }
}

fn input<'a>(
    r: &'a Request,
    format: PayloadFormat,
    caller: Caller<'a>,
    body: &'a [u8],
) -> EventInput<'a> {
    EventInput {
        format,
        method: "POST",
        route_method: "ANY",
        resource_path: "/orders/{id}",
        api_path: "/orders/a b".to_owned(),
        raw_path: "/prod/orders/a%20b",
        raw_query: Some("tag=x&tag=y&q=1"),
        query: vec![("tag", "x"), ("tag", "y"), ("q", "1")],
        headers: &r.headers,
        path_parameters: vec![("id", "a b".to_owned())],
        stage_variables: &r.variables,
        stage: "prod",
        api_id: "shop",
        account_id: "123456789012",
        request_id: "req-1",
        source_ip: "203.0.113.9".to_owned(),
        protocol: "HTTP/1.1",
        secure: true,
        request_time: SystemTime::UNIX_EPOCH + Duration::from_secs(T),
        caller,
        identity: &r.identity,
        body,
        binary_media_type: false,
    }
}

/// `(JSON pointer, expected value)` pairs checked against one event.
fn check(event: &Value, case: &str, expected: &[(&str, Value)]) {
    for (pointer, want) in expected {
        let got = event.pointer(pointer).cloned().unwrap_or(Value::Null);
        assert_eq!(&got, want, "{case}: {pointer} in {event:#}");
    }
}

#[test]
fn format_1_0_events() {
    let r = request();
    let jwt = Caller::Jwt { claims: &r.claims };
    let event = super::event(&input(&r, PayloadFormat::V1, jwt, br#"{"n":1}"#));
    check(
        &event,
        "1.0 behind a Cognito authorizer",
        &[
            ("/resource", json!("/orders/{id}")),
            ("/path", json!("/orders/a b")),
            ("/httpMethod", json!("POST")),
            ("/headers/accept", json!("application/json")),
            (
                "/multiValueHeaders/accept",
                json!(["text/plain", "application/json"]),
            ),
            ("/headers/cookie", json!("a=1; b=2")),
            ("/headers/x-forwarded-proto", json!("https")),
            ("/headers/x-gatehouse-principal-id", Value::Null),
            ("/queryStringParameters", json!({"tag": "y", "q": "1"})),
            (
                "/multiValueQueryStringParameters",
                json!({"tag": ["x", "y"], "q": ["1"]}),
            ),
            ("/pathParameters", json!({"id": "a b"})),
            ("/stageVariables", json!({"alias": "live"})),
            ("/body", json!(r#"{"n":1}"#)),
            ("/isBase64Encoded", json!(false)),
            ("/requestContext/accountId", json!("123456789012")),
            ("/requestContext/apiId", json!("shop")),
            (
                "/requestContext/authorizer",
                json!({"claims": {"sub": "u-1", "scope": "orders/read orders/write"}}),
            ),
            ("/requestContext/domainName", json!("shop.example.com:8080")),
            ("/requestContext/domainPrefix", json!("shop")),
            ("/requestContext/httpMethod", json!("POST")),
            ("/requestContext/identity/sourceIp", json!("203.0.113.9")),
            ("/requestContext/identity/userAgent", json!("curl/8")),
            ("/requestContext/identity/apiKey", json!("k-123")),
            ("/requestContext/identity/apiKeyId", json!("key1")),
            ("/requestContext/identity/userArn", Value::Null),
            ("/requestContext/path", json!("/prod/orders/a%20b")),
            ("/requestContext/protocol", json!("HTTP/1.1")),
            ("/requestContext/requestId", json!("req-1")),
            (
                "/requestContext/requestTime",
                json!("01/Jan/2026:00:00:00 +0000"),
            ),
            ("/requestContext/requestTimeEpoch", json!(T * 1000)),
            ("/requestContext/resourcePath", json!("/orders/{id}")),
            ("/requestContext/stage", json!("prod")),
        ],
    );
    // Behind a Lambda authorizer: its principal and context.
    let lambda = Caller::Lambda {
        principal_id: "user-7",
        context: &r.context,
    };
    let event = super::event(&input(&r, PayloadFormat::V1, lambda, b""));
    check(
        &event,
        "1.0 behind a Lambda authorizer, no body",
        &[
            ("/requestContext/authorizer/principalId", json!("user-7")),
            ("/requestContext/authorizer/tenant", json!("acme")),
            ("/requestContext/authorizer/integrationLatency", json!(0)),
            ("/body", Value::Null),
            ("/isBase64Encoded", json!(false)),
        ],
    );
    // No authorizer, nothing of the kind; empty maps are null.
    let empty = Request {
        headers: HeaderMap::new(),
        variables: BTreeMap::new(),
        ..request()
    };
    let mut bare = input(&empty, PayloadFormat::V1, Caller::Anonymous, b"");
    bare.query.clear();
    bare.path_parameters.clear();
    let event = super::event(&bare);
    check(
        &event,
        "1.0 without parameters",
        &[
            ("/requestContext/authorizer", Value::Null),
            ("/queryStringParameters", Value::Null),
            ("/multiValueQueryStringParameters", Value::Null),
            ("/pathParameters", Value::Null),
            ("/stageVariables", Value::Null),
            ("/headers", json!({"x-forwarded-proto": "https"})),
        ],
    );
}

#[test]
fn format_2_0_events() {
    let r = request();
    let jwt = Caller::Jwt { claims: &r.claims };
    let event = super::event(&input(&r, PayloadFormat::V2, jwt, br#"{"n":1}"#));
    check(
        &event,
        "2.0 behind a JWT authorizer",
        &[
            ("/version", json!("2.0")),
            ("/routeKey", json!("ANY /orders/{id}")),
            ("/rawPath", json!("/prod/orders/a%20b")),
            ("/rawQueryString", json!("tag=x&tag=y&q=1")),
            ("/cookies", json!(["a=1", "b=2"])),
            ("/headers/cookie", Value::Null),
            ("/headers/accept", json!("text/plain,application/json")),
            ("/headers/x-gatehouse-principal-id", Value::Null),
            ("/queryStringParameters", json!({"tag": "x,y", "q": "1"})),
            ("/pathParameters", json!({"id": "a b"})),
            ("/stageVariables", json!({"alias": "live"})),
            ("/body", json!(r#"{"n":1}"#)),
            ("/isBase64Encoded", json!(false)),
            ("/requestContext/accountId", json!("123456789012")),
            ("/requestContext/apiId", json!("shop")),
            ("/requestContext/authorizer/jwt/claims/sub", json!("u-1")),
            (
                "/requestContext/authorizer/jwt/scopes",
                json!(["orders/read", "orders/write"]),
            ),
            ("/requestContext/domainName", json!("shop.example.com:8080")),
            ("/requestContext/domainPrefix", json!("shop")),
            ("/requestContext/http/method", json!("POST")),
            ("/requestContext/http/path", json!("/prod/orders/a%20b")),
            ("/requestContext/http/protocol", json!("HTTP/1.1")),
            ("/requestContext/http/sourceIp", json!("203.0.113.9")),
            ("/requestContext/http/userAgent", json!("curl/8")),
            ("/requestContext/requestId", json!("req-1")),
            ("/requestContext/routeKey", json!("ANY /orders/{id}")),
            ("/requestContext/stage", json!("prod")),
            ("/requestContext/time", json!("01/Jan/2026:00:00:00 +0000")),
            ("/requestContext/timeEpoch", json!(T * 1000)),
        ],
    );
    let lambda = Caller::Lambda {
        principal_id: "user-7",
        context: &r.context,
    };
    let mut bare = input(&r, PayloadFormat::V2, lambda, b"");
    bare.query.clear();
    bare.raw_query = None;
    bare.path_parameters.clear();
    let event = super::event(&bare);
    check(
        &event,
        "2.0 behind a Lambda authorizer, empty fields left out",
        &[
            (
                "/requestContext/authorizer",
                json!({"lambda": {"tenant": "acme"}}),
            ),
            ("/rawQueryString", json!("")),
        ],
    );
    let obj = event.as_object().unwrap();
    for absent in ["body", "queryStringParameters", "pathParameters"] {
        assert!(!obj.contains_key(absent), "{absent} in {event:#}");
    }
}

/// One request body and how the event must carry it.
struct BodyCase {
    name: &'static str,
    format: PayloadFormat,
    body: &'static [u8],
    content_type: Option<&'static str>,
    /// The content type is one of the API's binary media types (1.0).
    binary_type: bool,
    encoded: bool,
}

#[test]
fn bodies_are_base64_when_binary() {
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xff];
    let case = |name, format, body, content_type, binary_type, encoded| BodyCase {
        name,
        format,
        body,
        content_type,
        binary_type,
        encoded,
    };
    use PayloadFormat::{V1, V2};
    let cases = [
        case("1.0 text", V1, b"hello", Some("text/plain"), false, false),
        case(
            "1.0 a binary media type",
            V1,
            b"hello",
            Some("image/png"),
            true,
            true,
        ),
        case(
            "1.0 bytes that are not UTF-8",
            V1,
            PNG,
            Some("text/plain"),
            false,
            true,
        ),
        case(
            "2.0 JSON",
            V2,
            b"{}",
            Some("application/json; charset=utf-8"),
            false,
            false,
        ),
        case(
            "2.0 vendor JSON",
            V2,
            b"{}",
            Some("application/vnd.api+json"),
            false,
            false,
        ),
        case("2.0 no content type", V2, b"hi", None, false, false),
        case("2.0 an image", V2, b"hello", Some("image/png"), false, true),
        case(
            "2.0 bytes that are not UTF-8",
            V2,
            PNG,
            Some("text/plain"),
            false,
            true,
        ),
    ];
    for c in cases {
        let mut with = request();
        with.headers.remove(header::CONTENT_TYPE);
        if let Some(ct) = c.content_type {
            with.headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        let mut event_input = input(&with, c.format, Caller::Anonymous, c.body);
        event_input.binary_media_type = c.binary_type;
        let event = super::event(&event_input);
        assert_eq!(event["isBase64Encoded"], json!(c.encoded), "{}", c.name);
        let sent = event["body"].as_str().unwrap();
        let back = if c.encoded {
            STANDARD.decode(sent).unwrap()
        } else {
            sent.as_bytes().to_vec()
        };
        assert_eq!(back, c.body, "{}", c.name);
    }
}

#[test]
fn binary_media_types_match_as_api_gateway_matches_them() {
    let types = vec!["image/*".to_owned(), "application/octet-stream".to_owned()];
    for (content_type, expected) in [
        (Some("image/png"), true),
        (Some("IMAGE/JPEG; q=1"), true),
        (Some("application/octet-stream"), true),
        (Some("application/json"), false),
        (None, false),
    ] {
        assert_eq!(
            is_binary_media_type(content_type, &types),
            expected,
            "{content_type:?}"
        );
    }
    assert!(is_binary_media_type(
        Some("text/plain"),
        &["*/*".to_owned()]
    ));
}

type Answer = Result<(u16, Vec<(&'static str, &'static str)>, &'static [u8]), Malformed>;

#[test]
fn answers_become_responses_or_are_refused() {
    use PayloadFormat::{V1, V2};
    let cases: Vec<(&str, PayloadFormat, &str, Answer)> = vec![
        (
            "1.0 the usual",
            V1,
            r#"{"statusCode": 201, "headers": {"content-type": "text/plain", "x-n": 1}, "body": "made"}"#,
            Ok((
                201,
                vec![("content-type", "text/plain"), ("x-n", "1")],
                b"made",
            )),
        ),
        (
            "1.0 multi-value headers win for a name in both",
            V1,
            r#"{"statusCode": 200, "headers": {"x-a": "one", "x-b": "b"}, "multiValueHeaders": {"X-A": ["two", "three"]}}"#,
            Ok((
                200,
                vec![("x-b", "b"), ("x-a", "two"), ("x-a", "three")],
                b"",
            )),
        ),
        (
            "1.0 a base64 body",
            V1,
            r#"{"statusCode": 200, "isBase64Encoded": true, "body": "iVBORw0KGgo="}"#,
            Ok((200, vec![], b"\x89PNG\r\n\x1a\n")),
        ),
        (
            "1.0 a status as text",
            V1,
            r#"{"statusCode": "404", "body": null}"#,
            Ok((404, vec![], b"")),
        ),
        (
            "framing headers are the gateway's",
            V1,
            r#"{"statusCode": 200, "headers": {"content-length": "999", "transfer-encoding": "chunked", "connection": "close", "x-ok": "1"}, "body": "hi"}"#,
            Ok((200, vec![("x-ok", "1")], b"hi")),
        ),
        (
            "1.0 garbage",
            V1,
            "<html>oops</html>",
            Err(Malformed::NotJson),
        ),
        (
            "1.0 a bare string",
            V1,
            r#""hello""#,
            Err(Malformed::NotAnObject),
        ),
        (
            "1.0 no status",
            V1,
            r#"{"body": "x"}"#,
            Err(Malformed::NoStatus),
        ),
        (
            "1.0 a status out of range",
            V1,
            r#"{"statusCode": 99}"#,
            Err(Malformed::BadStatus),
        ),
        (
            "1.0 a status that is no number",
            V1,
            r#"{"statusCode": "ok"}"#,
            Err(Malformed::BadStatus),
        ),
        (
            "1.0 a body that is an object",
            V1,
            r#"{"statusCode": 200, "body": {"a": 1}}"#,
            Err(Malformed::BadField("body")),
        ),
        (
            "1.0 an unknown key",
            V1,
            r#"{"statusCode": 200, "cookies": []}"#,
            Err(Malformed::UnknownKey("cookies".into())),
        ),
        (
            "bad base64",
            V1,
            r#"{"statusCode": 200, "isBase64Encoded": true, "body": "%%%"}"#,
            Err(Malformed::BadBase64),
        ),
        (
            "header injection",
            V1,
            r#"{"statusCode": 200, "headers": {"x-a": "ok\r\nset-cookie: evil=1"}}"#,
            Err(Malformed::BadHeader("x-a".into())),
        ),
        (
            "a header name that is no token",
            V1,
            r#"{"statusCode": 200, "headers": {"bad name": "x"}}"#,
            Err(Malformed::BadHeader("bad name".into())),
        ),
        (
            "a multi-value header that is no list",
            V1,
            r#"{"statusCode": 200, "multiValueHeaders": {"x-a": "one"}}"#,
            Err(Malformed::BadField("multiValueHeaders")),
        ),
        (
            "2.0 cookies become Set-Cookie headers",
            V2,
            r#"{"statusCode": 200, "headers": {"x-a": "1"}, "cookies": ["a=1; Path=/", "b=2"], "body": "ok"}"#,
            Ok((
                200,
                vec![
                    ("x-a", "1"),
                    ("set-cookie", "a=1; Path=/"),
                    ("set-cookie", "b=2"),
                ],
                b"ok",
            )),
        ),
        (
            "2.0 an object without statusCode is a 200 JSON body",
            V2,
            r#"{"hello": "world"}"#,
            Ok((
                200,
                vec![("content-type", "application/json")],
                br#"{"hello": "world"}"#,
            )),
        ),
        (
            "2.0 a string is a 200 JSON body",
            V2,
            r#""hello""#,
            Ok((
                200,
                vec![("content-type", "application/json")],
                br#""hello""#,
            )),
        ),
        ("2.0 garbage", V2, "not json", Err(Malformed::NotJson)),
        (
            "2.0 a bad status",
            V2,
            r#"{"statusCode": 700}"#,
            Err(Malformed::BadStatus),
        ),
    ];
    for (case, format, raw, expected) in cases {
        let got = answer(format, &Bytes::from(raw.to_owned()));
        match (got, expected) {
            (Ok(got), Ok((status, headers, body))) => {
                let want = ProxyAnswer {
                    status,
                    headers: headers
                        .into_iter()
                        .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
                        .collect(),
                    body: Bytes::from_static(body),
                };
                assert_eq!(got, want, "{case}");
            }
            (Err(got), Err(want)) => assert_eq!(got, want, "{case}"),
            (got, want) => panic!("{case}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn malformed_answers_are_described_without_their_content() {
    let secret_body = r#"{"statusCode": 200, "headers": {"x-a": "s3cret\n"}}"#;
    let why = answer(PayloadFormat::V1, &Bytes::from(secret_body)).unwrap_err();
    assert!(!why.to_string().contains("s3cret"), "{why}");
}
