//! The hosted pages' account pages: sign-up, its confirmation (and a new code), and the
//! forgotten password's reset. Each checks the authorization request its page carries
//! again ([`OAuth2::checked`]), then runs the user pool's own operation (its policy, schema,
//! triggers, code budgets and lockouts) for the client that request names.
//!
//! Every answer but SignUp's is uniform, whatever the client's `PreventUserExistenceErrors`
//! (as the sign-in page is): a wrong code for a user who does not exist is a wrong code, a
//! reset code requested for nobody looks sent. SignUp says a name is taken only to clients
//! that do not prevent user-existence errors (see `user_pools::sign_up_hosted`).
//!
//! A completed sign-up hands out a sealed proof (the page keeps it in a cookie); redeemed
//! once the account is confirmed ([`OAuth2::sign_in_after_sign_up`]) it ends like a password
//! sign-in: a hosted session and a code for the app's callback, or the sign-in page when the
//! pool asks for more (MFA).

use super::OAuth2;
use super::authorize::{LoginContext, SignInError, SignInStep, sign_in_error};
use super::error::Refusal;
use super::request::AuthorizeRequest;
use crate::user_pools::config::{
    AttributeDataType, PasswordPolicyConfig, UsernameAttribute, VerifiedAttribute,
};
use crate::user_pools::sign_up::Asker;
use crate::user_pools::{
    CodeDeliveryDetails, HostedSignUp, SignUp, TriggerData, UserPool, UserPoolError,
};

/// What the name field of the sign-up form holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A username.
    Username,
    /// An email address (`UsernameAttributes` = email).
    Email,
    /// A phone number (`UsernameAttributes` = phone_number).
    Phone,
    /// Either (`UsernameAttributes` = both).
    EmailOrPhone,
}

/// The HTML input an attribute gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Free text.
    Text,
    /// `type=email`.
    Email,
    /// `type=tel`.
    Tel,
    /// `type=date` (`birthdate`: Cognito's `YYYY-MM-DD` is the input's value format).
    Date,
    /// `type=url`.
    Url,
    /// `type=number` (Number attributes).
    Number,
}

/// One attribute the sign-up form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormAttribute {
    /// The attribute's name (`email`, `custom:tier`): also the form field's name.
    pub name: String,
    /// Its input.
    pub input: InputKind,
    /// Longest value the schema allows (characters), for `maxlength`.
    pub max_length: Option<u32>,
    /// Required by the schema (an address the pool verifies may be optional).
    pub required: bool,
}

/// What the sign-up page shows for a valid request.
#[derive(Debug, Clone, PartialEq)]
pub struct SignUpContext {
    /// The checked request, the client's and pool's names.
    pub login: LoginContext,
    /// `false` when the pool lets only its operators create users.
    pub allowed: bool,
    /// What the name field holds.
    pub name: NameKind,
    /// The pool's password policy, to show beside the field.
    pub password_policy: PasswordPolicyConfig,
    /// The pool's required attributes the client may write, and the email or phone number
    /// it sends confirmation codes to (in schema order), besides the one the name stands for.
    pub attributes: Vec<FormAttribute>,
}

/// Why an account page's form did not go through, in the page's terms. Nothing here tells
/// whether a user exists, unless the client lets SignUp say a name is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// The request itself is refused (its page, or back to the callback).
    Request(Refusal),
    /// The pool's own words: a password the policy refuses, an attribute the schema
    /// refuses, a name taken, a trigger's refusal, an operation the pool forbids.
    Refused(String),
    /// The code is wrong (or was for nobody).
    CodeMismatch,
    /// The code has expired: ask for another.
    ExpiredCode,
    /// Too many wrong codes, or too many codes asked for: wait.
    TooManyAttempts,
    /// Busy or broken inside; try again.
    Unavailable,
}

/// What a sign-up on the page answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUp {
    /// The name to confirm and sign in with.
    pub name: String,
    /// The sealed proof of the sign-up (for [`OAuth2::sign_in_after_sign_up`]).
    pub proof: String,
    /// `true` when a PreSignUp trigger confirmed the user: nothing to confirm.
    pub confirmed: bool,
    /// Where the confirmation code went; `None` when the pool sends none (an operator
    /// confirms the user).
    pub delivery: Option<CodeDeliveryDetails>,
}

fn account_error(e: &UserPoolError) -> AccountError {
    use UserPoolError as E;
    match e {
        E::InvalidPassword(m)
        | E::InvalidParameter(m)
        | E::UsernameExists(m)
        | E::AliasExists(m)
        | E::UserLambdaValidation(m)
        | E::NotAuthorized(m)
        | E::CodeDeliveryFailure(m) => AccountError::Refused(m.clone()),
        E::CodeMismatch(_) | E::UserNotFound(_) => AccountError::CodeMismatch,
        E::ExpiredCode(_) => AccountError::ExpiredCode,
        E::LimitExceeded(_) | E::TooManyFailedAttempts(_) | E::TooManyRequests(_) => {
            AccountError::TooManyAttempts
        }
        other => {
            tracing::warn!(error = %other, "hosted account page");
            AccountError::Unavailable
        }
    }
}

impl InputKind {
    /// The input of attribute `name` of type `data_type`: the one rule every page asking for
    /// attributes follows (sign-up, a new password's missing attributes).
    pub fn of(name: &str, data_type: AttributeDataType) -> Self {
        input_kind(name, data_type)
    }
}

/// The input of a schema attribute.
fn input_kind(name: &str, data_type: AttributeDataType) -> InputKind {
    match (name, data_type) {
        ("email", _) => InputKind::Email,
        ("phone_number", _) => InputKind::Tel,
        ("birthdate", _) => InputKind::Date,
        ("website" | "picture" | "profile", _) => InputKind::Url,
        (_, AttributeDataType::Number) => InputKind::Number,
        _ => InputKind::Text,
    }
}

impl OAuth2 {
    /// The sign-up page's check of its request, and what its form asks for.
    pub async fn sign_up_context(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
    ) -> Result<SignUpContext, Refusal> {
        let (pool, client, valid) = self.checked(pool_id, request).await?;
        let name = name_kind(&pool);
        let named_by = match name {
            NameKind::Username => None,
            NameKind::Email => Some("email"),
            NameKind::Phone => Some("phone_number"),
            NameKind::EmailOrPhone => Some("either"),
        };
        let attributes = pool
            .config
            .schema
            .iter()
            .filter(|a| {
                let verified = match a.name.as_str() {
                    "email" => pool.config.auto_verifies(VerifiedAttribute::Email),
                    "phone_number" => pool.config.auto_verifies(VerifiedAttribute::PhoneNumber),
                    _ => false,
                };
                (a.required || verified) && a.name != "sub" && !a.developer_only
            })
            .filter(|a| client.config.can_write(&a.name))
            .filter(|a| match named_by {
                Some("either") => a.name != "email" && a.name != "phone_number",
                Some(n) => a.name != n,
                None => true,
            })
            .map(|a| FormAttribute {
                name: a.name.clone(),
                input: input_kind(&a.name, a.data_type),
                max_length: a.max_length,
                required: a.required,
            })
            .collect();
        Ok(SignUpContext {
            allowed: !pool.config.admin_create_user.allow_admin_create_user_only,
            name,
            password_policy: pool.config.password_policy,
            attributes,
            login: LoginContext {
                request: valid,
                client_name: client.name,
                pool_name: pool.name,
            },
        })
    }

    /// The sign-up form: SignUp for the request's client (`attributes` as the form sent
    /// them; empty values are left out).
    pub async fn sign_up(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        name: &str,
        password: &str,
        attributes: Vec<(String, String)>,
    ) -> Result<SignedUp, AccountError> {
        let (pool, client, _) = self
            .checked(pool_id, request)
            .await
            .map_err(AccountError::Request)?;
        let request = SignUp {
            client_id: client.id.clone(),
            secret_hash: None,
            username: name.trim().to_owned(),
            password: password.to_owned(),
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k, v.trim().to_owned()))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        };
        let HostedSignUp {
            output,
            name,
            proof,
        } = self
            .pools
            .hosted_sign_up(&pool, &client, &request)
            .await
            .map_err(|e| account_error(&e))?;
        Ok(SignedUp {
            name,
            proof,
            confirmed: output.user_confirmed,
            delivery: output.code_delivery,
        })
    }

    /// The confirmation form: ConfirmSignUp, answered uniformly.
    pub async fn confirm_sign_up(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        name: &str,
        code: &str,
    ) -> Result<(), AccountError> {
        let (_, client, _) = self
            .checked(pool_id, request)
            .await
            .map_err(AccountError::Request)?;
        self.pools
            .confirm_sign_up_as(
                &client.id,
                name.trim(),
                code.trim(),
                Asker::Hosted,
                false,
                &TriggerData::default(),
            )
            .await
            .map_err(|e| account_error(&e))
    }

    /// "Send a new code": ResendConfirmationCode, answered uniformly.
    pub async fn resend_code(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        name: &str,
    ) -> Result<CodeDeliveryDetails, AccountError> {
        let (_, client, _) = self
            .checked(pool_id, request)
            .await
            .map_err(AccountError::Request)?;
        self.pools
            .resend_confirmation_code_as(&client.id, name.trim(), Asker::Hosted)
            .await
            .map_err(|e| account_error(&e))
    }

    /// Signs in the user a sign-up proof is for, once confirmed: a hosted session and a code
    /// for the request, the page of the sign-in's next step (a second factor the pool
    /// requires), or why not (the page then shows the sign-in form).
    pub async fn sign_in_after_sign_up(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        proof: &str,
        name: &str,
    ) -> Result<SignInStep, SignInError> {
        let (pool, client, valid) = self
            .checked(pool_id, request)
            .await
            .map_err(SignInError::Request)?;
        let outcome = self
            .pools
            .hosted_sign_in_after_sign_up(&pool, &client, proof, name.trim())
            .await
            .map_err(|e| sign_in_error(&e))?;
        self.next_page(&pool, &client, &valid, outcome, &["pwd"])
            .await
    }

    /// The forgotten-password form: ForgotPassword, answered alike whether or not the user
    /// exists (the delivery shown is simulated for nobody).
    pub async fn forgot_password(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        name: &str,
    ) -> Result<CodeDeliveryDetails, AccountError> {
        let (_, client, _) = self
            .checked(pool_id, request)
            .await
            .map_err(AccountError::Request)?;
        self.pools
            .forgot_password_as(
                &client.id,
                name.trim(),
                Asker::Hosted,
                &std::collections::BTreeMap::new(),
            )
            .await
            .map_err(|e| account_error(&e))
    }

    /// The reset form: ConfirmForgotPassword (the policy is checked once the code is
    /// accepted), answered uniformly.
    pub async fn reset_password(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        name: &str,
        code: &str,
        password: &str,
    ) -> Result<(), AccountError> {
        let (_, client, _) = self
            .checked(pool_id, request)
            .await
            .map_err(AccountError::Request)?;
        self.pools
            .confirm_forgot_password_as(
                &client.id,
                name.trim(),
                code.trim(),
                password,
                Asker::Hosted,
                &TriggerData::default(),
            )
            .await
            .map_err(|e| account_error(&e))
    }
}

/// What the pool's names are.
fn name_kind(pool: &UserPool) -> NameKind {
    let by = &pool.config.username_attributes;
    match (
        by.contains(&UsernameAttribute::Email),
        by.contains(&UsernameAttribute::PhoneNumber),
    ) {
        (true, true) => NameKind::EmailOrPhone,
        (true, false) => NameKind::Email,
        (false, true) => NameKind::Phone,
        (false, false) => NameKind::Username,
    }
}
