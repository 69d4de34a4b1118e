//! Public sign-up and recovery: SignUp, ConfirmSignUp, ResendConfirmationCode,
//! ForgotPassword and ConfirmForgotPassword, with the user-existence rules of
//! `PreventUserExistenceErrors` as Cognito documents them ("Managing user existence error
//! responses"): SignUp always reports a taken username; with ENABLED, confirmation of an
//! unknown user is a code mismatch and code requests for one get a simulated delivery.

use std::collections::BTreeMap;
use std::time::SystemTime;

use gatehouse_storage::{NewUser, StorageError};

use super::attempts::Subject;
use super::attributes::{
    AttributeWrite, alias_value, is_email, is_phone_number, stored_attributes, user_from_record,
};
use super::codes::{FORGOT_PASSWORD_CODE, SIGN_UP_CODE, code_mismatch};
use super::config::{AliasAttribute, RecoveryMechanism, VerifiedAttribute};
use super::triggers::Confirmation;
use super::types::mask_destination;
use super::{
    Client, CodeDeliveryDetails, TriggerData, User, UserPool, UserPoolError, UserPools, UserStatus,
};
use crate::delivery::{Channel, Purpose};
use crate::time::unix_millis;

/// What SignUp needs.
#[derive(Clone, PartialEq, Eq)]
pub struct SignUp {
    /// `ClientId`.
    pub client_id: String,
    /// `SecretHash` (required for clients with a secret).
    pub secret_hash: Option<String>,
    /// `Username`: an email or phone number in pools with `UsernameAttributes`.
    pub username: String,
    /// `Password`.
    pub password: String,
    /// `UserAttributes`.
    pub attributes: Vec<(String, String)>,
}

impl std::fmt::Debug for SignUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUp")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

/// What SignUp answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpOutput {
    /// `UserConfirmed`: `true` only when the PreSignUp trigger confirmed the user.
    pub user_confirmed: bool,
    /// `UserSub`.
    pub user_sub: String,
    /// Where the confirmation code went; `None` when the pool verifies nothing automatically.
    pub code_delivery: Option<CodeDeliveryDetails>,
}

/// Who asks a public sign-up or recovery operation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Asker<'a> {
    /// The Cognito API: the client's `SECRET_HASH` is checked, and the answers follow the
    /// client's `PreventUserExistenceErrors`.
    Api {
        /// `SecretHash`.
        secret_hash: Option<&'a str>,
    },
    /// The hosted pages, for a client their checked authorization request names (a client
    /// with a secret needs no `SECRET_HASH` there, as on Cognito's hosted UI): the answers
    /// never tell whether a user exists, whatever the client's setting.
    Hosted,
}

fn unknown_user() -> UserPoolError {
    UserPoolError::UserNotFound("Username/client id combination not found.".into())
}

/// The channel a sign-up code goes to: SMS when the phone number is auto-verified and
/// present (as Cognito prefers), else email when auto-verified and present.
pub(super) fn sign_up_channel(
    pool: &UserPool,
    attributes: &BTreeMap<String, String>,
) -> Option<Channel> {
    let has = |name: &str| attributes.get(name).is_some_and(|v| !v.is_empty());
    if pool.config.auto_verifies(VerifiedAttribute::PhoneNumber) && has("phone_number") {
        Some(Channel::Sms)
    } else if pool.config.auto_verifies(VerifiedAttribute::Email) && has("email") {
        Some(Channel::Email)
    } else {
        None
    }
}

impl UserPools {
    /// Delivery details that look like a real delivery, for code requests about users that
    /// do not exist when the client prevents user-existence errors.
    pub(super) fn simulated_delivery(
        &self,
        pool: &UserPool,
        username: &str,
    ) -> CodeDeliveryDetails {
        let channel = if is_phone_number(username)
            || (!is_email(username) && pool.config.auto_verifies(VerifiedAttribute::PhoneNumber))
        {
            Channel::Sms
        } else {
            Channel::Email
        };
        let destination = match channel {
            Channel::Email if is_email(username) => username.to_owned(),
            Channel::Email => format!("{username}@example.com"),
            Channel::Sms if is_phone_number(username) => username.to_owned(),
            Channel::Sms => "+10000000000".to_owned(),
        };
        CodeDeliveryDetails {
            destination: mask_destination(channel, &destination),
            channel,
            attribute_name: channel.attribute().to_owned(),
        }
    }

    /// SignUp: an UNCONFIRMED user with a password, and a confirmation code sent to the
    /// auto-verified email or phone number.
    pub async fn sign_up(&self, request: SignUp) -> Result<SignUpOutput, UserPoolError> {
        self.sign_up_with(request, &TriggerData::default()).await
    }

    /// SignUp with the request's `ValidationData` and `ClientMetadata` for the pool's
    /// triggers: PreSignUp decides before anything is written (a rejection leaves nothing,
    /// `autoConfirmUser` confirms the user without a code, `autoVerifyEmail` /
    /// `autoVerifyPhone` mark the addresses verified).
    pub async fn sign_up_with(
        &self,
        request: SignUp,
        data: &TriggerData,
    ) -> Result<SignUpOutput, UserPoolError> {
        let (pool, client) = self.app_client(&request.client_id).await?;
        self.check_secret_hash(&client, &request.username, request.secret_hash.as_deref())?;
        self.sign_up_for(&pool, &client, &request, data, false)
            .await
            .map(|(output, _)| output)
    }

    /// SignUp for a client already known (and its `SECRET_HASH` checked, or asked on the
    /// hosted pages); also answers the new user. `hosted`: a name already taken costs the
    /// same password hashing as a new one (the pages may hide which names are taken).
    pub(crate) async fn sign_up_for(
        &self,
        pool: &UserPool,
        client: &Client,
        request: &SignUp,
        data: &TriggerData,
        hosted: bool,
    ) -> Result<(SignUpOutput, User), UserPoolError> {
        let (pool, client) = (pool.clone(), client.clone());
        let now = self.now();
        if pool.config.admin_create_user.allow_admin_create_user_only {
            return Err(UserPoolError::NotAuthorized(
                "SignUp is not permitted for this user pool.".into(),
            ));
        }
        self.check_password_policy(&pool, &request.password)?;
        self.validate_attributes(&pool, None, &request.attributes, AttributeWrite::Create)?;
        // Developer-only attributes belong to the operator API (they end up in ID-token
        // claims that backends trust), and a client writes only its `WriteAttributes`.
        let unauthorized = request.attributes.iter().any(|(name, _)| {
            !client.config.can_write(name)
                || pool
                    .config
                    .attribute(name)
                    .is_some_and(|a| a.developer_only)
        });
        if unauthorized {
            return Err(UserPoolError::NotAuthorized(
                "A client attempted to write unauthorized attribute".into(),
            ));
        }
        let super::users::NewIdentity {
            sub,
            username,
            attributes,
        } = match self
            .new_identity(&pool, &request.username, &request.attributes)
            .await
        {
            Ok(identity) => identity,
            Err(e @ UserPoolError::UsernameExists(_)) if hosted => {
                // The hashing a new user's password would have cost (see `hosted`).
                self.passwords().verify(&request.password, None).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.check_required_attributes(&pool, &attributes)?;
        let answer = self
            .pre_sign_up(&pool, false, Some(&client.id), &username, &attributes, data)
            .await?;
        let mut attributes = attributes;
        answer.apply(&mut attributes);
        let status = if answer.auto_confirm_user {
            UserStatus::Confirmed
        } else {
            UserStatus::Unconfirmed
        };
        let secrets = self
            .password_secrets(&pool, &sub, &username, &request.password)
            .await?;
        let aliases = self.aliases_for(&pool, &attributes);
        let record = self
            .store()
            .users()
            .create(&NewUser {
                pool_id: pool.id.clone(),
                sub: sub.clone(),
                username_key: self.username_key(&pool, &username),
                username,
                status: status.as_str().into(),
                enabled: true,
                password_hash: Some(secrets.hash),
                srp_verifier: Some(secrets.srp_verifier),
                attributes: stored_attributes(&attributes),
                aliases,
                created_at: unix_millis(now),
            })
            .await
            .map_err(|e| match e {
                StorageError::Conflict { .. } => {
                    UserPoolError::UsernameExists("User already exists".into())
                }
                StorageError::AliasTaken { name, .. } => UserPoolError::UsernameExists(format!(
                    "An account with the given {name} already exists."
                )),
                other => other.into(),
            })?;
        let user = user_from_record(record)?;
        // A user the trigger confirmed has nothing to confirm: no code goes out.
        let channel = if answer.auto_confirm_user {
            None
        } else {
            sign_up_channel(&pool, &user.attributes)
        };
        let code_delivery = match channel {
            Some(channel) => Some(
                self.send_code(
                    &pool,
                    &user,
                    SIGN_UP_CODE,
                    channel,
                    Purpose::SignUp,
                    Some(channel.attribute().to_owned()),
                    now,
                )
                .await?,
            ),
            None => None,
        };
        Ok((
            SignUpOutput {
                user_confirmed: answer.auto_confirm_user,
                user_sub: sub,
                code_delivery,
            },
            user,
        ))
    }

    /// The client, its pool and the user a public code operation names, after the
    /// `SECRET_HASH` check (the API's); `None` for an unknown user. The last value says
    /// whether to answer uniformly: the client prevents user-existence errors, or the hosted
    /// pages ask (they always do).
    async fn public_user(
        &self,
        client_id: &str,
        username: &str,
        asker: Asker<'_>,
    ) -> Result<(UserPool, Client, Option<User>, bool), UserPoolError> {
        let (pool, client) = self.app_client(client_id).await?;
        let uniform = match asker {
            Asker::Api { secret_hash } => {
                self.check_secret_hash(&client, username, secret_hash)?;
                client.config.prevent_user_existence_errors
            }
            Asker::Hosted => true,
        };
        let user = self.find_user(&pool, username).await?;
        Ok((pool, client, user, uniform))
    }

    /// ConfirmSignUp: checks the code, confirms the user and marks the attribute the code
    /// went to as verified. When that verified email or phone number is another user's
    /// alias, `force_alias_creation` moves the alias to this user (the other user's value
    /// becomes unverified); otherwise the call fails with `AliasExists`.
    ///
    /// With `PreventUserExistenceErrors`, every wrong code — an unknown user's, a confirmed
    /// or disabled user's, a real one's — is counted and answered alike
    /// (`CodeMismatchException`, or `LimitExceededException` once the guesses are spent);
    /// what the user's state forbids is said only to someone who had the right code.
    pub async fn confirm_sign_up(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        secret_hash: Option<&str>,
        force_alias_creation: bool,
    ) -> Result<(), UserPoolError> {
        self.confirm_sign_up_with(
            client_id,
            username,
            code,
            secret_hash,
            force_alias_creation,
            &TriggerData::default(),
        )
        .await
    }

    /// ConfirmSignUp, then the pool's PostConfirmation trigger
    /// (`PostConfirmation_ConfirmSignUp`) with the request's `ClientMetadata`. As in Cognito,
    /// a failing trigger does not undo the confirmation: the user stays CONFIRMED and the
    /// caller gets the trigger's error.
    pub async fn confirm_sign_up_with(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        secret_hash: Option<&str>,
        force_alias_creation: bool,
        data: &TriggerData,
    ) -> Result<(), UserPoolError> {
        self.confirm_sign_up_as(
            client_id,
            username,
            code,
            Asker::Api { secret_hash },
            force_alias_creation,
            data,
        )
        .await
    }

    /// ConfirmSignUp for the API or the hosted pages (see [`Asker`]).
    pub(crate) async fn confirm_sign_up_as(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        asker: Asker<'_>,
        force_alias_creation: bool,
        data: &TriggerData,
    ) -> Result<(), UserPoolError> {
        let (pool, client, user, uniform) = self.public_user(client_id, username, asker).await?;
        let now = self.now();
        if !uniform {
            let Some(user) = &user else {
                return Err(unknown_user());
            };
            check_confirmable(user)?;
        }
        let subject = Subject::of(self, &pool, user.as_ref(), username);
        let guessed_for = user.as_ref().map(|u| u.sub.as_str());
        let verified = self
            .check_code(
                &pool.id,
                &subject,
                guessed_for,
                SIGN_UP_CODE,
                code,
                uniform,
                now,
            )
            .await?;
        let Some(user) = user else {
            // A code matched nobody's (no user, so no code): unreachable, answered as wrong.
            return Err(code_mismatch());
        };
        check_confirmable(&user)?;
        let mut attributes = user.attributes.clone();
        if let Some(name) = verified.filter(|n| n == "email" || n == "phone_number")
            && attributes.get(&name).is_some_and(|v| !v.is_empty())
        {
            attributes.insert(format!("{name}_verified"), "true".into());
            self.claim_alias(&pool, &user, &name, &attributes, force_alias_creation, now)
                .await?;
        }
        let aliases = self.aliases_for(&pool, &attributes);
        // The verified address and the confirmation in one transaction: a user is never
        // confirmed without it, nor verified while still unconfirmed.
        self.store()
            .users()
            .update_attributes_and_status(
                &pool.id,
                &user.sub,
                &stored_attributes(&attributes),
                &aliases,
                UserStatus::Unconfirmed.as_str(),
                UserStatus::Confirmed.as_str(),
                unix_millis(now),
            )
            .await
            .map_err(|e| match e {
                // Confirmed (or deleted) by someone else since it was read.
                StorageError::NotFound { .. } => UserPoolError::NotAuthorized(
                    "User cannot be confirmed. Current status is CONFIRMED".into(),
                ),
                other => other.into(),
            })?;
        self.finish_code(&pool.id, &user, SIGN_UP_CODE).await?;
        self.post_confirmation(&pool, Confirmation::SignUp, Some(&client.id), &user, data)
            .await
    }

    /// Before `user` takes the alias `name` (now verified in `attributes`): when another
    /// user holds it, either take it from them (`force`) or fail with `AliasExists`.
    pub(crate) async fn claim_alias(
        &self,
        pool: &UserPool,
        user: &User,
        name: &str,
        attributes: &BTreeMap<String, String>,
        force: bool,
        now: SystemTime,
    ) -> Result<(), UserPoolError> {
        let is_alias = match name {
            "email" => pool
                .config
                .alias_attributes
                .contains(&AliasAttribute::Email),
            "phone_number" => pool
                .config
                .alias_attributes
                .contains(&AliasAttribute::PhoneNumber),
            _ => false,
        };
        let Some(value) = attributes.get(name) else {
            return Ok(());
        };
        if !is_alias {
            return Ok(());
        }
        let Some(holder) = self
            .store()
            .users()
            .find_by_alias(&pool.id, name, &alias_value(name, value))
            .await?
        else {
            return Ok(());
        };
        if holder.sub == user.sub {
            return Ok(());
        }
        if !force {
            return Err(UserPoolError::AliasExists(format!(
                "An account with the {name} already exists."
            )));
        }
        let holder = user_from_record(holder)?;
        let mut theirs = holder.attributes.clone();
        theirs.insert(format!("{name}_verified"), "false".into());
        let aliases = self.aliases_for(pool, &theirs);
        self.store()
            .users()
            .update_attributes(
                &pool.id,
                &holder.sub,
                &stored_attributes(&theirs),
                &aliases,
                unix_millis(now),
            )
            .await?;
        Ok(())
    }

    /// ResendConfirmationCode: a new sign-up code (the old one stops working; the guesses
    /// already spent stay spent). With `PreventUserExistenceErrors`, anyone but an enabled
    /// unconfirmed user — an unknown, confirmed or disabled one — gets a simulated delivery,
    /// counted against the same sends per hour, and a delivery refusing a real code is
    /// logged, not answered.
    pub async fn resend_confirmation_code(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: Option<&str>,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        self.resend_confirmation_code_as(client_id, username, Asker::Api { secret_hash })
            .await
    }

    /// ResendConfirmationCode for the API or the hosted pages (see [`Asker`]).
    pub(crate) async fn resend_confirmation_code_as(
        &self,
        client_id: &str,
        username: &str,
        asker: Asker<'_>,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        let (pool, _client, user, uniform) = self.public_user(client_id, username, asker).await?;
        let now = self.now();
        let channel = user
            .as_ref()
            .filter(|u| u.status == UserStatus::Unconfirmed && u.enabled)
            .and_then(|u| sign_up_channel(&pool, &u.attributes));
        match (&user, channel) {
            (Some(user), Some(channel)) => {
                let stored = self
                    .store_code(
                        &pool,
                        user,
                        SIGN_UP_CODE,
                        channel,
                        Purpose::ResendConfirmationCode,
                        Some(channel.attribute().to_owned()),
                        now,
                    )
                    .await?;
                self.hand_over(stored, uniform, now).await
            }
            _ if uniform => {
                let subject = Subject::of(self, &pool, user.as_ref(), username);
                let details = self.simulated_delivery(&pool, username);
                self.simulate_send(&pool.id, &subject, SIGN_UP_CODE, details, now)
                    .await
            }
            (None, _) => Err(unknown_user()),
            (Some(user), None) if user.status != UserStatus::Unconfirmed => {
                Err(UserPoolError::invalid("User is already confirmed."))
            }
            (Some(user), None) if !user.enabled => {
                Err(UserPoolError::NotAuthorized("User is disabled.".into()))
            }
            (Some(_), None) => Err(UserPoolError::invalid("Auto verification not turned on.")),
        }
    }

    /// ForgotPassword: a password-reset code to the user's verified email (else verified
    /// phone number); a user missing here is first looked up in the pool's migration source. With `PreventUserExistenceErrors`, anyone who cannot get a real code —
    /// an unknown, disabled or unconfirmed user, or one without a verified address — gets a
    /// simulated delivery, counted against the same sends per hour, so the answer (and its
    /// time: the code is handed to the delivery without waiting for a mail server) is the
    /// same for everyone; a delivery that refuses a real user's code at once is logged, not
    /// answered (see [`UserPools::hand_over`]).
    pub async fn forgot_password(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: Option<&str>,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        self.forgot_password_with_metadata(client_id, username, secret_hash, &BTreeMap::new())
            .await
    }

    /// ForgotPassword with the request's `ClientMetadata`, which the pool's UserMigration
    /// trigger receives as `clientMetadata` (as Cognito hands it on).
    pub async fn forgot_password_with_metadata(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        self.forgot_password_as(client_id, username, Asker::Api { secret_hash }, metadata)
            .await
    }

    /// ForgotPassword for the API or the hosted pages (see [`Asker`]).
    pub(crate) async fn forgot_password_as(
        &self,
        client_id: &str,
        username: &str,
        asker: Asker<'_>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        super::auth::check_client_metadata(metadata)?;
        let (pool, _client, mut user, uniform) =
            self.public_user(client_id, username, asker).await?;
        let now = self.now();
        let recovery = pool.config.recovery_mechanisms()?;
        if recovery.contains(&RecoveryMechanism::AdminOnly) {
            // Whoever asks, user or not: the pool lets only its operators reset passwords.
            return Err(UserPoolError::NotAuthorized(
                "Contact administrator to reset password.".into(),
            ));
        }
        // A user missing here may come from the pool's migration sources (read whether the
        // user exists or not), arriving in RESET_REQUIRED: the code then goes out as to any
        // user.
        let sources = self
            .migration_sources(&pool, Some(client_id), metadata)
            .await?;
        if user.is_none()
            && self
                .migrate_on_forgot_password(&pool, &sources, username, now)
                .await?
        {
            user = self.find_user(&pool, username).await?;
        }
        let channel = user
            .as_ref()
            .filter(|u| u.enabled)
            .and_then(|u| reset_channel(&recovery, u));
        match (&user, channel) {
            (Some(user), Some(channel)) => {
                let stored = self
                    .store_code(
                        &pool,
                        user,
                        FORGOT_PASSWORD_CODE,
                        channel,
                        Purpose::ForgotPassword,
                        None,
                        now,
                    )
                    .await?;
                self.hand_over(stored, uniform, now).await
            }
            _ if uniform => {
                let subject = Subject::of(self, &pool, user.as_ref(), username);
                let details = self.simulated_delivery(&pool, username);
                self.simulate_send(&pool.id, &subject, FORGOT_PASSWORD_CODE, details, now)
                    .await
            }
            (None, _) => Err(unknown_user()),
            (Some(user), None) if !user.enabled => {
                Err(UserPoolError::NotAuthorized("User is disabled.".into()))
            }
            (Some(_), None) => Err(no_reset_channel()),
        }
    }

    /// ConfirmForgotPassword: with the reset code, sets a new password (policy enforced,
    /// once the code is accepted, so that a weak password tells nobody whether the user
    /// exists); the user ends CONFIRMED and every refresh token it had is revoked (Cognito
    /// keeps them). Wrong codes are counted and answered as in ConfirmSignUp.
    pub async fn confirm_forgot_password(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        password: &str,
        secret_hash: Option<&str>,
    ) -> Result<(), UserPoolError> {
        self.confirm_forgot_password_with(
            client_id,
            username,
            code,
            password,
            secret_hash,
            &TriggerData::default(),
        )
        .await
    }

    /// ConfirmForgotPassword, then the pool's PostConfirmation trigger
    /// (`PostConfirmation_ConfirmForgotPassword`) with the request's `ClientMetadata`; a
    /// failing trigger leaves the new password set.
    pub async fn confirm_forgot_password_with(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        password: &str,
        secret_hash: Option<&str>,
        data: &TriggerData,
    ) -> Result<(), UserPoolError> {
        self.confirm_forgot_password_as(
            client_id,
            username,
            code,
            password,
            Asker::Api { secret_hash },
            data,
        )
        .await
    }

    /// ConfirmForgotPassword for the API or the hosted pages (see [`Asker`]).
    pub(crate) async fn confirm_forgot_password_as(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        password: &str,
        asker: Asker<'_>,
        data: &TriggerData,
    ) -> Result<(), UserPoolError> {
        let (pool, client, user, uniform) = self.public_user(client_id, username, asker).await?;
        let now = self.now();
        if user.is_none() && !uniform {
            return Err(unknown_user());
        }
        let subject = Subject::of(self, &pool, user.as_ref(), username);
        self.check_code(
            &pool.id,
            &subject,
            user.as_ref().map(|u| u.sub.as_str()),
            FORGOT_PASSWORD_CODE,
            code,
            uniform,
            now,
        )
        .await?;
        let Some(user) = user else {
            return Err(code_mismatch());
        };
        // The code was right: its holder may learn the rest (the guesses are forgotten, and
        // the code stays usable until a password is set).
        self.code_accepted(&pool.id, &subject, FORGOT_PASSWORD_CODE)
            .await?;
        self.check_password_policy(&pool, password)?;
        if !user.enabled {
            return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
        }
        let secrets = self
            .password_secrets(&pool, &user.sub, &user.username, password)
            .await?;
        self.store()
            .users()
            .set_password(
                &pool.id,
                &user.sub,
                Some(&secrets.hash),
                Some(&secrets.srp_verifier),
                UserStatus::Confirmed.as_str(),
                unix_millis(now),
                true,
            )
            .await?;
        self.finish_code(&pool.id, &user, FORGOT_PASSWORD_CODE)
            .await?;
        self.post_confirmation(
            &pool,
            Confirmation::ForgotPassword,
            Some(&client.id),
            &user,
            data,
        )
        .await
    }
}

/// The channel a reset code goes to: the first verified one in the pool's recovery
/// mechanisms (`AccountRecoverySetting`, by priority), or without any the verified email,
/// else the verified phone number.
pub(crate) fn reset_channel(recovery: &[RecoveryMechanism], user: &User) -> Option<Channel> {
    let mut order: Vec<Channel> = recovery
        .iter()
        .filter_map(|m| match m {
            RecoveryMechanism::VerifiedEmail => Some(Channel::Email),
            RecoveryMechanism::VerifiedPhoneNumber => Some(Channel::Sms),
            RecoveryMechanism::AdminOnly => None,
        })
        .collect();
    if order.is_empty() {
        // No setting, or `admin_only` (AdminResetUserPassword, the operator's own reset).
        order = vec![Channel::Email, Channel::Sms];
    }
    order.into_iter().find(|c| {
        user.is_verified(*c) && user.attribute(c.attribute()).is_some_and(|v| !v.is_empty())
    })
}

/// Cognito's answer when a user has nowhere to receive a reset code.
pub(crate) fn no_reset_channel() -> UserPoolError {
    UserPoolError::invalid(
        "Cannot reset password for the user as there is no registered/verified email or phone_number",
    )
}

/// Only an UNCONFIRMED user can be confirmed.
fn check_confirmable(user: &User) -> Result<(), UserPoolError> {
    if user.status == UserStatus::Unconfirmed {
        return Ok(());
    }
    Err(UserPoolError::NotAuthorized(format!(
        "User cannot be confirmed. Current status is {}",
        user.status.as_str()
    )))
}
