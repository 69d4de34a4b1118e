//! PreTokenGeneration answers against Cognito's documented rules.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

fn overrides(version: PreTokenVersion, response: Value) -> Result<TokenOverrides, InvalidAnswer> {
    match response {
        Value::Object(map) => parse_response(version, &map),
        Value::Null => parse_response(version, &serde_json::Map::new()),
        _ => Err(InvalidAnswer("`response` is not an object".into())),
    }
}

fn id_claims_after(version: PreTokenVersion, response: Value) -> BTreeMap<String, Value> {
    let mut claims: BTreeMap<String, Value> = BTreeMap::new();
    claims.insert("email".into(), json!("ana@example.com"));
    claims.insert("email_verified".into(), json!(true));
    let Ok(o) = overrides(version, response) else {
        panic!("answer refused")
    };
    apply_id(&o, &mut claims);
    claims
}

#[test]
fn v1_adds_overrides_and_suppresses_id_claims() {
    let claims = id_claims_after(
        PreTokenVersion::V1,
        json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"tenant": "acme", "email": "other@example.com"},
            "claimsToSuppress": ["email_verified"]
        }}),
    );
    assert_eq!(claims.get("tenant"), Some(&json!("acme")));
    assert_eq!(claims.get("email"), Some(&json!("other@example.com")));
    assert!(!claims.contains_key("email_verified"));
}

#[test]
fn suppression_wins_over_an_addition_of_the_same_claim() {
    let claims = id_claims_after(
        PreTokenVersion::V1,
        json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"tenant": "acme"},
            "claimsToSuppress": ["tenant"]
        }}),
    );
    assert!(!claims.contains_key("tenant"));
}

#[test]
fn protected_claims_are_ignored_in_either_token() {
    for name in PROTECTED_CLAIMS.iter().chain(GROUP_CLAIMS) {
        let Ok(o) = overrides(
            PreTokenVersion::V2,
            json!({"claimsAndScopeOverrideDetails": {
                "idTokenGeneration": {"claimsToAddOrOverride": {*name: "x"}, "claimsToSuppress": [name]},
                "accessTokenGeneration": {"claimsToAddOrOverride": {*name: "x"}, "claimsToSuppress": [name]}
            }}),
        ) else {
            panic!("{name}: refused")
        };
        assert!(o.id_add.is_empty() && o.id_suppress.is_empty(), "{name}");
        assert!(
            o.access_add.is_empty() && o.access_suppress.is_empty(),
            "{name}"
        );
    }
    for name in PROTECTED_ACCESS_CLAIMS {
        let Ok(o) = overrides(
            PreTokenVersion::V2,
            json!({"claimsAndScopeOverrideDetails": {
                "accessTokenGeneration": {"claimsToAddOrOverride": {*name: "x"}, "claimsToSuppress": [name]}
            }}),
        ) else {
            panic!("{name}: refused")
        };
        assert!(
            o.access_add.is_empty() && o.access_suppress.is_empty(),
            "{name}"
        );
    }
}

#[test]
fn v1_ignores_the_v2_shape_and_v2_the_v1_shape() {
    let v2_shape = json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {"claimsToAddOrOverride": {"a": "b"}}}});
    assert_eq!(
        overrides(PreTokenVersion::V1, v2_shape),
        Ok(TokenOverrides::default())
    );
    let v1_shape = json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"a": "b"}}});
    assert_eq!(
        overrides(PreTokenVersion::V2, v1_shape),
        Ok(TokenOverrides::default())
    );
}

#[test]
fn empty_answers_change_nothing() {
    for response in [
        json!(null),
        json!({}),
        json!({"claimsOverrideDetails": null}),
    ] {
        assert_eq!(
            overrides(PreTokenVersion::V1, response),
            Ok(TokenOverrides::default())
        );
    }
}

#[test]
fn claim_values_by_version() {
    // V1: strings (numbers and booleans as text); lists and objects refused.
    let o = overrides(
        PreTokenVersion::V1,
        json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"n": 7, "b": true}}}),
    );
    assert_eq!(
        o.map(|o| o.id_add),
        Ok(BTreeMap::from([
            ("b".to_owned(), json!("true")),
            ("n".to_owned(), json!("7"))
        ]))
    );
    for value in [json!(["a"]), json!({"a": 1}), json!(null)] {
        assert!(
            overrides(
                PreTokenVersion::V1,
                json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"x": value}}})
            )
            .is_err()
        );
    }
    // V2: any JSON, except null, and scalars only for the ID token's verified flags,
    // updated_at and address.
    let o = overrides(
        PreTokenVersion::V2,
        json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {"claimsToAddOrOverride": {"roles": ["a", 1, true], "org": {"id": 7}}}}}),
    );
    assert_eq!(o.map(|o| o.id_add.len()), Ok(2));
    for name in ["email_verified", "updated_at", "address"] {
        assert!(
            overrides(
                PreTokenVersion::V2,
                json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {"claimsToAddOrOverride": {name: {"a": 1}}}}})
            )
            .is_err(),
            "{name}"
        );
    }
    assert!(
        overrides(
            PreTokenVersion::V2,
            json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"claimsToAddOrOverride": {"x": null}}}})
        )
        .is_err()
    );
}

#[test]
fn malformed_answers_are_refused() {
    let cases = [
        json!("text"),
        json!({"claimsOverrideDetails": []}),
        json!({"claimsOverrideDetails": {"claimsToAddOrOverride": []}}),
        json!({"claimsOverrideDetails": {"claimsToSuppress": "email"}}),
        json!({"claimsOverrideDetails": {"claimsToSuppress": [1]}}),
        json!({"claimsOverrideDetails": {"groupOverrideDetails": "admins"}}),
        json!({"claimsOverrideDetails": {"groupOverrideDetails": {"groupsToOverride": "admins"}}}),
        json!({"claimsOverrideDetails": {"groupOverrideDetails": {"preferredRole": 1}}}),
        json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"": "x"}}}),
    ];
    for response in cases {
        assert!(
            overrides(PreTokenVersion::V1, response.clone()).is_err(),
            "{response}"
        );
    }
    let too_many: serde_json::Map<String, Value> = (0..=MAX_ADDED_CLAIMS)
        .map(|i| (format!("c{i}"), json!("v")))
        .collect();
    assert!(
        overrides(
            PreTokenVersion::V1,
            json!({"claimsOverrideDetails": {"claimsToAddOrOverride": too_many}})
        )
        .is_err()
    );
    for scope in ["", "two words", "quote\"", "back\\slash"] {
        assert!(
            overrides(
                PreTokenVersion::V2,
                json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": [scope]}}})
            )
            .is_err(),
            "{scope:?}"
        );
    }
}

#[test]
fn group_override_replaces_keeps_or_removes() {
    let absent = overrides(PreTokenVersion::V1, json!({"claimsOverrideDetails": {}}));
    assert_eq!(absent.map(|o| o.groups), Ok(None));
    for empty in [json!(null), json!({})] {
        let o = overrides(
            PreTokenVersion::V1,
            json!({"claimsOverrideDetails": {"groupOverrideDetails": empty}}),
        );
        assert_eq!(o.map(|o| o.groups), Ok(Some(GroupConfiguration::default())));
    }
    let o = overrides(
        PreTokenVersion::V2,
        json!({"claimsAndScopeOverrideDetails": {"groupOverrideDetails": {
            "groupsToOverride": ["b", "a"],
            "iamRolesToOverride": ["arn:aws:iam::1:role/r"],
            "preferredRole": "arn:aws:iam::1:role/r"
        }}}),
    );
    assert_eq!(
        o.map(|o| o.groups),
        Ok(Some(GroupConfiguration {
            groups: vec!["b".into(), "a".into()],
            roles: vec!["arn:aws:iam::1:role/r".into()],
            preferred_role: Some("arn:aws:iam::1:role/r".into()),
        }))
    );
}

#[test]
fn scopes_are_added_once_and_suppression_wins() {
    let Ok(o) = overrides(
        PreTokenVersion::V2,
        json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {
            "scopesToAdd": ["tenant/acme", "openid", "tenant/acme", "gone"],
            "scopesToSuppress": ["aws.cognito.signin.user.admin", "gone"]
        }}}),
    ) else {
        panic!("refused")
    };
    assert_eq!(
        apply_scopes(&o, "openid aws.cognito.signin.user.admin"),
        "openid tenant/acme"
    );
}

#[test]
fn event_request_by_version() {
    let attributes = json!({"email": "a@example.com"});
    let groups = GroupConfiguration {
        groups: vec!["admins".into()],
        roles: vec![],
        preferred_role: None,
    };
    let scopes = vec!["openid".to_owned()];
    let metadata = BTreeMap::new();
    let v1 = request(
        PreTokenVersion::V1,
        attributes.clone(),
        &groups,
        &scopes,
        &metadata,
    );
    assert_eq!(
        v1,
        json!({
            "userAttributes": {"email": "a@example.com"},
            "groupConfiguration": {"groupsToOverride": ["admins"], "iamRolesToOverride": [], "preferredRole": null},
            "clientMetadata": {}
        })
    );
    let v2 = request(
        PreTokenVersion::V2,
        attributes.clone(),
        &groups,
        &scopes,
        &metadata,
    );
    assert_eq!(v2.get("scopes"), Some(&json!(["openid"])));
}

#[test]
fn trigger_sources_use_cognito_names() {
    let sources = [
        (TokenSource::HostedAuth, "TokenGeneration_HostedAuth"),
        (
            TokenSource::Authentication,
            "TokenGeneration_Authentication",
        ),
        (
            TokenSource::NewPasswordChallenge,
            "TokenGeneration_NewPasswordChallenge",
        ),
        (
            TokenSource::AuthenticateDevice,
            "TokenGeneration_AuthenticateDevice",
        ),
        (TokenSource::RefreshTokens, "TokenGeneration_RefreshTokens"),
    ];
    for (source, name) in sources {
        assert_eq!(source.trigger_source(), name);
    }
}

#[test]
fn an_answer_that_would_make_a_token_too_long_to_verify_is_refused() {
    // One claim is enough to push a token past what the verifiers read
    // (`tokens::MAX_TOKEN_LEN`): the answer is refused before anything is stored or signed.
    let big = "x".repeat(crate::tokens::MAX_TOKEN_LEN);
    for (version, response) in [
        (
            PreTokenVersion::V1,
            json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"blob": big}}}),
        ),
        (
            PreTokenVersion::V2,
            json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"claimsToAddOrOverride": {"blob": {"nested": big}}}}}),
        ),
        (
            PreTokenVersion::V2,
            json!({"claimsAndScopeOverrideDetails": {"groupOverrideDetails": {"groupsToOverride": [big]}}}),
        ),
    ] {
        let err = overrides(version, response).unwrap_err();
        assert!(err.0.contains("bytes"), "{err}");
    }
    // An answer within the bound is taken.
    let fits = "x".repeat(MAX_ANSWER_BYTES / 2);
    assert!(
        overrides(
            PreTokenVersion::V1,
            json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"blob": fits}}}),
        )
        .is_ok()
    );
}
