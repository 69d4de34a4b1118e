//! Sign-in through a federated OpenID Connect provider: the redirect upstream
//! ([`OAuth2::start_federation`]) and `/oauth2/idpresponse` ([`OAuth2::federation_response`]).
//!
//! # Upstream request
//! Authorization code with PKCE (`S256`), `state` and `nonce`. The `state` is the whole
//! sign-in in flight, sealed with the master key (AEAD, its own purpose): the original
//! authorization request, the provider, our `redirect_uri`, the nonce, the PKCE verifier,
//! the endpoints found at the start, a random id and an expiry
//! ([`FEDERATION_STATE_LIFETIME`]). It binds to the browser: the redirect sets a `__Host-`
//! cookie whose SHA-256 the state carries, so a state carried to another browser is refused.
//! It is single-use: its id is spent (as challenge sessions are) before the code is redeemed.
//! A state that is forged, tampered with, expired, replayed or from another browser is shown
//! an error page: nothing in it can be trusted to redirect to.
//!
//! # The answer
//! The code is redeemed at the provider's token endpoint (client authentication by HTTP
//! Basic, or by form parameters when the provider's discovery document offers only
//! `client_secret_post`), and the ID token is verified by the one verifier of upstream tokens
//! ([`crate::oidc`]): signature through the issuer's JWKS, `iss`, `aud` (the provider's
//! `client_id`), `exp`, and here `nonce`. With `attributes_request_method` the userInfo
//! endpoint is read too (its `sub` must be the token's). Then the linked user is found or
//! made (`{ProviderName}_{sub}`, `EXTERNAL_PROVIDER`, the mapped attributes, `identities`,
//! the provider's group), a hosted session opened and a code sent to the app's callback.
//! Upstream failures go back to the app's callback as RFC 6749 errors (`access_denied`,
//! `temporarily_unavailable`), their causes logged, never sent.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_storage::{NewUser, ProviderLinkRecord, StorageError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::authorize::{AuthorizeOutcome, SignedInRedirect};
use super::error::{ErrorRedirect, OAuthError, PageError, Refusal};
use super::request::{AuthorizeRequest, ValidRequest};
use super::{MAX_URL_LEN, OAuth2};
use crate::https::Outbound;
use crate::oidc::OidcRefusal;
use crate::time::unix_millis;
use crate::user_pools::{
    AttributeWrite, Client, IdentityProvider, User, UserPool, UserPoolError, UserStatus,
    identities_json, identities_of, identity_entry,
};

/// How long the browser has to come back from the upstream provider.
pub const FEDERATION_STATE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Longest `state` accepted back (the sealed request is bounded by the request's limits).
pub const MAX_STATE_LEN: usize = 24 * 1024;
/// Longest `code` accepted from the upstream.
const MAX_UPSTREAM_CODE_LEN: usize = 4096;
/// What the state is sealed for.
const STATE_AAD: &[u8] = b"gatehouse federation state v1";

/// Where the browser goes to sign in upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRedirect {
    /// The provider's authorization endpoint with the request.
    pub location: String,
    /// The value of the browser-binding cookie to set.
    pub binding: String,
    /// The sealed `state` sent upstream (the binding cookie is named after it).
    pub state: String,
}

/// `/oauth2/idpresponse`'s parameters, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdpResponse {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// What `/oauth2/idpresponse` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederationOutcome {
    /// Signed in: to the app's callback with a code, and a hosted session.
    SignedIn(SignedInRedirect),
    /// An RFC 6749 error to the app's callback.
    Redirect(String),
    /// Shown on a page, never redirected.
    Page(PageError),
}

/// The sign-in in flight, sealed into `state`. Its Debug leaves out the nonce and the PKCE
/// verifier.
#[derive(Serialize, Deserialize)]
struct FlightState {
    /// Spent once the browser comes back.
    id: String,
    pool: String,
    provider: String,
    /// The original authorization request's parameters.
    request: Vec<(String, String)>,
    /// Our `redirect_uri` upstream.
    redirect_uri: String,
    nonce: String,
    verifier: String,
    /// SHA-256 (hex) of the binding cookie's value.
    binding: String,
    /// Unix ms.
    exp: i64,
    endpoints: Endpoints,
}

impl std::fmt::Debug for FlightState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightState")
            .field("id", &self.id)
            .field("pool", &self.pool)
            .field("provider", &self.provider)
            .field("redirect_uri", &self.redirect_uri)
            .field("nonce", &"[redacted]")
            .field("verifier", &"[redacted]")
            .field("exp", &self.exp)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// The provider's endpoints, from its settings or its discovery document.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Endpoints {
    authorization: String,
    token: String,
    userinfo: Option<String>,
    jwks: Option<String>,
    /// Client authentication by form parameters instead of HTTP Basic.
    post_auth: bool,
}

/// An upstream URL we send a browser or a request to: `https`, or `http` on loopback.
fn usable_url(url: &str) -> bool {
    url.len() <= MAX_URL_LEN * 2
        && (url.starts_with("https://")
            || (url.starts_with("http://") && crate::iam::is_loopback_url(url)))
}

/// A claim as an attribute value: strings as they are, booleans and numbers as text.
fn claim_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl OAuth2 {
    /// The provider's endpoints: each explicit one of an `OIDC` provider, the rest from the
    /// issuer's discovery document (which must name the issuer exactly).
    async fn endpoints(&self, provider: &IdentityProvider) -> Result<Endpoints, String> {
        let issuer = provider.issuer();
        let explicit = |k: &str| provider.endpoint(k).map(str::to_owned);
        let needs_discovery = ["authorize_url", "token_url", "jwks_uri"]
            .iter()
            .any(|k| explicit(k).is_none())
            || explicit("attributes_url").is_none();
        let document = if needs_discovery {
            self.issuers
                .discovery_document(issuer, self.pools.now())
                .await?
        } else {
            std::sync::Arc::new(Value::Null)
        };
        let discovered = |k: &str| document.get(k).and_then(Value::as_str).map(str::to_owned);
        let authorization = explicit("authorize_url")
            .or_else(|| discovered("authorization_endpoint"))
            .ok_or("no authorization endpoint")?;
        let token = explicit("token_url")
            .or_else(|| discovered("token_endpoint"))
            .ok_or("no token endpoint")?;
        let userinfo = explicit("attributes_url").or_else(|| discovered("userinfo_endpoint"));
        let jwks = explicit("jwks_uri").or_else(|| discovered("jwks_uri"));
        for url in [
            Some(&authorization),
            Some(&token),
            userinfo.as_ref(),
            jwks.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !usable_url(url) {
                return Err(format!(
                    "endpoint `{url}` must be https (http only on loopback)"
                ));
            }
        }
        // RFC 8414 / OpenID Discovery: without the member, client_secret_basic is meant.
        let methods: Vec<&str> = document
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let post_auth = !methods.is_empty()
            && !methods.contains(&"client_secret_basic")
            && methods.contains(&"client_secret_post");
        Ok(Endpoints {
            authorization,
            token,
            userinfo,
            jwks,
            post_auth,
        })
    }

    /// The redirect to `provider_name` for the checked request `valid` of `pool`;
    /// `idp_response` is our `/oauth2/idpresponse` URL the provider sends the browser to.
    pub(super) async fn start_federation(
        &self,
        pool: &UserPool,
        valid: &ValidRequest,
        provider_name: &str,
        idp_response: &str,
    ) -> AuthorizeOutcome {
        let refuse = |error: OAuthError| {
            AuthorizeOutcome::Redirect(
                ErrorRedirect {
                    redirect_uri: valid.redirect_uri.clone(),
                    error,
                    state: valid.state.clone(),
                }
                .location(),
            )
        };
        let provider = match self.pools.identity_provider(&pool.id, provider_name).await {
            Ok(Some(provider)) => provider,
            Ok(None) => {
                return refuse(OAuthError::InvalidRequest(
                    "the identity provider does not exist".into(),
                ));
            }
            Err(e) => return refuse(OAuthError::from_service(&e)),
        };
        let endpoints = match self.endpoints(&provider).await {
            Ok(endpoints) => endpoints,
            Err(e) => {
                tracing::warn!(provider = %provider.name, error = ?e, "identity provider discovery");
                return refuse(OAuthError::TemporarilyUnavailable(
                    "the identity provider cannot be reached".into(),
                ));
            }
        };
        let binding = Self::random_token();
        let verifier = Self::random_token();
        let nonce = Self::random_token();
        let now = self.pools.now();
        let flight = FlightState {
            id: crate::ids::uuid_v4(),
            pool: pool.id.clone(),
            provider: provider.name.clone(),
            request: valid
                .request
                .to_pairs()
                .into_iter()
                // The provider is chosen: coming back, the request is finished, not redirected.
                .filter(|(k, _)| !matches!(*k, "identity_provider" | "idp_identifier"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            redirect_uri: idp_response.to_owned(),
            nonce: nonce.clone(),
            verifier: verifier.clone(),
            binding: crate::crypto::hash_token(&binding),
            exp: unix_millis(now + FEDERATION_STATE_LIFETIME),
            endpoints,
        };
        let state = match self.seal_state(&flight) {
            Ok(state) => state,
            Err(e) => return refuse(OAuthError::from_service(&e)),
        };
        let challenge = URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
        );
        let scopes = provider.scopes();
        let client_id = provider.detail("client_id").unwrap_or_default();
        let location = super::redirect_with(
            &flight.endpoints.authorization,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", idp_response),
                ("scope", scopes.as_str()),
                ("state", state.as_str()),
                ("nonce", nonce.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        );
        AuthorizeOutcome::Upstream(UpstreamRedirect {
            location,
            binding,
            state,
        })
    }

    fn seal_state(&self, flight: &FlightState) -> Result<String, UserPoolError> {
        let plain =
            serde_json::to_vec(flight).map_err(|e| UserPoolError::internal("federation", e))?;
        let sealed = self
            .pools
            .sealer()
            .seal(&plain, STATE_AAD)
            .map_err(|e| UserPoolError::internal("federation", e))?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The state of `pool_id`'s sign-in in flight, if it is genuine, live, this browser's
    /// (`binding`: the cookie's value) and not used before (spent here).
    async fn open_state(
        &self,
        pool_id: &str,
        state: Option<&str>,
        binding: Option<&str>,
        now: SystemTime,
    ) -> Result<FlightState, PageError> {
        let state = state
            .filter(|s| !s.is_empty() && s.len() <= MAX_STATE_LEN)
            .ok_or(PageError::InvalidState)?;
        let blob = URL_SAFE_NO_PAD
            .decode(state.trim_end_matches('='))
            .map_err(|_| PageError::InvalidState)?;
        let plain = self
            .pools
            .sealer()
            .open(&blob, STATE_AAD)
            .map_err(|_| PageError::InvalidState)?;
        let flight: FlightState =
            serde_json::from_slice(&plain).map_err(|_| PageError::InvalidState)?;
        let bound = binding.is_some_and(|b| {
            b.len() <= 128
                && crate::crypto::constant_time_eq(
                    crate::crypto::hash_token(b).as_bytes(),
                    flight.binding.as_bytes(),
                )
        });
        if flight.pool != pool_id || flight.exp <= unix_millis(now) || !bound {
            return Err(PageError::InvalidState);
        }
        match self
            .pools
            .store()
            .spent_sessions()
            .spend(&format!("federation:{}", flight.id), flight.exp)
            .await
        {
            Ok(true) => Ok(flight),
            Ok(false) => Err(PageError::InvalidState),
            Err(e) => {
                tracing::warn!(error = %e, "federation state");
                Err(PageError::Unavailable)
            }
        }
    }

    /// `GET /oauth2/idpresponse` with the browser-binding cookie's value, if any.
    pub async fn federation_response(
        &self,
        pool_id: &str,
        response: &IdpResponse,
        binding: Option<&str>,
    ) -> FederationOutcome {
        let now = self.pools.now();
        let flight = match self
            .open_state(pool_id, response.state.as_deref(), binding, now)
            .await
        {
            Ok(flight) => flight,
            Err(page) => return FederationOutcome::Page(page),
        };
        let request = AuthorizeRequest::from_pairs(flight.request.iter().cloned());
        let (pool, client, valid) = match self.checked(pool_id, &request).await {
            Ok(checked) => checked,
            Err(Refusal::Page(page)) => return FederationOutcome::Page(page),
            Err(Refusal::Redirect(r)) => return FederationOutcome::Redirect(r.location()),
        };
        let refuse = |error: OAuthError| {
            FederationOutcome::Redirect(
                ErrorRedirect {
                    redirect_uri: valid.redirect_uri.clone(),
                    error,
                    state: valid.state.clone(),
                }
                .location(),
            )
        };
        if let Some(error) = response.error.as_deref() {
            tracing::info!(
                provider = %flight.provider,
                // The upstream's text, quoted and escaped: a line break in it cannot forge a
                // log line.
                error = ?error.chars().take(64).collect::<String>(),
                "the identity provider refused the sign-in"
            );
            return refuse(OAuthError::AccessDenied(
                "the identity provider did not sign the user in".into(),
            ));
        }
        let Some(code) = response
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= MAX_UPSTREAM_CODE_LEN)
        else {
            return refuse(OAuthError::InvalidRequest(
                "the identity provider sent no code".into(),
            ));
        };
        // The client must still support the provider, and the provider still exist.
        let provider = match self
            .pools
            .identity_provider(&pool.id, &flight.provider)
            .await
        {
            Ok(Some(p)) if client.config.supported_identity_providers.contains(&p.name) => p,
            Ok(_) => {
                return refuse(OAuthError::UnauthorizedClient(
                    "the identity provider is no longer configured for this client".into(),
                ));
            }
            Err(e) => return refuse(OAuthError::from_service(&e)),
        };
        let claims = match self.upstream_claims(&provider, &flight, code, now).await {
            Ok(claims) => claims,
            Err(error) => return refuse(error),
        };
        let user = match self
            .federated_user(&pool, &client, &provider, &claims)
            .await
        {
            Ok(user) => user,
            Err(UserPoolError::NotAuthorized(m)) => return refuse(OAuthError::AccessDenied(m)),
            Err(UserPoolError::UserLambdaValidation(m)) => {
                return refuse(OAuthError::AccessDenied(m));
            }
            Err(e) => return refuse(OAuthError::from_service(&e)),
        };
        let amr: Vec<String> = Vec::new();
        let session = match self.open_hosted_session(&pool, &user, &amr, now).await {
            Ok(session) => session,
            Err(e) => return refuse(OAuthError::from_service(&e)),
        };
        match self
            .issue_code(&pool, &client, &valid, &user, now, &amr, now)
            .await
        {
            Ok(location) => FederationOutcome::SignedIn(SignedInRedirect { location, session }),
            Err(e) => refuse(OAuthError::from_service(&e)),
        }
    }

    /// Redeems the upstream code and verifies what comes back: the ID token's claims, with
    /// userInfo's over them when the provider reads attributes that way.
    async fn upstream_claims(
        &self,
        provider: &IdentityProvider,
        flight: &FlightState,
        code: &str,
        now: SystemTime,
    ) -> Result<Map<String, Value>, OAuthError> {
        let denied = |why: &str| {
            tracing::warn!(provider = %provider.name, reason = ?why, "federated sign-in refused");
            OAuthError::AccessDenied("the identity provider's answer could not be verified".into())
        };
        let unreachable = |why: &str| {
            tracing::warn!(provider = %provider.name, reason = ?why, "identity provider unreachable");
            OAuthError::TemporarilyUnavailable("the identity provider cannot be reached".into())
        };
        let client_id = provider.detail("client_id").unwrap_or_default();
        let secret = provider.detail("client_secret");
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", flight.redirect_uri.as_str()),
            ("code_verifier", flight.verifier.as_str()),
        ];
        let basic = match secret {
            Some(secret) if !flight.endpoints.post_auth => Some((client_id, secret)),
            Some(secret) => {
                pairs.push(("client_id", client_id));
                pairs.push(("client_secret", secret));
                None
            }
            None => {
                pairs.push(("client_id", client_id));
                None
            }
        };
        let (status, body) = self
            .issuers
            .send(
                &flight.endpoints.token,
                Outbound::Form {
                    pairs: &pairs,
                    basic,
                },
            )
            .await
            .map_err(|e| unreachable(&e))?;
        if !status.is_success() {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(64)
                .collect::<String>();
            return Err(denied(&format!(
                "the token endpoint answered {status} {error}"
            )));
        }
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| denied("no id_token in the token response"))?;
        let verified = self
            .issuers
            .verify_token(
                &[provider.issuer().to_owned()],
                &[client_id.to_owned()],
                flight.endpoints.jwks.as_deref(),
                id_token,
                now,
            )
            .await
            .map_err(|e| match e {
                OidcRefusal::Invalid(detail) => denied(&detail),
                OidcRefusal::Expired => denied("the ID token has expired"),
                OidcRefusal::Audience => denied("the ID token is for another client"),
                OidcRefusal::Unreachable(detail) => unreachable(&detail),
            })?;
        let nonce = verified.claims.get("nonce").and_then(Value::as_str);
        if !nonce
            .is_some_and(|n| crate::crypto::constant_time_eq(n.as_bytes(), flight.nonce.as_bytes()))
        {
            return Err(denied("the ID token's nonce is not the request's"));
        }
        let mut claims = verified.claims;
        let read_userinfo = provider.provider_type == crate::user_pools::ProviderType::Oidc
            && provider.detail("attributes_request_method").is_some();
        if read_userinfo
            && let Some(userinfo) = &flight.endpoints.userinfo
            && let Some(access_token) = body.get("access_token").and_then(Value::as_str)
        {
            let outbound = if provider.attributes_request_method() == "POST" {
                Outbound::Form {
                    pairs: &[("access_token", access_token)],
                    basic: None,
                }
            } else {
                Outbound::Bearer(access_token)
            };
            let (status, info) = self
                .issuers
                .send(userinfo, outbound)
                .await
                .map_err(|e| unreachable(&e))?;
            if !status.is_success() {
                return Err(denied(&format!("userInfo answered {status}")));
            }
            let Value::Object(info) = info else {
                return Err(denied("userInfo is not a JSON object"));
            };
            // OpenID Connect Core 5.3.2: userInfo is about the token's subject or ignored.
            if info.get("sub").and_then(Value::as_str) != Some(verified.subject.as_str()) {
                return Err(denied("userInfo is about another subject"));
            }
            for (k, v) in info {
                if !matches!(k.as_str(), "iss" | "aud" | "nonce" | "exp" | "iat") {
                    claims.insert(k, v);
                }
            }
        }
        claims.insert("sub".into(), Value::String(verified.subject));
        Ok(claims)
    }

    /// The pool attributes the provider's mapping makes of `claims`: each value the schema
    /// accepts (others are left out and logged).
    fn mapped_attributes(
        &self,
        pool: &UserPool,
        provider: &IdentityProvider,
        claims: &Map<String, Value>,
        mode: AttributeWrite,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (attribute, claim) in &provider.attribute_mapping {
            if attribute == "username" {
                continue;
            }
            let Some(value) = claims.get(claim).and_then(claim_text) else {
                continue;
            };
            let pair = [(attribute.clone(), value.clone())];
            match self.pools.validate_attributes(pool, None, &pair, mode) {
                Ok(()) => {
                    out.insert(attribute.clone(), value);
                }
                Err(e) => {
                    tracing::info!(provider = %provider.name, %attribute, error = ?e,
                        "a mapped attribute was left out");
                }
            }
        }
        out
    }

    /// The user the upstream identity signs in as: linked before (its attributes mapped
    /// again when the provider made it), or made now.
    pub(super) async fn federated_user(
        &self,
        pool: &UserPool,
        client: &Client,
        provider: &IdentityProvider,
        claims: &Map<String, Value>,
    ) -> Result<User, UserPoolError> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let store = self.pools.store();
        let links = store.identity_providers();
        if let Some(link) = links.link(&pool.id, &provider.name, &subject).await?
            && let Some(user) = self
                .pools
                .find_user_by_sub(&pool.id, &link.user_sub)
                .await?
        {
            if !user.enabled {
                return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
            }
            if user.status != UserStatus::ExternalProvider {
                return Ok(user);
            }
            let mapped =
                self.mapped_attributes(pool, provider, claims, AttributeWrite::AdminUpdate);
            let mut attributes = user.attributes.clone();
            let before = attributes.clone();
            attributes.extend(mapped);
            if attributes != before {
                self.pools
                    .write_user_attributes(pool, &user, &attributes)
                    .await?;
                return self
                    .pools
                    .find_user_by_sub(&pool.id, &user.sub)
                    .await?
                    .ok_or_else(|| UserPoolError::NotAuthorized("User does not exist.".into()));
            }
            return Ok(user);
        }
        let username = format!("{}_{}", provider.name, subject);
        let mut attributes = self.mapped_attributes(pool, provider, claims, AttributeWrite::Create);
        self.pools
            .pre_sign_up_external(pool, &client.id, &username, &attributes)
            .await?
            .apply(&mut attributes);
        let now = self.pools.now();
        attributes.insert(
            "identities".into(),
            identities_json(&[identity_entry(
                &provider.name,
                provider.provider_type,
                &subject,
                true,
                now,
            )])?,
        );
        let sub = crate::ids::uuid_v4();
        let created = store
            .users()
            .create(&NewUser {
                pool_id: pool.id.clone(),
                sub: sub.clone(),
                username_key: self.pools.username_key(pool, &username),
                username: username.clone(),
                status: UserStatus::ExternalProvider.as_str().into(),
                enabled: true,
                password_hash: None,
                srp_verifier: None,
                attributes: attributes.clone(),
                // A federated user's addresses are the provider's word: never aliases.
                aliases: Vec::new(),
                created_at: unix_millis(now),
            })
            .await;
        let user = match created {
            Ok(record) => crate::user_pools::user_from_record(record)?,
            // Made by a sign-in that got in first (or before a link was lost): the same user,
            // if it is this very identity. The name alone is not enough: in a pool whose
            // usernames ignore case, `Corp_abc` holds `Corp_ABC`'s name, and another subject
            // must never sign in as it.
            Err(StorageError::Conflict { .. }) => self
                .pools
                .find_user(pool, &username)
                .await?
                .filter(|u| u.status == UserStatus::ExternalProvider)
                .filter(|u| {
                    identities_of(&u.attributes)
                        .iter()
                        .any(|i| i.provider_name == provider.name && i.user_id == subject)
                })
                .ok_or_else(|| {
                    UserPoolError::NotAuthorized("the federated user cannot be made".into())
                })?,
            Err(e) => return Err(e.into()),
        };
        if !user.enabled {
            return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
        }
        match links
            .add_link(&ProviderLinkRecord {
                pool_id: pool.id.clone(),
                provider: provider.name.clone(),
                subject,
                user_sub: user.sub.clone(),
                created_at: unix_millis(now),
            })
            .await
        {
            Ok(()) | Err(StorageError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        match store
            .groups()
            .add_member(&pool.id, &provider.group_name(), &user.sub)
            .await
        {
            // The operator may have deleted the provider's group: the user just is not in it.
            Ok(_) | Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_states_debug_leaves_out_the_nonce_and_the_verifier() {
        let flight = FlightState {
            id: "flight-1".into(),
            pool: "us-east-1_pool".into(),
            provider: "Corp".into(),
            request: vec![("state".into(), "app-state".into())],
            redirect_uri: "https://auth.example/oauth2/idpresponse".into(),
            nonce: "nonce-value-1234".into(),
            verifier: "pkce-verifier-5678".into(),
            binding: "binding-hash".into(),
            exp: 0,
            endpoints: Endpoints {
                authorization: "https://idp.example/authorize".into(),
                token: "https://idp.example/token".into(),
                userinfo: None,
                jwks: None,
                post_auth: false,
            },
        };
        let shown = format!("{flight:?}");
        assert!(shown.contains("Corp"), "{shown}");
        for secret in ["nonce-value-1234", "pkce-verifier-5678"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
