//! The sign-up triggers: PreSignUp (`PreSignUp_SignUp`, `PreSignUp_AdminCreateUser`) before a
//! user is written, and PostConfirmation (`PostConfirmation_ConfirmSignUp`,
//! `PostConfirmation_ConfirmForgotPassword`) after a user is confirmed.
//!
//! `PreSignUp_ExternalProvider` is sent before a federated identity's first sign-in makes its
//! user (`crate::oauth2` federation); its `autoConfirmUser` changes nothing (the user is
//! `EXTERNAL_PROVIDER`), its verified flags apply.

use std::collections::BTreeMap;

use serde_json::json;

use super::{TriggerData, TriggerEvent, TriggerKind, response_flag, user_attributes_json};
use crate::user_pools::{User, UserPool, UserPoolError, UserPools};

/// What a PreSignUp trigger decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreSignUpAnswer {
    /// `autoConfirmUser`: the user is CONFIRMED at once and no confirmation code is sent.
    pub auto_confirm_user: bool,
    /// `autoVerifyEmail`: `email_verified` is `true` (when the user has an email).
    pub auto_verify_email: bool,
    /// `autoVerifyPhone`: `phone_number_verified` is `true` (when the user has a number).
    pub auto_verify_phone: bool,
}

/// Which operation confirmed the user, for PostConfirmation's `triggerSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// ConfirmSignUp, or AdminConfirmSignUp (Cognito sends the same source for both).
    SignUp,
    /// ConfirmForgotPassword.
    ForgotPassword,
}

impl PreSignUpAnswer {
    /// Sets the verified flags it asks for on `attributes` (only for an attribute the user
    /// has: a flag without its value would verify nothing).
    pub fn apply(&self, attributes: &mut BTreeMap<String, String>) {
        for (wanted, name) in [
            (self.auto_verify_email, "email"),
            (self.auto_verify_phone, "phone_number"),
        ] {
            if wanted && attributes.get(name).is_some_and(|v| !v.is_empty()) {
                attributes.insert(format!("{name}_verified"), "true".into());
            }
        }
    }
}

impl UserPools {
    /// Runs the pool's PreSignUp trigger for a user about to be created (`admin`:
    /// AdminCreateUser, else SignUp). Nothing is written before it answers; a rejection
    /// (`UserLambdaValidationException` with the function's message) leaves no trace.
    pub(crate) async fn pre_sign_up(
        &self,
        pool: &UserPool,
        admin: bool,
        client_id: Option<&str>,
        username: &str,
        attributes: &BTreeMap<String, String>,
        data: &TriggerData,
    ) -> Result<PreSignUpAnswer, UserPoolError> {
        let source = if admin {
            "PreSignUp_AdminCreateUser"
        } else {
            "PreSignUp_SignUp"
        };
        self.pre_sign_up_as(pool, source, client_id, username, attributes, data)
            .await
    }

    /// PreSignUp for a federated identity's first sign-in (`PreSignUp_ExternalProvider`).
    pub(crate) async fn pre_sign_up_external(
        &self,
        pool: &UserPool,
        client_id: &str,
        username: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<PreSignUpAnswer, UserPoolError> {
        self.pre_sign_up_as(
            pool,
            "PreSignUp_ExternalProvider",
            Some(client_id),
            username,
            attributes,
            &TriggerData::default(),
        )
        .await
    }

    async fn pre_sign_up_as(
        &self,
        pool: &UserPool,
        source: &str,
        client_id: Option<&str>,
        username: &str,
        attributes: &BTreeMap<String, String>,
        data: &TriggerData,
    ) -> Result<PreSignUpAnswer, UserPoolError> {
        let request = json!({
            "userAttributes": attributes,
            "validationData": data.validation_data_json(),
            "clientMetadata": data.client_metadata_json(),
        });
        let event = TriggerEvent::new(source, username, client_id, request).with_response(json!({
            "autoConfirmUser": false,
            "autoVerifyPhone": false,
            "autoVerifyEmail": false,
        }));
        let Some(response) = self
            .run_trigger(pool, TriggerKind::PreSignUp, event)
            .await?
        else {
            return Ok(PreSignUpAnswer::default());
        };
        Ok(PreSignUpAnswer {
            auto_confirm_user: response_flag(&response, "autoConfirmUser")?,
            auto_verify_email: response_flag(&response, "autoVerifyEmail")?,
            auto_verify_phone: response_flag(&response, "autoVerifyPhone")?,
        })
    }

    /// Runs the pool's PostConfirmation trigger once `user` is confirmed (read again, so the
    /// event has its attributes as they are now). As in Cognito, a failure does not undo the
    /// confirmation: the user stays CONFIRMED and the caller gets the trigger's error.
    pub(crate) async fn post_confirmation(
        &self,
        pool: &UserPool,
        how: Confirmation,
        client_id: Option<&str>,
        user: &User,
        data: &TriggerData,
    ) -> Result<(), UserPoolError> {
        if pool.config.triggers()?.post_confirmation.is_none() {
            return Ok(());
        }
        let user = self
            .find_user(pool, &user.username)
            .await?
            .unwrap_or_else(|| user.clone());
        let source = match how {
            Confirmation::SignUp => "PostConfirmation_ConfirmSignUp",
            Confirmation::ForgotPassword => "PostConfirmation_ConfirmForgotPassword",
        };
        let request = json!({
            "userAttributes": user_attributes_json(&user),
            "clientMetadata": data.client_metadata_json(),
        });
        let event = TriggerEvent::new(source, user.username.as_str(), client_id, request);
        self.run_trigger(pool, TriggerKind::PostConfirmation, event)
            .await?;
        Ok(())
    }
}
