//! The sign-in chain after the password: `NEW_PASSWORD_REQUIRED`, then either device SRP
//! (`DEVICE_SRP_AUTH` → `DEVICE_PASSWORD_VERIFIER`, when a remembered device may skip MFA) or
//! the MFA challenge the pool and the user call for (`SOFTWARE_TOKEN_MFA`, `EMAIL_OTP`,
//! `SELECT_MFA_TYPE`, `MFA_SETUP`), then tokens, with `NewDeviceMetadata` when the pool
//! tracks devices.
//!
//! # Sessions
//! A challenge `Session` is a blob sealed with the master key (AES-256-GCM) holding the pool,
//! client, user, challenge, expiry and what the sign-in proved so far, so any node sharing the
//! master key can read it without a database row. It expires after the client's
//! `AuthSessionValidity` (3 minutes by default), is answered once (its id is spent in storage
//! before the answer is checked, on whichever node), and only works while the user is enabled
//! and has the password the sign-in checked.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::attributes::{AttributeWrite, user_from_record};
use super::auth::{
    AuthOutcome, Challenge, MAX_SESSION_LEN, NEW_PASSWORD_REQUIRED, invalid_session, required,
    to_json,
};
use super::mfa::MfaPlan;
use super::pre_token::TokenSource;
use super::{Client, TokenOrigin, User, UserPool, UserPoolError, UserPools, UserStatus};
use crate::time::unix_millis;

/// The TOTP challenge.
pub const SOFTWARE_TOKEN_MFA: &str = "SOFTWARE_TOKEN_MFA";
/// The email-code challenge.
pub const EMAIL_OTP: &str = "EMAIL_OTP";
/// The choice between several enabled factors.
pub const SELECT_MFA_TYPE: &str = "SELECT_MFA_TYPE";
/// Enrolment of a first factor in a pool that requires MFA.
pub const MFA_SETUP: &str = "MFA_SETUP";
/// A remembered device proving its secret (first half).
pub const DEVICE_SRP_AUTH: &str = "DEVICE_SRP_AUTH";
/// A remembered device proving its secret (second half).
pub const DEVICE_PASSWORD_VERIFIER: &str = "DEVICE_PASSWORD_VERIFIER";

/// Every challenge answered with a `Session`.
pub(crate) const CHALLENGES: &[&str] = &[
    NEW_PASSWORD_REQUIRED,
    SOFTWARE_TOKEN_MFA,
    EMAIL_OTP,
    SELECT_MFA_TYPE,
    MFA_SETUP,
    DEVICE_SRP_AUTH,
    DEVICE_PASSWORD_VERIFIER,
];

const SESSION_AAD: &[u8] = b"gatehouse auth session v2";

/// How long a spent session's id is kept past the session's expiry. Nodes judge expiry by
/// their own clocks: were the id purged as soon as the purging node's clock passed the
/// expiry, a node whose clock is behind would still take the session as live and unspent,
/// and it could be answered again. Kept this long, clocks up to this far apart are safe.
pub(crate) const SPENT_KEPT_PAST_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// What a sealed session (or SRP secret block) holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SessionClaims {
    /// Spent once answered.
    pub(crate) id: String,
    pub(crate) pool: String,
    pub(crate) client: String,
    /// The user; for an SRP exchange with a name nobody holds, a stand-in's `sub` that no
    /// user has (see `srp_auth`).
    pub(crate) sub: String,
    pub(crate) challenge: String,
    /// Expiry, Unix milliseconds.
    pub(crate) exp: i64,
    pub(crate) sign_in: SignIn,
    /// `EMAIL_OTP`: the code sent, hashed.
    #[serde(default)]
    pub(crate) code: Option<String>,
    /// `PASSWORD_VERIFIER`, `DEVICE_PASSWORD_VERIFIER`: what checks the proof.
    #[serde(default)]
    pub(crate) srp: Option<SrpState>,
    /// `MFA_SETUP`: a software token was verified in this sign-in.
    #[serde(default)]
    pub(crate) setup_done: bool,
    /// `CUSTOM_CHALLENGE`, and `PASSWORD_VERIFIER` in a custom chain: the chain so far and
    /// the challenge's private parameters (see `custom_auth`).
    #[serde(default)]
    pub(crate) custom: Option<super::custom_auth::CustomChain>,
    /// A hosted sign-in's answers to this challenge refused so far (the pages ask again
    /// with a new session, up to `hosted_chain::HOSTED_TRIES`).
    #[serde(default)]
    pub(crate) tries: u8,
    /// `EMAIL_OTP` asked again on the pages: the id of the session the code was sent with
    /// (what the code's hash is bound to), when it is not this session's.
    #[serde(default)]
    pub(crate) code_session: Option<String>,
}

/// What a sign-in carries from one step to the next.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignIn {
    /// The `USERNAME` given at the first step (an alias, or the username itself).
    pub(crate) name: String,
    /// A digest of the password hash the first step checked: a password changed since
    /// ends the sign-in.
    pub(crate) password: String,
    /// The tracked device the client named (`DEVICE_KEY`), checked to be the user's.
    pub(crate) device: Option<String>,
    /// The device proved its secret (device SRP), which stands in for MFA.
    #[serde(default)]
    pub(crate) device_proven: bool,
    /// A sign-in on the hosted pages: it ends in [`HOSTED_SIGN_IN_COMPLETE`], never in
    /// tokens, and its challenges are answered on the pages, never through the API.
    #[serde(default)]
    pub(crate) hosted: bool,
    /// The user set a new password in this sign-in (`NEW_PASSWORD_REQUIRED`): the tokens'
    /// PreTokenGeneration source is `TokenGeneration_NewPasswordChallenge`.
    #[serde(default)]
    pub(crate) new_password: bool,
    /// The `ClientMetadata` of the request being answered (never sealed into a session:
    /// each request brings its own), for PostAuthentication and PreTokenGeneration.
    #[serde(skip)]
    pub(crate) client_metadata: BTreeMap<String, String>,
}

/// The last step of a hosted sign-in: no tokens, but a sealed, single-use proof that the
/// user authenticated, which the OAuth layer turns into a hosted session and a code (see
/// `crate::oauth2`). Never a Cognito challenge: the API refuses it like any unknown name.
pub(crate) const HOSTED_SIGN_IN_COMPLETE: &str = "HOSTED_SIGN_IN_COMPLETE";

/// An SRP exchange in flight.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SrpState {
    /// The derived key (hex). For a stand-in (a name nobody holds, a user whose password
    /// predates SRP) a key no proof can match, of the same length as any other.
    pub(crate) key: String,
    /// What the proof signs as the user: `USER_ID_FOR_SRP`, or the device key.
    pub(crate) user_id: String,
    /// What the proof signs as the pool: the pool name, or the device group key.
    pub(crate) group: String,
    /// `DEVICE_PASSWORD_VERIFIER`: the `SECRET_BLOCK` it was sent.
    #[serde(default)]
    pub(crate) block: Option<String>,
}

/// A digest of a user's password hash (kept in sessions instead of the hash).
pub(crate) fn password_digest(user: &User) -> String {
    crate::crypto::hash_token(user.password_hash.as_deref().unwrap_or(""))
}

fn spent_session() -> UserPoolError {
    UserPoolError::NotAuthorized(
        "Invalid session for the user, session can only be used once.".into(),
    )
}

impl UserPools {
    /// New claims for `challenge`, valid for the client's `AuthSessionValidity`.
    pub(crate) fn new_claims(
        &self,
        pool: &UserPool,
        client: &Client,
        sub: &str,
        challenge: &str,
        sign_in: SignIn,
        now: SystemTime,
    ) -> SessionClaims {
        let lifetime = Duration::from_secs(u64::from(client.config.auth_session_validity) * 60);
        SessionClaims {
            id: crate::ids::uuid_v4(),
            pool: pool.id.clone(),
            client: client.id.clone(),
            sub: sub.to_owned(),
            challenge: challenge.to_owned(),
            exp: unix_millis(now + lifetime),
            sign_in,
            code: None,
            srp: None,
            setup_done: false,
            custom: None,
            tries: 0,
            code_session: None,
        }
    }

    /// The sealed bytes of `claims`.
    pub(crate) fn seal_claims(&self, claims: &SessionClaims) -> Result<Vec<u8>, UserPoolError> {
        let plain =
            serde_json::to_vec(claims).map_err(|e| UserPoolError::internal("session", e))?;
        self.sealer()
            .seal(&plain, SESSION_AAD)
            .map_err(|e| UserPoolError::internal("session", e))
    }

    /// `claims` as a `Session` string.
    pub(crate) fn session_text(&self, claims: &SessionClaims) -> Result<String, UserPoolError> {
        Ok(URL_SAFE_NO_PAD.encode(self.seal_claims(claims)?))
    }

    /// Opens sealed claims for `pool`/`client`/`challenge`; anything else (forged, another
    /// client's, another challenge's) is "Invalid session for the user.".
    pub(crate) fn open_claims(
        &self,
        blob: &[u8],
        pool: &UserPool,
        client: &Client,
        challenge: &str,
        now: SystemTime,
    ) -> Result<SessionClaims, UserPoolError> {
        let plain = self
            .sealer()
            .open(blob, SESSION_AAD)
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

    /// Opens a `Session` string (see [`UserPools::open_claims`]).
    pub(crate) fn open_session(
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
        self.open_claims(&blob, pool, client, challenge, now)
    }

    /// Deletes the ids of spent sessions that expired [`SPENT_KEPT_PAST_EXPIRY`] before the
    /// clock's now; returns how many.
    pub async fn purge_spent_sessions(&self) -> Result<u64, UserPoolError> {
        let before = unix_millis(
            self.now()
                .checked_sub(SPENT_KEPT_PAST_EXPIRY)
                .unwrap_or(UNIX_EPOCH),
        );
        Ok(self.store().spent_sessions().purge_expired(before).await?)
    }

    /// The client a `Session` names, for operations that name no client
    /// (AssociateSoftwareToken, VerifySoftwareToken); [`UserPools::open_session`] still
    /// checks everything.
    pub(crate) fn session_client(&self, session: &str) -> Result<String, UserPoolError> {
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
        Ok(claims.client)
    }

    /// Spends the session: a second answer, on any node, is refused.
    pub(crate) async fn spend(&self, claims: &SessionClaims) -> Result<(), UserPoolError> {
        if claims.id.is_empty()
            || !self
                .store()
                .spent_sessions()
                .spend(&claims.id, claims.exp)
                .await?
        {
            return Err(spent_session());
        }
        Ok(())
    }

    /// The session's user, as long as it is enabled and has the password the sign-in
    /// checked.
    pub(crate) async fn session_user(
        &self,
        pool: &UserPool,
        claims: &SessionClaims,
    ) -> Result<User, UserPoolError> {
        let user = match self
            .store()
            .users()
            .get_by_sub(&pool.id, &claims.sub)
            .await?
        {
            Some(r) => user_from_record(r)?,
            None => return Err(invalid_session()),
        };
        if !user.enabled || password_digest(&user) != claims.sign_in.password {
            return Err(invalid_session());
        }
        Ok(user)
    }

    /// Whether `username` (as sent with an answer) names the session's user: the name the
    /// sign-in started with, or any name of that user (`USER_ID_FOR_SRP` included).
    pub(crate) async fn names_user(
        &self,
        pool: &UserPool,
        username: &str,
        claims: &SessionClaims,
    ) -> Result<bool, UserPoolError> {
        if username == claims.sign_in.name {
            return Ok(true);
        }
        Ok(self
            .find_user(pool, username)
            .await?
            .is_some_and(|u| u.sub == claims.sub))
    }

    /// The client's `SECRET_HASH` of an answer, computed over any of the names of the
    /// sign-in (SDKs differ in which one they hash).
    pub(crate) fn check_answer_secret_hash(
        &self,
        client: &Client,
        names: &[&str],
        provided: Option<&str>,
    ) -> Result<(), UserPoolError> {
        let mut outcome = Ok(());
        for name in names {
            outcome = self.check_secret_hash(client, name, provided);
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    }

    /// What follows a checked password (or a new password, or a proven device): the next
    /// challenge, or tokens.
    pub(crate) async fn next_step(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        sign_in: SignIn,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        if user.status == UserStatus::ForceChangePassword {
            return self
                .new_password_challenge(pool, client, &user, sign_in, now)
                .map(AuthOutcome::Challenge);
        }
        self.second_factor_step(pool, client, user, sign_in, now)
            .await
    }

    /// What follows the first factor once no new password is due: device SRP or the MFA
    /// challenge the pool and the user call for, or tokens. A custom chain that checked no
    /// password ends here (its user has no password to change in it).
    pub(crate) async fn second_factor_step(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        sign_in: SignIn,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let plan = self.mfa_plan(pool, &user).await?;
        if plan == MfaPlan::None || sign_in.device_proven {
            return self.finish(pool, client, user, sign_in, now).await;
        }
        if self.device_skips_mfa(pool, &user, &sign_in).await? {
            let mut parameters = BTreeMap::new();
            parameters.insert("USERNAME".to_owned(), user.username.clone());
            let claims = self.new_claims(pool, client, &user.sub, DEVICE_SRP_AUTH, sign_in, now);
            return Ok(AuthOutcome::Challenge(Challenge {
                name: DEVICE_SRP_AUTH.into(),
                session: self.session_text(&claims)?,
                parameters,
            }));
        }
        self.mfa_challenge(pool, client, &user, plan, sign_in, now)
            .await
            .map(AuthOutcome::Challenge)
    }

    /// Tokens for a completed sign-in; with device tracking on, bound to the device the
    /// client named or to a new one (`NewDeviceMetadata`).
    pub(crate) async fn finish(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        sign_in: SignIn,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        // Every challenge is answered: PostAuthentication, before anything of the session
        // (a device, a hosted session, tokens) exists, so its refusal leaves nothing.
        let new_device_used = pool.config.device_settings().is_some() && sign_in.device.is_none();
        self.post_authentication(
            pool,
            client,
            &user,
            new_device_used,
            &sign_in.client_metadata,
        )
        .await?;
        if sign_in.hosted {
            let claims = self.new_claims(
                pool,
                client,
                &user.sub,
                HOSTED_SIGN_IN_COMPLETE,
                sign_in,
                now,
            );
            return Ok(AuthOutcome::Challenge(Challenge {
                name: HOSTED_SIGN_IN_COMPLETE.into(),
                session: self.session_text(&claims)?,
                parameters: BTreeMap::new(),
            }));
        }
        let source = if sign_in.new_password {
            TokenSource::NewPasswordChallenge
        } else if sign_in.device_proven {
            TokenSource::AuthenticateDevice
        } else {
            TokenSource::Authentication
        };
        let (device_key, new_device) = self.sign_in_device(pool, &user, &sign_in, now).await?;
        let mut tokens = self
            .issue_device_tokens(
                pool,
                client,
                &user,
                now,
                TokenOrigin::NewSession,
                device_key,
                None,
                source,
                &sign_in.client_metadata,
            )
            .await?;
        tokens.new_device = new_device;
        Ok(AuthOutcome::Tokens(tokens))
    }

    /// Answers a challenge that came with a `Session`: the session is opened, the
    /// `USERNAME` and `SECRET_HASH` checked, the session spent, then the answer itself.
    pub(crate) async fn answer_chain_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        challenge: &str,
        session: &str,
        responses: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let now = self.now();
        let username = required(responses, "USERNAME")?;
        let mut claims = self.open_session(session, pool, client, challenge, now)?;
        claims.sign_in.client_metadata = metadata.clone();
        // A hosted sign-in's challenges are the pages' to answer.
        if claims.sign_in.hosted {
            return Err(invalid_session());
        }
        self.check_answer_secret_hash(
            client,
            &[username, &claims.sign_in.name],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        if !self.names_user(pool, username, &claims).await? {
            return Err(invalid_session());
        }
        let user = self.session_user(pool, &claims).await?;
        if challenge == NEW_PASSWORD_REQUIRED {
            // A password the policy refuses, or attributes that are invalid or missing, are
            // no guess: the user may answer again with the same session, as on Cognito.
            self.check_new_password_answer(pool, client, &user, responses)?;
        }
        self.spend(&claims).await?;
        match challenge {
            NEW_PASSWORD_REQUIRED => {
                self.answer_new_password(pool, client, user, claims, responses, now)
                    .await
            }
            SOFTWARE_TOKEN_MFA | EMAIL_OTP => {
                self.answer_mfa_code(pool, client, user, claims, responses, now)
                    .await
            }
            SELECT_MFA_TYPE => {
                self.answer_select_mfa_type(pool, client, user, claims, responses, now)
                    .await
            }
            MFA_SETUP => {
                if !claims.setup_done {
                    return Err(UserPoolError::invalid(
                        "no software token was verified in this sign-in: call AssociateSoftwareToken and VerifySoftwareToken with its session first",
                    ));
                }
                self.finish(pool, client, user, claims.sign_in, now).await
            }
            DEVICE_SRP_AUTH => {
                self.device_srp_start(pool, client, user, claims, responses, now)
                    .await
            }
            DEVICE_PASSWORD_VERIFIER => {
                self.device_srp_answer(pool, client, user, claims, responses, now)
                    .await
            }
            other => Err(UserPoolError::invalid(format!(
                "challenge `{other}` is not supported"
            ))),
        }
    }

    /// `NEW_PASSWORD_REQUIRED`'s answer checked without changing anything: the password
    /// policy, the attributes written (`userAttributes.<name>`, which it returns) and the
    /// required attributes the user would still lack.
    pub(super) fn check_new_password_answer(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        responses: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>, UserPoolError> {
        self.check_password_policy(pool, required(responses, "NEW_PASSWORD")?)?;
        let changes: Vec<(String, String)> = responses
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("userAttributes.")
                    .map(|name| (name.to_owned(), v.clone()))
            })
            .collect();
        self.validate_attributes(pool, Some(client), &changes, AttributeWrite::UserUpdate)?;
        let mut merged = user.attributes.clone();
        for (k, v) in &changes {
            merged.insert(k.clone(), v.clone());
        }
        self.check_required_attributes(pool, &merged)
            .map_err(|_| UserPoolError::invalid("Missing required attributes"))?;
        Ok(changes)
    }

    /// The `NEW_PASSWORD_REQUIRED` challenge with its sealed session and Cognito's
    /// parameters: `USER_ID_FOR_SRP`, `requiredAttributes` (required attributes the user
    /// lacks, as `userAttributes.<name>`) and `userAttributes` (JSON, without `sub`).
    fn new_password_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        sign_in: SignIn,
        now: SystemTime,
    ) -> Result<Challenge, UserPoolError> {
        let parameters = new_password_parameters(pool, user)?;
        let claims = self.new_claims(pool, client, &user.sub, NEW_PASSWORD_REQUIRED, sign_in, now);
        Ok(Challenge {
            name: NEW_PASSWORD_REQUIRED.into(),
            session: self.session_text(&claims)?,
            parameters,
        })
    }

    /// Answers `NEW_PASSWORD_REQUIRED`: `NEW_PASSWORD` (policy enforced) and any
    /// `userAttributes.<name>` the client may write (required ones must be there in the end);
    /// the user becomes CONFIRMED and the sign-in goes on (MFA, tokens).
    pub(super) async fn answer_new_password(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        claims: SessionClaims,
        responses: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let new_password = required(responses, "NEW_PASSWORD")?;
        if user.status != UserStatus::ForceChangePassword {
            return Err(invalid_session());
        }
        let changes = self.check_new_password_answer(pool, client, &user, responses)?;
        let secrets = self
            .password_secrets(pool, &user.sub, &user.username, new_password)
            .await?;
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
                Some(&secrets.hash),
                Some(&secrets.srp_verifier),
                UserStatus::Confirmed.as_str(),
                unix_millis(now),
                false,
            )
            .await?;
        // The rest of the sign-in (and its refresh token) is for the password just set.
        let user = User {
            status: UserStatus::Confirmed,
            password_hash: Some(secrets.hash),
            srp_verifier: Some(secrets.srp_verifier),
            ..user
        };
        let sign_in = SignIn {
            password: password_digest(&user),
            new_password: true,
            ..claims.sign_in
        };
        self.next_step(pool, client, user, sign_in, now).await
    }
}

/// `NEW_PASSWORD_REQUIRED`'s parameters, as Cognito sends them: `USER_ID_FOR_SRP`,
/// `requiredAttributes` (required attributes the user lacks, as `userAttributes.<name>`) and
/// `userAttributes` (JSON, without `sub`).
pub(super) fn new_password_parameters(
    pool: &UserPool,
    user: &User,
) -> Result<BTreeMap<String, String>, UserPoolError> {
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
    Ok(parameters)
}
