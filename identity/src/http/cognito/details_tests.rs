//! Handler tests of the user-pool details apps and tools run into: schema declarations and
//! their refusals as AWS words them, AddCustomAttributes, booleans in any case, ListUsers
//! filter errors, `admin_only` recovery, refresh-token rotation settings, and one gatehouse
//! answering for several regions.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::tests::{Harness, Signing, harness, request, send};

impl Harness {
    /// `(__type, message)` of an operator call that must fail.
    async fn refusal(&self, op: &str, body: Value) -> (String, String) {
        let (status, v) = self.admin(op, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{op}: {v}");
        (
            v["__type"].as_str().unwrap_or_default().to_owned(),
            v["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// An operator call signed for `region`.
    async fn admin_in(&self, region: &str, op: &str, body: Value) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(&body).unwrap();
        let signing = Signing {
            region,
            ..Signing::default()
        };
        let (s, _, v) = send(&self.app, request(Some(op), &bytes, Some(signing))).await;
        (s, v)
    }

    /// An unsigned public call.
    async fn public(&self, op: &str, body: Value) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(&body).unwrap();
        let (s, _, v) = send(&self.app, request(Some(op), &bytes, None)).await;
        (s, v)
    }
}

fn attribute<'a>(pool: &'a Value, name: &str) -> &'a Value {
    pool["UserPool"]["SchemaAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["Name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {pool}"))
}

#[tokio::test]
async fn schema_declarations_are_refused_as_aws_words_it() {
    let h = harness().await;
    // (rule, one Schema entry, expected message)
    let cases: &[(&str, Value, &str)] = &[
        (
            "a custom attribute needs a data type",
            json!({"Name": "custom"}),
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.",
        ),
        (
            "an unknown data type",
            json!({"Name": "custom", "AttributeDataType": "Banana"}),
            "Validation error detected: Value 'Banana' failed to satisfy constraint: Member must satisfy enum value set: [Boolean, Number, String, DateTime]",
        ),
        (
            "custom attributes cannot be required",
            json!({"Name": "banana", "AttributeDataType": "String", "Required": true}),
            "Required custom attributes are not supported currently.",
        ),
        (
            "a standard attribute keeps its type",
            json!({"Name": "email", "AttributeDataType": "Number"}),
            "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute email",
        ),
        (
            "a standard attribute cannot be developer-only",
            json!({"Name": "email", "DeveloperOnlyAttribute": true}),
            "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute email",
        ),
        (
            "a length that is no number",
            json!({"Name": "email", "AttributeDataType": "String",
                   "StringAttributeConstraints": {"MinLength": "x"}}),
            "Invalid StringAttributeConstraints for schema attribute email",
        ),
        (
            "a value bound that is no number",
            json!({"Name": "updated_at", "AttributeDataType": "Number",
                   "NumberAttributeConstraints": {"MaxValue": "x"}}),
            "Invalid NumberAttributeConstraints for schema attribute updated_at",
        ),
        (
            "lengths stop at 2048",
            json!({"Name": "email", "AttributeDataType": "String",
                   "StringAttributeConstraints": {"MaxLength": "2049"}}),
            "user.email: String attributes cannot have a length of more than 2048",
        ),
        (
            "a minimum length above the maximum",
            json!({"Name": "email", "AttributeDataType": "String",
                   "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "1"}}),
            "user.email: Max length cannot be less than min length.",
        ),
        (
            "a minimum value above the maximum, on a standard attribute too",
            json!({"Name": "updated_at", "AttributeDataType": "Number",
                   "NumberAttributeConstraints": {"MinValue": "2", "MaxValue": "1"}}),
            "user.updated_at: Max value cannot be less than min value.",
        ),
    ];
    for (rule, entry, message) in cases {
        let refused = h
            .refusal(
                "CreateUserPool",
                json!({"PoolName": "p", "Schema": [entry]}),
            )
            .await;
        assert_eq!(
            refused,
            (
                "InvalidParameterException".to_owned(),
                (*message).to_owned()
            ),
            "{rule}"
        );
    }
}

#[tokio::test]
async fn schemas_show_defaults_constraints_and_developer_only_names_as_aws_does() {
    let h = harness().await;
    let pool = h
        .ok(
            "CreateUserPool",
            json!({"PoolName": "schema", "Schema": [
                {"Name": "banana", "AttributeDataType": "String", "DeveloperOnlyAttribute": true},
                {"Name": "number", "AttributeDataType": "Number"},
                {"Name": "no_max", "AttributeDataType": "String",
                 "StringAttributeConstraints": {"MinLength": "10"}},
                {"Name": "typed", "AttributeDataType": "Boolean",
                 "StringAttributeConstraints": {"MinLength": "10"},
                 "NumberAttributeConstraints": {"MinValue": "1"}},
            ]}),
        )
        .await;
    let dev = attribute(&pool, "dev:custom:banana");
    assert_eq!(dev["DeveloperOnlyAttribute"], true);
    let number = attribute(&pool, "custom:number");
    assert_eq!(number["Mutable"], true);
    assert!(
        number.get("NumberAttributeConstraints").is_none(),
        "{number}"
    );
    assert_eq!(
        attribute(&pool, "custom:no_max")["StringAttributeConstraints"],
        json!({"MinLength": "10"})
    );
    let typed = attribute(&pool, "custom:typed");
    assert!(
        typed.get("StringAttributeConstraints").is_none()
            && typed.get("NumberAttributeConstraints").is_none(),
        "constraints of another type are dropped: {typed}"
    );
    assert_eq!(
        attribute(&pool, "birthdate")["StringAttributeConstraints"],
        json!({"MinLength": "10", "MaxLength": "10"})
    );
    assert_eq!(
        attribute(&pool, "updated_at")["NumberAttributeConstraints"],
        json!({"MinValue": "0"})
    );
    assert!(
        attribute(&pool, "email_verified")
            .get("StringAttributeConstraints")
            .is_none()
    );
    let id = pool["UserPool"]["Id"].as_str().unwrap();

    // AddCustomAttributes appends, and refuses a name the schema holds.
    h.ok(
        "AddCustomAttributes",
        json!({"UserPoolId": id, "CustomAttributes": [
            {"Name": "plan", "AttributeDataType": "String", "Mutable": false}
        ]}),
    )
    .await;
    let described = h.ok("DescribeUserPool", json!({"UserPoolId": id})).await;
    assert_eq!(attribute(&described, "custom:plan")["Mutable"], false);
    let cases: &[(&str, Value, &str)] = &[
        (
            "a name the schema holds, shown as it is shown",
            json!({"Name": "banana", "AttributeDataType": "String"}),
            "custom:banana: Existing attribute already has name dev:custom:banana.",
        ),
        (
            "a custom attribute needs a data type",
            json!({"Name": "kiwi"}),
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.",
        ),
    ];
    for (rule, entry, message) in cases {
        let refused = h
            .refusal(
                "AddCustomAttributes",
                json!({"UserPoolId": id, "CustomAttributes": [entry]}),
            )
            .await;
        assert_eq!(
            refused,
            (
                "InvalidParameterException".to_owned(),
                (*message).to_owned()
            ),
            "{rule}"
        );
    }
    let (ty, _) = h
        .refusal(
            "AddCustomAttributes",
            json!({"UserPoolId": "us-east-1_nopenopen", "CustomAttributes": [
                {"Name": "x", "AttributeDataType": "String"}
            ]}),
        )
        .await;
    assert_eq!(ty, "ResourceNotFoundException");
}

#[tokio::test]
async fn verified_flags_in_any_case_filters_and_admin_only_recovery() {
    let h = harness().await;
    let pool = h
        .ok(
            "CreateUserPool",
            json!({"PoolName": "recovery", "AccountRecoverySetting": {
                "RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]
            }}),
        )
        .await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    h.ok(
        "AdminCreateUser",
        json!({"UserPoolId": id, "Username": "tess", "MessageAction": "SUPPRESS",
        "UserAttributes": [
            {"Name": "email", "Value": "tess@example.com"},
            {"Name": "email_verified", "Value": "True"}
        ]}),
    )
    .await;
    h.ok(
        "AdminUpdateUserAttributes",
        json!({"UserPoolId": id, "Username": "tess", "UserAttributes": [
            {"Name": "phone_number", "Value": "+15555550100"},
            {"Name": "phone_number_verified", "Value": "FALSE"}
        ]}),
    )
    .await;
    let user = h
        .ok(
            "AdminGetUser",
            json!({"UserPoolId": id, "Username": "tess"}),
        )
        .await;
    let value = |name: &str| {
        user["UserAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Name"] == name)
            .map(|a| a["Value"].clone())
    };
    assert_eq!(value("email_verified"), Some(json!("true")));
    assert_eq!(value("phone_number_verified"), Some(json!("false")));
    let (ty, _) = h
        .refusal(
            "AdminUpdateUserAttributes",
            json!({"UserPoolId": id, "Username": "tess", "UserAttributes": [
                {"Name": "email_verified", "Value": "yes"}
            ]}),
        )
        .await;
    assert_eq!(ty, "InvalidParameterException");

    for filter in ["username = foo", "username=", "email ^ \"a\""] {
        assert_eq!(
            h.refusal("ListUsers", json!({"UserPoolId": id, "Filter": filter}))
                .await,
            (
                "InvalidParameterException".to_owned(),
                "Error while parsing filter".to_owned()
            ),
            "{filter}"
        );
    }
    assert_eq!(
        h.refusal(
            "ListUsers",
            json!({"UserPoolId": id, "Filter": "custom:foo = \"bar\""})
        )
        .await
        .1,
        "Invalid search attribute: custom:foo"
    );

    // ForgotPassword on an `admin_only` pool: the same answer for a real and an unknown user.
    let client = h
        .ok(
            "CreateUserPoolClient",
            json!({"UserPoolId": id, "ClientName": "app"}),
        )
        .await;
    let client_id = client["UserPoolClient"]["ClientId"].as_str().unwrap();
    for username in ["tess", "nobody"] {
        let (status, v) = h
            .public(
                "ForgotPassword",
                json!({"ClientId": client_id, "Username": username}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(
            (v["__type"].as_str(), v["message"].as_str()),
            (
                Some("NotAuthorizedException"),
                Some("Contact administrator to reset password.")
            ),
            "{username}"
        );
    }
    let (ty, _) = h
        .refusal(
            "CreateUserPool",
            json!({"PoolName": "bad", "AccountRecoverySetting": {
                "RecoveryMechanisms": [{"Name": "carrier_pigeon", "Priority": 1}]
            }}),
        )
        .await;
    assert_eq!(ty, "InvalidParameterException");
}

#[tokio::test]
async fn refresh_token_rotation_is_a_client_setting() {
    let h = harness().await;
    let pool = h
        .ok("CreateUserPool", json!({"PoolName": "rotation"}))
        .await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    let created = h
        .ok(
            "CreateUserPoolClient",
            json!({"UserPoolId": id, "ClientName": "app",
                   "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}}),
        )
        .await;
    assert_eq!(
        created["UserPoolClient"]["RefreshTokenRotation"],
        json!({"Feature": "ENABLED", "RetryGracePeriodSeconds": 10})
    );
    let client_id = created["UserPoolClient"]["ClientId"].as_str().unwrap();
    let plain = h
        .ok(
            "CreateUserPoolClient",
            json!({"UserPoolId": id, "ClientName": "plain"}),
        )
        .await;
    assert!(
        plain["UserPoolClient"]
            .get("RefreshTokenRotation")
            .is_none()
    );
    for (rule, rotation) in [
        (
            "the grace period stops at 60 seconds",
            json!({"Feature": "ENABLED", "RetryGracePeriodSeconds": 61}),
        ),
        ("an unknown feature state", json!({"Feature": "SOMETIMES"})),
    ] {
        let (ty, _) = h
            .refusal(
                "UpdateUserPoolClient",
                json!({"UserPoolId": id, "ClientId": client_id, "RefreshTokenRotation": rotation}),
            )
            .await;
        assert_eq!(ty, "InvalidParameterException", "{rule}");
    }
    // GetTokensFromRefreshToken is public; a token nobody issued is refused as Cognito does.
    let (status, v) = h
        .public(
            "GetTokensFromRefreshToken",
            json!({"ClientId": client_id, "RefreshToken": "not-a-token"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (v["__type"].as_str(), v["message"].as_str()),
        (
            Some("NotAuthorizedException"),
            Some("Invalid Refresh Token")
        )
    );
}

#[tokio::test]
async fn one_gatehouse_answers_for_every_region_it_serves() {
    let h = harness().await;
    let (status, west) = h
        .admin_in("us-west-2", "CreateUserPool", json!({"PoolName": "west"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{west}");
    let west_id = west["UserPool"]["Id"].as_str().unwrap().to_owned();
    assert!(west_id.starts_with("us-west-2_"), "{west_id}");
    assert_eq!(
        west["UserPool"]["Arn"],
        format!("arn:aws:cognito-idp:us-west-2:000000000000:userpool/{west_id}")
    );
    let east = h.ok("CreateUserPool", json!({"PoolName": "east"})).await;
    let east_id = east["UserPool"]["Id"].as_str().unwrap().to_owned();
    assert!(east_id.starts_with("us-east-1_"), "{east_id}");

    // Each region lists its own pools, and does not find the other's.
    let listed = |v: &Value| -> Vec<String> {
        v["UserPools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, in_west) = h
        .admin_in("us-west-2", "ListUserPools", json!({"MaxResults": 60}))
        .await;
    assert_eq!(listed(&in_west), std::slice::from_ref(&west_id));
    let in_east = h.ok("ListUserPools", json!({"MaxResults": 60})).await;
    assert_eq!(listed(&in_east), std::slice::from_ref(&east_id));
    let (status, v) = h
        .admin_in(
            "us-west-2",
            "DescribeUserPool",
            json!({"UserPoolId": east_id}),
        )
        .await;
    assert_eq!(
        (status, v["__type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ResourceNotFoundException"))
    );
    let (status, v) = h
        .admin_in(
            "us-west-2",
            "DescribeUserPool",
            json!({"UserPoolId": west_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // The issuer carries the region through the pool id.
    let discovery = h
        .fixture
        .pools
        .openid_configuration(&west_id)
        .await
        .unwrap();
    let issuer = serde_json::to_value(&discovery).unwrap()["issuer"].clone();
    assert_eq!(issuer, format!("http://127.0.0.1:8000/{west_id}"));
    // A region this gatehouse does not serve is refused at the signature.
    let (status, v) = h
        .admin_in("eu-west-1", "ListUserPools", json!({"MaxResults": 60}))
        .await;
    assert_eq!(
        (status, v["__type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidSignatureException"))
    );
}
