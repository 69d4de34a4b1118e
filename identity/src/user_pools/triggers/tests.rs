//! `LambdaConfig` read into triggers (each member, each refusal), the event envelope, and
//! failed calls and answers as Cognito reports them.

use serde_json::json;

use super::*;

const A: &str = "arn:aws:lambda:us-east-1:123456789012:function:a";
const B: &str = "arn:aws:lambda:us-east-1:123456789012:function:b";

fn check(config: Value, expected: Result<Triggers, &str>) {
    let got = Triggers::parse(Some(&config));
    match (got, expected) {
        (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{config}"),
        (Err(UserPoolError::InvalidParameter(message)), Err(part)) => {
            assert!(message.contains(part), "{config}: {message}");
        }
        (got, expected) => panic!("{config}: got {got:?}, expected {expected:?}"),
    }
}

#[test]
fn lambda_config_members() {
    let every = json!({
        "PreSignUp": A, "CustomMessage": A, "PostConfirmation": A, "PreAuthentication": A,
        "PostAuthentication": A, "DefineAuthChallenge": A, "CreateAuthChallenge": A,
        "VerifyAuthChallengeResponse": A, "PreTokenGeneration": B, "UserMigration": A,
        "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": B},
        "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": A},
        "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": B},
        "KMSKeyID": "arn:aws:kms:us-east-1:123456789012:key/k"
    });
    let parsed = Triggers::parse(Some(&every)).unwrap();
    assert_eq!(parsed.all().len(), 12, "every trigger is read");
    assert_eq!(parsed.pre_token_generation_version, PreTokenVersion::V2);
    assert_eq!(parsed.arn(TriggerKind::CustomEmailSender), Some(B));
    assert_eq!(parsed.arn(TriggerKind::PreTokenGeneration), Some(B));

    let cases: Vec<(&str, Value, Result<Triggers, &str>)> = vec![
        ("no config", json!({}), Ok(Triggers::default())),
        (
            "null members are unset",
            json!({"PreSignUp": null}),
            Ok(Triggers::default()),
        ),
        (
            "one trigger",
            json!({"PreSignUp": A}),
            Ok(Triggers {
                pre_sign_up: Some(A.into()),
                ..Triggers::default()
            }),
        ),
        (
            "PreTokenGeneration alone is V1_0",
            json!({"PreTokenGeneration": A}),
            Ok(Triggers {
                pre_token_generation: Some(A.into()),
                ..Triggers::default()
            }),
        ),
        (
            "PreTokenGenerationConfig alone",
            json!({"PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": A}}),
            Ok(Triggers {
                pre_token_generation: Some(A.into()),
                pre_token_generation_version: PreTokenVersion::V3,
                ..Triggers::default()
            }),
        ),
        (
            "the two PreTokenGeneration ARNs must agree",
            json!({"PreTokenGeneration": A, "PreTokenGenerationConfig": {"LambdaVersion": "V1_0", "LambdaArn": B}}),
            Err("must be the same"),
        ),
        (
            "unknown PreTokenGeneration version",
            json!({"PreTokenGenerationConfig": {"LambdaVersion": "V9_0", "LambdaArn": A}}),
            Err("lambdaConfig.preTokenGenerationConfig.lambdaVersion"),
        ),
        (
            "a versioned member needs both fields",
            json!({"PreTokenGenerationConfig": {"LambdaArn": A}}),
            Err("LambdaVersion and LambdaArn"),
        ),
        (
            "a sender needs the KMS key",
            json!({"CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": A}}),
            Err("KMSKeyID is required"),
        ),
        (
            "sender versions are V1_0 only",
            json!({"CustomEmailSender": {"LambdaVersion": "V2_0", "LambdaArn": A}, "KMSKeyID": "k"}),
            Err("lambdaConfig.customEmailSender.lambdaVersion"),
        ),
        (
            "not a Lambda ARN",
            json!({"PreSignUp": "arn:aws:s3:::bucket"}),
            Err("lambdaConfig.preSignUp"),
        ),
        (
            "not a string",
            json!({"PostConfirmation": 7}),
            Err("lambdaConfig.postConfirmation"),
        ),
        (
            "a misspelt member",
            json!({"PreSignup": A}),
            Err("`PreSignup`"),
        ),
        (
            "too large",
            json!({"KMSKeyID": "k".repeat(MAX_LAMBDA_CONFIG_BYTES)}),
            Err("at most"),
        ),
    ];
    for (rule, config, expected) in cases {
        eprintln!("{rule}");
        check(config, expected);
    }
    assert!(matches!(
        Triggers::parse(Some(&json!([A]))),
        Err(UserPoolError::InvalidParameter(_))
    ));
}

#[test]
fn event_envelope_has_cognitos_common_members() {
    let event = TriggerEvent::new(
        "PreSignUp_SignUp",
        "alice",
        Some("client1"),
        json!({"userAttributes": {"email": "a@example.com"}}),
    )
    .with_response(json!({"autoConfirmUser": false}));
    assert_eq!(
        event.to_json("eu-west-1", "eu-west-1_abc"),
        json!({
            "version": "1",
            "region": "eu-west-1",
            "userPoolId": "eu-west-1_abc",
            "triggerSource": "PreSignUp_SignUp",
            "userName": "alice",
            "callerContext": {"awsSdkVersion": AWS_SDK_VERSION, "clientId": "client1"},
            "request": {"userAttributes": {"email": "a@example.com"}},
            "response": {"autoConfirmUser": false}
        })
    );
    let admin = TriggerEvent::new("PreSignUp_AdminCreateUser", "bob", None, json!({}))
        .with_version("2")
        .to_json("us-east-1", "us-east-1_x");
    assert_eq!(admin["callerContext"]["clientId"], CLIENT_ID_NOT_APPLICABLE);
    assert_eq!(admin["version"], "2");
    assert_eq!(admin["response"], json!({}));
}

#[test]
fn failed_calls_as_cognito_reports_them() {
    let arn = || A.to_owned();
    let cases: Vec<(FunctionError, &str, &str)> = vec![
        (
            FunctionError::Failed {
                arn: arn(),
                status: 500,
                error_type: Some("Error".into()),
                error_message: Some("Invalid email domain".into()),
            },
            "UserLambdaValidation",
            "PreSignUp failed with error Invalid email domain.",
        ),
        (
            FunctionError::Failed {
                arn: arn(),
                status: 502,
                error_type: None,
                error_message: None,
            },
            "UserLambdaValidation",
            "PreSignUp failed with error Unhandled.",
        ),
        (
            FunctionError::Timeout {
                arn: arn(),
                timeout_ms: 5000,
            },
            "UnexpectedLambda",
            "PreSignUp invocation failed due to error Socket timeout while invoking Lambda function.",
        ),
        (
            FunctionError::Unreachable {
                arn: arn(),
                attempts: 3,
                reason: "refused by 10.0.0.1".into(),
            },
            "UnexpectedLambda",
            "PreSignUp invocation failed due to error ServiceException.",
        ),
        (
            FunctionError::Transport {
                arn: arn(),
                reason: "reset".into(),
            },
            "UnexpectedLambda",
            "PreSignUp invocation failed due to error ServiceException.",
        ),
        (
            FunctionError::NotRegistered { arn: arn() },
            "UnexpectedLambda",
            "PreSignUp invocation failed due to error ResourceNotFoundException.",
        ),
        (
            FunctionError::InvalidArn { arn: arn() },
            "UnexpectedLambda",
            "PreSignUp invocation failed due to error ResourceNotFoundException.",
        ),
        (
            FunctionError::EventTooLarge {
                arn: arn(),
                limit: 1,
            },
            "UnexpectedLambda",
            "PreSignUp invocation failed due to error RequestTooLargeException.",
        ),
        (
            FunctionError::NotJson { arn: arn() },
            "InvalidLambdaResponse",
            "Invalid lambda function output : Invalid JSON",
        ),
        (
            FunctionError::AnswerTooLarge {
                arn: arn(),
                limit: 1,
            },
            "InvalidLambdaResponse",
            "Invalid lambda function output : Invalid JSON",
        ),
    ];
    for (error, variant, message) in cases {
        let mapped = trigger_error(TriggerKind::PreSignUp, &error);
        let (got_variant, got_message) = match &mapped {
            UserPoolError::UserLambdaValidation(m) => ("UserLambdaValidation", m),
            UserPoolError::UnexpectedLambda(m) => ("UnexpectedLambda", m),
            UserPoolError::InvalidLambdaResponse(m) => ("InvalidLambdaResponse", m),
            other => panic!("{error:?} became {other:?}"),
        };
        assert_eq!((got_variant, got_message.as_str()), (variant, message));
        assert!(
            !got_message.contains("10.0.0.1"),
            "internal causes stay out of the message"
        );
    }
    assert_eq!(
        trigger_error(
            TriggerKind::CustomEmailSender,
            &FunctionError::Failed {
                arn: arn(),
                status: 400,
                error_type: None,
                error_message: Some("no".into())
            }
        )
        .to_string(),
        "CustomEmailSender failed with error no."
    );
}

#[test]
fn answers_must_be_the_event() {
    let response = |answer: Value| trigger_response(TriggerKind::PreSignUp, A, answer);
    assert_eq!(
        response(json!({"response": {"autoConfirmUser": true}})).unwrap(),
        json!({"autoConfirmUser": true})
            .as_object()
            .unwrap()
            .clone()
    );
    assert!(response(json!({"response": null})).unwrap().is_empty());
    assert!(response(json!({"version": "1"})).unwrap().is_empty());
    for bad in [
        json!("event"),
        json!([1]),
        json!(null),
        json!({"response": "yes"}),
        json!({"response": [1]}),
    ] {
        assert!(
            matches!(response(bad.clone()), Err(UserPoolError::InvalidLambdaResponse(m)) if m == "Unrecognizable lambda output"),
            "{bad}"
        );
    }
}
