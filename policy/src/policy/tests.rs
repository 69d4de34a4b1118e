//! The compiler's errors and warnings, one case per rule, and properties of compiled policies.

use proptest::prelude::*;

use super::*;
use crate::error::codes;
use crate::validate;

/// Parses and returns the (code, pointer) of every error.
fn errors(text: &str) -> Vec<(&'static str, String)> {
    match Policy::parse(text) {
        Ok(_) => Vec::new(),
        Err(PolicyError::Invalid { findings }) => {
            assert!(findings.iter().all(|f| f.severity == Severity::Error));
            findings.into_iter().map(|f| (f.code, f.pointer)).collect()
        }
        Err(other) => other
            .findings()
            .into_iter()
            .map(|f| (f.code, f.pointer))
            .collect(),
    }
}

fn warnings(text: &str) -> Vec<(&'static str, String)> {
    validate(text)
        .into_iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| (f.code, f.pointer))
        .collect()
}

fn doc(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}

fn e(code: &'static str, pointer: &str) -> (&'static str, String) {
    (code, pointer.to_owned())
}

#[test]
fn accepts_the_usual_shapes() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    )
    .unwrap();
    assert_eq!(p.version(), Version::V2012_10_17);
    assert_eq!(p.id(), Some("x"));
    assert_eq!(p.statements().len(), 1);
    assert_eq!(p.statements()[0].sid(), Some("A"));
    assert_eq!(p.statements()[0].effect(), Effect::Allow);
    let p = Policy::parse(r#"{"Statement":[{"Effect":"Deny","NotAction":["s3:*"],"NotResource":"arn:aws:s3:::b/*"}]}"#).unwrap();
    assert_eq!(p.version(), Version::V2008_10_17);
    assert!(!p.has_explicit_version());
    // Trust policy: Principal, no Resource.
    Policy::parse(&doc(r#"{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:pool"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}"#)).unwrap();
    // Values as numbers and booleans.
    Policy::parse(&doc(r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}"#)).unwrap();
    let v = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]});
    assert_eq!(Policy::from_value(&v).unwrap().statements().len(), 1);
}

#[test]
fn errors_point_at_the_problem() {
    let cases: Vec<(String, Vec<(&'static str, String)>)> = vec![
        ("[]".into(), vec![e(codes::INVALID_TYPE, "")]),
        ("{".into(), vec![e(codes::JSON_SYNTAX, "")]),
        (
            r#"{"Version":"2012-10-17"}"#.into(),
            vec![e(codes::MISSING_STATEMENT, "")],
        ),
        (
            r#"{"Version":"2012-10-18","Statement":[]}"#.into(),
            vec![
                e(codes::UNKNOWN_VERSION, "/Version"),
                e(codes::EMPTY_STATEMENT, "/Statement"),
            ],
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#.into(),
            vec![
                e(codes::UNKNOWN_KEY, "/Extra"),
                e(codes::EMPTY_STATEMENT, "/Statement"),
            ],
        ),
        (
            doc(r#"{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}"#),
            vec![e(codes::INVALID_EFFECT, "/Statement/0/Effect")],
        ),
        (
            doc(r#"{"Action":"s3:GetObject","Resource":"*"}"#),
            vec![e(codes::MISSING_EFFECT, "/Statement/0")],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}"#,
            ),
            vec![e(codes::ACTION_AND_NOT_ACTION, "/Statement/0")],
        ),
        (
            doc(r#"{"Effect":"Allow","Resource":"*"}"#),
            vec![e(codes::MISSING_ACTION, "/Statement/0")],
        ),
        (
            doc(r#"{"Effect":"Allow","Action":"s3:GetObject"}"#),
            vec![e(codes::MISSING_RESOURCE, "/Statement/0")],
        ),
        (
            doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","NotResource":"*"}"#),
            vec![e(codes::RESOURCE_AND_NOT_RESOURCE, "/Statement/0")],
        ),
        (
            doc(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
            vec![e(codes::EMPTY_LIST, "/Statement/0/Action")],
        ),
        (
            doc(r#"{"Effect":"Allow","Action":["s3:GetObject",3],"Resource":"*"}"#),
            vec![e(codes::INVALID_TYPE, "/Statement/0/Action/1")],
        ),
        (
            doc(r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#),
            vec![e(codes::MALFORMED_ACTION, "/Statement/0/Action")],
        ),
        (
            doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":["*","bucket"]}"#),
            vec![e(codes::MALFORMED_ARN, "/Statement/0/Resource/1")],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username"}"#,
            ),
            vec![e(codes::MALFORMED_VARIABLE, "/Statement/0/Resource")],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}"#,
            ),
            vec![e(
                codes::UNKNOWN_OPERATOR,
                "/Statement/0/Condition/StringEqualz",
            )],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":["2020-01-01","soon"]}}}"#,
            ),
            vec![e(
                codes::INVALID_CONDITION_VALUE,
                "/Statement/0/Condition/DateLessThan/aws:CurrentTime/1",
            )],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}}"#,
            ),
            vec![e(
                codes::INVALID_CONDITION_VALUE,
                "/Statement/0/Condition/IpAddress/aws:SourceIp",
            )],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"a/b~c":null}}}"#,
            ),
            vec![e(
                codes::INVALID_CONDITION_VALUE,
                "/Statement/0/Condition/StringEquals/a~1b~0c",
            )],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"a":[]}}}"#,
            ),
            vec![e(
                codes::EMPTY_LIST,
                "/Statement/0/Condition/StringEquals/a",
            )],
        ),
        (
            doc(
                r#"{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#,
            ),
            vec![e(codes::DUPLICATE_SID, "/Statement/1/Sid")],
        ),
        (
            doc(r#"{"Effect":"Allow","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#),
            vec![e(codes::DUPLICATE_KEY, "/Statement/0/Effect")],
        ),
        (
            doc(r#"{"effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#),
            vec![
                e(codes::UNKNOWN_KEY, "/Statement/0/effect"),
                e(codes::MISSING_EFFECT, "/Statement/0"),
            ],
        ),
        (
            doc(
                r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/*"},"Action":"s3:GetObject"}"#,
            ),
            vec![e(codes::MALFORMED_PRINCIPAL, "/Statement/0/Principal/AWS")],
        ),
        (
            doc(r#"{"Effect":"Allow","Principal":{"Aws":"*"},"Action":"s3:GetObject"}"#),
            vec![e(
                codes::UNKNOWN_PRINCIPAL_TYPE,
                "/Statement/0/Principal/Aws",
            )],
        ),
        (
            doc(r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:GetObject"}"#),
            vec![e(codes::PRINCIPAL_AND_NOT_PRINCIPAL, "/Statement/0")],
        ),
        (
            doc(r#"{"Effect":"Allow","Principal":"me","Action":"s3:GetObject"}"#),
            vec![e(codes::INVALID_TYPE, "/Statement/0/Principal")],
        ),
        (doc(r#"42"#), vec![e(codes::INVALID_TYPE, "/Statement/0")]),
    ];
    for (text, expected) in cases {
        assert_eq!(errors(&text), expected, "{text}");
    }
    let err = Policy::parse(&doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"stringEquals":{"a":"b"}}}"#)).unwrap_err();
    assert!(
        err.to_string().contains("did you mean `StringEquals`"),
        "{err}"
    );
}

#[test]
fn reviewer_warnings() {
    let leading = r#"{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query","dynamodb:Scan"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/T","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${cognito-identity.amazonaws.com:sub}"]}}}"#;
    assert_eq!(
        warnings(&doc(leading)),
        vec![e(
            codes::LEADING_KEYS_WITHOUT_NULL_GUARD,
            "/Statement/0/Condition/ForAllValues:StringEquals/dynamodb:LeadingKeys"
        )]
    );
    let guarded = r#"{"Effect":"Allow","Action":["dynamodb:*"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/T","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${cognito-identity.amazonaws.com:sub}"]},"Null":{"dynamodb:LeadingKeys":"false"}}}"#;
    assert_eq!(warnings(&doc(guarded)), vec![]);
    let no_scan = r#"{"Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/T","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["x"]}}}"#;
    assert_eq!(warnings(&doc(no_scan)), vec![]);
    let scan_elsewhere = format!(
        r#"{no_scan},{{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/Other"}}"#
    );
    assert_eq!(warnings(&doc(&scan_elsewhere)).len(), 1);

    let cases = [
        (
            r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#,
            vec![e(
                codes::ALLOW_NOT_ACTION_ALL_RESOURCES,
                "/Statement/0/NotAction",
            )],
        ),
        (
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            vec![e(codes::ALLOW_ALL, "/Statement/0")],
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"a"}}}"#,
            vec![e(
                codes::FOR_ANY_VALUE_NEGATED,
                "/Statement/0/Condition/ForAnyValue:StringNotEquals",
            )],
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThanIfExists":{"aws:CurrentTime":"2030-01-01"}}}"#,
            vec![e(
                codes::IF_EXISTS_ON_ALWAYS_PRESENT_KEY,
                "/Statement/0/Condition/DateLessThanIfExists/aws:CurrentTime",
            )],
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringLike":{"s3:prefix":["home/","home/*"]}}}"#,
            vec![e(
                codes::STRING_LIKE_WITHOUT_WILDCARD,
                "/Statement/0/Condition/StringLike/s3:prefix/0",
            )],
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIpp":"x"}}}"#,
            vec![e(
                codes::UNKNOWN_GLOBAL_KEY,
                "/Statement/0/Condition/StringEquals/aws:SourceIpp",
            )],
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}}"#,
            vec![e(
                codes::FOR_ALL_VALUES_WITHOUT_NULL_GUARD,
                "/Statement/0/Condition/ForAllValues:StringEquals/aws:TagKeys",
            )],
        ),
        (
            r#"{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"s3:*"}"#,
            vec![e(
                codes::NOT_PRINCIPAL_WITH_ALLOW,
                "/Statement/0/NotPrincipal",
            )],
        ),
        (
            r#"{"Sid":"my sid","Effect":"Deny","Action":"s3:*","Resource":"*"}"#,
            vec![e(codes::SID_NOT_ALPHANUMERIC, "/Statement/0/Sid")],
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:${aws:username}","Resource":"*"}"#,
            vec![e(codes::VARIABLE_IN_ACTION, "/Statement/0/Action")],
        ),
    ];
    for (statement, expected) in cases {
        assert_eq!(warnings(&doc(statement)), expected, "{statement}");
    }
    let old = r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}}"#;
    assert_eq!(
        warnings(old),
        vec![
            e(codes::MISSING_VERSION, ""),
            e(codes::VARIABLE_IN_2008_POLICY, "/Statement/Resource")
        ]
    );
    // Warnings never make parse fail.
    assert!(Policy::parse(old).is_ok());
}

#[test]
fn principals() {
    let p = Policy::parse(&doc(r#"{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::210987654321:role/path/Reader"],"Service":"lambda.amazonaws.com"},"Action":"s3:GetObject"}"#)).unwrap();
    let s = &p.statements()[0];
    let ctx = Context::new();
    let check = |who: Option<Principal>, expected: bool| {
        let r = Request {
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/k",
            principal: who.as_ref(),
            context: &ctx,
        };
        assert_eq!(s.applies(&r), expected, "{who:?}");
    };
    check(Some(Principal::Aws("123456789012".into())), true);
    check(
        Some(Principal::Aws(
            "arn:aws:iam::123456789012:user/alice".into(),
        )),
        true,
    );
    check(
        Some(Principal::Aws(
            "arn:aws:iam::999999999999:user/alice".into(),
        )),
        false,
    );
    check(
        Some(Principal::Aws(
            "arn:aws:iam::210987654321:role/path/Reader".into(),
        )),
        true,
    );
    check(
        Some(Principal::Aws(
            "arn:aws:sts::210987654321:assumed-role/Reader/session".into(),
        )),
        true,
    );
    check(
        Some(Principal::Aws(
            "arn:aws:sts::210987654321:assumed-role/Writer/session".into(),
        )),
        false,
    );
    check(
        Some(Principal::Service("lambda.amazonaws.com".into())),
        true,
    );
    check(Some(Principal::Service("ec2.amazonaws.com".into())), false);
    check(Some(Principal::Anonymous), false);
    check(None, false);
    let p = Policy::parse(&doc(
        r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject"}"#,
    ))
    .unwrap();
    let r = Request {
        action: "s3:getobject",
        resource: "x",
        principal: Some(&Principal::Anonymous),
        context: &ctx,
    };
    assert!(p.statements()[0].applies(&r));
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        prop_oneof![
            Just("*".to_owned()),
            Just("Allow".to_owned()),
            Just("2012-10-17".to_owned()),
            Just("s3:GetObject".to_owned()),
            Just("arn:aws:s3:::b/${aws:username}/*".to_owned()),
            Just("${".to_owned()),
            "[a-zA-Z0-9:*?${}/' ,.-]{0,16}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        let key = prop_oneof![
            Just("Version".to_owned()),
            Just("Statement".to_owned()),
            Just("Effect".to_owned()),
            Just("Action".to_owned()),
            Just("NotAction".to_owned()),
            Just("Resource".to_owned()),
            Just("Principal".to_owned()),
            Just("AWS".to_owned()),
            Just("Condition".to_owned()),
            Just("ForAllValues:StringLike".to_owned()),
            Just("IpAddressIfExists".to_owned()),
            Just("Null".to_owned()),
            Just("DateLessThan".to_owned()),
            "[A-Za-z:]{1,12}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parse_never_panics_on_json_values(value in json_value()) {
        let text = value.to_string();
        let parsed = Policy::parse(&text);
        let from_value = Policy::from_value(&value);
        prop_assert_eq!(parsed.is_ok(), from_value.is_ok());
        let findings = validate(&text);
        prop_assert_eq!(
            parsed.is_err(),
            findings.iter().any(|f| f.severity == Severity::Error)
        );
        if let Ok(policy) = parsed {
            let ctx = Context::new().with("aws:username", "a*").with("k", "v");
            let r = Request { action: "s3:GetObject", resource: "arn:aws:s3:::b/a*/x", principal: None, context: &ctx };
            let set = crate::PolicySet { identity: vec![&policy], ..Default::default() };
            let _ = crate::evaluate(&set, &r);
        }
    }

    #[test]
    fn parse_never_panics_on_policy_shaped_documents(
        effect in prop_oneof![Just("Allow"), Just("Deny"), Just("allow")],
        actions in prop::collection::vec("(\\*|[a-z]{1,4}:[A-Za-z*?]{0,6}|[a-z*]{0,3})", 0..3),
        resources in prop::collection::vec("(\\*|arn:aws:[a-z*]{0,3}:[a-z0-9-]{0,4}:[0-9*]{0,3}:[a-z/*?${}:]{0,12}|[a-z:]{0,8})", 0..3),
        op in "(ForAllValues:|ForAnyValue:)?(String|Numeric|Date|Arn|Ip|Binary)(Equals|NotEquals|Like|LessThan|Address)?(IfExists)?|Bool|Null",
        value in "[0-9a-zA-Z:/.*?${}'=, -]{0,20}",
    ) {
        let doc = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": effect,
                "Action": actions,
                "Resource": resources,
                "Condition": { op: { "k": value } },
            }],
        });
        let text = doc.to_string();
        if let Ok(policy) = Policy::parse(&text) {
            let ctx = Context::new().with("k", "v").with("k", "2020-01-01");
            let r = Request { action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: None, context: &ctx };
            let set = crate::PolicySet { identity: vec![&policy], ..Default::default() };
            let _ = crate::evaluate(&set, &r);
        }
        let _ = validate(&text);
    }
}
