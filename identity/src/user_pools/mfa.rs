//! Multi-factor authentication: the pool's settings (SetUserPoolMfaConfig,
//! GetUserPoolMfaConfig), software tokens (AssociateSoftwareToken, VerifySoftwareToken, by
//! access token or inside a sign-in's `MFA_SETUP`), the user's factors
//! (SetUserMFAPreference, AdminSetUserMFAPreference, the MFA fields of GetUser and
//! AdminGetUser), and the challenges of a sign-in (`SOFTWARE_TOKEN_MFA`, `EMAIL_OTP`,
//! `SELECT_MFA_TYPE`, `MFA_SETUP`).
//!
//! # TOTP
//! RFC 6238 with Cognito's parameters (HMAC-SHA1, 6 digits, 30-second steps; totp-rs does the
//! arithmetic), 160-bit secrets sealed with the master key, ±1 step of drift. A code is
//! accepted once: the step of every accepted code is stored, and a code of that step or an
//! earlier one is refused, atomically across nodes.
//!
//! # Guessing
//! Wrong codes (TOTP or email) count on the user's `mfa` lockout counter (`attempts`: five
//! failures lock for 1 s, doubling up to 15 minutes); a right code forgets them. Every
//! challenge session is answered once, so each guess costs a sign-in with the password too.
//! Email codes are sends: at most five per user per hour (`attempts::CODE_SENDS`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use gatehouse_storage::{MfaFlags, MfaRecord};

use super::attempts::{MFA, Subject, attempt_limit_exceeded, key, send_kind, send_step};
use super::auth::{Challenge, invalid_session, required, to_json};
use super::challenges::{
    EMAIL_OTP, MFA_SETUP, SELECT_MFA_TYPE, SOFTWARE_TOKEN_MFA, SessionClaims, SignIn,
};
use super::config::{EmailMfaSettings, MfaConfiguration};
use super::types::mask_destination;
use super::{AuthOutcome, Client, User, UserPool, UserPoolError, UserPools};
use crate::delivery::{Channel, Message, Purpose};
use crate::time::{unix_millis, unix_seconds};

/// Bytes of a new software-token secret (160 bits, RFC 4226's recommendation).
pub const TOTP_SECRET_BYTES: usize = 20;
/// Seconds per TOTP step.
pub const TOTP_STEP_SECS: u64 = 30;
/// Steps of drift accepted either way.
pub const TOTP_SKEW_STEPS: u16 = 1;

const TOTP_AAD: &str = "gatehouse totp secret v1";
const EMAIL_CODE_PURPOSE: &str = "mfa_email";

/// A second factor gatehouse offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// A software token (TOTP).
    SoftwareToken,
    /// A code sent by email.
    Email,
}

impl Factor {
    /// Cognito's challenge and setting name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SoftwareToken => SOFTWARE_TOKEN_MFA,
            Self::Email => EMAIL_OTP,
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            SOFTWARE_TOKEN_MFA => Some(Self::SoftwareToken),
            EMAIL_OTP => Some(Self::Email),
            _ => None,
        }
    }
}

/// What a sign-in must do for MFA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MfaPlan {
    /// Nothing: tokens.
    None,
    /// Answer this factor's challenge.
    Factor(Factor),
    /// Choose among these (`SELECT_MFA_TYPE`).
    Choose(Vec<Factor>),
    /// Set a factor up first (`MFA_SETUP`): the pool requires one and the user has none.
    Setup(Vec<Factor>),
}

/// A user's MFA settings as GetUser and AdminGetUser show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MfaSettings {
    /// `UserMFASettingList`: the enabled factors.
    pub enabled: Vec<String>,
    /// `PreferredMfaSetting`.
    pub preferred: Option<String>,
}

/// One factor's part of SetUserMFAPreference (`SoftwareTokenMfaSettings`,
/// `EmailMfaSettings`); `None` members leave it as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactorPreference {
    /// `Enabled`.
    pub enabled: Option<bool>,
    /// `PreferredMfa`.
    pub preferred: Option<bool>,
}

/// SetUserMFAPreference's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MfaPreference {
    /// `SoftwareTokenMfaSettings`.
    pub software_token: Option<FactorPreference>,
    /// `EmailMfaSettings`.
    pub email: Option<FactorPreference>,
    /// `SMSMfaSettings.Enabled` or `PreferredMfa` true (refused: gatehouse sends no SMS).
    pub sms_requested: bool,
}

/// A pool's MFA settings (SetUserPoolMfaConfig, GetUserPoolMfaConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolMfaConfig {
    /// `MfaConfiguration`.
    pub mode: MfaConfiguration,
    /// `SoftwareTokenMfaConfiguration.Enabled`.
    pub software_token: bool,
    /// `EmailMfaConfiguration`.
    pub email: Option<EmailMfaSettings>,
}

/// A pool's MFA settings to change; `None` members stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolMfaUpdate {
    /// `MfaConfiguration`.
    pub mode: Option<MfaConfiguration>,
    /// `SoftwareTokenMfaConfiguration.Enabled`.
    pub software_token: Option<bool>,
    /// `EmailMfaConfiguration`.
    pub email: Option<EmailMfaSettings>,
}

/// Why a TOTP code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpRefusal {
    /// Not the code of the step now, before or after.
    Wrong,
    /// The code of a step at or before the last accepted one.
    Replayed,
}

fn totp(secret: &[u8]) -> Result<totp_rs::Totp, UserPoolError> {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(TOTP_SKEW_STEPS)
        .with_step_duration(TOTP_STEP_SECS)
        .with_secret(secret.to_vec())
        .build()
        .map_err(|e| UserPoolError::internal("totp", e))
}

/// The step of `code` for `secret` at `now` (±1 step), if it is newer than `last_step`:
/// the pure half of a TOTP check (storage then records the step atomically).
pub fn check_totp(
    secret: &[u8],
    code: &str,
    now: SystemTime,
    last_step: i64,
) -> Result<Result<i64, TotpRefusal>, UserPoolError> {
    let now = u64::try_from(unix_seconds(now)).unwrap_or(0);
    let Some(step) = totp(secret)?.check(code.trim(), now) else {
        return Ok(Err(TotpRefusal::Wrong));
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    Ok(if step <= last_step {
        Err(TotpRefusal::Replayed)
    } else {
        Ok(step)
    })
}

/// The TOTP code of `secret` at `now` (tests and benchmarks).
pub fn totp_code(secret: &[u8], now: SystemTime) -> Result<String, UserPoolError> {
    let now = u64::try_from(unix_seconds(now)).unwrap_or(0);
    Ok(totp(secret)?.generate(now).to_string())
}

fn code_mismatch() -> UserPoolError {
    UserPoolError::CodeMismatch("Invalid code received for user".into())
}

fn flags_of(record: Option<&MfaRecord>) -> MfaFlags {
    record.map(|r| r.flags).unwrap_or_default()
}

/// Applies one factor's preference to (enabled, preferred).
fn apply(current: (bool, bool), change: Option<FactorPreference>) -> (bool, bool) {
    let Some(change) = change else {
        return current;
    };
    let enabled = change.enabled.unwrap_or(current.0) || change.preferred == Some(true);
    let preferred = if enabled {
        change.preferred.unwrap_or(current.1)
    } else {
        false
    };
    (enabled, preferred)
}

impl UserPools {
    fn totp_aad(pool: &UserPool, sub: &str) -> String {
        format!("{TOTP_AAD}|{}|{sub}", pool.id)
    }

    pub(super) fn open_totp(
        &self,
        pool: &UserPool,
        sub: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, UserPoolError> {
        self.sealer()
            .open(sealed, Self::totp_aad(pool, sub).as_bytes())
            .map_err(|e| UserPoolError::internal("opening a software token", e))
    }

    /// Seals a software-token secret of `sub` with the master key.
    pub(super) fn seal_totp(
        &self,
        pool: &UserPool,
        sub: &str,
        secret: &[u8],
    ) -> Result<Vec<u8>, UserPoolError> {
        self.sealer()
            .seal(secret, Self::totp_aad(pool, sub).as_bytes())
            .map_err(|e| UserPoolError::internal("sealing a software token", e))
    }

    /// The factors `user` has enabled (a verified software token, email codes).
    fn enabled_factors(
        &self,
        pool: &UserPool,
        user: &User,
        record: Option<&MfaRecord>,
    ) -> Vec<Factor> {
        let flags = flags_of(record);
        let mut out = Vec::new();
        if flags.totp_enabled
            && pool.config.software_token_mfa_enabled()
            && record.is_some_and(|r| r.totp_secret.is_some())
        {
            out.push(Factor::SoftwareToken);
        }
        if flags.email_enabled && pool.config.email_mfa.is_some() && has_email(user) {
            out.push(Factor::Email);
        }
        out
    }

    /// What MFA a sign-in of `user` needs (see [`MfaPlan`]).
    pub(crate) async fn mfa_plan(
        &self,
        pool: &UserPool,
        user: &User,
    ) -> Result<MfaPlan, UserPoolError> {
        if pool.config.mfa_configuration == MfaConfiguration::Off {
            return Ok(MfaPlan::None);
        }
        let record = self.store().mfa().get(&pool.id, &user.sub).await?;
        let mut factors = self.enabled_factors(pool, user, record.as_ref());
        if factors.is_empty() && pool.config.mfa_configuration == MfaConfiguration::On {
            // MFA is required: a verified token counts even if not switched on yet, and so
            // does the user's email when the pool sends codes by email.
            if pool.config.software_token_mfa_enabled()
                && record.as_ref().is_some_and(|r| r.totp_secret.is_some())
            {
                factors.push(Factor::SoftwareToken);
            } else if pool.config.email_mfa.is_some() && has_email(user) {
                factors.push(Factor::Email);
            } else if pool.config.software_token_mfa_enabled() {
                return Ok(MfaPlan::Setup(vec![Factor::SoftwareToken]));
            } else {
                return Err(UserPoolError::InvalidUserPoolConfiguration(
                    "the user pool requires MFA, but the user has no email to receive codes".into(),
                ));
            }
        }
        let flags = flags_of(record.as_ref());
        let preferred = factors.iter().copied().find(|f| match f {
            Factor::SoftwareToken => flags.totp_preferred,
            Factor::Email => flags.email_preferred,
        });
        Ok(match (preferred, factors.as_slice()) {
            (_, []) => MfaPlan::None,
            (Some(f), _) => MfaPlan::Factor(f),
            (None, [only]) => MfaPlan::Factor(*only),
            (None, _) => MfaPlan::Choose(factors),
        })
    }

    /// The challenge of `plan` (not [`MfaPlan::None`]).
    pub(crate) async fn mfa_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        plan: MfaPlan,
        sign_in: SignIn,
        now: SystemTime,
    ) -> Result<Challenge, UserPoolError> {
        let mut parameters = BTreeMap::new();
        let name = match &plan {
            MfaPlan::None | MfaPlan::Factor(Factor::SoftwareToken) => SOFTWARE_TOKEN_MFA,
            MfaPlan::Factor(Factor::Email) => {
                return self.email_challenge(pool, client, user, sign_in, now).await;
            }
            MfaPlan::Choose(factors) => {
                let names: Vec<&str> = factors.iter().map(|f| f.as_str()).collect();
                parameters.insert("MFAS_CAN_CHOOSE".to_owned(), to_json(&names)?);
                SELECT_MFA_TYPE
            }
            MfaPlan::Setup(factors) => {
                let names: Vec<&str> = factors.iter().map(|f| f.as_str()).collect();
                parameters.insert("MFAS_CAN_SETUP".to_owned(), to_json(&names)?);
                MFA_SETUP
            }
        };
        parameters.insert("USER_ID_FOR_SRP".to_owned(), user.username.clone());
        let claims = self.new_claims(pool, client, &user.sub, name, sign_in, now);
        Ok(Challenge {
            name: name.into(),
            session: self.session_text(&claims)?,
            parameters,
        })
    }

    /// `EMAIL_OTP`: a code sent to the user's email (counted against its sends), its hash
    /// kept in the sealed session.
    async fn email_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        sign_in: SignIn,
        now: SystemTime,
    ) -> Result<Challenge, UserPoolError> {
        let destination = user
            .attribute("email")
            .filter(|e| !e.is_empty())
            .ok_or_else(|| UserPoolError::invalid("the user has no email to send a code to"))?
            .to_owned();
        let kind = send_kind(EMAIL_CODE_PURPOSE);
        let subject = Subject::user(user);
        let allowed = self
            .store()
            .codes()
            .put_counted(None, key(&pool.id, &subject, &kind), send_step(now))
            .await?;
        if !allowed {
            return Err(attempt_limit_exceeded());
        }
        let code = crate::ids::confirmation_code();
        let mut claims = self.new_claims(pool, client, &user.sub, EMAIL_OTP, sign_in, now);
        claims.code = Some(self.inner.codes.hash(&email_code_context(&claims), &code));
        let settings = pool.config.email_mfa.clone().unwrap_or_default();
        let body = settings
            .message
            .as_deref()
            .unwrap_or("Your authentication code is {####}. ")
            .replace("{####}", &code);
        let message = Message {
            pool_id: pool.id.clone(),
            username: user.username.clone(),
            channel: Channel::Email,
            destination: destination.clone(),
            purpose: Purpose::MfaSignIn,
            subject: settings
                .subject
                .unwrap_or_else(|| "Your authentication code".into()),
            body,
            code: Some(code),
            temporary_password: None,
        };
        if let Some(message) = self
            .message_triggers(
                pool,
                user,
                super::triggers::MessageSource::Authentication,
                message,
            )
            .await?
        {
            self.deliver(message, now).await?;
        }
        let mut parameters = BTreeMap::new();
        parameters.insert(
            "CODE_DELIVERY_DELIVERY_MEDIUM".to_owned(),
            "EMAIL".to_owned(),
        );
        parameters.insert(
            "CODE_DELIVERY_DESTINATION".to_owned(),
            mask_destination(Channel::Email, &destination),
        );
        parameters.insert("USER_ID_FOR_SRP".to_owned(), user.username.clone());
        Ok(Challenge {
            name: EMAIL_OTP.into(),
            session: self.session_text(&claims)?,
            parameters,
        })
    }

    /// Answers `SOFTWARE_TOKEN_MFA` (`SOFTWARE_TOKEN_MFA_CODE`) or `EMAIL_OTP`
    /// (`EMAIL_OTP_CODE`), within the user's `mfa` lockout.
    pub(crate) async fn answer_mfa_code(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        claims: SessionClaims,
        responses: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let subject = Subject::user(&user);
        let accepted = if claims.challenge == EMAIL_OTP {
            let code = required(responses, "EMAIL_OTP_CODE")?;
            self.check_lockout(pool, &subject, MFA, now).await?;
            let stored = claims.code.as_deref().ok_or_else(invalid_session)?;
            self.inner
                .codes
                .verify(&email_code_context(&claims), code.trim(), stored)
        } else {
            let code = required(responses, "SOFTWARE_TOKEN_MFA_CODE")?;
            self.check_lockout(pool, &subject, MFA, now).await?;
            self.accept_totp(pool, &user, code, now).await?
        };
        self.record_check(pool, &subject, MFA, accepted, now)
            .await?;
        if !accepted {
            return Err(code_mismatch());
        }
        self.finish(pool, client, user, claims.sign_in, now).await
    }

    /// Checks a TOTP code against the user's verified secret and spends its step.
    async fn accept_totp(
        &self,
        pool: &UserPool,
        user: &User,
        code: &str,
        now: SystemTime,
    ) -> Result<bool, UserPoolError> {
        let record = self.store().mfa().get(&pool.id, &user.sub).await?;
        let Some((sealed, last_step)) = record
            .as_ref()
            .and_then(|r| r.totp_secret.as_ref().map(|s| (s, r.totp_last_step)))
        else {
            return Ok(false);
        };
        let secret = self.open_totp(pool, &user.sub, sealed)?;
        match check_totp(&secret, code, now, last_step)? {
            Ok(step) => Ok(self
                .store()
                .mfa()
                .accept_totp_step(&pool.id, &user.sub, step)
                .await?),
            Err(TotpRefusal::Wrong | TotpRefusal::Replayed) => Ok(false),
        }
    }

    /// Answers `SELECT_MFA_TYPE` (`ANSWER`: `SOFTWARE_TOKEN_MFA` or `EMAIL_OTP`) with that
    /// factor's challenge.
    pub(crate) async fn answer_select_mfa_type(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        claims: SessionClaims,
        responses: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let answer = required(responses, "ANSWER")?;
        let record = self.store().mfa().get(&pool.id, &user.sub).await?;
        let factor = Factor::parse(answer)
            .filter(|f| {
                self.enabled_factors(pool, &user, record.as_ref())
                    .contains(f)
            })
            .ok_or_else(|| {
                UserPoolError::invalid(format!("`{answer}` is not an MFA type the user can choose"))
            })?;
        self.mfa_challenge(
            pool,
            client,
            &user,
            MfaPlan::Factor(factor),
            claims.sign_in,
            now,
        )
        .await
        .map(AuthOutcome::Challenge)
    }

    /// The user's MFA settings as GetUser and AdminGetUser show them.
    pub async fn mfa_settings(
        &self,
        pool: &UserPool,
        user: &User,
    ) -> Result<MfaSettings, UserPoolError> {
        let record = self.store().mfa().get(&pool.id, &user.sub).await?;
        let flags = flags_of(record.as_ref());
        let enabled = self.enabled_factors(pool, user, record.as_ref());
        let preferred = enabled
            .iter()
            .find(|f| match f {
                Factor::SoftwareToken => flags.totp_preferred,
                Factor::Email => flags.email_preferred,
            })
            .map(|f| f.as_str().to_owned());
        Ok(MfaSettings {
            enabled: enabled.iter().map(|f| f.as_str().to_owned()).collect(),
            preferred,
        })
    }

    /// GetUser's MFA fields (access token).
    pub async fn own_mfa_settings(&self, access_token: &str) -> Result<MfaSettings, UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.mfa_settings(&s.pool, &s.user).await
    }

    /// AdminGetUser's MFA fields.
    pub async fn admin_mfa_settings(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<MfaSettings, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        self.mfa_settings(&pool, &user).await
    }

    // === software tokens ===

    /// AssociateSoftwareToken with an access token: a new secret (base32) waiting for its
    /// first code.
    pub async fn associate_software_token(
        &self,
        access_token: &str,
    ) -> Result<String, UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.new_pending_totp(&s.pool, &s.user).await
    }

    /// AssociateSoftwareToken inside a sign-in (`MFA_SETUP` session): the secret, and the
    /// session to verify it with.
    pub async fn associate_software_token_in_sign_in(
        &self,
        session: &str,
    ) -> Result<(String, String), UserPoolError> {
        let (pool, client, claims, user) = self.setup_session(session).await?;
        let secret = self.new_pending_totp(&pool, &user).await?;
        let now = self.now();
        let next = self.new_claims(&pool, &client, &user.sub, MFA_SETUP, claims.sign_in, now);
        Ok((secret, self.session_text(&next)?))
    }

    /// Opens and spends an `MFA_SETUP` session of any pool (AssociateSoftwareToken and
    /// VerifySoftwareToken name no client).
    async fn setup_session(
        &self,
        session: &str,
    ) -> Result<(UserPool, Client, SessionClaims, User), UserPoolError> {
        let now = self.now();
        // The pool and client are inside the sealed claims: read them, then open for real.
        let client_id = self.session_client(session)?;
        let (pool, client) = match self.app_client(&client_id).await {
            Ok(found) => found,
            Err(UserPoolError::ResourceNotFound(_)) => return Err(invalid_session()),
            Err(e) => return Err(e),
        };
        let claims = self.open_session(session, &pool, &client, MFA_SETUP, now)?;
        // A hosted sign-in's enrolment is the pages' (`hosted_chain`).
        if claims.sign_in.hosted {
            return Err(invalid_session());
        }
        self.spend(&claims).await?;
        let user = self.session_user(&pool, &claims).await?;
        // The session was handed out because the user had no factor. If one was set up
        // since (another sign-in, an access token), whoever holds this session — the
        // password was enough for it — must not replace that factor with one of their own.
        if !matches!(self.mfa_plan(&pool, &user).await?, MfaPlan::Setup(_)) {
            return Err(invalid_session());
        }
        Ok((pool, client, claims, user))
    }

    pub(super) async fn new_pending_totp(
        &self,
        pool: &UserPool,
        user: &User,
    ) -> Result<String, UserPoolError> {
        if !pool.config.software_token_mfa_enabled() {
            return Err(UserPoolError::invalid(
                "software token MFA is not enabled for this user pool",
            ));
        }
        let secret = crate::crypto::random_bytes::<TOTP_SECRET_BYTES>();
        let sealed = self.seal_totp(pool, &user.sub, &secret)?;
        self.store()
            .mfa()
            .set_pending_totp(&pool.id, &user.sub, &sealed, unix_millis(self.now()))
            .await?;
        Ok(totp_rs::Secret::from(secret.to_vec()).to_base32())
    }

    /// VerifySoftwareToken with an access token: the first code of the associated secret
    /// makes it the user's software token.
    pub async fn verify_software_token(
        &self,
        access_token: &str,
        code: &str,
        friendly_name: Option<&str>,
    ) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.confirm_pending_totp(&s.pool, &s.user, code, friendly_name, false)
            .await
    }

    /// VerifySoftwareToken inside a sign-in: on success the token is enabled and preferred,
    /// and the returned session finishes the sign-in (RespondToAuthChallenge `MFA_SETUP`).
    pub async fn verify_software_token_in_sign_in(
        &self,
        session: &str,
        code: &str,
        friendly_name: Option<&str>,
    ) -> Result<String, UserPoolError> {
        let (pool, client, claims, user) = self.setup_session(session).await?;
        self.confirm_pending_totp(&pool, &user, code, friendly_name, true)
            .await?;
        let mut next = self.new_claims(
            &pool,
            &client,
            &user.sub,
            MFA_SETUP,
            claims.sign_in,
            self.now(),
        );
        next.setup_done = true;
        self.session_text(&next)
    }

    pub(super) async fn confirm_pending_totp(
        &self,
        pool: &UserPool,
        user: &User,
        code: &str,
        friendly_name: Option<&str>,
        enable: bool,
    ) -> Result<(), UserPoolError> {
        let now = self.now();
        let subject = Subject::user(user);
        let record = self.store().mfa().get(&pool.id, &user.sub).await?;
        let Some(pending) = record.as_ref().and_then(|r| r.totp_pending.clone()) else {
            return Err(UserPoolError::invalid(
                "no software token is waiting to be verified: call AssociateSoftwareToken first",
            ));
        };
        self.check_lockout(pool, &subject, MFA, now).await?;
        let secret = self.open_totp(pool, &user.sub, &pending)?;
        let step = check_totp(&secret, code, now, -1)?;
        self.record_check(pool, &subject, MFA, step.is_ok(), now)
            .await?;
        let Ok(step) = step else {
            return Err(UserPoolError::CodeMismatch(
                "Code mismatch and fail enable Software Token MFA".into(),
            ));
        };
        let mut flags = flags_of(record.as_ref());
        if enable {
            flags.totp_enabled = true;
            if !flags.email_preferred {
                flags.totp_preferred = true;
            }
        }
        let stored = self
            .store()
            .mfa()
            .confirm_totp(
                &pool.id,
                &user.sub,
                &pending,
                friendly_name,
                step,
                flags,
                unix_millis(now),
            )
            .await?;
        if !stored {
            return Err(UserPoolError::CodeMismatch(
                "the software token was replaced while it was verified: verify the new one".into(),
            ));
        }
        Ok(())
    }

    // === preferences ===

    /// SetUserMFAPreference (access token).
    pub async fn set_user_mfa_preference(
        &self,
        access_token: &str,
        preference: MfaPreference,
    ) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.apply_mfa_preference(&s.pool, &s.user, preference)
            .await
    }

    /// AdminSetUserMFAPreference (operator).
    pub async fn admin_set_user_mfa_preference(
        &self,
        pool_id: &str,
        username: &str,
        preference: MfaPreference,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        self.apply_mfa_preference(&pool, &user, preference).await
    }

    async fn apply_mfa_preference(
        &self,
        pool: &UserPool,
        user: &User,
        preference: MfaPreference,
    ) -> Result<(), UserPoolError> {
        if preference.sms_requested {
            return Err(UserPoolError::invalid(
                "SMS MFA is not available: gatehouse sends no text messages",
            ));
        }
        let record = self.store().mfa().get(&pool.id, &user.sub).await?;
        let current = flags_of(record.as_ref());
        let (totp_enabled, mut totp_preferred) = apply(
            (current.totp_enabled, current.totp_preferred),
            preference.software_token,
        );
        let (email_enabled, mut email_preferred) = apply(
            (current.email_enabled, current.email_preferred),
            preference.email,
        );
        if totp_enabled && record.as_ref().is_none_or(|r| r.totp_secret.is_none()) {
            return Err(UserPoolError::invalid(
                "User has not verified software token mfa",
            ));
        }
        if totp_enabled && !pool.config.software_token_mfa_enabled() {
            return Err(UserPoolError::invalid(
                "software token MFA is not enabled for this user pool",
            ));
        }
        if email_enabled && pool.config.email_mfa.is_none() {
            return Err(UserPoolError::invalid(
                "email MFA is not enabled for this user pool",
            ));
        }
        if email_enabled && !has_email(user) {
            return Err(UserPoolError::invalid(
                "the user has no email to send codes to",
            ));
        }
        // One preferred factor: the one this call names wins.
        let names_totp = preference
            .software_token
            .is_some_and(|p| p.preferred == Some(true));
        let names_email = preference.email.is_some_and(|p| p.preferred == Some(true));
        if names_totp && names_email {
            return Err(UserPoolError::invalid("only one MFA type can be preferred"));
        }
        if names_totp {
            email_preferred = false;
        }
        if names_email {
            totp_preferred = false;
        }
        if totp_preferred && email_preferred {
            email_preferred = false;
        }
        let flags = MfaFlags {
            totp_enabled,
            totp_preferred,
            email_enabled,
            email_preferred,
        };
        self.store()
            .mfa()
            .set_flags(&pool.id, &user.sub, flags, unix_millis(self.now()))
            .await?;
        Ok(())
    }

    // === pool settings ===

    /// GetUserPoolMfaConfig.
    pub async fn get_user_pool_mfa_config(
        &self,
        pool_id: &str,
    ) -> Result<PoolMfaConfig, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        Ok(pool_mfa_config(&pool))
    }

    /// SetUserPoolMfaConfig: MFA `OFF`, `OPTIONAL` or `ON` and the factors; `ON` and
    /// `OPTIONAL` need at least one factor.
    pub async fn set_user_pool_mfa_config(
        &self,
        pool_id: &str,
        update: PoolMfaUpdate,
    ) -> Result<PoolMfaConfig, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let mut config = pool.config.clone();
        if let Some(mode) = update.mode {
            config.mfa_configuration = mode;
        }
        if let Some(enabled) = update.software_token {
            config.software_token_mfa = Some(enabled);
        }
        if let Some(email) = update.email {
            if let Some(message) = &email.message
                && !message.contains("{####}")
            {
                return Err(UserPoolError::invalid(
                    "EmailMfaConfiguration.Message must contain `{####}`",
                ));
            }
            config.email_mfa = Some(email);
        }
        if config.mfa_configuration != MfaConfiguration::Off
            && !config.software_token_mfa_enabled()
            && config.email_mfa.is_none()
        {
            return Err(UserPoolError::invalid(
                "MfaConfiguration ON or OPTIONAL needs at least one MFA type enabled",
            ));
        }
        let updated = self.replace_pool_config(&pool, config).await?;
        Ok(pool_mfa_config(&updated))
    }
}

impl UserPools {
    /// Stores a pool's whole configuration as it is (SetUserPoolMfaConfig's changes).
    async fn replace_pool_config(
        &self,
        pool: &UserPool,
        config: super::PoolConfig,
    ) -> Result<UserPool, UserPoolError> {
        config.validate()?;
        let json = serde_json::to_string(&config)
            .map_err(|e| UserPoolError::internal("pool configuration", e))?;
        self.store()
            .user_pools()
            .update(&pool.id, &pool.name, &json, unix_millis(self.now()))
            .await?;
        self.user_pool(&pool.id).await
    }
}

fn pool_mfa_config(pool: &UserPool) -> PoolMfaConfig {
    PoolMfaConfig {
        mode: pool.config.mfa_configuration,
        software_token: pool.config.software_token_mfa_enabled(),
        email: pool.config.email_mfa.clone(),
    }
}

pub(super) fn has_email(user: &User) -> bool {
    user.attribute("email").is_some_and(|e| !e.is_empty())
}

/// What an email sign-in code is hashed with: the session it belongs to.
fn email_code_context(claims: &SessionClaims) -> String {
    format!(
        "{}|{}|{EMAIL_CODE_PURPOSE}|{}",
        claims.pool,
        claims.sub,
        claims.code_session.as_deref().unwrap_or(&claims.id)
    )
}
