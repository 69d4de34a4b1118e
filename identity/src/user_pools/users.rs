//! Operator user operations: AdminCreateUser, AdminGetUser, AdminDeleteUser,
//! AdminDisableUser, AdminEnableUser, AdminSetUserPassword, AdminResetUserPassword, AdminUpdateUserAttributes,
//! AdminDeleteUserAttributes, AdminConfirmSignUp, and the attribute-update logic the public
//! UpdateUserAttributes shares.

use std::collections::BTreeMap;
use std::time::SystemTime;

use gatehouse_storage::{NewUser, StorageError};

use super::attributes::{
    AttributeWrite, is_email, is_phone_number, stored_attributes, user_from_record,
};
use super::config::{UsernameAttribute, VerifiedAttribute};
use super::sign_up::{no_reset_channel, reset_channel};
use super::triggers::{Confirmation, MessageSource};
use super::{
    Client, CodeDeliveryDetails, TriggerData, User, UserPool, UserPoolError, UserPools, UserStatus,
};
use crate::delivery::{Channel, Message, Purpose};
use crate::password::{PolicyViolation, SYMBOLS};
use crate::time::unix_millis;

/// `MessageAction` of AdminCreateUser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAction {
    /// Send nothing.
    Suppress,
    /// The user exists in FORCE_CHANGE_PASSWORD: reset the temporary password and invite again.
    Resend,
}

/// What AdminCreateUser needs.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCreateUser {
    /// `Username` (an email or phone number in pools with `UsernameAttributes`).
    pub username: String,
    /// `UserAttributes`.
    pub attributes: Vec<(String, String)>,
    /// `TemporaryPassword`; generated to match the policy when `None`.
    pub temporary_password: Option<String>,
    /// `MessageAction`; `None` sends the invitation.
    pub message_action: Option<MessageAction>,
    /// `DesiredDeliveryMediums` (default SMS, as Cognito).
    pub delivery_mediums: Vec<Channel>,
}

impl std::fmt::Debug for AdminCreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCreateUser")
            .field("username", &self.username)
            .field("attributes", &self.attributes)
            .field("message_action", &self.message_action)
            .field("delivery_mediums", &self.delivery_mediums)
            .finish_non_exhaustive()
    }
}

/// The `InvalidPasswordException` message for a policy violation (Cognito's wording).
pub(crate) fn policy_message(v: PolicyViolation) -> UserPoolError {
    match v {
        PolicyViolation::LeadingOrTrailingWhitespace => UserPoolError::InvalidParameter(
            "1 validation error detected: value at `password` failed to satisfy constraint: member must satisfy regular expression pattern: ^[\\S]+.*[\\S]+$".into(),
        ),
        PolicyViolation::TooShort { .. } => UserPoolError::InvalidPassword(
            "Password did not conform with policy: Password not long enough".into(),
        ),
        PolicyViolation::MissingUppercase => UserPoolError::InvalidPassword(
            "Password did not conform with policy: Password must have uppercase characters".into(),
        ),
        PolicyViolation::MissingLowercase => UserPoolError::InvalidPassword(
            "Password did not conform with policy: Password must have lowercase characters".into(),
        ),
        PolicyViolation::MissingNumber => UserPoolError::InvalidPassword(
            "Password did not conform with policy: Password must have numeric characters".into(),
        ),
        PolicyViolation::MissingSymbol => UserPoolError::InvalidPassword(
            "Password did not conform with policy: Password must have symbol characters".into(),
        ),
    }
}

/// A random temporary password satisfying the pool's policy: at least 12 characters, one of
/// every class (whether required or not), shuffled.
pub(crate) fn temporary_password(pool: &UserPool) -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGITS: &[u8] = b"23456789";
    let symbols: Vec<u8> = SYMBOLS.bytes().filter(|b| !b"\"'`\\".contains(b)).collect();
    let len = usize::try_from(pool.config.password_policy.minimum_length)
        .unwrap_or(12)
        .max(12);
    let pick = |set: &[u8]| -> u8 {
        let r: [u8; 2] = crate::crypto::random_bytes();
        let n = usize::from(u16::from_le_bytes(r)) % set.len().max(1);
        set.get(n).copied().unwrap_or(b'x')
    };
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, &symbols].concat();
    let mut out = vec![pick(UPPER), pick(LOWER), pick(DIGITS), pick(&symbols)];
    while out.len() < len {
        out.push(pick(&all));
    }
    // Fisher–Yates, so the class characters are not always first.
    for i in (1..out.len()).rev() {
        let r: [u8; 2] = crate::crypto::random_bytes();
        let j = usize::from(u16::from_le_bytes(r)) % (i + 1);
        out.swap(i, j);
    }
    String::from_utf8(out).unwrap_or_default()
}

fn check_username(name: &str) -> Result<(), UserPoolError> {
    let len = name.chars().count();
    if !(1..=128).contains(&len) || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UserPoolError::invalid(
            "username must be 1 to 128 characters without whitespace",
        ));
    }
    Ok(())
}

impl UserPools {
    /// Checks a new password against the pool policy, the 256-character ceiling and (unless
    /// the pool turned it off) the list of commonly used passwords. Every operation that sets
    /// a password calls this.
    pub fn check_password_policy(
        &self,
        pool: &UserPool,
        password: &str,
    ) -> Result<(), UserPoolError> {
        if password
            .chars()
            .nth(crate::password::MAX_PASSWORD_CHARS)
            .is_some()
        {
            return Err(UserPoolError::invalid(
                "password must have length less than or equal to 256",
            ));
        }
        let settings = &pool.config.password_policy;
        settings.policy()?.check(password).map_err(policy_message)?;
        if settings.reject_common_passwords && crate::password::is_common(password) {
            return Err(UserPoolError::InvalidPassword(
                "Password did not conform with policy: Password is too common".into(),
            ));
        }
        Ok(())
    }

    /// AdminCreateUser: a FORCE_CHANGE_PASSWORD user with a temporary password, invited by
    /// email or SMS unless suppressed; with `Resend`, a new temporary password for an existing
    /// invited user.
    pub async fn admin_create_user(
        &self,
        pool_id: &str,
        request: AdminCreateUser,
    ) -> Result<User, UserPoolError> {
        self.admin_create_user_with(pool_id, request, &TriggerData::default())
            .await
    }

    /// AdminCreateUser with the request's `ValidationData` and `ClientMetadata` for the
    /// pool's PreSignUp trigger (`PreSignUp_AdminCreateUser`), which decides before anything
    /// is written: a rejection leaves nothing; `autoVerifyEmail` / `autoVerifyPhone` mark
    /// the addresses verified (`autoConfirmUser` has no effect: an invited user changes the
    /// temporary password first, as in Cognito).
    pub async fn admin_create_user_with(
        &self,
        pool_id: &str,
        request: AdminCreateUser,
        data: &TriggerData,
    ) -> Result<User, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let now = self.now();
        let temporary = match &request.temporary_password {
            Some(p) => {
                self.check_password_policy(&pool, p)?;
                p.clone()
            }
            None => temporary_password(&pool),
        };
        if request.message_action == Some(MessageAction::Resend) {
            let user = self.require_user(&pool, &request.username).await?;
            if user.status != UserStatus::ForceChangePassword {
                return Err(UserPoolError::UnsupportedUserState(format!(
                    "Resend not possible. {} status is not FORCE_CHANGE_PASSWORD",
                    user.username
                )));
            }
            let secrets = self
                .password_secrets(&pool, &user.sub, &user.username, &temporary)
                .await?;
            self.store()
                .users()
                .set_password(
                    &pool.id,
                    &user.sub,
                    Some(&secrets.hash),
                    Some(&secrets.srp_verifier),
                    UserStatus::ForceChangePassword.as_str(),
                    unix_millis(now),
                    true,
                )
                .await?;
            self.send_invitation(&pool, &user, &temporary, &request.delivery_mediums, now)
                .await?;
            return self.require_user(&pool, &user.username).await;
        }

        self.validate_attributes(&pool, None, &request.attributes, AttributeWrite::Create)?;
        let NewIdentity {
            sub,
            username,
            attributes,
        } = self
            .new_identity(&pool, &request.username, &request.attributes)
            .await?;
        self.check_required_attributes(&pool, &attributes)?;
        let answer = self
            .pre_sign_up(&pool, true, None, &username, &attributes, data)
            .await?;
        let mut attributes = attributes;
        answer.apply(&mut attributes);
        let secrets = self
            .password_secrets(&pool, &sub, &username, &temporary)
            .await?;
        let aliases = self.aliases_for(&pool, &attributes);
        let record = self
            .store()
            .users()
            .create(&NewUser {
                pool_id: pool.id.clone(),
                sub: sub.clone(),
                username_key: self.username_key(&pool, &username),
                username: username.clone(),
                status: UserStatus::ForceChangePassword.as_str().into(),
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
                    UserPoolError::UsernameExists("User account already exists".into())
                }
                StorageError::AliasTaken { name, .. } if pool.config.uses_username_attributes() => {
                    UserPoolError::UsernameExists(format!(
                        "An account with the given {name} already exists."
                    ))
                }
                other => other.into(),
            })?;
        let user = user_from_record(record)?;
        if request.message_action != Some(MessageAction::Suppress) {
            self.send_invitation(&pool, &user, &temporary, &request.delivery_mediums, now)
                .await?;
        }
        Ok(user)
    }

    /// Sends the invitation with the temporary password on each requested channel the user
    /// has a destination for; when none has one, on whichever channel does.
    async fn send_invitation(
        &self,
        pool: &UserPool,
        user: &User,
        temporary: &str,
        mediums: &[Channel],
        now: SystemTime,
    ) -> Result<(), UserPoolError> {
        let requested: Vec<Channel> = if mediums.is_empty() {
            vec![Channel::Sms]
        } else {
            mediums.to_vec()
        };
        let has = |c: &Channel| user.attribute(c.attribute()).is_some_and(|d| !d.is_empty());
        let mut channels: Vec<Channel> = requested.iter().copied().filter(has).collect();
        if channels.is_empty() {
            channels = [Channel::Email, Channel::Sms]
                .into_iter()
                .filter(has)
                .take(1)
                .collect();
        }
        let settings = &pool.config.admin_create_user;
        // In pools whose username is an id, the user signs in with the email or phone number.
        let shown_username = super::triggers::shown_username(pool, user);
        for channel in channels {
            let template = match channel {
                Channel::Email => settings.invite_email_message.as_deref(),
                Channel::Sms => settings.invite_sms_message.as_deref(),
            }
            .unwrap_or("Your username is {username} and temporary password is {####}.");
            let body = template
                .replace("{username}", shown_username)
                .replace("{####}", temporary);
            let subject = match channel {
                Channel::Email => settings
                    .invite_email_subject
                    .clone()
                    .unwrap_or_else(|| "Your temporary password".into()),
                Channel::Sms => String::new(),
            };
            let message = Message {
                pool_id: pool.id.clone(),
                username: user.username.clone(),
                channel,
                destination: user
                    .attribute(channel.attribute())
                    .unwrap_or_default()
                    .to_owned(),
                purpose: Purpose::AdminCreateUser,
                subject,
                body,
                code: None,
                temporary_password: Some(temporary.to_owned()),
            };
            if let Some(message) = self
                .message_triggers(pool, user, MessageSource::AdminCreateUser, message)
                .await?
            {
                self.deliver(message, now).await?;
            }
        }
        Ok(())
    }

    /// AdminGetUser.
    pub async fn admin_get_user(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<User, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        self.require_user(&pool, username).await
    }

    /// AdminDeleteUser: the user, its memberships, codes and refresh tokens go, and every
    /// access and id token issued to it is refused from now on, on every node.
    pub async fn admin_delete_user(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        self.delete_and_sign_out(&pool.id, &user.sub).await
    }

    /// AdminDisableUser / AdminEnableUser. Disabling signs the user out everywhere: its
    /// refresh tokens are revoked (with the disable, in one transaction, so no sign-in can
    /// slip in between) and every access and id token issued before is refused, on every
    /// node and at the gateway.
    pub async fn admin_set_user_enabled(
        &self,
        pool_id: &str,
        username: &str,
        enabled: bool,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        let sessions = self
            .store()
            .users()
            .set_enabled(&pool.id, &user.sub, enabled, unix_millis(self.now()))
            .await?;
        if enabled {
            return Ok(());
        }
        self.refuse_tokens(&pool.id, &user.sub, &sessions).await
    }

    /// AdminSetUserPassword: `permanent` makes the user CONFIRMED, otherwise
    /// FORCE_CHANGE_PASSWORD. The policy is enforced. Every refresh token of the user is
    /// revoked with the change (Cognito keeps them): whoever held the old password keeps no
    /// session it could renew.
    pub async fn admin_set_user_password(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
        permanent: bool,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        self.check_password_policy(&pool, password)?;
        let secrets = self
            .password_secrets(&pool, &user.sub, &user.username, password)
            .await?;
        let status = if permanent {
            UserStatus::Confirmed
        } else {
            UserStatus::ForceChangePassword
        };
        self.store()
            .users()
            .set_password(
                &pool.id,
                &user.sub,
                Some(&secrets.hash),
                Some(&secrets.srp_verifier),
                status.as_str(),
                unix_millis(self.now()),
                true,
            )
            .await?;
        Ok(())
    }

    /// AdminResetUserPassword: sends the user a password-reset code (as ForgotPassword does,
    /// to the verified email, else the verified phone number) and moves it to
    /// RESET_REQUIRED: signing in with the old password then answers
    /// `PasswordResetRequiredException` until ConfirmForgotPassword sets a new one. Every
    /// refresh token of the user is revoked (Cognito keeps them). A user with no verified
    /// address is refused with `InvalidParameterException`, and nothing changes.
    pub async fn admin_reset_user_password(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        let recovery = pool.config.recovery_mechanisms()?;
        let channel = reset_channel(&recovery, &user).ok_or_else(no_reset_channel)?;
        let now = self.now();
        self.send_code(
            &pool,
            &user,
            super::codes::FORGOT_PASSWORD_CODE,
            channel,
            Purpose::ForgotPassword,
            None,
            now,
        )
        .await?;
        // The revoked sign-ins' access tokens live on until they expire, as after any
        // password reset; only a sign-out refuses them.
        self.store()
            .users()
            .set_status_and_revoke(
                &pool.id,
                &user.sub,
                UserStatus::ResetRequired.as_str(),
                unix_millis(now),
            )
            .await?;
        Ok(())
    }

    /// AdminUpdateUserAttributes.
    pub async fn admin_update_user_attributes(
        &self,
        pool_id: &str,
        username: &str,
        attributes: &[(String, String)],
    ) -> Result<Vec<CodeDeliveryDetails>, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        self.update_user_attributes(&pool, None, &user, attributes, AttributeWrite::AdminUpdate)
            .await
    }

    /// Applies attribute writes to `user` (operator or, with `client`, the user itself):
    /// schema-checked; an empty value removes the attribute; a changed email or phone number
    /// becomes unverified unless the same request sets its `*_verified` flag, and when the
    /// pool auto-verifies it a verification code is sent (the returned delivery details),
    /// unless the user's sends per hour are spent (the update applies all the same).
    /// Aliases follow the new values. Where the pool's `AttributesRequireVerificationBeforeUpdate`
    /// names the attribute, a new value (without `*_verified` = `true` in the same request)
    /// is not written: it gets a code, and VerifyUserAttribute with that code makes it the
    /// attribute's value; past the sends per hour the whole request is refused.
    pub async fn update_user_attributes(
        &self,
        pool: &UserPool,
        client: Option<&Client>,
        user: &User,
        changes: &[(String, String)],
        mode: AttributeWrite,
    ) -> Result<Vec<CodeDeliveryDetails>, UserPoolError> {
        let changes = &self.canonical_attributes(pool, changes);
        self.validate_attributes(pool, client, changes, mode)?;
        let now = self.now();
        let mut attributes = user.attributes.clone();
        let mut to_verify = Vec::new();
        let mut pending: Vec<(Channel, String)> = Vec::new();
        for (channel, verified) in [
            (Channel::Email, VerifiedAttribute::Email),
            (Channel::Sms, VerifiedAttribute::PhoneNumber),
        ] {
            let name = channel.attribute();
            let flag = format!("{name}_verified");
            let Some((_, new)) = changes.iter().rev().find(|(k, _)| k == name) else {
                continue;
            };
            if user.attribute(name) == Some(new.as_str()) || new.is_empty() {
                continue;
            }
            if pool.config.uses_username_attributes()
                && let Some(other) = self.find_user(pool, new).await?
                && other.sub != user.sub
            {
                return Err(UserPoolError::AliasExists(format!(
                    "An account with the given {name} already exists."
                )));
            }
            let verified_now = changes.iter().any(|(k, v)| *k == flag && v == "true");
            if pool.config.verifies_before_update(verified) && !verified_now {
                // The new value waits for its code; the old one stays (for sign-in and
                // delivery) until VerifyUserAttribute confirms the new one.
                pending.push((channel, new.clone()));
                continue;
            }
            if !changes.iter().any(|(k, _)| *k == flag) {
                attributes.insert(flag, "false".into());
                if pool.config.auto_verifies(verified) {
                    to_verify.push(channel);
                }
            }
        }
        // Pending values are sent their codes first: past the sends per hour nothing of
        // the request is written.
        let mut details = Vec::new();
        for (channel, value) in &pending {
            let mut waiting = user.clone();
            waiting
                .attributes
                .insert(channel.attribute().to_owned(), value.clone());
            details.push(
                self.send_update_code(pool, &waiting, *channel, Some(value.clone()), now)
                    .await?,
            );
        }
        let held = |name: &str| pending.iter().any(|(c, _)| c.attribute() == name);
        for (k, v) in changes {
            if held(k) {
                continue;
            }
            if v.is_empty() {
                attributes.remove(k);
            } else {
                attributes.insert(k.clone(), v.clone());
            }
        }
        self.check_required_attributes(pool, &attributes)?;
        let aliases = self.aliases_for(pool, &attributes);
        self.store()
            .users()
            .update_attributes(
                &pool.id,
                &user.sub,
                &stored_attributes(&attributes),
                &aliases,
                unix_millis(now),
            )
            .await?;
        if !to_verify.is_empty() {
            let updated = User {
                attributes,
                ..user.clone()
            };
            for channel in to_verify {
                let sent = self
                    .send_update_code(
                        pool,
                        &updated,
                        channel,
                        updated.attribute(channel.attribute()).map(str::to_owned),
                        now,
                    )
                    .await;
                match sent {
                    Ok(delivery) => details.push(delivery),
                    // The update is written and stands; past the sends per hour it only
                    // goes without a code (GetUserAttributeVerificationCode asks for one
                    // later).
                    Err(UserPoolError::LimitExceeded(_)) => {}
                    Err(other) => return Err(other),
                }
            }
        }
        Ok(details)
    }

    /// AdminDeleteUserAttributes: required attributes and `sub` cannot go; deleting `email` or
    /// `phone_number` also deletes its `*_verified` flag.
    pub async fn admin_delete_user_attributes(
        &self,
        pool_id: &str,
        username: &str,
        names: &[String],
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        let mut attributes = user.attributes.clone();
        for name in names {
            let Some(schema) = pool.config.attribute(name) else {
                return Err(UserPoolError::invalid(format!(
                    "attribute `{name}` does not exist in the schema"
                )));
            };
            if schema.required || name == "sub" {
                return Err(UserPoolError::invalid(format!(
                    "cannot delete the required attribute `{name}`"
                )));
            }
            if !schema.mutable {
                return Err(UserPoolError::invalid(format!(
                    "cannot modify an immutable attribute: `{name}`"
                )));
            }
            attributes.remove(name);
            if name == "email" || name == "phone_number" {
                attributes.remove(&format!("{name}_verified"));
            }
        }
        let aliases = self.aliases_for(&pool, &attributes);
        self.store()
            .users()
            .update_attributes(
                &pool.id,
                &user.sub,
                &stored_attributes(&attributes),
                &aliases,
                unix_millis(self.now()),
            )
            .await?;
        Ok(())
    }

    /// AdminConfirmSignUp: UNCONFIRMED → CONFIRMED; any other status is `NotAuthorized`.
    pub async fn admin_confirm_sign_up(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<(), UserPoolError> {
        self.admin_confirm_sign_up_with(pool_id, username, &TriggerData::default())
            .await
    }

    /// AdminConfirmSignUp, then the pool's PostConfirmation trigger
    /// (`PostConfirmation_ConfirmSignUp`, as Cognito sends it for this operation too) with the
    /// request's `ClientMetadata`. A failing trigger leaves the user confirmed.
    pub async fn admin_confirm_sign_up_with(
        &self,
        pool_id: &str,
        username: &str,
        data: &TriggerData,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        if user.status != UserStatus::Unconfirmed {
            return Err(UserPoolError::NotAuthorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        self.store()
            .users()
            .set_status(
                &pool.id,
                &user.sub,
                UserStatus::Confirmed.as_str(),
                unix_millis(self.now()),
            )
            .await?;
        self.store()
            .codes()
            .delete(&pool.id, &user.sub, super::codes::SIGN_UP_CODE)
            .await?;
        self.post_confirmation(&pool, Confirmation::SignUp, None, &user, data)
            .await
    }
}

/// The identity of a user about to be created: its `sub`, its username and its attributes.
pub(super) struct NewIdentity {
    pub(super) sub: String,
    pub(super) username: String,
    pub(super) attributes: BTreeMap<String, String>,
}

impl UserPools {
    /// Works out who a new user is (SignUp and AdminCreateUser alike): the non-empty attributes
    /// given, a new `sub`, and the username. In pools whose usernames are an email or a phone
    /// number, the given name must be one, becomes that attribute (an alias) and the username is
    /// the immutable `sub`, as in Cognito; elsewhere the name is checked and normalised.
    pub(super) async fn new_identity(
        &self,
        pool: &UserPool,
        requested: &str,
        given: &[(String, String)],
    ) -> Result<NewIdentity, UserPoolError> {
        let mut attributes: BTreeMap<String, String> = self
            .canonical_attributes(pool, given)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let sub = crate::ids::uuid_v4();
        let username = if pool.config.uses_username_attributes() {
            let cfg = &pool.config.username_attributes;
            let name = requested.trim();
            if cfg.contains(&UsernameAttribute::Email) && is_email(name) {
                attributes.insert("email".into(), name.to_owned());
            } else if cfg.contains(&UsernameAttribute::PhoneNumber) && is_phone_number(name) {
                attributes.insert("phone_number".into(), name.to_owned());
            } else {
                return Err(UserPoolError::invalid(
                    "username should be an email or a phone number, as this pool's username attributes say",
                ));
            }
            if self.find_user(pool, name).await?.is_some() {
                return Err(UserPoolError::UsernameExists(
                    "An account with the given email already exists.".into(),
                ));
            }
            sub.clone()
        } else {
            check_username(requested)?;
            // The name keeps its case; its key (`username_key`) makes it unique and found.
            requested.to_owned()
        };
        Ok(NewIdentity {
            sub,
            username,
            attributes,
        })
    }
}
