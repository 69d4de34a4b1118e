//! The browser side: `/oauth2/authorize` ([`OAuth2::authorize`]), the sign-in page's checks
//! and password sign-in ([`OAuth2::login_context`], [`OAuth2::password_sign_in`]), the codes
//! they issue, and `/logout` ([`OAuth2::logout`]).

use std::time::SystemTime;

use gatehouse_storage::AuthCodeRecord;
use serde::{Deserialize, Serialize};

use super::challenge::PageChallenge;
use super::error::{ErrorRedirect, OAuthError, PageError, Refusal};
use super::request::{AuthorizeRequest, KnownProvider, Prompt, ValidRequest, redirect_with};
use super::{CODE_LIFETIME, OAuth2, secret_hash};
use crate::time::{unix_millis, unix_seconds};
use crate::user_pools::attempts::is_locked_out;
use crate::user_pools::challenges::HOSTED_SIGN_IN_COMPLETE;
use crate::user_pools::{Client, User, UserPool, UserPoolError};

/// What `/oauth2/authorize` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// To the client's callback (`Location`): a code, or an RFC 6749 error.
    Redirect(String),
    /// The user has to sign in: show the sign-in page for this request.
    SignIn(Box<ValidRequest>),
    /// The request names a federated provider: to it (`Location`), binding the browser
    /// with a cookie.
    Upstream(super::UpstreamRedirect),
    /// Shown on a page, never redirected.
    Page(PageError),
}

/// What the sign-in page shows for a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginContext {
    /// The checked request.
    pub request: ValidRequest,
    /// `ClientName`.
    pub client_name: String,
    /// `PoolName`.
    pub pool_name: String,
}

impl LoginContext {
    /// Whether the page shows the password form (the client lets the pool's users in).
    pub fn password_form(&self) -> bool {
        self.request.cognito
    }

    /// The federated providers the page offers a button for.
    pub fn providers(&self) -> &[String] {
        &self.request.providers
    }
}

/// Why a password sign-in on the page did not complete. None of them tells whether a user
/// exists: unknown users, wrong passwords and disabled users are all
/// [`SignInError::IncorrectCredentials`], and unknown names lock out like real ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// The request itself is refused (the page shows it, or it goes back to the callback).
    Request(Refusal),
    /// Wrong username or password.
    IncorrectCredentials,
    /// Too many wrong passwords: locked out for a while.
    TooManyAttempts,
    /// The account is not confirmed yet (the password was right).
    NotConfirmed,
    /// The account must reset its password first (the password was right).
    PasswordResetRequired,
    /// The challenge page's session expired, was already answered, or is not one of this
    /// request's: sign in again.
    SessionExpired,
    /// Busy or broken inside; try again.
    Unavailable,
}

/// What a sign-in form leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInStep {
    /// Signed in: to the app.
    SignedIn(SignedInRedirect),
    /// The next step's page (a new password, a second factor).
    Challenge(Box<PageChallenge>),
}

/// A completed sign-in: where the page sends the browser, and its new hosted session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInRedirect {
    /// The callback with `code` and `state`.
    pub location: String,
    /// The hosted session's cookie value.
    pub session: String,
}

/// What a code remembers of its authorization request (storage's `details`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CodeDetails {
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: Option<String>,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    /// Unix ms.
    pub(crate) auth_time: i64,
    pub(crate) amr: Vec<String>,
}

impl OAuth2 {
    /// The pool, the client and the checked request.
    pub(super) async fn checked(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
    ) -> Result<(UserPool, Client, ValidRequest), Refusal> {
        let unavailable = |e: UserPoolError| {
            tracing::warn!(error = %e, "authorization request");
            Refusal::Page(PageError::Unavailable)
        };
        let pool = match self.pools.user_pool(pool_id).await {
            Ok(pool) => pool,
            Err(UserPoolError::ResourceNotFound(_)) => {
                return Err(Refusal::Page(PageError::UnknownClient));
            }
            Err(e) => return Err(unavailable(e)),
        };
        let client = match request.client_id.as_deref() {
            Some(id) if !id.is_empty() && id.len() <= 128 => {
                match self.pools.pool_client(pool_id, id).await {
                    Ok(client) => Some(client),
                    Err(UserPoolError::ResourceNotFound(_)) => None,
                    Err(e) => return Err(unavailable(e)),
                }
            }
            _ => None,
        };
        let resource_scopes = self
            .pools
            .resource_scopes(pool_id)
            .await
            .map_err(unavailable)?;
        let providers: Vec<KnownProvider> = self
            .pools
            .identity_providers(pool_id)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|p| KnownProvider {
                name: p.name,
                identifiers: p.idp_identifiers,
            })
            .collect();
        let valid = request.validate_with(client.as_ref(), &resource_scopes, &providers)?;
        let client = client.ok_or(Refusal::Page(PageError::UnknownClient))?;
        Ok((pool, client, valid))
    }

    /// `GET /oauth2/authorize` with the hosted session cookie's value, if any, reached
    /// under the pool's issuer.
    pub async fn authorize(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        session: Option<&str>,
    ) -> AuthorizeOutcome {
        let idp_response = format!("{}/oauth2/idpresponse", self.pools.issuer(pool_id));
        self.authorize_at(pool_id, request, session, &idp_response)
            .await
    }

    /// [`OAuth2::authorize`] for a request that reached the endpoint where
    /// `/oauth2/idpresponse` is `idp_response` (under the issuer, or on the pool's domain):
    /// a federated provider sends the browser back there.
    pub async fn authorize_at(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        session: Option<&str>,
        idp_response: &str,
    ) -> AuthorizeOutcome {
        let (pool, client, valid) = match self.checked(pool_id, request).await {
            Ok(checked) => checked,
            Err(Refusal::Page(page)) => return AuthorizeOutcome::Page(page),
            Err(Refusal::Redirect(r)) => return AuthorizeOutcome::Redirect(r.location()),
        };
        if let Some(provider) = valid.upstream.clone() {
            return self
                .start_federation(&pool, &valid, &provider, idp_response)
                .await;
        }
        let now = self.pools.now();
        let server_error = |e: UserPoolError| {
            let error = OAuthError::from_service(&e);
            if error == OAuthError::ServerError {
                tracing::error!(error = %e, "authorization request");
            }
            AuthorizeOutcome::Redirect(
                ErrorRedirect {
                    redirect_uri: valid.redirect_uri.clone(),
                    error,
                    state: valid.state.clone(),
                }
                .location(),
            )
        };
        if valid.prompt != Prompt::Login
            && let Some(value) = session
        {
            let live = match self.hosted_session(&pool, value, now).await {
                Ok(live) => live,
                Err(e) => return server_error(e),
            };
            let fresh_enough = |auth_time: SystemTime| match valid.max_age {
                None => true,
                Some(max_age) => {
                    unix_seconds(now).saturating_sub(unix_seconds(auth_time))
                        <= i64::try_from(max_age).unwrap_or(i64::MAX)
                }
            };
            if let Some(live) = live.filter(|s| fresh_enough(s.auth_time)) {
                return match self
                    .issue_code(
                        &pool,
                        &client,
                        &valid,
                        &live.user,
                        live.auth_time,
                        &live.amr,
                        now,
                    )
                    .await
                {
                    Ok(location) => AuthorizeOutcome::Redirect(location),
                    Err(e) => server_error(e),
                };
            }
        }
        if valid.prompt == Prompt::None {
            return AuthorizeOutcome::Redirect(
                ErrorRedirect {
                    redirect_uri: valid.redirect_uri.clone(),
                    error: OAuthError::LoginRequired("the user is not signed in".into()),
                    state: valid.state.clone(),
                }
                .location(),
            );
        }
        AuthorizeOutcome::SignIn(Box::new(valid))
    }

    /// The sign-in page's check of the request it carries (on every GET and POST).
    pub async fn login_context(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
    ) -> Result<LoginContext, Refusal> {
        let (pool, client, valid) = self.checked(pool_id, request).await?;
        Ok(LoginContext {
            request: valid,
            client_name: client.name,
            pool_name: pool.name,
        })
    }

    /// The sign-in page's form: the request checked again, then the user pool's password
    /// sign-in (its lockout and uniform answers); on success a hosted session and a code, or
    /// the page of the next step (a new password, a second factor).
    pub async fn password_sign_in(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        username: &str,
        password: &str,
    ) -> Result<SignInStep, SignInError> {
        let (pool, client, valid) = self
            .checked(pool_id, request)
            .await
            .map_err(SignInError::Request)?;
        if !valid.cognito {
            return Err(SignInError::Request(Refusal::Redirect(ErrorRedirect {
                redirect_uri: valid.redirect_uri.clone(),
                error: OAuthError::UnauthorizedClient(
                    "the client does not allow sign-in with the user pool (COGNITO)".into(),
                ),
                state: valid.state.clone(),
            })));
        }
        let outcome = self
            .pools
            .hosted_password_sign_in(&pool, &client, username, password)
            .await
            .map_err(|e| sign_in_error(&e))?;
        self.next_page(&pool, &client, &valid, outcome, &["pwd"])
            .await
    }

    /// The end of a hosted sign-in: its proof redeemed once, a hosted session opened and a
    /// code issued for the request.
    pub(super) async fn finish_page_sign_in(
        &self,
        pool: &UserPool,
        client: &Client,
        valid: &ValidRequest,
        proof: &str,
        amr: &[String],
    ) -> Result<SignedInRedirect, SignInError> {
        let now = self.pools.now();
        let user = self
            .complete_sign_in(pool, client, proof, now)
            .await
            .map_err(|e| match e {
                // Redeemed already (a form posted twice): sign in again.
                UserPoolError::NotAuthorized(_) => SignInError::SessionExpired,
                e => sign_in_error(&e),
            })?;
        let session = self
            .open_hosted_session(pool, &user, amr, now)
            .await
            .map_err(|e| sign_in_error(&e))?;
        let location = self
            .issue_code(pool, client, valid, &user, now, amr, now)
            .await
            .map_err(|e| sign_in_error(&e))?;
        Ok(SignedInRedirect { location, session })
    }

    /// Redeems the sealed proof of a completed hosted sign-in (once) for its user.
    async fn complete_sign_in(
        &self,
        pool: &UserPool,
        client: &Client,
        proof: &str,
        now: SystemTime,
    ) -> Result<User, UserPoolError> {
        let claims = self
            .pools
            .open_session(proof, pool, client, HOSTED_SIGN_IN_COMPLETE, now)?;
        if !claims.sign_in.hosted {
            return Err(UserPoolError::NotAuthorized(
                "Invalid session for the user.".into(),
            ));
        }
        self.pools.spend(&claims).await?;
        self.pools.session_user(pool, &claims).await
    }

    /// A new code for `user` and the request; the callback `Location` carrying it.
    #[expect(clippy::too_many_arguments, reason = "everything a code is bound to")]
    pub(super) async fn issue_code(
        &self,
        pool: &UserPool,
        client: &Client,
        valid: &ValidRequest,
        user: &User,
        auth_time: SystemTime,
        amr: &[String],
        now: SystemTime,
    ) -> Result<String, UserPoolError> {
        let code = Self::random_token();
        let details = CodeDetails {
            redirect_uri: valid.redirect_uri.clone(),
            code_challenge: valid.code_challenge.clone(),
            scope: valid.scope(),
            nonce: valid.nonce.clone(),
            auth_time: unix_millis(auth_time),
            amr: amr.to_vec(),
        };
        let now_ms = unix_millis(now);
        self.pools
            .store()
            .auth_codes()
            .insert(&AuthCodeRecord {
                code_hash: secret_hash(&code),
                pool_id: pool.id.clone(),
                client_id: client.id.clone(),
                sub: user.sub.clone(),
                details: serde_json::to_string(&details)
                    .map_err(|e| UserPoolError::internal("authorization code", e))?,
                created_at: now_ms,
                expires_at: now_ms
                    .saturating_add(i64::try_from(CODE_LIFETIME.as_millis()).unwrap_or(i64::MAX)),
                used_at: None,
                origin_jti: None,
                reused_at: None,
            })
            .await?;
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = &valid.state {
            pairs.push(("state", state));
        }
        Ok(redirect_with(&valid.redirect_uri, &pairs))
    }

    /// `GET /logout`: ends the hosted session (cookie value `session`) and names where to go:
    /// `logout_uri`, which must be exactly one of the client's `LogoutURLs`.
    pub async fn logout(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        logout_uri: Option<&str>,
        session: Option<&str>,
    ) -> Result<String, PageError> {
        let client_id = client_id
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .ok_or(PageError::MissingClientId)?;
        let client = match self.pools.pool_client(pool_id, client_id).await {
            Ok(client) => client,
            Err(UserPoolError::ResourceNotFound(_)) => return Err(PageError::UnknownClient),
            Err(e) => {
                tracing::warn!(error = %e, "logout");
                return Err(PageError::Unavailable);
            }
        };
        let target = logout_uri
            .filter(|uri| client.config.logout_urls.iter().any(|u| u == uri))
            .ok_or(PageError::LogoutMismatch)?;
        if let Some(value) = session
            && let Err(e) = self.end_hosted_session(value).await
        {
            tracing::warn!(error = %e, "logout");
            return Err(PageError::Unavailable);
        }
        Ok(target.to_owned())
    }
}

/// A refused sign-in, in the page's terms.
pub(super) fn sign_in_error(e: &UserPoolError) -> SignInError {
    use UserPoolError as E;
    if is_locked_out(e) {
        return SignInError::TooManyAttempts;
    }
    match e {
        E::NotAuthorized(_) | E::UserNotFound(_) | E::InvalidParameter(_) => {
            SignInError::IncorrectCredentials
        }
        E::TooManyFailedAttempts(_) | E::LimitExceeded(_) => SignInError::TooManyAttempts,
        E::UserNotConfirmed(_) => SignInError::NotConfirmed,
        E::PasswordResetRequired(_) => SignInError::PasswordResetRequired,
        E::UsernameExists(_)
        | E::AliasExists(_)
        | E::InvalidPassword(_)
        | E::CodeMismatch(_)
        | E::ExpiredCode(_)
        | E::ResourceNotFound(_)
        | E::TooManyRequests(_)
        | E::GroupExists(_)
        | E::CodeDeliveryFailure(_)
        | E::InvalidUserPoolConfiguration(_)
        | E::RefreshTokenReuse(_)
        | E::UnsupportedUserState(_)
        | E::PreconditionNotMet(_)
        | E::InvalidOAuthFlow(_)
        | E::ScopeDoesNotExist(_)
        | E::DuplicateProvider(_)
        | E::MigrationUnavailable(_)
        | E::UserLambdaValidation(_)
        | E::UnexpectedLambda(_)
        | E::InvalidLambdaResponse(_)
        | E::Internal(_) => {
            tracing::warn!(error = %e, "hosted sign-in");
            SignInError::Unavailable
        }
    }
}
