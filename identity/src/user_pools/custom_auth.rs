//! Custom authentication (`CUSTOM_AUTH` on InitiateAuth and AdminInitiateAuth): a sign-in whose
//! challenges the pool's three triggers decide, as Cognito runs them.
//!
//! # The chain
//! - **DefineAuthChallenge** is asked, with the `session` so far (one `ChallengeResult` per
//!   challenge: `challengeName`, `challengeResult`, `challengeMetadata`), what comes next:
//!   `failAuthentication` (the sign-in fails: "Incorrect username or password."),
//!   `issueTokens` (the sign-in succeeds: MFA first when the pool and user call for it, as
//!   after a password), or a `challengeName`: `CUSTOM_CHALLENGE`, or `PASSWORD_VERIFIER` right
//!   after `SRP_A`.
//! - **CreateAuthChallenge** makes a `CUSTOM_CHALLENGE`: its `publicChallengeParameters` are
//!   the `ChallengeParameters` the client sees (with `USERNAME`), its
//!   `privateChallengeParameters` and `challengeMetadata` stay on the server, sealed in the
//!   `Session` with the master key (AES-256-GCM) like every challenge session
//!   (`challenges`): no client ever reads them, and any node sharing the master key can.
//! - **VerifyAuthChallengeResponse** judges the `ANSWER` of RespondToAuthChallenge against the
//!   private parameters (`answerCorrect`); the result joins the session and DefineAuthChallenge
//!   is asked again.
//!
//! A client that wants the password checked first sends `CHALLENGE_NAME: SRP_A` and `SRP_A`
//! with InitiateAuth (amazon-cognito-identity-js does, from `authenticateUser` with the flow
//! type `CUSTOM_AUTH`): the session starts as `[SRP_A: true]`, DefineAuthChallenge asks for
//! `PASSWORD_VERIFIER`, the SRP exchange runs as in `USER_SRP_AUTH` (`srp_auth`, its proof
//! within the password lockout), and on success `PASSWORD_VERIFIER: true` joins the session.
//!
//! # Limits
//! - at most [`MAX_SESSION_ROUNDS`] challenges in one sign-in: DefineAuthChallenge asking for
//!   more fails the sign-in;
//! - each session is answered once and expires with the client's `AuthSessionValidity`, as
//!   every challenge session does;
//! - a wrong answer counts against the user's lockout (kind [`CUSTOM`]: five wrong answers lock
//!   further sign-ins of the user for 1 s, doubling up to 15 minutes), stricter than Cognito,
//!   whose lockout ignores custom challenges (see docs/security.md);
//! - what a trigger answers is bounded ([`MAX_PARAMETERS_BYTES`], [`MAX_METADATA_BYTES`]) and
//!   so is an `ANSWER` ([`MAX_ANSWER_BYTES`]).
//!
//! # Names nobody holds
//! When the client hides which users exist (`PreventUserExistenceErrors`), a name nobody holds
//! goes through the same chain with `userNotFound: true` and no attributes, as Cognito sends
//! it, so the triggers can behave the same; it never gets tokens, and its wrong answers lock
//! the name as a real user's lock the user. Otherwise it is `UserNotFoundException`. On such a
//! client a user who cannot sign in (disabled, unconfirmed, reset required) runs the chain
//! the same way, so the answers do not tell it from a name nobody holds.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::attempts::Subject;
use super::auth::{AuthOutcome, Challenge, incorrect_credentials, invalid_session, required};
use super::challenges::{SessionClaims, SignIn, password_digest};
use super::config::ExplicitAuthFlow;
use super::srp_auth::PASSWORD_VERIFIER;
use super::triggers::{
    TriggerEvent, TriggerKind, response_flag, string_map, unrecognizable, user_attributes_json,
};
use super::{Client, User, UserPool, UserPoolError, UserPools, UserStatus};
use crate::crypto::hash_token;

/// The challenge a CreateAuthChallenge trigger makes.
pub const CUSTOM_CHALLENGE: &str = "CUSTOM_CHALLENGE";
/// The first entry of a password-then-custom chain (`CHALLENGE_NAME: SRP_A`).
pub const SRP_A: &str = "SRP_A";
/// Most challenges (`session` entries, `SRP_A` and `PASSWORD_VERIFIER` included) in one
/// sign-in: DefineAuthChallenge asking for another fails it.
pub const MAX_SESSION_ROUNDS: usize = 8;
/// Largest `publicChallengeParameters`, and `privateChallengeParameters`, as JSON text.
pub const MAX_PARAMETERS_BYTES: usize = 4096;
/// Largest `challengeMetadata`.
pub const MAX_METADATA_BYTES: usize = 512;
/// Largest `ANSWER`.
pub const MAX_ANSWER_BYTES: usize = 4096;
/// Longest `Session` of a custom chain: it carries the session array and the private
/// parameters, sealed, so it may be longer than other sessions.
pub const MAX_CUSTOM_SESSION_LEN: usize = 16 * 1024;
/// The counter kind of wrong answers to custom challenges (see `attempts`).
pub(crate) const CUSTOM: &str = "custom";

/// Cognito's refusal when the pool lacks the triggers a custom sign-in needs.
fn not_configured() -> UserPoolError {
    UserPoolError::invalid("Custom auth lambda trigger is not configured for the user pool.")
}

/// A custom chain in flight, sealed in its session. Its `Debug` names the private
/// parameters but never shows their values (the code a user must type, as a rule).
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct CustomChain {
    /// The `session` array so far.
    pub(crate) rounds: Vec<ChallengeRound>,
    /// The challenge in flight: its `privateChallengeParameters`.
    #[serde(default)]
    pub(crate) private: BTreeMap<String, String>,
    /// The challenge in flight: its `challengeMetadata`.
    #[serde(default)]
    pub(crate) metadata: Option<String>,
    /// The sign-in is for a name nobody holds (`userNotFound`).
    #[serde(default)]
    pub(crate) user_not_found: bool,
}

impl std::fmt::Debug for CustomChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomChain")
            .field("rounds", &self.rounds)
            .field("private", &self.private.keys().collect::<Vec<_>>())
            .field("metadata", &self.metadata)
            .field("user_not_found", &self.user_not_found)
            .finish()
    }
}

/// One `ChallengeResult`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChallengeRound {
    pub(crate) name: String,
    pub(crate) result: bool,
    #[serde(default)]
    pub(crate) metadata: Option<String>,
}

/// Who a custom sign-in is for, and what it carries between steps.
pub(crate) struct CustomSignIn {
    /// The user; `None` for a name nobody holds.
    pub(crate) user: Option<User>,
    pub(crate) sign_in: SignIn,
    pub(crate) chain: CustomChain,
    /// `SRP_A` of InitiateAuth, for the `PASSWORD_VERIFIER` DefineAuthChallenge may ask for.
    pub(crate) srp_a: Option<Vec<u8>>,
}

/// What DefineAuthChallenge decided.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Fail,
    IssueTokens,
    Challenge(String),
}

// === impl CustomChain ===

impl CustomChain {
    /// The `session` array as the triggers receive it.
    fn session_json(&self) -> Value {
        Value::Array(
            self.rounds
                .iter()
                .map(|r| {
                    json!({
                        "challengeName": r.name,
                        "challengeResult": r.result,
                        "challengeMetadata": r.metadata,
                    })
                })
                .collect(),
        )
    }

    /// Whether the chain checked the user's password.
    pub(crate) fn password_verified(&self) -> bool {
        self.rounds
            .iter()
            .any(|r| r.name == PASSWORD_VERIFIER && r.result)
    }
}

/// `userAttributes` of a custom chain's events: the user's, or `{}` for a name nobody holds.
fn event_attributes(user: Option<&User>) -> Value {
    user.map_or_else(|| json!({}), user_attributes_json)
}

/// A map of challenge parameters from a trigger: string values kept, numbers and booleans
/// written as text (Cognito's own samples return them), `null` dropped, anything else (and
/// a map over [`MAX_PARAMETERS_BYTES`]) refused.
fn string_parameters(value: Option<&Value>) -> Result<BTreeMap<String, String>, UserPoolError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(unrecognizable()),
    };
    if serde_json::to_string(object).map_or(usize::MAX, |s| s.len()) > MAX_PARAMETERS_BYTES {
        tracing::warn!("CreateAuthChallenge answered challenge parameters over the size limit");
        return Err(unrecognizable());
    }
    let mut out = BTreeMap::new();
    for (k, v) in object {
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(_) | Value::Object(_) => return Err(unrecognizable()),
        };
        out.insert(k.clone(), text);
    }
    Ok(out)
}

fn decision(response: &Map<String, Value>) -> Result<Decision, UserPoolError> {
    if response_flag(response, "failAuthentication")? {
        return Ok(Decision::Fail);
    }
    if response_flag(response, "issueTokens")? {
        return Ok(Decision::IssueTokens);
    }
    match response.get("challengeName") {
        Some(Value::String(name)) if !name.is_empty() => Ok(Decision::Challenge(name.clone())),
        _ => {
            tracing::warn!(
                "DefineAuthChallenge answered neither a challenge, nor issueTokens, nor failAuthentication"
            );
            Err(unrecognizable())
        }
    }
}

// === impl UserPools ===

impl UserPools {
    /// InitiateAuth / AdminInitiateAuth with `CUSTOM_AUTH`: `USERNAME` (and `SECRET_HASH`,
    /// `DEVICE_KEY`; `CHALLENGE_NAME: SRP_A` with `SRP_A` to check the password first).
    pub(crate) async fn custom_initiate(
        &self,
        pool: &UserPool,
        client: &Client,
        parameters: &BTreeMap<String, String>,
        client_metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        if !client.config.allows(ExplicitAuthFlow::AllowCustomAuth) {
            return Err(UserPoolError::invalid(
                "CUSTOM_AUTH is not enabled for the client.",
            ));
        }
        let triggers = pool.config.triggers()?;
        if triggers.arn(TriggerKind::DefineAuthChallenge).is_none() {
            return Err(not_configured());
        }
        let username = required(parameters, "USERNAME")?;
        let srp_a = match parameters.get("CHALLENGE_NAME").map(String::as_str) {
            Some(SRP_A) => Some(
                crate::srp::parse_hex(required(parameters, "SRP_A")?, crate::srp::GROUP_BYTES + 1)
                    .ok_or_else(|| UserPoolError::invalid("SRP_A is not a valid value"))?,
            ),
            None | Some("" | CUSTOM_CHALLENGE) => None,
            Some(other) => {
                return Err(UserPoolError::invalid(format!(
                    "CHALLENGE_NAME `{}` is not supported with CUSTOM_AUTH",
                    other.chars().take(64).collect::<String>()
                )));
            }
        };
        self.check_secret_hash(
            client,
            username,
            parameters.get("SECRET_HASH").map(String::as_str),
        )?;
        let now = self.now();
        let mut user = self.find_user(pool, username).await?;
        let uniform = client.config.prevent_user_existence_errors;
        if user.is_none() && !uniform {
            return Err(UserPoolError::UserNotFound("User does not exist.".into()));
        }
        if let Some(found) = &user
            && let Err(refused) = check_can_sign_in(found)
        {
            if !uniform {
                return Err(refused);
            }
            // A client that hides which users exist must not tell a disabled or unconfirmed
            // user from a name nobody holds: such a user runs the chain as one (no
            // attributes, `userNotFound`, never tokens).
            user = None;
        }
        let subject = Subject::of(self, pool, user.as_ref(), username);
        self.check_lockout(pool, &subject, CUSTOM, now).await?;
        let device = match &user {
            Some(user) => {
                self.presented_device(pool, user, parameters.get("DEVICE_KEY"))
                    .await?
            }
            None => None,
        };
        let sign_in = SignIn {
            name: username.to_owned(),
            password: user
                .as_ref()
                .map_or_else(|| hash_token(""), password_digest),
            device,
            device_proven: false,
            hosted: false,
            new_password: false,
            client_metadata: client_metadata.clone(),
        };
        let mut chain = CustomChain {
            user_not_found: user.is_none(),
            ..CustomChain::default()
        };
        if srp_a.is_some() {
            chain.rounds.push(ChallengeRound {
                name: SRP_A.into(),
                result: true,
                metadata: None,
            });
        }
        let custom = CustomSignIn {
            user,
            sign_in,
            chain,
            srp_a,
        };
        self.custom_next(pool, client, custom, client_metadata, now)
            .await
    }

    /// RespondToAuthChallenge / AdminRespondToAuthChallenge with `CUSTOM_CHALLENGE`:
    /// `USERNAME` and `ANSWER` (and `SECRET_HASH`).
    pub(crate) async fn custom_answer(
        &self,
        pool: &UserPool,
        client: &Client,
        session: &str,
        responses: &BTreeMap<String, String>,
        client_metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let now = self.now();
        let username = required(responses, "USERNAME")?;
        let answer = required(responses, "ANSWER")?;
        if answer.len() > MAX_ANSWER_BYTES {
            return Err(UserPoolError::invalid(format!(
                "ANSWER must be at most {MAX_ANSWER_BYTES} bytes"
            )));
        }
        if session.len() > MAX_CUSTOM_SESSION_LEN {
            return Err(invalid_session());
        }
        let blob = URL_SAFE_NO_PAD
            .decode(session.trim_end_matches('='))
            .map_err(|_| invalid_session())?;
        let claims = self.open_claims(&blob, pool, client, CUSTOM_CHALLENGE, now)?;
        let Some(chain) = claims.custom.clone() else {
            return Err(invalid_session());
        };
        if claims.sign_in.hosted {
            return Err(invalid_session());
        }
        self.check_answer_secret_hash(
            client,
            &[username, &claims.sign_in.name],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let named = if chain.user_not_found {
            // The name given, or the stand-in id the challenge showed as `USERNAME`.
            username == claims.sign_in.name || username == claims.sub
        } else {
            self.names_user(pool, username, &claims).await?
        };
        if !named {
            return Err(invalid_session());
        }
        self.spend(&claims).await?;
        let user = if chain.user_not_found {
            None
        } else {
            let user = self.session_user(pool, &claims).await?;
            check_can_sign_in(&user)?;
            Some(user)
        };
        let subject = Subject::of(self, pool, user.as_ref(), &claims.sign_in.name);
        self.check_lockout(pool, &subject, CUSTOM, now).await?;
        let correct = self
            .verify_custom_answer(
                pool,
                client,
                user.as_ref(),
                &claims,
                &chain,
                answer,
                client_metadata,
            )
            .await?;
        self.record_check(pool, &subject, CUSTOM, correct, now)
            .await?;
        let SessionClaims { sign_in, .. } = claims;
        let mut chain = chain;
        let metadata = chain.metadata.take();
        chain.private.clear();
        chain.rounds.push(ChallengeRound {
            name: CUSTOM_CHALLENGE.into(),
            result: correct,
            metadata,
        });
        let custom = CustomSignIn {
            user,
            sign_in,
            chain,
            srp_a: None,
        };
        self.custom_next(pool, client, custom, client_metadata, now)
            .await
    }

    /// After a proven `PASSWORD_VERIFIER` of a custom chain: it joins the session and
    /// DefineAuthChallenge is asked again.
    #[expect(
        clippy::too_many_arguments,
        reason = "one sign-in's state, passed along"
    )]
    pub(crate) async fn custom_after_password(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        sign_in: SignIn,
        mut chain: CustomChain,
        client_metadata: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        chain.rounds.push(ChallengeRound {
            name: PASSWORD_VERIFIER.into(),
            result: true,
            metadata: None,
        });
        let custom = CustomSignIn {
            user: Some(user),
            sign_in,
            chain,
            srp_a: None,
        };
        self.custom_next(pool, client, custom, client_metadata, now)
            .await
    }

    /// Asks DefineAuthChallenge what follows the chain, and does it.
    async fn custom_next(
        &self,
        pool: &UserPool,
        client: &Client,
        custom: CustomSignIn,
        client_metadata: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let CustomSignIn {
            user,
            sign_in,
            chain,
            srp_a,
        } = custom;
        let request = json!({
            "userAttributes": event_attributes(user.as_ref()),
            "session": chain.session_json(),
            "clientMetadata": string_map(client_metadata),
            "userNotFound": chain.user_not_found,
        });
        let response = json!({
            "challengeName": null,
            "issueTokens": null,
            "failAuthentication": null,
        });
        let answer = self
            .custom_trigger(
                pool,
                client,
                TriggerKind::DefineAuthChallenge,
                "DefineAuthChallenge_Authentication",
                user.as_ref(),
                &sign_in.name,
                request,
                response,
            )
            .await?;
        match decision(&answer)? {
            Decision::Fail => Err(incorrect_credentials()),
            Decision::IssueTokens => {
                let Some(user) = user.filter(|_| !chain.user_not_found) else {
                    return Err(incorrect_credentials());
                };
                // The user may have changed (disabled, password reset) since the chain began.
                let user = self
                    .find_user_by_sub(&pool.id, &user.sub)
                    .await?
                    .ok_or_else(incorrect_credentials)?;
                check_can_sign_in(&user)?;
                if password_digest(&user) != sign_in.password {
                    return Err(invalid_session());
                }
                // PostAuthentication and PreTokenGeneration get the metadata of the answer
                // that ends the sign-in.
                let sign_in = SignIn {
                    client_metadata: client_metadata.clone(),
                    ..sign_in
                };
                if chain.password_verified() {
                    // A password chain ends like a password sign-in: a new password first
                    // when the user must set one, then MFA.
                    self.next_step(pool, client, user, sign_in, now).await
                } else {
                    self.second_factor_step(pool, client, user, sign_in, now)
                        .await
                }
            }
            Decision::Challenge(_) if chain.rounds.len() >= MAX_SESSION_ROUNDS => {
                tracing::info!(
                    rounds = chain.rounds.len(),
                    "a custom sign-in reached the most challenges one sign-in may have"
                );
                Err(incorrect_credentials())
            }
            Decision::Challenge(name) if name == CUSTOM_CHALLENGE => {
                self.custom_challenge(pool, client, user, sign_in, chain, client_metadata, now)
                    .await
            }
            Decision::Challenge(name) if name == PASSWORD_VERIFIER => {
                // Only right after SRP_A: the client sent SRP_A for this exchange.
                let first = chain.rounds.len() == 1
                    && chain.rounds.first().is_some_and(|r| r.name == SRP_A);
                let Some(public_a) = srp_a.filter(|_| first) else {
                    tracing::warn!(
                        "DefineAuthChallenge asked for PASSWORD_VERIFIER where no SRP_A came before it"
                    );
                    return Err(unrecognizable());
                };
                self.srp_challenge(
                    pool,
                    client,
                    user.as_ref(),
                    sign_in,
                    public_a,
                    Some(chain),
                    now,
                )
                .await
            }
            Decision::Challenge(name) => {
                tracing::warn!(
                    challenge = %name.chars().take(64).collect::<String>(),
                    "DefineAuthChallenge asked for a challenge a custom sign-in cannot have"
                );
                Err(unrecognizable())
            }
        }
    }

    /// CreateAuthChallenge, and the `CUSTOM_CHALLENGE` it makes.
    #[expect(
        clippy::too_many_arguments,
        reason = "one sign-in's state, passed along"
    )]
    async fn custom_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        user: Option<User>,
        sign_in: SignIn,
        mut chain: CustomChain,
        client_metadata: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let triggers = pool.config.triggers()?;
        if triggers.arn(TriggerKind::CreateAuthChallenge).is_none()
            || triggers
                .arn(TriggerKind::VerifyAuthChallengeResponse)
                .is_none()
        {
            return Err(not_configured());
        }
        let request = json!({
            "userAttributes": event_attributes(user.as_ref()),
            "challengeName": CUSTOM_CHALLENGE,
            "session": chain.session_json(),
            "clientMetadata": string_map(client_metadata),
            "userNotFound": chain.user_not_found,
        });
        let response = json!({
            "publicChallengeParameters": null,
            "privateChallengeParameters": null,
            "challengeMetadata": null,
        });
        let answer = self
            .custom_trigger(
                pool,
                client,
                TriggerKind::CreateAuthChallenge,
                "CreateAuthChallenge_Authentication",
                user.as_ref(),
                &sign_in.name,
                request,
                response,
            )
            .await?;
        let mut parameters = string_parameters(answer.get("publicChallengeParameters"))?;
        chain.private = string_parameters(answer.get("privateChallengeParameters"))?;
        chain.metadata = match answer.get("challengeMetadata") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) if m.len() <= MAX_METADATA_BYTES => Some(m.clone()),
            Some(_) => {
                tracing::warn!(
                    "CreateAuthChallenge answered a challengeMetadata that is no string of at most {MAX_METADATA_BYTES} bytes"
                );
                return Err(unrecognizable());
            }
        };
        // The name the client answers with: the user's username, as Cognito adds it. A name
        // nobody holds shows what a user's would: where usernames are `sub`s (email or phone
        // as username), its stand-in's UUID, the same each time; elsewhere the name.
        let sub = match &user {
            Some(user) => user.sub.clone(),
            None => self.stand_in_sub(pool, &sign_in.name),
        };
        let shown = match &user {
            Some(user) => user.username.clone(),
            None if pool.config.uses_username_attributes() => sub.clone(),
            None => sign_in.name.clone(),
        };
        parameters.insert("USERNAME".into(), shown);
        let mut claims = self.new_claims(pool, client, &sub, CUSTOM_CHALLENGE, sign_in, now);
        claims.custom = Some(chain);
        let session = self.session_text(&claims)?;
        if session.len() > MAX_CUSTOM_SESSION_LEN {
            return Err(UserPoolError::internal(
                "custom challenge session",
                "over its length limit",
            ));
        }
        Ok(AuthOutcome::Challenge(Challenge {
            name: CUSTOM_CHALLENGE.into(),
            session,
            parameters,
        }))
    }

    /// VerifyAuthChallengeResponse: whether `answer` is right.
    #[expect(
        clippy::too_many_arguments,
        reason = "one sign-in's state, passed along"
    )]
    async fn verify_custom_answer(
        &self,
        pool: &UserPool,
        client: &Client,
        user: Option<&User>,
        claims: &SessionClaims,
        chain: &CustomChain,
        answer: &str,
        client_metadata: &BTreeMap<String, String>,
    ) -> Result<bool, UserPoolError> {
        if pool
            .config
            .triggers()?
            .arn(TriggerKind::VerifyAuthChallengeResponse)
            .is_none()
        {
            return Err(not_configured());
        }
        let request = json!({
            "userAttributes": event_attributes(user),
            "privateChallengeParameters": chain.private,
            "challengeAnswer": answer,
            "clientMetadata": string_map(client_metadata),
            "userNotFound": chain.user_not_found,
        });
        let answer = self
            .custom_trigger(
                pool,
                client,
                TriggerKind::VerifyAuthChallengeResponse,
                "VerifyAuthChallengeResponse_Authentication",
                user,
                &claims.sign_in.name,
                request,
                json!({ "answerCorrect": null }),
            )
            .await?;
        response_flag(&answer, "answerCorrect")
    }

    /// Calls one of the three triggers (configured: checked by the caller).
    #[expect(clippy::too_many_arguments, reason = "the parts of a trigger's event")]
    async fn custom_trigger(
        &self,
        pool: &UserPool,
        client: &Client,
        kind: TriggerKind,
        source: &str,
        user: Option<&User>,
        name: &str,
        request: Value,
        response: Value,
    ) -> Result<Map<String, Value>, UserPoolError> {
        let user_name = user.map_or(name, |u| u.username.as_str());
        let event =
            TriggerEvent::new(source, user_name, Some(&client.id), request).with_response(response);
        self.run_trigger(pool, kind, event)
            .await?
            .ok_or_else(not_configured)
    }
}

/// The states a custom sign-in may start or finish in (as a password sign-in's).
fn check_can_sign_in(user: &User) -> Result<(), UserPoolError> {
    if !user.enabled {
        return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
    }
    match user.status {
        UserStatus::Confirmed | UserStatus::ForceChangePassword => Ok(()),
        UserStatus::Unconfirmed => Err(UserPoolError::UserNotConfirmed(
            "User is not confirmed.".into(),
        )),
        UserStatus::ResetRequired => Err(UserPoolError::PasswordResetRequired(
            "Password reset required for the user".into(),
        )),
        UserStatus::Archived
        | UserStatus::Compromised
        | UserStatus::Unknown
        | UserStatus::ExternalProvider => Err(incorrect_credentials()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_private_challenge_parameters() {
        let chain = CustomChain {
            private: BTreeMap::from([("answer".to_owned(), "483920".to_owned())]),
            ..CustomChain::default()
        };
        let shown = format!("{chain:?}");
        assert!(shown.contains("answer"), "{shown}");
        assert!(!shown.contains("483920"), "{shown}");
    }
}
