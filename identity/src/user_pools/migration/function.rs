//! The pool's UserMigration trigger as a migration source: the function is asked about a
//! name missing locally (`UserMigration_Authentication` with the password typed,
//! `UserMigration_ForgotPassword` without), and its answer is the user to create.
//!
//! # The answer (Cognito's `response`)
//! - `userAttributes`: the attributes of the user to create (strings). No attributes (the
//!   event answered back unchanged) is "no such user". `sub` is never taken from them: the
//!   user gets a new one, as Cognito gives. `username` is the name typed.
//! - `finalUserStatus`: `CONFIRMED` (the default after a sign-in: the user signs in with the
//!   password just checked) or `RESET_REQUIRED` (created without it; the sign-in answers
//!   `PasswordResetRequiredException`). A password reset always creates the user in
//!   `RESET_REQUIRED`, so the reset code goes out.
//! - `messageAction`: `SUPPRESS`, or absent. gatehouse sends no welcome message to a migrated
//!   user either way (see docs/functions.md); any other value is refused.
//! - `desiredDeliveryMediums`: `EMAIL` and/or `SMS`, checked and otherwise unused (the
//!   welcome message's channels).
//! - `forceAliasCreation`: an email or phone number the user would take as an alias from
//!   another user is moved to the new user (the other user's `*_verified` becomes `false`);
//!   without it such a user is refused with `AliasExistsException`.
//!
//! # Failures
//! The function failing (an error answer: how a migration function says "wrong password" or
//! "no such user") is answered as Cognito answers it: `UserNotFoundException` "Exception
//! migrating user in app client `{clientId}`", or, when the client prevents user-existence
//! errors, `NotAuthorizedException` "Incorrect username or password." — and a sign-in counts
//! as a wrong password on the name's lockout. A function that cannot be reached or answers
//! the wrong shape fails the operation with Cognito's trigger errors.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::{Lookup, MigratedUser, MigrationError, MigrationSource, ResetLookup, SignInLookup};
use crate::user_pools::triggers::{TriggerEvent, TriggerKind, unrecognizable};
use crate::user_pools::{UserPool, UserPoolError, UserPools, UserStatus};

/// The UserMigration trigger of one pool, for one request.
pub(crate) struct FunctionSource {
    pub(crate) pools: UserPools,
    pub(crate) pool: UserPool,
    /// The app client of the request (`callerContext.clientId`).
    pub(crate) client_id: Option<String>,
    /// The request's `ClientMetadata`: `validationData` of a sign-in, `clientMetadata` of a
    /// password reset (as Cognito hands them on).
    pub(crate) metadata: BTreeMap<String, String>,
}

/// What the function answered, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MigrationAnswer {
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) status: UserStatus,
    pub(crate) force_alias_creation: bool,
}

/// Most attributes an answer may carry (Cognito's schema limit is 50 custom attributes plus
/// the standard ones).
const MAX_ANSWER_ATTRIBUTES: usize = 100;
/// Longest attribute value accepted from an answer (Cognito's limit on a value).
const MAX_ATTRIBUTE_VALUE: usize = 2048;

impl std::fmt::Debug for FunctionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionSource")
            .field("pool", &self.pool.id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl FunctionSource {
    async fn ask(
        &self,
        source: &str,
        username: &str,
        request: Value,
    ) -> Result<Option<Map<String, Value>>, MigrationError> {
        let event = TriggerEvent::new(source, username, self.client_id.as_deref(), request);
        match self
            .pools
            .run_trigger(&self.pool, TriggerKind::UserMigration, event)
            .await
        {
            Ok(response) => Ok(response),
            // The function said no (wrong password, no such user): see the module doc.
            Err(UserPoolError::UserLambdaValidation(_)) => Ok(None),
            Err(other) => Err(MigrationError::Answer(other)),
        }
    }

    fn metadata(&self) -> Value {
        serde_json::to_value(&self.metadata).unwrap_or_else(|_| json!({}))
    }
}

impl MigrationSource for FunctionSource {
    fn sign_in<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        _now: SystemTime,
    ) -> Lookup<'a, SignInLookup> {
        Box::pin(async move {
            let request = json!({
                "password": password,
                "validationData": self.metadata(),
            });
            let Some(response) = self
                .ask("UserMigration_Authentication", username, request)
                .await?
            else {
                return Ok(SignInLookup::Missing);
            };
            let Some(answer) = read_answer(&response, true).map_err(MigrationError::Answer)? else {
                return Ok(SignInLookup::Missing);
            };
            let keeps_password = answer.status == UserStatus::Confirmed;
            Ok(SignInLookup::Found(MigratedUser {
                username: username.to_owned(),
                attributes: answer.attributes,
                status: answer.status,
                keeps_password,
                force_alias_creation: answer.force_alias_creation,
                new_sub: true,
            }))
        })
    }

    fn forgot_password<'a>(
        &'a self,
        username: &'a str,
        _now: SystemTime,
    ) -> Lookup<'a, ResetLookup> {
        Box::pin(async move {
            let request = json!({ "clientMetadata": self.metadata() });
            let Some(response) = self
                .ask("UserMigration_ForgotPassword", username, request)
                .await?
            else {
                return Ok(ResetLookup::Missing);
            };
            let Some(answer) = read_answer(&response, false).map_err(MigrationError::Answer)?
            else {
                return Ok(ResetLookup::Missing);
            };
            Ok(ResetLookup::Found(MigratedUser {
                username: username.to_owned(),
                attributes: answer.attributes,
                status: UserStatus::ResetRequired,
                keeps_password: false,
                force_alias_creation: answer.force_alias_creation,
                new_sub: true,
            }))
        })
    }
}

/// Reads a UserMigration `response` (see the module doc). `Ok(None)`: no user.
pub(crate) fn read_answer(
    response: &Map<String, Value>,
    sign_in: bool,
) -> Result<Option<MigrationAnswer>, UserPoolError> {
    let refuse = |why: &str| {
        tracing::warn!(why, "UserMigration answered what it may not");
        unrecognizable()
    };
    let attributes = match response.get("userAttributes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) if map.is_empty() => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(refuse("`userAttributes` is not an object")),
    };
    if attributes.len() > MAX_ANSWER_ATTRIBUTES {
        return Err(refuse("`userAttributes` has too many attributes"));
    }
    let mut out = BTreeMap::new();
    for (name, value) in attributes {
        let value = match value {
            Value::String(s) => s.clone(),
            // The runtimes' typed events send flags as booleans now and then.
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err(refuse("an attribute value is not a string")),
        };
        if value.chars().nth(MAX_ATTRIBUTE_VALUE).is_some() {
            return Err(refuse("an attribute value is too long"));
        }
        out.insert(name.clone(), value);
    }
    let status = match response.get("finalUserStatus") {
        None | Some(Value::Null) => {
            if sign_in {
                UserStatus::Confirmed
            } else {
                UserStatus::ResetRequired
            }
        }
        Some(Value::String(s)) if s == "CONFIRMED" && sign_in => UserStatus::Confirmed,
        Some(Value::String(s)) if s == "RESET_REQUIRED" => UserStatus::ResetRequired,
        Some(_) => {
            return Err(refuse(
                "`finalUserStatus` is not CONFIRMED or RESET_REQUIRED",
            ));
        }
    };
    match response.get("messageAction") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "SUPPRESS" => {}
        Some(_) => return Err(refuse("`messageAction` is not SUPPRESS")),
    }
    match response.get("desiredDeliveryMediums") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items))
            if items
                .iter()
                .all(|i| matches!(i.as_str(), Some("EMAIL" | "SMS"))) => {}
        Some(_) => {
            return Err(refuse(
                "`desiredDeliveryMediums` is not a list of EMAIL and SMS",
            ));
        }
    }
    let force_alias_creation = match response.get("forceAliasCreation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(refuse("`forceAliasCreation` is not a boolean")),
    };
    Ok(Some(MigrationAnswer {
        attributes: out,
        status,
        force_alias_creation,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::read_answer;
    use crate::user_pools::UserStatus;

    fn read(response: Value, sign_in: bool) -> Option<Result<Option<UserStatus>, String>> {
        let Value::Object(map) = response else {
            return None;
        };
        Some(
            read_answer(&map, sign_in)
                .map(|a| a.map(|a| a.status))
                .map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn answers_as_cognito_documents_them() {
        let email = json!({"email": "a@example.com", "email_verified": "true"});
        let cases = [
            ("no attributes: no user", json!({}), true, Some(Ok(None))),
            (
                "empty attributes: no user",
                json!({"userAttributes": {}}),
                true,
                Some(Ok(None)),
            ),
            (
                "sign-in defaults to CONFIRMED",
                json!({"userAttributes": email}),
                true,
                Some(Ok(Some(UserStatus::Confirmed))),
            ),
            (
                "RESET_REQUIRED after a sign-in",
                json!({"userAttributes": email, "finalUserStatus": "RESET_REQUIRED", "messageAction": "SUPPRESS"}),
                true,
                Some(Ok(Some(UserStatus::ResetRequired))),
            ),
            (
                "a reset is always RESET_REQUIRED",
                json!({"userAttributes": email, "desiredDeliveryMediums": ["EMAIL", "SMS"]}),
                false,
                Some(Ok(Some(UserStatus::ResetRequired))),
            ),
        ];
        for (rule, response, sign_in, expected) in cases {
            assert_eq!(read(response, sign_in), expected, "{rule}");
        }
        let refused = [
            json!({"userAttributes": "a"}),
            json!({"userAttributes": {"email": ["a"]}}),
            json!({"userAttributes": email, "finalUserStatus": "UNCONFIRMED"}),
            json!({"userAttributes": email, "messageAction": "RESEND"}),
            json!({"userAttributes": email, "desiredDeliveryMediums": ["PIGEON"]}),
            json!({"userAttributes": email, "forceAliasCreation": "yes"}),
            json!({"userAttributes": {"email": "x".repeat(2049)}}),
        ];
        for response in refused {
            assert!(
                matches!(read(response.clone(), true), Some(Err(_))),
                "{response}"
            );
        }
        // A reset cannot confirm the user: it needs the new password first.
        assert!(matches!(
            read(
                json!({"userAttributes": email, "finalUserStatus": "CONFIRMED"}),
                false
            ),
            Some(Err(_))
        ));
    }
}
