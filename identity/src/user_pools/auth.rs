//! Authentication: InitiateAuth (`USER_PASSWORD_AUTH`, `REFRESH_TOKEN_AUTH`/`REFRESH_TOKEN`),
//! AdminInitiateAuth (`ADMIN_USER_PASSWORD_AUTH`/`ADMIN_NO_SRP_AUTH`, refresh), and the
//! `NEW_PASSWORD_REQUIRED` challenge of RespondToAuthChallenge / AdminRespondToAuthChallenge.
//!
//! # Sessions
//! A challenge `Session` is a blob sealed with the master key (AES-256-GCM) holding the pool,
//! client, user, challenge and expiry, so any node sharing the master key can check it without
//! a database row. It expires after the client's `AuthSessionValidity` (3 minutes by default)
//! and only works while the user is still in the state that raised the challenge.
//!
//! # Timing
//! An unknown user is verified against the hasher's dummy hash, so it costs one argon2 run
//! like a wrong password and the two cannot be told apart by timing.
//!
//! # Lockout
//! Password attempts (both flows) count towards the user's lockout, as `attempts` describes:
//! five failures lock the account for 1 s, doubling per further failure up to 15 minutes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::attempts::Subject;
use super::attributes::{AttributeWrite, user_from_record};
use super::config::ExplicitAuthFlow;
use super::{Client, TokenOrigin, Tokens, User, UserPool, UserPoolError, UserPools, UserStatus};
use crate::time::unix_millis;

/// The one challenge gatehouse raises so far.
pub const NEW_PASSWORD_REQUIRED: &str = "NEW_PASSWORD_REQUIRED";
/// Longest `Session` accepted (Cognito's limit).
pub const MAX_SESSION_LEN: usize = 2048;

const SESSION_AAD: &[u8] = b"gatehouse auth session v1";

/// A challenge the user must answer before tokens are issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `ChallengeName`.
    pub name: String,
    /// `Session`, to send back with the answer.
    pub session: String,
    /// `ChallengeParameters`.
    pub parameters: BTreeMap<String, String>,
}

/// The outcome of an authentication step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Signed in.
    Tokens(Tokens),
    /// One more step.
    Challenge(Challenge),
}

/// What a sealed session holds.
#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    pool: String,
    client: String,
    sub: String,
    challenge: String,
    /// Expiry, Unix milliseconds.
    exp: i64,
}

fn invalid_session() -> UserPoolError {
    UserPoolError::NotAuthorized("Invalid session for the user.".into())
}

fn incorrect_credentials() -> UserPoolError {
    UserPoolError::NotAuthorized("Incorrect username or password.".into())
}

fn required<'a>(
    parameters: &'a BTreeMap<String, String>,
    name: &str,
) -> Result<&'a str, UserPoolError> {
    parameters
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| UserPoolError::invalid(format!("Missing required parameter {name}")))
}

enum Flow {
    Password,
    Refresh,
}

impl UserPools {
    /// InitiateAuth (public): `USER_PASSWORD_AUTH`, `REFRESH_TOKEN_AUTH` or `REFRESH_TOKEN`.
    pub async fn initiate_auth(
        &self,
        client_id: &str,
        auth_flow: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let flow = match auth_flow {
            "USER_PASSWORD_AUTH" => Flow::Password,
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => Flow::Refresh,
            "USER_SRP_AUTH" | "CUSTOM_AUTH" | "USER_AUTH" => {
                return Err(UserPoolError::invalid(format!(
                    "auth flow `{auth_flow}` is not supported"
                )));
            }
            "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => {
                return Err(UserPoolError::invalid(
                    "Initiate Auth method not supported.",
                ));
            }
            other => return Err(unknown_flow(other)),
        };
        let (pool, client) = self.app_client(client_id).await?;
        self.run_flow(&pool, &client, flow, parameters).await
    }

    /// AdminInitiateAuth (operator): `ADMIN_USER_PASSWORD_AUTH` (legacy name
    /// `ADMIN_NO_SRP_AUTH`), `REFRESH_TOKEN_AUTH` or `REFRESH_TOKEN`.
    pub async fn admin_initiate_auth(
        &self,
        pool_id: &str,
        client_id: &str,
        auth_flow: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let flow = match auth_flow {
            "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => Flow::Password,
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => Flow::Refresh,
            "USER_PASSWORD_AUTH" | "USER_SRP_AUTH" | "CUSTOM_AUTH" | "USER_AUTH" => {
                return Err(UserPoolError::invalid(
                    "Initiate Auth method not supported.",
                ));
            }
            other => return Err(unknown_flow(other)),
        };
        let pool = self.user_pool(pool_id).await?;
        let client = self.pool_client(pool_id, client_id).await?;
        let flow = match flow {
            Flow::Password => {
                if !client
                    .config
                    .allows(ExplicitAuthFlow::AllowAdminUserPasswordAuth)
                {
                    return Err(UserPoolError::invalid(
                        "Auth flow not enabled for this client",
                    ));
                }
                return self.password_auth(&pool, &client, parameters).await;
            }
            Flow::Refresh => Flow::Refresh,
        };
        self.run_flow(&pool, &client, flow, parameters).await
    }

    async fn run_flow(
        &self,
        pool: &UserPool,
        client: &Client,
        flow: Flow,
        parameters: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        match flow {
            Flow::Password => {
                if !client
                    .config
                    .allows(ExplicitAuthFlow::AllowUserPasswordAuth)
                {
                    return Err(UserPoolError::invalid(
                        "USER_PASSWORD_AUTH flow not enabled for this client",
                    ));
                }
                self.password_auth(pool, client, parameters).await
            }
            Flow::Refresh => {
                if !client
                    .config
                    .allows(ExplicitAuthFlow::AllowRefreshTokenAuth)
                {
                    return Err(UserPoolError::invalid(
                        "Refresh Token flow not enabled for this client",
                    ));
                }
                self.refresh_auth(pool, client, parameters)
                    .await
                    .map(AuthOutcome::Tokens)
            }
        }
    }

    /// The password step shared by `USER_PASSWORD_AUTH` and `ADMIN_USER_PASSWORD_AUTH`.
    async fn password_auth(
        &self,
        pool: &UserPool,
        client: &Client,
        parameters: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let username = required(parameters, "USERNAME")?;
        let password = required(parameters, "PASSWORD")?;
        if password
            .chars()
            .nth(crate::password::MAX_PASSWORD_CHARS)
            .is_some()
        {
            return Err(UserPoolError::invalid(
                "password must have length less than or equal to 256",
            ));
        }
        self.check_secret_hash(
            client,
            username,
            parameters.get("SECRET_HASH").map(String::as_str),
        )?;
        let now = self.now();
        let user = self.find_user(pool, username).await?;
        let uniform = client.config.prevent_user_existence_errors;
        // Unknown users (and users without a password) are checked against the dummy hash:
        // one argon2 run either way. The lockout (see `attempts`) counts the checks of a
        // user's password, and of a name nobody holds when the client hides which users
        // exist (so an unknown name locks like a real user).
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let matched = if user.is_some() || uniform {
            let subject = Subject::of(self, pool, user.as_ref(), username);
            self.check_password(pool, &subject, password, stored, now)
                .await?
        } else {
            self.passwords().verify(password, stored).await?
        };
        let Some(user) = user else {
            return Err(if uniform {
                incorrect_credentials()
            } else {
                UserPoolError::UserNotFound("User does not exist.".into())
            });
        };
        if !matched {
            return Err(incorrect_credentials());
        }
        if !user.enabled {
            return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
        }
        match user.status {
            UserStatus::Confirmed => self
                .issue_tokens(pool, client, &user, now, TokenOrigin::NewSession)
                .await
                .map(AuthOutcome::Tokens),
            UserStatus::ForceChangePassword => Ok(AuthOutcome::Challenge(
                self.new_password_challenge(pool, client, &user, now)?,
            )),
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

    /// The `NEW_PASSWORD_REQUIRED` challenge with its sealed session and Cognito's
    /// parameters: `USER_ID_FOR_SRP`, `requiredAttributes` (required attributes the user
    /// lacks, as `userAttributes.<name>`) and `userAttributes` (JSON, without `sub`).
    fn new_password_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        now: SystemTime,
    ) -> Result<Challenge, UserPoolError> {
        let missing: Vec<String> = pool
            .config
            .schema
            .iter()
            .filter(|a| a.required && a.name != "sub")
            .filter(|a| user.attribute(&a.name).is_none_or(str::is_empty))
            .map(|a| format!("userAttributes.{}", a.name))
            .collect();
        let shown: BTreeMap<&str, &str> = user
            .attributes
            .iter()
            .filter(|(k, _)| *k != "sub")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut parameters = BTreeMap::new();
        parameters.insert("USER_ID_FOR_SRP".to_owned(), user.username.clone());
        parameters.insert("requiredAttributes".to_owned(), to_json(&missing)?);
        parameters.insert("userAttributes".to_owned(), to_json(&shown)?);
        Ok(Challenge {
            name: NEW_PASSWORD_REQUIRED.into(),
            session: self.seal_session(pool, client, user, NEW_PASSWORD_REQUIRED, now)?,
            parameters,
        })
    }

    /// Seals a challenge session valid for the client's `AuthSessionValidity`.
    fn seal_session(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        challenge: &str,
        now: SystemTime,
    ) -> Result<String, UserPoolError> {
        let lifetime = Duration::from_secs(u64::from(client.config.auth_session_validity) * 60);
        let claims = SessionClaims {
            pool: pool.id.clone(),
            client: client.id.clone(),
            sub: user.sub.clone(),
            challenge: challenge.to_owned(),
            exp: unix_millis(now + lifetime),
        };
        let plain =
            serde_json::to_vec(&claims).map_err(|e| UserPoolError::internal("session", e))?;
        let sealed = self
            .sealer()
            .seal(&plain, SESSION_AAD)
            .map_err(|e| UserPoolError::internal("session", e))?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Opens a session for `pool`/`client`/`challenge`; anything else (forged, expired,
    /// another client's) is "Invalid session for the user.".
    fn open_session(
        &self,
        session: &str,
        pool: &UserPool,
        client: &Client,
        challenge: &str,
        now: SystemTime,
    ) -> Result<SessionClaims, UserPoolError> {
        if session.len() > MAX_SESSION_LEN {
            return Err(invalid_session());
        }
        let blob = URL_SAFE_NO_PAD
            .decode(session.trim_end_matches('='))
            .map_err(|_| invalid_session())?;
        let plain = self
            .sealer()
            .open(&blob, SESSION_AAD)
            .map_err(|_| invalid_session())?;
        let claims: SessionClaims =
            serde_json::from_slice(&plain).map_err(|_| invalid_session())?;
        if claims.pool != pool.id || claims.client != client.id || claims.challenge != challenge {
            return Err(invalid_session());
        }
        if claims.exp <= unix_millis(now) {
            return Err(UserPoolError::NotAuthorized(
                "Invalid session for the user, session is expired.".into(),
            ));
        }
        Ok(claims)
    }

    /// RespondToAuthChallenge (public).
    pub async fn respond_to_auth_challenge(
        &self,
        client_id: &str,
        challenge_name: &str,
        session: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let (pool, client) = self.app_client(client_id).await?;
        self.answer_challenge(&pool, &client, challenge_name, session, responses)
            .await
    }

    /// AdminRespondToAuthChallenge (operator).
    pub async fn admin_respond_to_auth_challenge(
        &self,
        pool_id: &str,
        client_id: &str,
        challenge_name: &str,
        session: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let client = self.pool_client(pool_id, client_id).await?;
        self.answer_challenge(&pool, &client, challenge_name, session, responses)
            .await
    }

    /// Answers `NEW_PASSWORD_REQUIRED`: `NEW_PASSWORD` (policy enforced) and any
    /// `userAttributes.<name>` the client may write (required ones must be there in the end);
    /// the user becomes CONFIRMED and gets tokens.
    async fn answer_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        challenge_name: &str,
        session: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        if challenge_name != NEW_PASSWORD_REQUIRED {
            return Err(UserPoolError::invalid(format!(
                "challenge `{challenge_name}` is not supported"
            )));
        }
        let now = self.now();
        let username = required(responses, "USERNAME")?;
        self.check_secret_hash(
            client,
            username,
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let claims = self.open_session(session, pool, client, challenge_name, now)?;
        let new_password = required(responses, "NEW_PASSWORD")?;
        let user = match self
            .store()
            .users()
            .get_by_sub(&pool.id, &claims.sub)
            .await?
        {
            Some(r) => user_from_record(r)?,
            None => return Err(invalid_session()),
        };
        let named = self.find_user(pool, username).await?;
        if named.as_ref().is_none_or(|u| u.sub != user.sub)
            || !user.enabled
            || user.status != UserStatus::ForceChangePassword
        {
            return Err(invalid_session());
        }
        let changes: Vec<(String, String)> = responses
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("userAttributes.")
                    .map(|name| (name.to_owned(), v.clone()))
            })
            .collect();
        self.check_password_policy(pool, new_password)?;
        self.validate_attributes(pool, Some(client), &changes, AttributeWrite::UserUpdate)?;
        let mut merged = user.attributes.clone();
        for (k, v) in &changes {
            merged.insert(k.clone(), v.clone());
        }
        self.check_required_attributes(pool, &merged)
            .map_err(|_| UserPoolError::invalid("Missing required attributes"))?;
        let hash = self.passwords().hash(new_password).await?;
        let user = if changes.is_empty() {
            user
        } else {
            self.update_user_attributes(
                pool,
                Some(client),
                &user,
                &changes,
                AttributeWrite::UserUpdate,
            )
            .await?;
            match self.store().users().get_by_sub(&pool.id, &user.sub).await? {
                Some(r) => user_from_record(r)?,
                None => return Err(invalid_session()),
            }
        };
        self.store()
            .users()
            .set_password(
                &pool.id,
                &user.sub,
                Some(&hash),
                UserStatus::Confirmed.as_str(),
                unix_millis(now),
                false,
            )
            .await?;
        // The session is stored for the password just set (see `issue_tokens`).
        let user = User {
            status: UserStatus::Confirmed,
            password_hash: Some(hash),
            ..user
        };
        self.issue_tokens(pool, client, &user, now, TokenOrigin::NewSession)
            .await
            .map(AuthOutcome::Tokens)
    }

    /// `REFRESH_TOKEN_AUTH`: new ID and access tokens for a live refresh token issued to
    /// this client, with the session's `auth_time` and `origin_jti`; no new refresh token
    /// (see `refresh`, which also serves GetTokensFromRefreshToken).
    async fn refresh_auth(
        &self,
        pool: &UserPool,
        client: &Client,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Tokens, UserPoolError> {
        self.refresh_without_rotation(pool, client, parameters)
            .await
    }
}

fn unknown_flow(flow: &str) -> UserPoolError {
    UserPoolError::invalid(format!(
        "1 validation error detected: Value '{flow}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set"
    ))
}

/// JSON text of a challenge parameter (Cognito sends nested JSON as strings).
fn to_json(value: &impl Serialize) -> Result<String, UserPoolError> {
    serde_json::to_string(value).map_err(|e| UserPoolError::internal("challenge", e))
}
