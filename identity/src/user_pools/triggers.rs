//! The pool's Lambda triggers: `LambdaConfig` (kept as given among the pool's stored-only
//! members, so DescribeUserPool returns it unchanged) read into [`Triggers`], the event
//! envelope every trigger receives ([`TriggerEvent`]) and the one call path
//! ([`UserPools::run_trigger`]) that sends it to the function registry and turns a failure
//! into Cognito's error.
//!
//! Cognito's errors for a trigger, by what went wrong (docs/functions.md has the table):
//! - the function failed (non-2xx, `X-Amz-Function-Error`): `UserLambdaValidationException`,
//!   "`{Trigger}` failed with error `{errorMessage}`." — the function's message reaches the
//!   client, which is how a PreSignUp rejection is shown to the user;
//! - it could not be called or did not answer in time: `UnexpectedLambdaException`,
//!   "`{Trigger}` invocation failed due to error `{reason}`.";
//! - its answer is not JSON, or not an event with a `response` object:
//!   `InvalidLambdaResponseException`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{User, UserPool, UserPoolError, UserPools};
use crate::functions::{FunctionArn, FunctionError};

/// The largest `LambdaConfig` accepted (its JSON text): a dozen ARNs fit many times over.
pub const MAX_LAMBDA_CONFIG_BYTES: usize = 8 * 1024;

/// Every trigger a pool can name, by its `LambdaConfig` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TriggerKind {
    PreSignUp,
    CustomMessage,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
    PreTokenGeneration,
    UserMigration,
    CustomSmsSender,
    CustomEmailSender,
}

/// `PreTokenGenerationConfig.LambdaVersion`: which event the trigger receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreTokenVersion {
    /// ID token claims and groups only (the event of `PreTokenGeneration` alone).
    #[default]
    V1,
    /// Also the access token's claims and scopes.
    V2,
    /// V2, also for machine-to-machine (client credentials) tokens.
    V3,
}

/// A trigger's function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// The function ARN as the pool names it.
    pub arn: String,
}

/// The pool's `LambdaConfig`, read and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Triggers {
    pub pre_sign_up: Option<String>,
    pub custom_message: Option<String>,
    pub post_confirmation: Option<String>,
    pub pre_authentication: Option<String>,
    pub post_authentication: Option<String>,
    pub define_auth_challenge: Option<String>,
    pub create_auth_challenge: Option<String>,
    pub verify_auth_challenge_response: Option<String>,
    /// `PreTokenGenerationConfig.LambdaArn`, else `PreTokenGeneration`.
    pub pre_token_generation: Option<String>,
    /// `PreTokenGenerationConfig.LambdaVersion` (V1 when only `PreTokenGeneration` is given).
    pub pre_token_generation_version: PreTokenVersion,
    pub user_migration: Option<String>,
    /// `CustomSMSSender.LambdaArn` (its `LambdaVersion` is `V1_0`, the only one).
    pub custom_sms_sender: Option<String>,
    /// `CustomEmailSender.LambdaArn` (its `LambdaVersion` is `V1_0`, the only one).
    pub custom_email_sender: Option<String>,
    /// `KMSKeyID`: the key Cognito encrypts the sender triggers' codes with. gatehouse keeps
    /// it as given and seals codes its own way (see docs/functions.md).
    pub kms_key_id: Option<String>,
}

/// The event a trigger receives, before the pool-wide members are added: Cognito's common
/// envelope is `version`, `region`, `userPoolId`, `triggerSource`, `userName`,
/// `callerContext {awsSdkVersion, clientId}`, `request`, `response`.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEvent {
    /// `"1"` for every trigger but PreTokenGeneration V2/V3 (`"2"`, `"3"`).
    pub version: &'static str,
    /// The `triggerSource`, e.g. `PreSignUp_SignUp`.
    pub trigger_source: String,
    pub user_name: String,
    /// The app client of the request; `None` for operator requests (Cognito sends
    /// `CLIENT_ID_NOT_APPLICABLE`).
    pub client_id: Option<String>,
    pub request: Value,
    /// The response's members with Cognito's initial values (e.g. PreSignUp's three flags
    /// `false`); the function answers the event back with them set.
    pub response: Value,
}

/// `callerContext.clientId` when the request had no app client (operator requests).
pub const CLIENT_ID_NOT_APPLICABLE: &str = "CLIENT_ID_NOT_APPLICABLE";
/// `callerContext.awsSdkVersion`: Cognito's value when it cannot tell the caller's SDK.
pub const AWS_SDK_VERSION: &str = "aws-sdk-unknown-unknown";

// === impl TriggerKind ===

impl TriggerKind {
    /// Every kind, in `LambdaConfig` order.
    pub const ALL: [Self; 12] = [
        Self::PreSignUp,
        Self::CustomMessage,
        Self::PostConfirmation,
        Self::PreAuthentication,
        Self::PostAuthentication,
        Self::DefineAuthChallenge,
        Self::CreateAuthChallenge,
        Self::VerifyAuthChallengeResponse,
        Self::PreTokenGeneration,
        Self::UserMigration,
        Self::CustomSmsSender,
        Self::CustomEmailSender,
    ];

    /// The trigger's name as Cognito's error messages give it (and its `LambdaConfig`
    /// member, except the two senders: `CustomSMSSender`, `CustomEmailSender`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PreSignUp => "PreSignUp",
            Self::CustomMessage => "CustomMessage",
            Self::PostConfirmation => "PostConfirmation",
            Self::PreAuthentication => "PreAuthentication",
            Self::PostAuthentication => "PostAuthentication",
            Self::DefineAuthChallenge => "DefineAuthChallenge",
            Self::CreateAuthChallenge => "CreateAuthChallenge",
            Self::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
            Self::PreTokenGeneration => "PreTokenGeneration",
            Self::UserMigration => "UserMigration",
            Self::CustomSmsSender => "CustomSMSSender",
            Self::CustomEmailSender => "CustomEmailSender",
        }
    }
}

// === impl PreTokenVersion ===

impl PreTokenVersion {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "V1_0" => Some(Self::V1),
            "V2_0" => Some(Self::V2),
            "V3_0" => Some(Self::V3),
            _ => None,
        }
    }

    /// The event's `version`.
    pub fn event_version(self) -> &'static str {
        match self {
            Self::V1 => "1",
            Self::V2 => "2",
            Self::V3 => "3",
        }
    }
}

// === impl Triggers ===

impl Triggers {
    /// Reads a `LambdaConfig` value (`None`: the pool has none). Every member is checked:
    /// ARNs must be Lambda function ARNs, versions one Cognito knows; unknown members are
    /// refused (a misspelt trigger would otherwise be silently never called).
    pub fn parse(config: Option<&Value>) -> Result<Self, UserPoolError> {
        let object = match config {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(object)) => object,
            Some(_) => return Err(UserPoolError::invalid("LambdaConfig must be an object")),
        };
        if serde_json::to_string(object).map_or(0, |s| s.len()) > MAX_LAMBDA_CONFIG_BYTES {
            return Err(UserPoolError::invalid(format!(
                "LambdaConfig must be at most {MAX_LAMBDA_CONFIG_BYTES} bytes"
            )));
        }
        let mut t = Self::default();
        let mut pre_token_plain = None;
        let mut pre_token_config = None;
        for (member, value) in object {
            let path = format!("lambdaConfig.{}", lower_first(member));
            match member.as_str() {
                "PreSignUp" => t.pre_sign_up = arn_member(value, &path)?,
                "CustomMessage" => t.custom_message = arn_member(value, &path)?,
                "PostConfirmation" => t.post_confirmation = arn_member(value, &path)?,
                "PreAuthentication" => t.pre_authentication = arn_member(value, &path)?,
                "PostAuthentication" => t.post_authentication = arn_member(value, &path)?,
                "DefineAuthChallenge" => t.define_auth_challenge = arn_member(value, &path)?,
                "CreateAuthChallenge" => t.create_auth_challenge = arn_member(value, &path)?,
                "VerifyAuthChallengeResponse" => {
                    t.verify_auth_challenge_response = arn_member(value, &path)?;
                }
                "PreTokenGeneration" => pre_token_plain = arn_member(value, &path)?,
                "UserMigration" => t.user_migration = arn_member(value, &path)?,
                "PreTokenGenerationConfig" => {
                    pre_token_config =
                        versioned_member(value, &path, |v| PreTokenVersion::parse(v).is_some())?;
                }
                "CustomSMSSender" => {
                    t.custom_sms_sender =
                        versioned_member(value, &path, |v| v == "V1_0")?.map(|(_, arn)| arn);
                }
                "CustomEmailSender" => {
                    t.custom_email_sender =
                        versioned_member(value, &path, |v| v == "V1_0")?.map(|(_, arn)| arn);
                }
                "KMSKeyID" => {
                    t.kms_key_id = match value {
                        Value::Null => None,
                        Value::String(s) if (1..=2048).contains(&s.len()) => Some(s.clone()),
                        _ => {
                            return Err(UserPoolError::invalid(format!(
                                "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must be a key ARN or id of 1 to 2048 characters"
                            )));
                        }
                    };
                }
                other => {
                    return Err(UserPoolError::invalid(format!(
                        "LambdaConfig has no member `{other}`"
                    )));
                }
            }
        }
        match (pre_token_plain, pre_token_config) {
            (Some(plain), Some((_, arn))) if plain != arn => {
                return Err(UserPoolError::invalid(
                    "The Lambda ARN in PreTokenGeneration and in PreTokenGenerationConfig must be the same.",
                ));
            }
            (_, Some((version, arn))) => {
                t.pre_token_generation = Some(arn);
                t.pre_token_generation_version =
                    PreTokenVersion::parse(&version).unwrap_or_default();
            }
            (Some(plain), None) => t.pre_token_generation = Some(plain),
            (None, None) => {}
        }
        if (t.custom_email_sender.is_some() || t.custom_sms_sender.is_some())
            && t.kms_key_id.is_none()
        {
            return Err(UserPoolError::invalid(
                "KMSKeyID is required when CustomEmailSender or CustomSMSSender is set.",
            ));
        }
        Ok(t)
    }

    /// The function of `kind`, if the pool has one.
    pub fn arn(&self, kind: TriggerKind) -> Option<&str> {
        match kind {
            TriggerKind::PreSignUp => self.pre_sign_up.as_deref(),
            TriggerKind::CustomMessage => self.custom_message.as_deref(),
            TriggerKind::PostConfirmation => self.post_confirmation.as_deref(),
            TriggerKind::PreAuthentication => self.pre_authentication.as_deref(),
            TriggerKind::PostAuthentication => self.post_authentication.as_deref(),
            TriggerKind::DefineAuthChallenge => self.define_auth_challenge.as_deref(),
            TriggerKind::CreateAuthChallenge => self.create_auth_challenge.as_deref(),
            TriggerKind::VerifyAuthChallengeResponse => {
                self.verify_auth_challenge_response.as_deref()
            }
            TriggerKind::PreTokenGeneration => self.pre_token_generation.as_deref(),
            TriggerKind::UserMigration => self.user_migration.as_deref(),
            TriggerKind::CustomSmsSender => self.custom_sms_sender.as_deref(),
            TriggerKind::CustomEmailSender => self.custom_email_sender.as_deref(),
        }
    }

    /// The trigger of `kind`, if the pool has one.
    pub fn get(&self, kind: TriggerKind) -> Option<Trigger> {
        self.arn(kind).map(|arn| Trigger {
            kind,
            arn: arn.to_owned(),
        })
    }

    /// Every trigger the pool has, in `LambdaConfig` order.
    pub fn all(&self) -> Vec<Trigger> {
        TriggerKind::ALL
            .into_iter()
            .filter_map(|kind| self.get(kind))
            .collect()
    }

    /// Whether the pool has no trigger at all.
    pub fn is_empty(&self) -> bool {
        self.all().is_empty()
    }
}

/// `preSignUp` for `PreSignUp`: the member as Cognito's validation messages name it.
fn lower_first(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A member holding a function ARN (`null` is "not set").
fn arn_member(value: &Value, path: &str) -> Result<Option<String>, UserPoolError> {
    match value {
        Value::Null => Ok(None),
        Value::String(arn) => {
            check_arn(arn, path)?;
            Ok(Some(arn.clone()))
        }
        _ => Err(bad_arn(path)),
    }
}

/// `{"LambdaVersion": …, "LambdaArn": …}`: both required, the version one `known` accepts.
fn versioned_member(
    value: &Value,
    path: &str,
    known: impl Fn(&str) -> bool,
) -> Result<Option<(String, String)>, UserPoolError> {
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        _ => {
            return Err(UserPoolError::invalid(format!(
                "{path} must be an object with LambdaVersion and LambdaArn"
            )));
        }
    };
    let version = object.get("LambdaVersion").and_then(Value::as_str);
    let arn = object.get("LambdaArn").and_then(Value::as_str);
    let (Some(version), Some(arn)) = (version, arn) else {
        return Err(UserPoolError::invalid(format!(
            "{path} must have both LambdaVersion and LambdaArn"
        )));
    };
    if !known(version) {
        return Err(UserPoolError::invalid(format!(
            "1 validation error detected: Value '{version}' at '{path}.lambdaVersion' failed to satisfy constraint: Member must satisfy enum value set"
        )));
    }
    let arn_path = format!("{path}.lambdaArn");
    check_arn(arn, &arn_path)?;
    if let Some(other) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "LambdaVersion" | "LambdaArn"))
    {
        return Err(UserPoolError::invalid(format!(
            "{path} has no member `{other}`"
        )));
    }
    Ok(Some((version.to_owned(), arn.to_owned())))
}

fn check_arn(arn: &str, path: &str) -> Result<(), UserPoolError> {
    if FunctionArn::parse(arn).is_err() {
        return Err(bad_arn(path));
    }
    Ok(())
}

/// Cognito's validation message for a member that is not a Lambda function ARN. The value is
/// not repeated (it may be long); the member is named.
fn bad_arn(path: &str) -> UserPoolError {
    UserPoolError::invalid(format!(
        "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
    ))
}

// === impl TriggerEvent ===

impl TriggerEvent {
    /// An event of version `"1"` with an empty `response`.
    pub fn new(
        trigger_source: impl Into<String>,
        user_name: impl Into<String>,
        client_id: Option<&str>,
        request: Value,
    ) -> Self {
        Self {
            version: "1",
            trigger_source: trigger_source.into(),
            user_name: user_name.into(),
            client_id: client_id.map(str::to_owned),
            request,
            response: json!({}),
        }
    }

    /// The same event with `response` as its initial response.
    pub fn with_response(mut self, response: Value) -> Self {
        self.response = response;
        self
    }

    /// The same event with another `version`.
    pub fn with_version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    /// The whole event for a pool in `region`.
    pub fn to_json(&self, region: &str, pool_id: &str) -> Value {
        json!({
            "version": self.version,
            "region": region,
            "userPoolId": pool_id,
            "triggerSource": self.trigger_source,
            "userName": self.user_name,
            "callerContext": {
                "awsSdkVersion": AWS_SDK_VERSION,
                "clientId": self.client_id.as_deref().unwrap_or(CLIENT_ID_NOT_APPLICABLE),
            },
            "request": self.request,
            "response": self.response,
        })
    }
}

/// What a request hands its triggers besides what the operation itself needs: the
/// `ClientMetadata` and `ValidationData` members of Cognito's requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerData {
    /// `ClientMetadata`: passed to the triggers as `request.clientMetadata`.
    pub client_metadata: BTreeMap<String, String>,
    /// `ValidationData` (SignUp, AdminCreateUser, InitiateAuth's PreAuthentication):
    /// `request.validationData`.
    pub validation_data: BTreeMap<String, String>,
}

/// Most entries of a request's `ClientMetadata` or `ValidationData`.
pub const MAX_TRIGGER_DATA_ENTRIES: usize = 100;
/// Most bytes of keys and values of a request's `ClientMetadata` or `ValidationData`.
pub const MAX_TRIGGER_DATA_BYTES: usize = 16 * 1024;

impl TriggerData {
    /// The two maps of a request, each bounded ([`MAX_TRIGGER_DATA_ENTRIES`],
    /// [`MAX_TRIGGER_DATA_BYTES`]); a request beyond the bounds is refused.
    pub fn new(
        client_metadata: BTreeMap<String, String>,
        validation_data: BTreeMap<String, String>,
    ) -> Result<Self, UserPoolError> {
        for (name, map) in [
            ("ClientMetadata", &client_metadata),
            ("ValidationData", &validation_data),
        ] {
            let bytes: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
            if map.len() > MAX_TRIGGER_DATA_ENTRIES || bytes > MAX_TRIGGER_DATA_BYTES {
                return Err(UserPoolError::invalid(format!(
                    "{name} must have at most {MAX_TRIGGER_DATA_ENTRIES} entries and {MAX_TRIGGER_DATA_BYTES} bytes"
                )));
            }
        }
        Ok(Self {
            client_metadata,
            validation_data,
        })
    }

    /// `request.clientMetadata`: `null` when the request had none.
    pub fn client_metadata_json(&self) -> Value {
        string_map(&self.client_metadata)
    }

    /// `request.validationData`: `null` when the request had none.
    pub fn validation_data_json(&self) -> Value {
        string_map(&self.validation_data)
    }
}

/// A map of strings as the events carry `clientMetadata` and `validationData`: `null` when
/// empty, as Cognito sends a member the request left out.
pub fn string_map(map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        return Value::Null;
    }
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `request.userAttributes` of an existing user as Cognito sends it to every trigger: every
/// attribute (strings, `sub` included) and `cognito:user_status`. The one builder of that
/// member: the sign-up, message, authentication, token and custom-challenge events all use
/// it (a name nobody holds is sent `{}` instead).
pub fn user_attributes_json(user: &User) -> Value {
    let mut map: Map<String, Value> = user
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    map.insert("sub".into(), Value::String(user.sub.clone()));
    map.insert(
        "cognito:user_status".into(),
        Value::String(user.status.as_str().to_owned()),
    );
    Value::Object(map)
}

/// A boolean member of a trigger's response: missing or `null` is `false`; anything but a
/// boolean is an answer Cognito does not recognise.
pub fn response_flag(response: &Map<String, Value>, name: &str) -> Result<bool, UserPoolError> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(unrecognizable()),
    }
}

/// A string member of a trigger's response: missing or `null` is `None`; anything but a
/// string is an answer Cognito does not recognise.
pub fn response_text<'a>(
    response: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, UserPoolError> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(unrecognizable()),
    }
}

// === impl UserPools ===

impl UserPools {
    /// Calls `pool`'s trigger of `kind` with `event`, when the pool has one: `Ok(None)` when
    /// it has none, else the `response` object the function answered (`{}` when it sent
    /// none). Failures are Cognito's errors (see the module doc).
    pub async fn run_trigger(
        &self,
        pool: &UserPool,
        kind: TriggerKind,
        event: TriggerEvent,
    ) -> Result<Option<Map<String, Value>>, UserPoolError> {
        let triggers = pool.config.triggers()?;
        let Some(arn) = triggers.arn(kind) else {
            return Ok(None);
        };
        self.invoke_trigger(pool, kind, arn, &event).await.map(Some)
    }

    /// Calls the function `arn` as `pool`'s trigger of `kind`.
    pub async fn invoke_trigger(
        &self,
        pool: &UserPool,
        kind: TriggerKind,
        arn: &str,
        event: &TriggerEvent,
    ) -> Result<Map<String, Value>, UserPoolError> {
        let region = pool_region(&pool.id, &self.config().region);
        let body = event.to_json(region, &pool.id);
        let Some(functions) = self.functions() else {
            return Err(trigger_error(
                kind,
                &FunctionError::NotRegistered {
                    arn: arn.to_owned(),
                },
            ));
        };
        let answer = functions
            .invoke_json(arn, &body)
            .await
            .map_err(|e| trigger_error(kind, &e))?;
        trigger_response(kind, arn, answer)
    }
}

/// The region a pool id carries (`us-east-1_…`), or `default`.
fn pool_region<'a>(pool_id: &'a str, default: &'a str) -> &'a str {
    pool_id
        .split_once('_')
        .map_or(default, |(region, _)| region)
}

/// The `response` of a function's answer: the answer must be the event (an object) with
/// `response` an object or `null`.
fn trigger_response(
    kind: TriggerKind,
    arn: &str,
    answer: Value,
) -> Result<Map<String, Value>, UserPoolError> {
    let Value::Object(mut answer) = answer else {
        tracing::warn!(trigger = kind.name(), %arn, "trigger answered JSON that is not an event object");
        return Err(unrecognizable());
    };
    match answer.remove("response") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(response)) => Ok(response),
        Some(_) => {
            tracing::warn!(trigger = kind.name(), %arn, "trigger answered a `response` that is not an object");
            Err(unrecognizable())
        }
    }
}

/// Cognito's `InvalidLambdaResponseException` for an answer of the wrong shape.
pub fn unrecognizable() -> UserPoolError {
    UserPoolError::InvalidLambdaResponse("Unrecognizable lambda output".into())
}

/// A failed call as Cognito reports it. The cause is logged; the client reads Cognito's
/// message (and, for a function's own error, the function's `errorMessage`).
pub fn trigger_error(kind: TriggerKind, e: &FunctionError) -> UserPoolError {
    let name = kind.name();
    let unexpected = |reason: &str| {
        UserPoolError::UnexpectedLambda(format!("{name} invocation failed due to error {reason}."))
    };
    match e {
        FunctionError::Failed {
            error_type,
            error_message,
            status,
            ..
        } => {
            tracing::info!(trigger = name, arn = e.arn(), status, "trigger failed");
            let message = error_message
                .as_deref()
                .or(error_type.as_deref())
                .unwrap_or("Unhandled");
            UserPoolError::UserLambdaValidation(format!("{name} failed with error {message}."))
        }
        FunctionError::Timeout { .. } => {
            tracing::warn!(trigger = name, error = %e, "trigger");
            unexpected("Socket timeout while invoking Lambda function")
        }
        FunctionError::NotRegistered { .. } | FunctionError::InvalidArn { .. } => {
            tracing::error!(trigger = name, error = %e, "trigger");
            unexpected("ResourceNotFoundException")
        }
        FunctionError::Unreachable { .. } | FunctionError::Transport { .. } => {
            tracing::warn!(trigger = name, error = %e, "trigger");
            unexpected("ServiceException")
        }
        FunctionError::EventTooLarge { .. } => {
            tracing::warn!(trigger = name, error = %e, "trigger");
            unexpected("RequestTooLargeException")
        }
        FunctionError::AnswerTooLarge { .. } | FunctionError::NotJson { .. } => {
            tracing::warn!(trigger = name, error = %e, "trigger");
            UserPoolError::InvalidLambdaResponse(
                "Invalid lambda function output : Invalid JSON".into(),
            )
        }
    }
}

mod messages;
mod sign_up;

pub(crate) use messages::shown_username;
pub use messages::{
    CODE_KEY_LABEL, CODE_PARAMETER, LINK_PARAMETER, MAX_EMAIL_MESSAGE, MAX_EMAIL_SUBJECT,
    MAX_SMS_MESSAGE, MessageSource, USERNAME_PARAMETER, seal_code,
};
pub use sign_up::{Confirmation, PreSignUpAnswer};

#[cfg(test)]
mod tests;
