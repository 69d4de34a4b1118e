//! Handler tests: the router called with `tower::ServiceExt::oneshot` (no socket), operator
//! requests signed by a small SigV4 signer written here, independent of the verifier.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{digest, hmac};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gatehouse_storage::StoreOptions;
use gatehouse_storage::testkit::TestStore;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::crypto::hex_lower;
use crate::http::operator::OperatorAuth;
use crate::http::{HttpState, OperatorCredentials, router};
use crate::time::format_amz_date;
use crate::user_pools::tests::{Fixture, fixture};

const KEY_ID: &str = "AKIAOPERATOR00000001";
const SECRET: &str = "operator/secret/key/0000000000000000000";
const NOW: u64 = 1_800_000_000;
/// The function the harness's registry has an endpoint for.
const REGISTERED_FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

pub(super) struct Harness {
    _db: TestStore,
    pub(super) fixture: Fixture,
    pub(super) app: axum::Router,
}

pub(super) async fn harness() -> Harness {
    let db = TestStore::sqlite(StoreOptions::default()).await;
    let fixture = fixture(&db.store);
    // One registered function, for pools that name a trigger (never called here).
    let spec = crate::functions::FunctionSpec::new(
        REGISTERED_FUNCTION,
        "http://127.0.0.1:9/",
        None,
        crate::functions::SigningSecret::generate(),
    )
    .unwrap();
    fixture.pools.set_functions(
        crate::functions::Functions::new(
            vec![spec],
            None,
            fixture.clock.clone(),
            crate::functions::FunctionSettings::default(),
        )
        .unwrap(),
    );
    let app = router(HttpState {
        user_pools: fixture.pools.clone(),
        operator: OperatorAuth::for_regions(
            OperatorCredentials {
                access_key_id: KEY_ID.into(),
                secret_access_key: SECRET.into(),
            },
            vec!["us-east-1".into(), "us-west-2".into()],
            fixture.clock.clone(),
        ),
        clock: fixture.clock.clone(),
        trusted_proxies: crate::net::TrustedProxies::none(),
    });
    Harness {
        _db: db,
        fixture,
        app,
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex_lower(digest::digest(&digest::SHA256, data).as_ref())
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        .as_ref()
        .to_vec()
}

/// How to sign a test request.
pub(super) struct Signing<'a> {
    pub(super) key_id: &'a str,
    pub(super) secret: &'a str,
    pub(super) region: &'a str,
    pub(super) at: SystemTime,
    /// Whether `x-amz-target` is among the signed headers (the SDKs always sign it).
    pub(super) sign_target: bool,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Self {
            key_id: KEY_ID,
            secret: SECRET,
            region: "us-east-1",
            at: UNIX_EPOCH + Duration::from_secs(NOW),
            sign_target: true,
        }
    }
}

/// A `POST /` request for `operation`, SigV4-signed over host, content type, date and target.
pub(super) fn request(
    operation: Option<&str>,
    body: &[u8],
    signing: Option<Signing<'_>>,
) -> Request<Body> {
    let target = operation.map(|o| format!("AWSCognitoIdentityProviderService.{o}"));
    let mut b = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "127.0.0.1:8000")
        .header("content-type", "application/x-amz-json-1.1");
    if let Some(t) = &target {
        b = b.header("x-amz-target", t);
    }
    if let Some(s) = signing {
        let secs = i64::try_from(s.at.duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
        let amz_date = format_amz_date(secs);
        let date = &amz_date[..8];
        let mut headers = vec![
            ("content-type", "application/x-amz-json-1.1".to_owned()),
            ("host", "127.0.0.1:8000".to_owned()),
            ("x-amz-date", amz_date.clone()),
        ];
        if let Some(t) = target.as_ref().filter(|_| s.sign_target) {
            headers.push(("x-amz-target", t.clone()));
        }
        let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let canonical = format!(
            "POST\n/\n\n{canonical_headers}\n{}\n{}",
            signed.join(";"),
            sha256_hex(body)
        );
        let scope = format!("{date}/{}/cognito-idp/aws4_request", s.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let mut key = hmac_sha256(format!("AWS4{}", s.secret).as_bytes(), date);
        for part in [s.region, "cognito-idp", "aws4_request"] {
            key = hmac_sha256(&key, part);
        }
        let signature = hex_lower(&hmac_sha256(&key, &to_sign));
        b = b.header("x-amz-date", amz_date).header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
                s.key_id,
                signed.join(";")
            ),
        );
    }
    b.body(Body::from(body.to_vec())).unwrap()
}

pub(super) async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, value)
}

impl Harness {
    pub(super) async fn admin(&self, op: &str, body: Value) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(&body).unwrap();
        let (s, _, v) = send(
            &self.app,
            request(Some(op), &bytes, Some(Signing::default())),
        )
        .await;
        (s, v)
    }

    pub(super) async fn ok(&self, op: &str, body: Value) -> Value {
        let (s, v) = self.admin(op, body).await;
        assert_eq!(s, StatusCode::OK, "{op}: {v}");
        v
    }

    pub(super) async fn err(&self, op: &str, body: Value) -> String {
        let (s, v) = self.admin(op, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{op}: {v}");
        v["__type"].as_str().unwrap().to_owned()
    }
}

fn error_type(v: &Value) -> &str {
    v["__type"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn sigv4_gate_for_operator_operations() {
    let h = harness().await;
    let body = br#"{"MaxResults": 10}"#;
    let at = UNIX_EPOCH + Duration::from_secs(NOW);
    let cases: Vec<(&str, Option<Signing<'_>>, u16, &str)> = vec![
        ("signed by the operator", Some(Signing::default()), 200, ""),
        ("unsigned", None, 400, "MissingAuthenticationTokenException"),
        (
            "wrong secret",
            Some(Signing {
                secret: "wrong",
                ..Signing::default()
            }),
            400,
            "InvalidSignatureException",
        ),
        (
            "unknown key",
            Some(Signing {
                key_id: "AKIAUNKNOWN000000000",
                ..Signing::default()
            }),
            400,
            "UnrecognizedClientException",
        ),
        (
            "other region",
            Some(Signing {
                region: "eu-west-1",
                ..Signing::default()
            }),
            400,
            "InvalidSignatureException",
        ),
        (
            "ten minutes old",
            Some(Signing {
                at: at - Duration::from_secs(600),
                ..Signing::default()
            }),
            400,
            "InvalidSignatureException",
        ),
        (
            "ten minutes ahead",
            Some(Signing {
                at: at + Duration::from_secs(600),
                ..Signing::default()
            }),
            400,
            "InvalidSignatureException",
        ),
        (
            "four minutes old",
            Some(Signing {
                at: at - Duration::from_secs(240),
                ..Signing::default()
            }),
            200,
            "",
        ),
    ];
    for (rule, signing, status, ty) in cases {
        let (s, headers, v) = send(&h.app, request(Some("ListUserPools"), body, signing)).await;
        assert_eq!(s.as_u16(), status, "{rule}: {v}");
        assert!(headers.contains_key("x-amzn-requestid"), "{rule}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/x-amz-json-1.1"),
            "{rule}"
        );
        if status == 200 {
            assert!(v["UserPools"].is_array(), "{rule}: {v}");
        } else {
            assert_eq!(error_type(&v), ty, "{rule}: {v}");
            assert_eq!(headers["x-amzn-errortype"], ty, "{rule}");
        }
    }
    // The operation is part of what is signed: a request whose signature leaves `x-amz-target`
    // out cannot be replayed as another operation, and a signed target cannot be swapped.
    let unsigned_target = Signing {
        sign_target: false,
        ..Signing::default()
    };
    let (s, _, v) = send(
        &h.app,
        request(Some("ListUserPools"), body, Some(unsigned_target)),
    )
    .await;
    assert_eq!(
        (s.as_u16(), error_type(&v)),
        (400, "InvalidSignatureException"),
        "{v}"
    );
    assert_eq!(v["message"], "`x-amz-target` must be a signed header");
    let mut req = request(Some("ListUserPools"), body, Some(Signing::default()));
    req.headers_mut().insert(
        "x-amz-target",
        "AWSCognitoIdentityProviderService.DescribeUserPool"
            .parse()
            .unwrap(),
    );
    let (s, _, v) = send(&h.app, req).await;
    assert_eq!(
        (s.as_u16(), error_type(&v)),
        (400, "InvalidSignatureException"),
        "{v}"
    );
    // A body changed after signing is refused.
    let mut req = request(Some("ListUserPools"), body, Some(Signing::default()));
    *req.body_mut() = Body::from(&br#"{"MaxResults": 11}"#[..]);
    let (s, _, v) = send(&h.app, req).await;
    assert_eq!(
        (s.as_u16(), error_type(&v)),
        (400, "InvalidSignatureException")
    );
}

#[tokio::test]
async fn a_dynamodb_request_without_an_upstream_says_how_to_turn_it_on() {
    let h = harness().await;
    let mut req = request(None, b"{}", None);
    req.headers_mut().insert(
        "x-amz-target",
        axum::http::HeaderValue::from_static("DynamoDB_20120810.GetItem"),
    );
    let (s, _, v) = send(&h.app, req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_type(&v), "UnknownOperationException", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("--dynamodb-upstream"), "{message}");
    // Another service's target gets no such hint.
    let (_, _, v) = send(&h.app, request(Some("NoSuchOperation"), b"{}", None)).await;
    assert!(!v["message"].as_str().unwrap().contains("dynamodb"), "{v}");
}

#[tokio::test]
async fn protocol_errors_have_the_cognito_shape() {
    let h = harness().await;
    let signed = || Some(Signing::default());
    let cases: Vec<(&str, Option<&str>, Vec<u8>, &str)> = vec![
        (
            "unknown operation",
            Some("NoSuchOperation"),
            b"{}".to_vec(),
            "UnknownOperationException",
        ),
        (
            "missing target",
            None,
            b"{}".to_vec(),
            "UnknownOperationException",
        ),
        (
            "truncated json",
            Some("ListUserPools"),
            br#"{"MaxResults": "#.to_vec(),
            "SerializationException",
        ),
        (
            "empty body",
            Some("ListUserPools"),
            Vec::new(),
            "SerializationException",
        ),
        (
            "array body",
            Some("ListUserPools"),
            b"[]".to_vec(),
            "SerializationException",
        ),
        (
            "trailing garbage",
            Some("ListUserPools"),
            br#"{"MaxResults": 1} x"#.to_vec(),
            "SerializationException",
        ),
        (
            "string for number",
            Some("ListUserPools"),
            br#"{"MaxResults": "ten"}"#.to_vec(),
            "SerializationException",
        ),
        (
            "missing required member",
            Some("ListUsers"),
            b"{}".to_vec(),
            "InvalidParameterException",
        ),
        (
            "list for object",
            Some("CreateUserPool"),
            br#"{"PoolName": "x", "Policies": []}"#.to_vec(),
            "SerializationException",
        ),
    ];
    for (rule, op, body, ty) in cases {
        let (s, headers, v) = send(&h.app, request(op, &body, signed())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{rule}: {v}");
        assert_eq!(error_type(&v), ty, "{rule}: {v}");
        assert!(v["message"].is_string(), "{rule}");
        assert_eq!(headers["x-amzn-errortype"], ty, "{rule}");
    }
    // Too large, streamed without a length: the listener's body rule answers 413, as it does
    // for an announced one.
    let body = vec![b' '; 2 * 1024 * 1024];
    let (s, headers, v) = send(&h.app, request(Some("ListUserPools"), &body, signed())).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(error_type(&v), "SerializationException", "{v}");
    assert_eq!(headers["x-amzn-errortype"], "SerializationException");
    // Unknown members are ignored.
    let v = h
        .ok(
            "ListUserPools",
            json!({"MaxResults": 1, "SomeFutureMember": true}),
        )
        .await;
    assert!(v["UserPools"].is_array());
}

#[tokio::test]
async fn pools_clients_users_and_groups_over_the_wire() {
    let h = harness().await;
    let created = h
        .ok(
            "CreateUserPool",
            json!({
                "PoolName": "wire",
                "Policies": {"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true, "RequireNumbers": true, "RequireSymbols": true}},
                "Schema": [
                    {"Name": "tier", "AttributeDataType": "String", "Mutable": true, "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "32"}},
                    {"Name": "age", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "200"}}
                ],
                "AutoVerifiedAttributes": ["email"],
                "AliasAttributes": ["email"],
                "MfaConfiguration": "OFF",
                "UserPoolTags": {"team": "id"}
            }),
        )
        .await;
    let pool = &created["UserPool"];
    let pool_id = pool["Id"].as_str().unwrap().to_owned();
    assert!(pool["CreationDate"].is_f64() || pool["CreationDate"].is_u64());
    let described = h
        .ok("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await["UserPool"]
        .clone();
    let schema: Vec<&Value> = described["SchemaAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let tier = schema.iter().find(|a| a["Name"] == "custom:tier").unwrap();
    assert_eq!(tier["StringAttributeConstraints"]["MaxLength"], "32");
    let age = schema.iter().find(|a| a["Name"] == "custom:age").unwrap();
    assert_eq!(age["NumberAttributeConstraints"]["MaxValue"], "200");
    assert!(schema.iter().any(|a| a["Name"] == "email_verified"));
    assert_eq!(described["AliasAttributes"], json!(["email"]));
    assert_eq!(described["MfaConfiguration"], "OFF");
    assert_eq!(described["EstimatedNumberOfUsers"], 0);
    // A pool's triggers are kept as given; one whose function has no endpoint is refused
    // when the pool is saved, naming the function and how to register it; nothing changes.
    let trigger_pool = h
        .ok(
            "CreateUserPool",
            json!({"PoolName": "triggers", "LambdaConfig": {"PreSignUp": REGISTERED_FUNCTION}}),
        )
        .await["UserPool"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_triggers = h
        .ok("DescribeUserPool", json!({"UserPoolId": trigger_pool}))
        .await;
    assert_eq!(
        with_triggers["UserPool"]["LambdaConfig"]["PreSignUp"],
        REGISTERED_FUNCTION
    );
    let unregistered = "arn:aws:lambda:us-east-1:000000000000:function:nowhere";
    for (action, mut body) in [
        ("CreateUserPool", json!({"PoolName": "t"})),
        ("UpdateUserPool", json!({"UserPoolId": trigger_pool})),
    ] {
        body["LambdaConfig"] =
            json!({"PreSignUp": REGISTERED_FUNCTION, "PostConfirmation": unregistered});
        let (status, refused) = h.admin(action, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{action}");
        assert_eq!(refused["__type"], "InvalidParameterException", "{action}");
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.contains(unregistered)
                && message.contains("PostConfirmation")
                && message.contains("--function"),
            "{message}"
        );
    }
    let kept = h
        .ok("DescribeUserPool", json!({"UserPoolId": trigger_pool}))
        .await;
    assert_eq!(
        kept["UserPool"]["LambdaConfig"],
        json!({"PreSignUp": REGISTERED_FUNCTION})
    );
    assert_eq!(described["Policies"]["PasswordPolicy"]["MinimumLength"], 8);
    assert_eq!(
        h.err(
            "CreateUserPool",
            json!({"PoolName": "bad", "Policies": {"PasswordPolicy": {"MinimumLength": 100}}})
        )
        .await,
        "InvalidParameterException"
    );
    assert_eq!(
        h.err(
            "DescribeUserPool",
            json!({"UserPoolId": "us-east-1_AAAAAAAAA"})
        )
        .await,
        "ResourceNotFoundException"
    );

    let client = h
        .ok(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": pool_id, "ClientName": "app", "GenerateSecret": true,
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "PreventUserExistenceErrors": "ENABLED",
                "AccessTokenValidity": 30, "IdTokenValidity": 2, "RefreshTokenValidity": 10,
                "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"},
                "ReadAttributes": ["email", "custom:tier"], "WriteAttributes": ["email"]
            }),
        )
        .await["UserPoolClient"]
        .clone();
    let client_id = client["ClientId"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 26);
    let secret = client["ClientSecret"].as_str().unwrap().to_owned();
    let d = h
        .ok(
            "DescribeUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientId": client_id}),
        )
        .await["UserPoolClient"]
        .clone();
    assert_eq!(d["ClientSecret"], secret);
    assert_eq!(d["PreventUserExistenceErrors"], "ENABLED");
    assert_eq!(
        d["TokenValidityUnits"],
        json!({"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"})
    );
    assert_eq!(d["AccessTokenValidity"], 30);
    assert_eq!(
        h.err(
            "CreateUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientName": "x", "ExplicitAuthFlows": ["NOPE"]})
        )
        .await,
        "InvalidParameterException"
    );
    let listed = h
        .ok(
            "ListUserPoolClients",
            json!({"UserPoolId": pool_id, "MaxResults": 60}),
        )
        .await;
    assert_eq!(listed["UserPoolClients"][0]["ClientName"], "app");
    let updated = h
        .ok(
            "UpdateUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientId": client_id, "ClientName": "renamed"}),
        )
        .await;
    assert_eq!(updated["UserPoolClient"]["ClientName"], "renamed");
    assert_eq!(
        updated["UserPoolClient"]["PreventUserExistenceErrors"], "LEGACY",
        "omitted members reset"
    );

    // Users.
    let user = h
        .ok(
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": "ann", "MessageAction": "SUPPRESS", "TemporaryPassword": "Temp-Pass-123!",
                   "UserAttributes": [{"Name": "email", "Value": "ann@example.com"}, {"Name": "email_verified", "Value": "true"}]}),
        )
        .await["User"]
        .clone();
    assert_eq!(user["UserStatus"], "FORCE_CHANGE_PASSWORD");
    assert_eq!(user["Enabled"], true);
    assert!(
        user["Attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["Name"] == "sub")
    );
    assert_eq!(
        h.err(
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": "ann", "MessageAction": "SUPPRESS"})
        )
        .await,
        "UsernameExistsException"
    );
    assert_eq!(
        h.err(
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": "x", "MessageAction": "LOUD"})
        )
        .await,
        "InvalidParameterException"
    );
    h.ok(
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "bob", "DesiredDeliveryMediums": ["EMAIL"],
        "UserAttributes": [{"Name": "email", "Value": "bob@example.com"}]}),
    )
    .await;
    let invite = h
        .fixture
        .messages()
        .into_iter()
        .find(|m| m["destination"] == "bob@example.com")
        .unwrap();
    assert_eq!(invite["purpose"], "AdminCreateUser");
    assert!(invite["temporary_password"].is_string());

    h.ok("AdminSetUserPassword", json!({"UserPoolId": pool_id, "Username": "ann", "Password": "Perm-Pass-123!", "Permanent": true})).await;
    assert_eq!(h.err("AdminSetUserPassword", json!({"UserPoolId": pool_id, "Username": "ann", "Password": "short", "Permanent": true})).await, "InvalidPasswordException");
    // By alias (verified email) as well as by username.
    let got = h
        .ok(
            "AdminGetUser",
            json!({"UserPoolId": pool_id, "Username": "ann@example.com"}),
        )
        .await;
    assert_eq!(
        (got["Username"].as_str(), got["UserStatus"].as_str()),
        (Some("ann"), Some("CONFIRMED"))
    );
    assert!(got["UserCreateDate"].is_number());
    h.ok("AdminUpdateUserAttributes", json!({"UserPoolId": pool_id, "Username": "ann", "UserAttributes": [{"Name": "custom:tier", "Value": "gold"}]})).await;
    assert_eq!(h.err("AdminUpdateUserAttributes", json!({"UserPoolId": pool_id, "Username": "ann", "UserAttributes": [{"Name": "custom:nope", "Value": "x"}]})).await, "InvalidParameterException");
    h.ok(
        "AdminDeleteUserAttributes",
        json!({"UserPoolId": pool_id, "Username": "ann", "UserAttributeNames": ["custom:tier"]}),
    )
    .await;
    h.ok(
        "AdminDisableUser",
        json!({"UserPoolId": pool_id, "Username": "bob"}),
    )
    .await;
    let disabled = h
        .ok(
            "ListUsers",
            json!({"UserPoolId": pool_id, "Filter": "status = \"Disabled\""}),
        )
        .await;
    assert_eq!(disabled["Users"].as_array().unwrap().len(), 1);
    assert_eq!(disabled["Users"][0]["Username"], "bob");
    let page = h
        .ok(
            "ListUsers",
            json!({"UserPoolId": pool_id, "Limit": 1, "AttributesToGet": ["email"]}),
        )
        .await;
    assert_eq!(
        page["Users"][0]["Attributes"],
        json!([{"Name": "email", "Value": "ann@example.com"}])
    );
    let token = page["PaginationToken"].as_str().unwrap();
    let next = h
        .ok(
            "ListUsers",
            json!({"UserPoolId": pool_id, "Limit": 1, "PaginationToken": token}),
        )
        .await;
    assert_eq!(next["Users"][0]["Username"], "bob");
    assert!(next.get("PaginationToken").is_none());
    assert_eq!(
        h.err(
            "ListUsers",
            json!({"UserPoolId": pool_id, "Filter": "email == \"x\""})
        )
        .await,
        "InvalidParameterException"
    );
    assert_eq!(
        h.err("ListUsers", json!({"UserPoolId": pool_id, "Limit": 61}))
            .await,
        "InvalidParameterException"
    );
    h.ok(
        "AdminEnableUser",
        json!({"UserPoolId": pool_id, "Username": "bob"}),
    )
    .await;
    assert_eq!(
        h.err(
            "AdminConfirmSignUp",
            json!({"UserPoolId": pool_id, "Username": "ann"})
        )
        .await,
        "NotAuthorizedException"
    );
    assert_eq!(
        h.err(
            "AdminGetUser",
            json!({"UserPoolId": pool_id, "Username": "ghost"})
        )
        .await,
        "UserNotFoundException"
    );

    // Groups.
    let g = h.ok("CreateGroup", json!({"UserPoolId": pool_id, "GroupName": "readers", "Description": "can read", "Precedence": 5, "RoleArn": "arn:aws:iam::000000000000:role/readers"})).await;
    assert_eq!(g["Group"]["Precedence"], 5);
    assert_eq!(
        h.err(
            "CreateGroup",
            json!({"UserPoolId": pool_id, "GroupName": "readers"})
        )
        .await,
        "GroupExistsException"
    );
    h.ok(
        "UpdateGroup",
        json!({"UserPoolId": pool_id, "GroupName": "readers", "Description": "reads"}),
    )
    .await;
    assert_eq!(
        h.ok(
            "GetGroup",
            json!({"UserPoolId": pool_id, "GroupName": "readers"})
        )
        .await["Group"]["Description"],
        "reads"
    );
    h.ok(
        "AdminAddUserToGroup",
        json!({"UserPoolId": pool_id, "Username": "ann", "GroupName": "readers"}),
    )
    .await;
    assert_eq!(
        h.err(
            "AdminAddUserToGroup",
            json!({"UserPoolId": pool_id, "Username": "ann", "GroupName": "missing"})
        )
        .await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        h.err(
            "AdminAddUserToGroup",
            json!({"UserPoolId": pool_id, "Username": "ghost", "GroupName": "readers"})
        )
        .await,
        "UserNotFoundException"
    );
    let groups = h
        .ok(
            "AdminListGroupsForUser",
            json!({"UserPoolId": pool_id, "Username": "ann"}),
        )
        .await;
    assert_eq!(groups["Groups"][0]["GroupName"], "readers");
    let members = h
        .ok(
            "ListUsersInGroup",
            json!({"UserPoolId": pool_id, "GroupName": "readers"}),
        )
        .await;
    assert_eq!(members["Users"][0]["Username"], "ann");
    h.ok(
        "AdminRemoveUserFromGroup",
        json!({"UserPoolId": pool_id, "Username": "ann", "GroupName": "readers"}),
    )
    .await;
    assert_eq!(
        h.ok("ListGroups", json!({"UserPoolId": pool_id})).await["Groups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    h.ok(
        "DeleteGroup",
        json!({"UserPoolId": pool_id, "GroupName": "readers"}),
    )
    .await;
    assert_eq!(
        h.err(
            "GetGroup",
            json!({"UserPoolId": pool_id, "GroupName": "readers"})
        )
        .await,
        "ResourceNotFoundException"
    );

    h.ok(
        "AdminDeleteUser",
        json!({"UserPoolId": pool_id, "Username": "bob"}),
    )
    .await;
    h.ok(
        "DeleteUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientId": client_id}),
    )
    .await;
    assert_eq!(
        h.err(
            "DescribeUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientId": client_id})
        )
        .await,
        "ResourceNotFoundException"
    );
    h.ok(
        "UpdateUserPool",
        json!({"UserPoolId": pool_id, "Policies": {"PasswordPolicy": {"MinimumLength": 20}}}),
    )
    .await;
    let d = h
        .ok("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await;
    assert_eq!(
        d["UserPool"]["Policies"]["PasswordPolicy"]["MinimumLength"],
        20
    );
    assert_eq!(
        d["UserPool"]["AliasAttributes"],
        json!(["email"]),
        "not updatable, kept"
    );

    // Discovery documents and health.
    let (s, _, jwks) = send(
        &h.app,
        Request::get(format!("/{pool_id}/.well-known/jwks.json"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let (s, _, oidc) = send(
        &h.app,
        Request::get(format!("/{pool_id}/.well-known/openid-configuration"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(oidc["issuer"], format!("http://127.0.0.1:8000/{pool_id}"));
    h.ok("DeleteUserPool", json!({"UserPoolId": pool_id})).await;
    let (s, headers, v) = send(
        &h.app,
        Request::get(format!("/{pool_id}/.well-known/jwks.json"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, error_type(&v)),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException")
    );
    assert!(headers.contains_key("x-amzn-requestid"));
    let (s, _, v) = send(&h.app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"status": "ok"})));
    let (s, _, _) = send(&h.app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert!(s.is_client_error(), "{s}");
}

/// The MFA and device operations over the wire: their access rules, the pool MFA settings
/// round trip, and the refusals of malformed requests, each in Cognito's error shape.
#[tokio::test]
async fn mfa_and_device_operations_over_the_wire() {
    let h = harness().await;
    for (op, expected) in [
        ("AssociateSoftwareToken", Some(super::Access::Public)),
        ("VerifySoftwareToken", Some(super::Access::Public)),
        ("SetUserMFAPreference", Some(super::Access::Public)),
        ("AdminSetUserMFAPreference", Some(super::Access::Operator)),
        ("SetUserPoolMfaConfig", Some(super::Access::Operator)),
        ("GetUserPoolMfaConfig", Some(super::Access::Operator)),
        ("ConfirmDevice", Some(super::Access::Public)),
        ("ListDevices", Some(super::Access::Public)),
        ("AdminListDevices", Some(super::Access::Operator)),
        ("AdminForgetDevice", Some(super::Access::Operator)),
    ] {
        assert_eq!(super::access(op), expected, "{op}");
    }
    let pool = h.ok("CreateUserPool", json!({"PoolName": "mfa"})).await["UserPool"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = h
        .ok(
            "SetUserPoolMfaConfig",
            json!({
                "UserPoolId": pool,
                "MfaConfiguration": "OPTIONAL",
                "SoftwareTokenMfaConfiguration": {"Enabled": true},
                "EmailMfaConfiguration": {"Message": "code {####}", "Subject": "s"},
            }),
        )
        .await;
    assert_eq!(config["MfaConfiguration"], "OPTIONAL");
    assert_eq!(config["EmailMfaConfiguration"]["Message"], "code {####}");
    let read = h
        .ok("GetUserPoolMfaConfig", json!({"UserPoolId": pool}))
        .await;
    assert_eq!(read, config);
    let bare = h.ok("CreateUserPool", json!({"PoolName": "bare"})).await["UserPool"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: &[(&str, &str, Value, &str)] = &[
        (
            "an unknown MFA mode",
            "SetUserPoolMfaConfig",
            json!({"UserPoolId": pool, "MfaConfiguration": "SOMETIMES"}),
            "InvalidParameterException",
        ),
        (
            "an email message without the code",
            "SetUserPoolMfaConfig",
            json!({"UserPoolId": pool, "EmailMfaConfiguration": {"Message": "no code"}}),
            "InvalidParameterException",
        ),
        (
            "MFA on with every factor off",
            "SetUserPoolMfaConfig",
            json!({"UserPoolId": bare, "MfaConfiguration": "ON",
                   "SoftwareTokenMfaConfiguration": {"Enabled": false}}),
            "InvalidParameterException",
        ),
        (
            "neither an access token nor a session",
            "AssociateSoftwareToken",
            json!({}),
            "InvalidParameterException",
        ),
        (
            "a forged session",
            "VerifySoftwareToken",
            json!({"Session": "AAAA", "UserCode": "123456"}),
            "NotAuthorizedException",
        ),
        (
            "a forged access token",
            "ListDevices",
            json!({"AccessToken": "a.b.c"}),
            "NotAuthorizedException",
        ),
        (
            "a device of a user nobody holds",
            "AdminGetDevice",
            json!({"UserPoolId": pool, "Username": "nobody", "DeviceKey": "us-east-1_x"}),
            "UserNotFoundException",
        ),
        (
            "PASSWORD_VERIFIER without its secret block",
            "RespondToAuthChallenge",
            json!({"ClientId": "x", "ChallengeName": "PASSWORD_VERIFIER",
                   "ChallengeResponses": {"USERNAME": "a"}}),
            "ResourceNotFoundException",
        ),
    ];
    for (rule, op, body, expected) in cases {
        assert_eq!(h.err(op, body.clone()).await, *expected, "{rule}");
    }
}
