//! Sign-up on the hosted pages: SignUp's own path (policy, schema, PreSignUp, the code), for
//! a client the pages' checked authorization request names, and the sealed proof that lets
//! the browser that signed up be signed in once the account is confirmed.
//!
//! # Which names are taken
//! SignUp on the API always says a name is taken (Cognito does too, even with
//! `PreventUserExistenceErrors`). The pages say it only to clients that do not prevent
//! user-existence errors; for the others a taken name is answered like a new account: a
//! delivery that looks real (counted against the same sends per hour), after the same
//! password hashing, and a proof that will never open anything.
//!
//! # The proof of a sign-up
//! Cognito signs a user in after ConfirmSignUp with the session SignUp handed out. Here the
//! sign-up's answer carries a sealed, single-use proof (the hosted sign-in's session format,
//! [`HOSTED_SIGN_UP_PROOF`], [`HOSTED_SIGN_UP_PROOF_LIFETIME`]) bound to the pool, the
//! client, the user and a digest of the password just chosen. Redeemed with the user's name
//! once the account is confirmed, it runs the rest of a sign-in as a password would have:
//! PreAuthentication, then the MFA the pool and user call for, PostAuthentication. A proof
//! is spent on first use and stops working when the password changes or the user is
//! disabled.

use std::collections::BTreeMap;
use std::time::Duration;

use super::auth::invalid_session;
use super::challenges::{SignIn, password_digest};
use super::sign_up::sign_up_channel;
use super::types::mask_destination;
use super::{
    AuthOutcome, Client, CodeDeliveryDetails, SignUp, SignUpOutput, TriggerData, UserPool,
    UserPoolError, UserPools, UserStatus,
};
use crate::time::unix_millis;
use crate::user_pools::attempts::Subject;
use crate::user_pools::codes::SIGN_UP_CODE;

/// The challenge name of a sign-up proof (never a Cognito challenge: the API refuses it).
pub(crate) const HOSTED_SIGN_UP_PROOF: &str = "HOSTED_SIGN_UP_PROOF";

/// How long a sign-up proof can be redeemed (Cognito's longest `AuthSessionValidity`).
pub const HOSTED_SIGN_UP_PROOF_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What a sign-up on the pages answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedSignUp {
    /// SignUp's answer (`UserConfirmed`, where the code went).
    pub output: SignUpOutput,
    /// The name to confirm and sign in with (the username, or the email or phone number
    /// that stands for it).
    pub name: String,
    /// The sealed proof of this sign-up.
    pub proof: String,
}

impl UserPools {
    /// SignUp on the hosted pages (see the module docs for the taken names).
    pub(crate) async fn hosted_sign_up(
        &self,
        pool: &UserPool,
        client: &Client,
        request: &SignUp,
    ) -> Result<HostedSignUp, UserPoolError> {
        let now = self.now();
        let name = request.username.trim().to_owned();
        let signed_up = self
            .sign_up_for(pool, client, request, &TriggerData::default(), true)
            .await;
        let (output, sub, password) = match signed_up {
            Ok((output, user)) => {
                let digest = password_digest(&user);
                let sub = user.sub;
                (output, sub, digest)
            }
            Err(UserPoolError::UsernameExists(_))
                if client.config.prevent_user_existence_errors =>
            {
                let given: BTreeMap<String, String> = request.attributes.iter().cloned().collect();
                let mut attributes = given.clone();
                if pool.config.uses_username_attributes() {
                    let key = if super::is_email(&name) {
                        "email"
                    } else {
                        "phone_number"
                    };
                    attributes.insert(key.to_owned(), name.clone());
                }
                let code_delivery = match sign_up_channel(pool, &attributes) {
                    Some(channel) => {
                        let destination = attributes
                            .get(channel.attribute())
                            .map(String::as_str)
                            .unwrap_or_default();
                        let details = CodeDeliveryDetails {
                            destination: mask_destination(channel, destination),
                            channel,
                            attribute_name: channel.attribute().to_owned(),
                        };
                        let subject = Subject::of(self, pool, None, &name);
                        Some(
                            self.simulate_send(&pool.id, &subject, SIGN_UP_CODE, details, now)
                                .await?,
                        )
                    }
                    None => None,
                };
                let sub = crate::ids::uuid_v4();
                let output = SignUpOutput {
                    user_confirmed: false,
                    user_sub: sub.clone(),
                    code_delivery,
                };
                let digest = crate::crypto::hash_token(&sub);
                (output, sub, digest)
            }
            Err(e) => return Err(e),
        };
        let sign_in = SignIn {
            name: name.clone(),
            password,
            device: None,
            device_proven: false,
            hosted: true,
            new_password: false,
            client_metadata: BTreeMap::new(),
        };
        let mut claims = self.new_claims(pool, client, &sub, HOSTED_SIGN_UP_PROOF, sign_in, now);
        claims.exp = unix_millis(now + HOSTED_SIGN_UP_PROOF_LIFETIME);
        Ok(HostedSignUp {
            output,
            name,
            proof: self.session_text(&claims)?,
        })
    }

    /// Redeems a sign-up proof (once) for the confirmed user `name` names: the rest of a
    /// hosted sign-in, ending like [`UserPools::hosted_password_sign_in`] in the next
    /// challenge or the sealed proof of a completed sign-in.
    pub(crate) async fn hosted_sign_in_after_sign_up(
        &self,
        pool: &UserPool,
        client: &Client,
        proof: &str,
        name: &str,
    ) -> Result<AuthOutcome, UserPoolError> {
        let now = self.now();
        let claims = self.open_session(proof, pool, client, HOSTED_SIGN_UP_PROOF, now)?;
        if !claims.sign_in.hosted || !self.names_user(pool, name, &claims).await? {
            return Err(invalid_session());
        }
        let user = self.session_user(pool, &claims).await?;
        if user.status != UserStatus::Confirmed {
            // Not spent: the proof still works once the code confirms the account.
            return Err(UserPoolError::UserNotConfirmed(
                "User is not confirmed.".into(),
            ));
        }
        self.spend(&claims).await?;
        // As a password sign-in would: PreAuthentication first (uniform, as the pages are).
        self.pre_authentication(
            pool,
            client,
            Some(&user),
            &claims.sign_in.name,
            true,
            &BTreeMap::new(),
        )
        .await?;
        self.next_step(pool, client, user, claims.sign_in, now)
            .await
    }
}
