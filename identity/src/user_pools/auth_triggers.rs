//! The authentication triggers: PreAuthentication, PostAuthentication and the call of
//! PreTokenGeneration (whose answer `pre_token` reads), each sent through the pool's
//! triggers (`triggers`) with Cognito's event.
//!
//! # When each is called (as Cognito calls them)
//! - **PreAuthentication** (`PreAuthentication_Authentication`): at the first step of a
//!   sign-in, once the user is found and before the password is checked (USER_PASSWORD_AUTH,
//!   ADMIN_USER_PASSWORD_AUTH, the hosted sign-in page) or the SRP challenge is issued
//!   (USER_SRP_AUTH). A name nobody holds is sent (`userNotFound: true`, no attributes) only
//!   when the client prevents user-existence errors; otherwise the sign-in is answered as for
//!   any unknown user without a call. A failure ends the sign-in before any password check,
//!   lockout count or token. Refreshing a session never calls it.
//! - **PostAuthentication** (`PostAuthentication_Authentication`): once every challenge is
//!   answered, before tokens are minted (for the hosted pages: before the session and the
//!   code). `newDeviceUsed` says the sign-in is from a device the user had not used (device
//!   tracking on, and no remembered device proved). A failure fails the sign-in: no tokens.
//!   Refreshing never calls it.
//! - **PreTokenGeneration**: every time ID and access tokens of a user are minted (see
//!   `pre_token` for the sources and the rules on what an answer may change).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::pre_token::{self, GroupConfiguration, TokenOverrides, TokenSource};
use super::triggers::{
    PreTokenVersion, TriggerEvent, TriggerKind, unrecognizable, user_attributes_json,
};
use super::{Client, User, UserPool, UserPoolError, UserPools};

/// A map of strings as an object, `{}` when empty (how these events carry
/// `validationData` and `clientMetadata`; `triggers::string_map` sends `null` instead, as the
/// sign-up events do).
fn string_object(map: &BTreeMap<String, String>) -> Value {
    serde_json::to_value(map).unwrap_or_else(|_| json!({}))
}

impl UserPools {
    /// PreAuthentication for a sign-in of `user` (or of `name`, whom nobody holds) through
    /// `client`. `uniform`: the client hides which users exist, so an unknown name is sent
    /// too. `validation_data` is the request's `ClientMetadata`.
    pub(crate) async fn pre_authentication(
        &self,
        pool: &UserPool,
        client: &Client,
        user: Option<&User>,
        name: &str,
        uniform: bool,
        validation_data: &BTreeMap<String, String>,
    ) -> Result<(), UserPoolError> {
        if pool.config.triggers()?.pre_authentication.is_none() {
            return Ok(());
        }
        let mut request = Map::new();
        match user {
            Some(user) => {
                request.insert("userAttributes".into(), user_attributes_json(user));
                request.insert("userNotFound".into(), false.into());
            }
            None if uniform => {
                request.insert("userAttributes".into(), json!({}));
                request.insert("userNotFound".into(), true.into());
            }
            None => return Ok(()),
        }
        request.insert("validationData".into(), string_object(validation_data));
        let user_name = user.map_or(name, |u| u.username.as_str());
        let event = TriggerEvent::new(
            "PreAuthentication_Authentication",
            user_name,
            Some(&client.id),
            Value::Object(request),
        );
        self.run_trigger(pool, TriggerKind::PreAuthentication, event)
            .await
            .map(|_| ())
    }

    /// PostAuthentication for a completed sign-in of `user` through `client`.
    pub(crate) async fn post_authentication(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        new_device_used: bool,
        client_metadata: &BTreeMap<String, String>,
    ) -> Result<(), UserPoolError> {
        if pool.config.triggers()?.post_authentication.is_none() {
            return Ok(());
        }
        let request = json!({
            "userAttributes": user_attributes_json(user),
            "newDeviceUsed": new_device_used,
            "clientMetadata": string_object(client_metadata),
        });
        let event = TriggerEvent::new(
            "PostAuthentication_Authentication",
            &user.username,
            Some(&client.id),
            request,
        );
        self.run_trigger(pool, TriggerKind::PostAuthentication, event)
            .await
            .map(|_| ())
    }

    /// PreTokenGeneration for tokens of `user` about to be minted through `client`, with
    /// the groups and scopes they would carry: what the answer changes (nothing when the
    /// pool has no such trigger), and whether it may change the access token.
    #[expect(
        clippy::too_many_arguments,
        reason = "everything the event carries: the user, the client, the source, the groups, the scopes and the metadata"
    )]
    pub(crate) async fn pre_token_generation(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        source: TokenSource,
        groups: &GroupConfiguration,
        scopes: &[String],
        client_metadata: &BTreeMap<String, String>,
    ) -> Result<Option<(PreTokenVersion, TokenOverrides)>, UserPoolError> {
        let triggers = pool.config.triggers()?;
        if triggers.pre_token_generation.is_none() {
            return Ok(None);
        }
        let version = triggers.pre_token_generation_version;
        let request = pre_token::request(
            version,
            user_attributes_json(user),
            groups,
            scopes,
            client_metadata,
        );
        let event = TriggerEvent::new(
            source.trigger_source(),
            &user.username,
            Some(&client.id),
            request,
        )
        .with_version(version.event_version());
        let Some(response) = self
            .run_trigger(pool, TriggerKind::PreTokenGeneration, event)
            .await?
        else {
            return Ok(None);
        };
        match pre_token::parse_response(version, &response) {
            Ok(overrides) => Ok(Some((version, overrides))),
            Err(e) => {
                tracing::warn!(error = %e, "PreTokenGeneration answered what it may not");
                Err(unrecognizable())
            }
        }
    }
}
