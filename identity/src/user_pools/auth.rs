//! Authentication: InitiateAuth (`USER_PASSWORD_AUTH`, `USER_SRP_AUTH`, `CUSTOM_AUTH`,
//! `REFRESH_TOKEN_AUTH`/`REFRESH_TOKEN`), AdminInitiateAuth (`ADMIN_USER_PASSWORD_AUTH`/
//! `ADMIN_NO_SRP_AUTH`, `USER_SRP_AUTH`, `CUSTOM_AUTH`, refresh), and RespondToAuthChallenge /
//! AdminRespondToAuthChallenge, which hand each challenge to `challenges` (the chain after the
//! first factor: new password, device SRP, MFA), `srp_auth` (the SRP password proof) or
//! `custom_auth` (the challenges of the pool's custom-authentication triggers).
//!
//! # Timing
//! An unknown user is verified against the hasher's dummy hash, so it costs one argon2 run
//! like a wrong password and the two cannot be told apart by timing; the SRP flow uses a
//! dummy verifier the same way (`srp_auth`).
//!
//! # Lazy migration
//! A user missing here, signing in with `USER_PASSWORD_AUTH` or `ADMIN_USER_PASSWORD_AUTH`,
//! is looked up in the pool's migration source with the password (`migration`); SRP cannot
//! carry the password there, so a user who was never migrated cannot sign in with SRP.
//!
//! # Lockout
//! Password attempts (both password flows and SRP proofs) count towards the user's lockout,
//! as `attempts` describes: five failures lock the account for 1 s, doubling per further
//! failure up to 15 minutes.

use std::collections::BTreeMap;

use super::attempts::Subject;
use super::challenges::{SignIn, password_digest};
use super::config::ExplicitAuthFlow;
use super::{Client, Tokens, UserPool, UserPoolError, UserPools, UserStatus};

/// The challenge of users whose password an operator set (FORCE_CHANGE_PASSWORD).
pub const NEW_PASSWORD_REQUIRED: &str = "NEW_PASSWORD_REQUIRED";
/// Longest `Session` accepted (Cognito's limit).
pub const MAX_SESSION_LEN: usize = 2048;

/// A challenge the user must answer before tokens are issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `ChallengeName`.
    pub name: String,
    /// `Session`, to send back with the answer; empty for `PASSWORD_VERIFIER`, whose state
    /// travels in its `SECRET_BLOCK` (as on Cognito, where the SDKs send no session).
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

pub(crate) fn invalid_session() -> UserPoolError {
    UserPoolError::NotAuthorized("Invalid session for the user.".into())
}

pub(crate) fn incorrect_credentials() -> UserPoolError {
    UserPoolError::NotAuthorized("Incorrect username or password.".into())
}

pub(crate) fn required<'a>(
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
    Srp,
    Refresh,
    Custom,
}

impl UserPools {
    /// InitiateAuth (public): `USER_PASSWORD_AUTH`, `USER_SRP_AUTH`, `REFRESH_TOKEN_AUTH` or
    /// `REFRESH_TOKEN`.
    pub async fn initiate_auth(
        &self,
        client_id: &str,
        auth_flow: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        self.initiate_auth_with_metadata(client_id, auth_flow, parameters, &BTreeMap::new())
            .await
    }

    /// InitiateAuth with the request's `ClientMetadata`, which PreAuthentication receives
    /// as `validationData` (as Cognito hands it on).
    pub async fn initiate_auth_with_metadata(
        &self,
        client_id: &str,
        auth_flow: &str,
        parameters: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        check_client_metadata(metadata)?;
        let flow = match auth_flow {
            "USER_PASSWORD_AUTH" => Flow::Password,
            "USER_SRP_AUTH" => Flow::Srp,
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => Flow::Refresh,
            "CUSTOM_AUTH" => Flow::Custom,
            "USER_AUTH" => {
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
        self.run_flow(&pool, &client, flow, parameters, metadata)
            .await
    }

    /// AdminInitiateAuth (operator): `ADMIN_USER_PASSWORD_AUTH` (legacy name
    /// `ADMIN_NO_SRP_AUTH`), `USER_SRP_AUTH`, `REFRESH_TOKEN_AUTH` or `REFRESH_TOKEN`.
    pub async fn admin_initiate_auth(
        &self,
        pool_id: &str,
        client_id: &str,
        auth_flow: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        self.admin_initiate_auth_with_metadata(
            pool_id,
            client_id,
            auth_flow,
            parameters,
            &BTreeMap::new(),
        )
        .await
    }

    /// AdminInitiateAuth with the request's `ClientMetadata` (see
    /// [`UserPools::initiate_auth_with_metadata`]).
    pub async fn admin_initiate_auth_with_metadata(
        &self,
        pool_id: &str,
        client_id: &str,
        auth_flow: &str,
        parameters: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        check_client_metadata(metadata)?;
        let flow = match auth_flow {
            "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => Flow::Password,
            "USER_SRP_AUTH" => Flow::Srp,
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => Flow::Refresh,
            "CUSTOM_AUTH" => Flow::Custom,
            "USER_PASSWORD_AUTH" | "USER_AUTH" => {
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
                return self
                    .password_auth(&pool, &client, parameters, metadata)
                    .await;
            }
            other => other,
        };
        self.run_flow(&pool, &client, flow, parameters, metadata)
            .await
    }

    async fn run_flow(
        &self,
        pool: &UserPool,
        client: &Client,
        flow: Flow,
        parameters: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        match flow {
            Flow::Custom => {
                self.custom_initiate(pool, client, parameters, metadata)
                    .await
            }
            Flow::Password => {
                if !client
                    .config
                    .allows(ExplicitAuthFlow::AllowUserPasswordAuth)
                {
                    return Err(UserPoolError::invalid(
                        "USER_PASSWORD_AUTH flow not enabled for this client",
                    ));
                }
                self.password_auth(pool, client, parameters, metadata).await
            }
            Flow::Srp => {
                if !client.config.allows(ExplicitAuthFlow::AllowUserSrpAuth) {
                    return Err(UserPoolError::invalid(
                        "USER_SRP_AUTH is not enabled for the client.",
                    ));
                }
                self.srp_initiate(pool, client, parameters, metadata).await
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
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let username = required(parameters, "USERNAME")?;
        let password = required(parameters, "PASSWORD")?;
        check_password_length(password)?;
        self.check_secret_hash(
            client,
            username,
            parameters.get("SECRET_HASH").map(String::as_str),
        )?;
        self.password_step(
            pool,
            client,
            username,
            password,
            parameters.get("DEVICE_KEY"),
            false,
            metadata,
        )
        .await
    }

    /// A sign-in on the hosted pages with a username (or alias) and password: the same
    /// password check, lockout and sign-in chain as `USER_PASSWORD_AUTH`, always answering as
    /// a client that hides which users exist. It ends in a challenge: the next step (a new
    /// password, MFA), or [`HOSTED_SIGN_IN_COMPLETE`](super::challenges::HOSTED_SIGN_IN_COMPLETE),
    /// whose sealed session `crate::oauth2` redeems once for the user.
    pub(crate) async fn hosted_password_sign_in(
        &self,
        pool: &UserPool,
        client: &Client,
        username: &str,
        password: &str,
    ) -> Result<AuthOutcome, UserPoolError> {
        if username.is_empty() || password.is_empty() {
            return Err(incorrect_credentials());
        }
        check_password_length(password)?;
        self.password_step(
            pool,
            client,
            username,
            password,
            None,
            true,
            &BTreeMap::new(),
        )
        .await
    }

    /// The password check and what follows it, for the API (`hosted: false`) or the hosted
    /// pages; `metadata` is the request's `ClientMetadata`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the one password step of every password sign-in, API and hosted"
    )]
    async fn password_step(
        &self,
        pool: &UserPool,
        client: &Client,
        username: &str,
        password: &str,
        device_key: Option<&String>,
        hosted: bool,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let now = self.now();
        let uniform = hosted || client.config.prevent_user_existence_errors;
        // A user missing here may come from the pool's migration sources (read whether the
        // user exists or not: the same reads either way); once it exists here, it signs in
        // as any user does.
        let sources = self
            .migration_sources(pool, Some(&client.id), metadata)
            .await?;
        let mut user = self.find_user(pool, username).await?;
        if user.is_none()
            && self
                .migrate_on_sign_in(pool, &sources, uniform, username, password, now)
                .await?
        {
            user = self.find_user(pool, username).await?;
        }
        // Unknown users (and users without a password) are checked against the dummy hash:
        // one argon2 run either way. The lockout (see `attempts`) counts the checks of a
        // user's password, and of a name nobody holds when the client hides which users
        // exist (so an unknown name locks like a real user).
        // PreAuthentication is asked before the password is checked (and before the check
        // counts towards the lockout), as Cognito asks it.
        self.pre_authentication(pool, client, user.as_ref(), username, uniform, metadata)
            .await?;
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
            UserStatus::Confirmed | UserStatus::ForceChangePassword => {
                let user = self.backfill_srp_verifier(pool, user, password).await;
                let device = self.presented_device(pool, &user, device_key).await?;
                let sign_in = SignIn {
                    name: username.to_owned(),
                    password: password_digest(&user),
                    device,
                    device_proven: false,
                    hosted,
                    new_password: false,
                    client_metadata: BTreeMap::new(),
                };
                self.next_step(pool, client, user, sign_in, now).await
            }
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

    /// RespondToAuthChallenge (public). `session` is `None` only for `PASSWORD_VERIFIER`,
    /// whose state is in its secret block.
    pub async fn respond_to_auth_challenge(
        &self,
        client_id: &str,
        challenge_name: &str,
        session: Option<&str>,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        self.respond_to_auth_challenge_with_metadata(
            client_id,
            challenge_name,
            session,
            responses,
            &BTreeMap::new(),
        )
        .await
    }

    /// RespondToAuthChallenge with the request's `ClientMetadata`, which PostAuthentication
    /// and PreTokenGeneration receive as `clientMetadata` when this answer ends the sign-in.
    pub async fn respond_to_auth_challenge_with_metadata(
        &self,
        client_id: &str,
        challenge_name: &str,
        session: Option<&str>,
        responses: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        check_client_metadata(metadata)?;
        let (pool, client) = self.app_client(client_id).await?;
        self.answer_challenge(&pool, &client, challenge_name, session, responses, metadata)
            .await
    }

    /// AdminRespondToAuthChallenge (operator).
    pub async fn admin_respond_to_auth_challenge(
        &self,
        pool_id: &str,
        client_id: &str,
        challenge_name: &str,
        session: Option<&str>,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        self.admin_respond_to_auth_challenge_with_metadata(
            pool_id,
            client_id,
            challenge_name,
            session,
            responses,
            &BTreeMap::new(),
        )
        .await
    }

    /// AdminRespondToAuthChallenge with the request's `ClientMetadata` (see
    /// [`UserPools::respond_to_auth_challenge_with_metadata`]).
    pub async fn admin_respond_to_auth_challenge_with_metadata(
        &self,
        pool_id: &str,
        client_id: &str,
        challenge_name: &str,
        session: Option<&str>,
        responses: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        check_client_metadata(metadata)?;
        let pool = self.user_pool(pool_id).await?;
        let client = self.pool_client(pool_id, client_id).await?;
        self.answer_challenge(&pool, &client, challenge_name, session, responses, metadata)
            .await
    }

    /// Routes an answer to its challenge.
    async fn answer_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        challenge_name: &str,
        session: Option<&str>,
        responses: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        if challenge_name == super::srp_auth::PASSWORD_VERIFIER {
            return self.srp_answer(pool, client, responses, metadata).await;
        }
        if challenge_name == super::custom_auth::CUSTOM_CHALLENGE {
            let session = session
                .filter(|s| !s.is_empty())
                .ok_or_else(|| UserPoolError::invalid("Missing required parameter Session"))?;
            return self
                .custom_answer(pool, client, session, responses, metadata)
                .await;
        }
        let known = super::challenges::CHALLENGES.contains(&challenge_name);
        if !known {
            return Err(UserPoolError::invalid(format!(
                "challenge `{challenge_name}` is not supported"
            )));
        }
        let session = session
            .filter(|s| !s.is_empty())
            .ok_or_else(|| UserPoolError::invalid("Missing required parameter Session"))?;
        self.answer_chain_challenge(pool, client, challenge_name, session, responses, metadata)
            .await
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

/// Most `ClientMetadata` entries a request may carry.
pub const MAX_CLIENT_METADATA_ENTRIES: usize = 50;
/// Longest `ClientMetadata` key (characters).
pub const MAX_CLIENT_METADATA_KEY: usize = 256;
/// Longest `ClientMetadata` value (characters).
pub const MAX_CLIENT_METADATA_VALUE: usize = 2048;

/// Refuses `ClientMetadata` beyond the limits before anything is done with it (it is handed
/// to the pool's trigger functions).
pub(crate) fn check_client_metadata(
    metadata: &BTreeMap<String, String>,
) -> Result<(), UserPoolError> {
    let too_long = |s: &str, max: usize| s.chars().nth(max).is_some();
    if metadata.len() > MAX_CLIENT_METADATA_ENTRIES
        || metadata.iter().any(|(k, v)| {
            k.is_empty()
                || too_long(k, MAX_CLIENT_METADATA_KEY)
                || too_long(v, MAX_CLIENT_METADATA_VALUE)
        })
    {
        return Err(UserPoolError::invalid(format!(
            "ClientMetadata must have at most {MAX_CLIENT_METADATA_ENTRIES} entries, keys of 1 to {MAX_CLIENT_METADATA_KEY} characters and values of at most {MAX_CLIENT_METADATA_VALUE}"
        )));
    }
    Ok(())
}

/// Refuses passwords longer than any pool accepts before hashing them.
fn check_password_length(password: &str) -> Result<(), UserPoolError> {
    if password
        .chars()
        .nth(crate::password::MAX_PASSWORD_CHARS)
        .is_some()
    {
        return Err(UserPoolError::invalid(
            "password must have length less than or equal to 256",
        ));
    }
    Ok(())
}

fn unknown_flow(flow: &str) -> UserPoolError {
    UserPoolError::invalid(format!(
        "1 validation error detected: Value '{flow}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set"
    ))
}

/// JSON text of a challenge parameter (Cognito sends nested JSON as strings).
pub(crate) fn to_json(value: &impl serde::Serialize) -> Result<String, UserPoolError> {
    serde_json::to_string(value).map_err(|e| UserPoolError::internal("challenge", e))
}
