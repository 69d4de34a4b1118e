//! The upstream user pool: a Cognito-compatible endpoint (AWS's `cognito-idp`, or another
//! gatehouse) a pool takes its missing users from, through the public operations an app
//! client may call — `InitiateAuth` (`USER_PASSWORD_AUTH`, with `SECRET_HASH` when the client
//! has a secret) and `GetUser` with the access token it returns — and, when the operator gave
//! AWS credentials, `AdminGetUser` signed with SigV4 (ForgotPassword, and sign-ins the
//! upstream answers with a challenge).
//!
//! # How the upstream's answers are read
//! | upstream | here |
//! |---|---|
//! | tokens | `GetUser`; the user arrives CONFIRMED with the password |
//! | `NEW_PASSWORD_REQUIRED` | FORCE_CHANGE_PASSWORD with that (temporary) password and the challenge's `userAttributes` (else AdminGetUser's): the local sign-in asks for a new password |
//! | any other challenge (MFA) | the password is right but the second factor cannot come along: with credentials the user arrives RESET_REQUIRED (AdminGetUser's attributes), without them nothing is created; either way `PasswordResetRequiredException` |
//! | `UserNotConfirmedException` | with credentials UNCONFIRMED with the password; without, nothing; either way `UserNotConfirmedException` |
//! | `UserNotFoundException` | a name nobody holds |
//! | `NotAuthorizedException`, `PasswordResetRequiredException` | a wrong password (secret-hash refusals: a misconfigured source) |
//! | any other error, HTTP 5xx, no answer within the timeout | the source is unavailable |
//!
//! Every call is bounded by the source's timeout and by [`MAX_ANSWER_BYTES`]. The client
//! secret and the AWS secret key are opened from their sealed form per call and never logged;
//! neither are the upstream's error messages, which may echo what the user typed, except those
//! of configuration errors (they name the app client or the flow).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use serde_json::{Value, json};

use super::{Lookup, MigratedUser, MigrationError, ResetLookup, SignInLookup};
use crate::https::HttpsClient;
use crate::sigv4::{self, SigningCredentials};
use crate::user_pools::{UserPoolError, UserPools, UserStatus, secret_hash};

/// How long one upstream call may take unless the operator says otherwise (Cognito's own
/// limit for a trigger).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest timeout an operator may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest upstream answer read.
pub(super) const MAX_ANSWER_BYTES: usize = 256 * 1024;
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// Long-term AWS credentials AdminGetUser is signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for UpstreamCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What the operator sets (`gatehouse users migrate-from`).
#[derive(Clone, PartialEq, Eq)]
pub struct SetUpstreamPool {
    /// The upstream pool's id, e.g. `eu-west-1_AbCdEf123`.
    pub upstream_pool_id: String,
    /// The region; by default the one the upstream pool id starts with.
    pub region: Option<String>,
    /// The endpoint; by default `https://cognito-idp.{region}.amazonaws.com/`.
    pub endpoint: Option<String>,
    /// An app client of the upstream pool with `ALLOW_USER_PASSWORD_AUTH`.
    pub client_id: String,
    pub client_secret: Option<String>,
    /// For AdminGetUser (ForgotPassword migration, and sign-ins answered with a challenge).
    pub credentials: Option<UpstreamCredentials>,
    /// How long one call may take [default: [`DEFAULT_TIMEOUT`]].
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for SetUpstreamPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetUpstreamPool")
            .field("upstream_pool_id", &self.upstream_pool_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A pool's upstream as the operator may see it: never a secret, only whether there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamPool {
    pub pool_id: String,
    pub upstream_pool_id: String,
    pub region: String,
    pub endpoint: String,
    pub client_id: String,
    pub has_client_secret: bool,
    /// The access key AdminGetUser is signed with, when there is one.
    pub access_key_id: Option<String>,
    pub timeout: Duration,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

/// The source built from a stored record, its secrets opened.
pub(super) struct UpstreamSource {
    endpoint: hyper::Uri,
    /// `host[:port]`, for the `Host` header and the signature.
    authority: String,
    path: String,
    region: String,
    upstream_pool_id: String,
    client_id: String,
    client_secret: Option<String>,
    credentials: Option<SigningCredentials>,
    timeout: Duration,
    client: HttpsClient<Full<Bytes>>,
}

/// An upstream answer: the JSON of a success, or an error's type and message.
enum Answer {
    Ok(Value),
    Error { error_type: String, message: String },
}

fn aad(purpose: &str, pool_id: &str) -> Vec<u8> {
    format!("gatehouse migration {purpose} v1|{pool_id}").into_bytes()
}

const CLIENT_SECRET: &str = "client secret";
const AWS_SECRET: &str = "aws secret";

/// The one outbound client of the migration sources, made at first use.
fn shared_client() -> Result<HttpsClient<Full<Bytes>>, UserPoolError> {
    static CLIENT: OnceLock<Result<HttpsClient<Full<Bytes>>, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| crate::https::client(&[], Duration::from_secs(10)))
        .clone()
        .map_err(|e| UserPoolError::internal("migration client", e))
}

// === validation ===

fn check_pool_id(id: &str) -> Result<(&str, &str), UserPoolError> {
    let invalid = || {
        UserPoolError::invalid(format!(
            "`{id}` is not a user pool id (REGION_ID, e.g. eu-west-1_AbCdEf123)"
        ))
    };
    let (region, rest) = id.split_once('_').ok_or_else(invalid)?;
    if id.len() > 55 || rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    check_region(region)?;
    Ok((region, rest))
}

fn check_region(region: &str) -> Result<(), UserPoolError> {
    let ok = (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(UserPoolError::invalid(format!(
            "`{region}` is not a region"
        )))
    }
}

fn check_token(what: &str, value: &str, max: usize) -> Result<(), UserPoolError> {
    let ok = (1..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(UserPoolError::invalid(format!(
            "the {what} must be 1 to {max} printable characters without spaces"
        )))
    }
}

/// Whether `host` is this machine: the only place an upstream may be reached without TLS
/// (a password travels in the request).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The endpoint, checked: `https://` (or `http://` to a loopback address), a host, no query,
/// no user info.
fn check_endpoint(endpoint: &str) -> Result<hyper::Uri, UserPoolError> {
    let invalid = |why: &str| UserPoolError::invalid(format!("endpoint `{endpoint}`: {why}"));
    let uri: hyper::Uri = endpoint.parse().map_err(|_| invalid("not a URL"))?;
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback(host) => {}
        Some("http") => return Err(invalid("passwords are sent there: https is required")),
        _ => return Err(invalid("must be an https URL")),
    }
    if uri.query().is_some() || uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(invalid("no query or user info"));
    }
    Ok(uri)
}

// === impl UserPools ===

impl UserPools {
    /// Makes `pool_id` take its missing users from an upstream user pool (replacing any it
    /// had). Secrets are sealed with the master key, bound to the pool.
    pub async fn set_upstream_pool(
        &self,
        pool_id: &str,
        set: SetUpstreamPool,
    ) -> Result<UpstreamPool, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let (id_region, _) = check_pool_id(&set.upstream_pool_id)?;
        let region = set.region.clone().unwrap_or_else(|| id_region.to_owned());
        check_region(&region)?;
        let endpoint = set
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com/"));
        check_endpoint(&endpoint)?;
        check_token("client id", &set.client_id, 128)?;
        if let Some(secret) = &set.client_secret {
            check_token("client secret", secret, 128)?;
        }
        if let Some(c) = &set.credentials {
            check_token("access key id", &c.access_key_id, 128)?;
            check_token("secret access key", &c.secret_access_key, 128)?;
        }
        let timeout = set.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout < Duration::from_secs(1) || timeout > MAX_TIMEOUT {
            return Err(UserPoolError::invalid(format!(
                "the timeout must be 1 to {} seconds",
                MAX_TIMEOUT.as_secs()
            )));
        }
        let seal = |purpose: &str, plain: &str| {
            self.sealer()
                .seal(plain.as_bytes(), &aad(purpose, &pool.id))
                .map_err(|e| UserPoolError::internal("sealing a migration secret", e))
        };
        let now = crate::time::unix_millis(self.now());
        let sources = self.store().migration_sources();
        let existing = sources.get(&pool.id).await?;
        let record = gatehouse_storage::MigrationSourceRecord {
            pool_id: pool.id.clone(),
            endpoint,
            region,
            upstream_pool_id: set.upstream_pool_id.clone(),
            client_id: set.client_id.clone(),
            client_secret: set
                .client_secret
                .as_deref()
                .map(|s| seal(CLIENT_SECRET, s))
                .transpose()?,
            access_key_id: set.credentials.as_ref().map(|c| c.access_key_id.clone()),
            secret_access_key: set
                .credentials
                .as_ref()
                .map(|c| seal(AWS_SECRET, &c.secret_access_key))
                .transpose()?,
            timeout_ms: i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX),
            created_at: super::keep_created(existing.as_ref(), now),
            updated_at: now,
        };
        sources.put(&record).await?;
        Ok(shown(record))
    }

    /// The pool's upstream, if it has one.
    pub async fn upstream_pool(
        &self,
        pool_id: &str,
    ) -> Result<Option<UpstreamPool>, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let record = self.store().migration_sources().get(&pool.id).await?;
        Ok(record.map(shown))
    }

    /// Stops migrating users into the pool; returns whether it had an upstream.
    pub async fn remove_upstream_pool(&self, pool_id: &str) -> Result<bool, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        Ok(self.store().migration_sources().delete(&pool.id).await?)
    }

    /// The source a stored record describes, its secrets opened.
    pub(super) fn upstream_source(
        &self,
        r: &gatehouse_storage::MigrationSourceRecord,
    ) -> Result<UpstreamSource, UserPoolError> {
        let open = |purpose: &str, sealed: &[u8]| {
            self.sealer()
                .open(sealed, &aad(purpose, &r.pool_id))
                .ok()
                .and_then(|plain| String::from_utf8(plain).ok())
                .ok_or_else(|| UserPoolError::internal("migration secret", "does not open"))
        };
        let endpoint = check_endpoint(&r.endpoint)?;
        let authority = endpoint
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let path = match endpoint.path() {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        let credentials = match (&r.access_key_id, &r.secret_access_key) {
            (Some(id), Some(sealed)) => Some(SigningCredentials {
                access_key_id: id.clone(),
                secret_access_key: open(AWS_SECRET, sealed)?,
                session_token: None,
            }),
            _ => None,
        };
        Ok(UpstreamSource {
            endpoint,
            authority,
            path,
            region: r.region.clone(),
            upstream_pool_id: r.upstream_pool_id.clone(),
            client_id: r.client_id.clone(),
            client_secret: r
                .client_secret
                .as_deref()
                .map(|s| open(CLIENT_SECRET, s))
                .transpose()?,
            credentials,
            timeout: super::bounded_timeout(r.timeout_ms),
            client: shared_client()?,
        })
    }
}

fn shown(r: gatehouse_storage::MigrationSourceRecord) -> UpstreamPool {
    UpstreamPool {
        pool_id: r.pool_id,
        upstream_pool_id: r.upstream_pool_id,
        region: r.region,
        endpoint: r.endpoint,
        client_id: r.client_id,
        has_client_secret: r.client_secret.is_some(),
        access_key_id: r.access_key_id.filter(|_| r.secret_access_key.is_some()),
        timeout: super::bounded_timeout(r.timeout_ms),
        created_at: crate::time::from_unix_millis(r.created_at),
        updated_at: crate::time::from_unix_millis(r.updated_at),
    }
}

// === impl UpstreamSource ===

impl UpstreamSource {
    /// Calls `operation` with `body` (signed with the credentials when `signed`), within the
    /// timeout.
    async fn call(
        &self,
        operation: &str,
        body: &Value,
        signed: Option<&SigningCredentials>,
        now: SystemTime,
    ) -> Result<Answer, MigrationError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            MigrationError::Unavailable(format!("{operation}: {what}: {e}"))
        };
        let body = serde_json::to_vec(body).map_err(|e| fail("encoding", &e))?;
        let target = format!("{TARGET_PREFIX}{operation}");
        let mut request = hyper::Request::post(self.endpoint.clone())
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("x-amz-target", &target);
        if let Some(credentials) = signed {
            let headers = [
                ("content-type", CONTENT_TYPE),
                ("x-amz-target", target.as_str()),
            ];
            let outgoing = sigv4::Outgoing {
                method: "POST",
                path: &self.path,
                host: &self.authority,
                headers: &headers,
                body: &body,
            };
            let added = sigv4::sign(&outgoing, credentials, &self.region, "cognito-idp", now)
                .map_err(|e| fail("signing", &e))?;
            for (name, value) in added {
                request = request.header(name, value);
            }
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| fail("request", &e))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| fail("connection", &e))?;
            let status = response.status();
            let header_type = response
                .headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| fail("reading the answer", &e))?
                .to_bytes();
            Ok::<_, MigrationError>((status, header_type, bytes))
        };
        let (status, header_type, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| fail("no answer", &format!("within {:?}", self.timeout)))??;
        if status.is_server_error() {
            return Err(fail("answered", &status));
        }
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Answer::Ok(value));
        }
        let error_type = value
            .get("__type")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(header_type)
            .unwrap_or_default();
        // `com.amazonaws…#NotAuthorizedException`, or `NotAuthorizedException:http://…`.
        let error_type = error_type
            .rsplit('#')
            .next()
            .unwrap_or_default()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let message = value
            .get("message")
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Answer::Error {
            error_type,
            message,
        })
    }

    /// GetUser with an access token the upstream just issued.
    async fn get_user(
        &self,
        access_token: &str,
        now: SystemTime,
    ) -> Result<(String, BTreeMap<String, String>), MigrationError> {
        match self
            .call(
                "GetUser",
                &json!({ "AccessToken": access_token }),
                None,
                now,
            )
            .await?
        {
            Answer::Ok(v) => user_of(&v).ok_or_else(|| {
                MigrationError::Unavailable("GetUser: an answer without Username".into())
            }),
            Answer::Error { error_type, .. } => Err(MigrationError::Unavailable(format!(
                "GetUser answered {error_type}"
            ))),
        }
    }

    /// AdminGetUser: `None` when the upstream has no such user (or no credentials were given).
    async fn admin_get_user(
        &self,
        username: &str,
        now: SystemTime,
    ) -> Result<Option<AdminUser>, MigrationError> {
        let Some(credentials) = &self.credentials else {
            return Ok(None);
        };
        let body = json!({ "UserPoolId": self.upstream_pool_id, "Username": username });
        match self
            .call("AdminGetUser", &body, Some(credentials), now)
            .await?
        {
            Answer::Ok(v) => {
                let (username, attributes) = user_of(&v).ok_or_else(|| {
                    MigrationError::Unavailable("AdminGetUser: an answer without Username".into())
                })?;
                Ok(Some(AdminUser {
                    username,
                    attributes,
                    enabled: v.get("Enabled").and_then(Value::as_bool).unwrap_or(true),
                    status: v
                        .get("UserStatus")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                }))
            }
            Answer::Error { error_type, .. } if error_type == "UserNotFoundException" => Ok(None),
            Answer::Error { error_type, .. } => Err(MigrationError::Unavailable(format!(
                "AdminGetUser answered {error_type}"
            ))),
        }
    }

    /// The user as AdminGetUser shows it, arriving with `status`; `fallback` when there are
    /// no credentials or the upstream does not find it.
    async fn found_through_admin(
        &self,
        username: &str,
        status: UserStatus,
        fallback: SignInLookup,
        now: SystemTime,
    ) -> Result<SignInLookup, MigrationError> {
        Ok(match self.admin_get_user(username, now).await? {
            Some(user) => SignInLookup::Found(MigratedUser {
                username: user.username,
                attributes: user.attributes,
                status,
                keeps_password: true,
                force_alias_creation: false,
                new_sub: false,
            }),
            None => fallback,
        })
    }

    async fn sign_in_upstream(
        &self,
        username: &str,
        password: &str,
        now: SystemTime,
    ) -> Result<SignInLookup, MigrationError> {
        let mut parameters = serde_json::Map::new();
        parameters.insert("USERNAME".into(), Value::String(username.to_owned()));
        parameters.insert("PASSWORD".into(), Value::String(password.to_owned()));
        if let Some(secret) = &self.client_secret {
            let hash = secret_hash(secret, username, &self.client_id);
            parameters.insert("SECRET_HASH".into(), Value::String(hash));
        }
        let body = json!({
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": self.client_id,
            "AuthParameters": parameters,
        });
        let answer = self.call("InitiateAuth", &body, None, now).await?;
        let value = match answer {
            Answer::Ok(value) => value,
            Answer::Error {
                error_type,
                message,
            } => {
                return match error_type.as_str() {
                    "UserNotFoundException" => Ok(SignInLookup::Missing),
                    // The upstream's message may echo the hash (moto does): not logged.
                    "NotAuthorizedException" if message.to_ascii_lowercase().contains("secret") => {
                        Err(MigrationError::Unavailable(
                            "InitiateAuth refused the app client's secret hash".into(),
                        ))
                    }
                    "NotAuthorizedException" | "PasswordResetRequiredException" => {
                        Ok(SignInLookup::WrongPassword)
                    }
                    "UserNotConfirmedException" => {
                        self.found_through_admin(
                            username,
                            UserStatus::Unconfirmed,
                            SignInLookup::NotConfirmed,
                            now,
                        )
                        .await
                    }
                    // Configuration errors name the client or the flow; others' messages may
                    // echo what the user typed, which is never logged.
                    "InvalidParameterException" | "ResourceNotFoundException" => {
                        Err(MigrationError::Unavailable(format!(
                            "InitiateAuth answered {error_type}: {message}"
                        )))
                    }
                    other => Err(MigrationError::Unavailable(format!(
                        "InitiateAuth answered {other}"
                    ))),
                };
            }
        };
        if let Some(token) = value
            .pointer("/AuthenticationResult/AccessToken")
            .and_then(Value::as_str)
        {
            let (username, attributes) = self.get_user(token, now).await?;
            return Ok(SignInLookup::Found(MigratedUser {
                username,
                attributes,
                status: UserStatus::Confirmed,
                keeps_password: true,
                force_alias_creation: false,
                new_sub: false,
            }));
        }
        let challenge = value
            .get("ChallengeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match challenge {
            "" => Err(MigrationError::Unavailable(
                "InitiateAuth: an answer with neither tokens nor a challenge".into(),
            )),
            "NEW_PASSWORD_REQUIRED" => {
                let parameters = value.get("ChallengeParameters");
                let named = parameters
                    .and_then(|p| p.get("USER_ID_FOR_SRP").or_else(|| p.get("USERNAME")))
                    .and_then(Value::as_str)
                    .unwrap_or(username)
                    .to_owned();
                let shown: Option<BTreeMap<String, String>> = parameters
                    .and_then(|p| p.get("userAttributes"))
                    .and_then(Value::as_str)
                    .and_then(|text| serde_json::from_str::<BTreeMap<String, Value>>(text).ok())
                    .map(|m| {
                        m.into_iter()
                            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                            .collect()
                    });
                match shown {
                    Some(attributes) if !attributes.is_empty() => {
                        Ok(SignInLookup::Found(MigratedUser {
                            username: named,
                            attributes,
                            status: UserStatus::ForceChangePassword,
                            keeps_password: true,
                            force_alias_creation: false,
                            new_sub: false,
                        }))
                    }
                    _ => {
                        let bare = SignInLookup::Found(MigratedUser {
                            username: named.clone(),
                            attributes: BTreeMap::new(),
                            status: UserStatus::ForceChangePassword,
                            keeps_password: true,
                            force_alias_creation: false,
                            new_sub: false,
                        });
                        self.found_through_admin(&named, UserStatus::ForceChangePassword, bare, now)
                            .await
                    }
                }
            }
            _ => {
                self.found_through_admin(
                    username,
                    UserStatus::ResetRequired,
                    SignInLookup::ResetRequired,
                    now,
                )
                .await
            }
        }
    }

    async fn reset_upstream(
        &self,
        username: &str,
        now: SystemTime,
    ) -> Result<ResetLookup, MigrationError> {
        if self.credentials.is_none() {
            tracing::info!(
                "ForgotPassword for a user missing locally: the upstream pool has no AWS credentials for AdminGetUser, so nobody is migrated"
            );
            return Ok(ResetLookup::Missing);
        }
        Ok(match self.admin_get_user(username, now).await? {
            Some(user) if user.enabled && user.status != "EXTERNAL_PROVIDER" => {
                ResetLookup::Found(MigratedUser {
                    username: user.username,
                    attributes: user.attributes,
                    status: UserStatus::ResetRequired,
                    keeps_password: false,
                    force_alias_creation: false,
                    new_sub: false,
                })
            }
            _ => ResetLookup::Missing,
        })
    }
}

impl super::MigrationSource for UpstreamSource {
    fn sign_in<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        now: SystemTime,
    ) -> Lookup<'a, SignInLookup> {
        Box::pin(self.sign_in_upstream(username, password, now))
    }

    fn forgot_password<'a>(
        &'a self,
        username: &'a str,
        now: SystemTime,
    ) -> Lookup<'a, ResetLookup> {
        Box::pin(self.reset_upstream(username, now))
    }
}

/// A user as AdminGetUser shows it.
struct AdminUser {
    username: String,
    attributes: BTreeMap<String, String>,
    enabled: bool,
    status: String,
}

/// `Username` and `UserAttributes` of a GetUser or AdminGetUser answer.
fn user_of(v: &Value) -> Option<(String, BTreeMap<String, String>)> {
    let username = v.get("Username")?.as_str()?.to_owned();
    let attributes = v
        .get("UserAttributes")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some((
                        a.get("Name")?.as_str()?.to_owned(),
                        a.get("Value")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some((username, attributes))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A loopback server answering each request with the next canned `(status, headers,
    /// body)`, recording the requests it got (head and body as text).
    async fn canned(
        answers: Vec<(u16, &'static str, &'static str)>,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            for (status, headers, body) in answers {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    let complete = text.split_once("\r\n\r\n").is_some_and(|(head, rest)| {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        rest.len() >= length
                    });
                    if n == 0 || complete {
                        break;
                    }
                }
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&request).to_string());
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        (endpoint, seen)
    }

    fn source(endpoint: &str, secret: bool, credentials: bool) -> UpstreamSource {
        let endpoint = check_endpoint(endpoint).unwrap();
        UpstreamSource {
            authority: endpoint.authority().unwrap().as_str().to_owned(),
            endpoint,
            path: "/".into(),
            region: "eu-west-1".into(),
            upstream_pool_id: "eu-west-1_Old".into(),
            client_id: "app".into(),
            client_secret: secret.then(|| "client-secret".to_owned()),
            credentials: credentials.then(|| SigningCredentials {
                access_key_id: "AKIAUPSTREAMTEST".into(),
                secret_access_key: "upstream/secret".into(),
                session_token: None,
            }),
            timeout: Duration::from_secs(5),
            client: shared_client().unwrap(),
        }
    }

    fn found(status: UserStatus, email: Option<&str>) -> SignInLookup {
        SignInLookup::Found(MigratedUser {
            username: "alice".into(),
            attributes: email
                .map(|e| BTreeMap::from([("email".to_owned(), e.to_owned())]))
                .unwrap_or_default(),
            status,
            keeps_password: true,
            force_alias_creation: false,
            new_sub: false,
        })
    }

    const ADMIN_USER: &str = r#"{"Username":"alice","Enabled":true,"UserStatus":"CONFIRMED","UserAttributes":[{"Name":"email","Value":"a@example.com"}]}"#;

    /// (rule, upstream answers in order, with AWS credentials, expected lookup or `None`: the
    /// source is unavailable).
    #[tokio::test]
    async fn upstream_answers_are_read_as_the_module_table_says() {
        type Case = (
            &'static str,
            Vec<(u16, &'static str, &'static str)>,
            bool,
            Option<SignInLookup>,
        );
        let cases: Vec<Case> = vec![
            (
                "tokens: GetUser gives the user",
                vec![
                    (200, "", r#"{"AuthenticationResult":{"AccessToken":"t"}}"#),
                    (200, "", ADMIN_USER),
                ],
                false,
                Some(found(UserStatus::Confirmed, Some("a@example.com"))),
            ),
            (
                "NEW_PASSWORD_REQUIRED: the challenge's attributes",
                vec![(
                    200,
                    "",
                    r#"{"ChallengeName":"NEW_PASSWORD_REQUIRED","ChallengeParameters":{"USER_ID_FOR_SRP":"alice","userAttributes":"{\"email\":\"n@example.com\"}"}}"#,
                )],
                false,
                Some(found(
                    UserStatus::ForceChangePassword,
                    Some("n@example.com"),
                )),
            ),
            (
                "an MFA challenge without credentials: reset required",
                vec![(
                    200,
                    "",
                    r#"{"ChallengeName":"SOFTWARE_TOKEN_MFA","Session":"s"}"#,
                )],
                false,
                Some(SignInLookup::ResetRequired),
            ),
            (
                "an MFA challenge with credentials: AdminGetUser, RESET_REQUIRED",
                vec![
                    (200, "", r#"{"ChallengeName":"SMS_MFA","Session":"s"}"#),
                    (200, "", ADMIN_USER),
                ],
                true,
                Some(found(UserStatus::ResetRequired, Some("a@example.com"))),
            ),
            (
                "unconfirmed without credentials",
                vec![(
                    400,
                    "",
                    r#"{"__type":"UserNotConfirmedException","message":"User is not confirmed."}"#,
                )],
                false,
                Some(SignInLookup::NotConfirmed),
            ),
            (
                "unconfirmed with credentials: UNCONFIRMED with the password",
                vec![
                    (400, "", r#"{"__type":"UserNotConfirmedException"}"#),
                    (200, "", ADMIN_USER),
                ],
                true,
                Some(found(UserStatus::Unconfirmed, Some("a@example.com"))),
            ),
            (
                "a namespaced UserNotFoundException: missing",
                vec![(
                    400,
                    "",
                    r#"{"__type":"com.amazonaws.cognito.identity.idp.model#UserNotFoundException"}"#,
                )],
                false,
                Some(SignInLookup::Missing),
            ),
            (
                "a wrong password",
                vec![(
                    400,
                    "",
                    r#"{"__type":"NotAuthorizedException","message":"Incorrect username or password."}"#,
                )],
                false,
                Some(SignInLookup::WrongPassword),
            ),
            (
                "reset required upstream, named only by the header: a wrong password",
                vec![(
                    400,
                    "x-amzn-ErrorType: PasswordResetRequiredException:http://internal.amazon.com/\r\n",
                    "",
                )],
                false,
                Some(SignInLookup::WrongPassword),
            ),
            (
                "a refused secret hash is the operator's mistake",
                vec![(
                    400,
                    "",
                    r#"{"__type":"NotAuthorizedException","message":"Unable to verify secret hash for client app"}"#,
                )],
                false,
                None,
            ),
            (
                "a flow the client does not allow",
                vec![(
                    400,
                    "",
                    r#"{"__type":"InvalidParameterException","message":"USER_PASSWORD_AUTH flow not enabled for this client"}"#,
                )],
                false,
                None,
            ),
            ("a server error", vec![(503, "", "{}")], false, None),
            (
                "neither tokens nor a challenge",
                vec![(200, "", "{}")],
                false,
                None,
            ),
            ("not JSON", vec![(200, "", "<html>")], false, None),
            (
                "GetUser refused",
                vec![
                    (200, "", r#"{"AuthenticationResult":{"AccessToken":"t"}}"#),
                    (400, "", r#"{"__type":"NotAuthorizedException"}"#),
                ],
                false,
                None,
            ),
        ];
        for (rule, answers, credentials, expected) in cases {
            let (endpoint, _) = canned(answers).await;
            let got = source(&endpoint, false, credentials)
                .sign_in_upstream("alice", "pw", SystemTime::UNIX_EPOCH)
                .await
                .ok();
            assert_eq!(got, expected, "{rule}");
        }
    }

    #[tokio::test]
    async fn the_secret_hash_and_the_signature_go_where_cognito_wants_them() {
        let (endpoint, seen) = canned(vec![
            (200, "", r#"{"ChallengeName":"SOFTWARE_TOKEN_MFA"}"#),
            (200, "", ADMIN_USER),
        ])
        .await;
        let now = crate::time::from_unix_seconds(1_800_000_000);
        source(&endpoint, true, true)
            .sign_in_upstream("alice", "pw", now)
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        let (initiate, admin) = (&seen[0], &seen[1]);
        let hash = secret_hash("client-secret", "alice", "app");
        assert!(
            initiate.contains(&format!(r#""SECRET_HASH":"{hash}""#)),
            "{initiate}"
        );
        assert!(
            initiate
                .to_ascii_lowercase()
                .contains("x-amz-target: awscognitoidentityproviderservice.initiateauth")
        );
        assert!(
            !initiate.to_ascii_lowercase().contains("authorization:"),
            "InitiateAuth is public"
        );
        assert!(
            !initiate.contains("client-secret"),
            "the secret itself never leaves"
        );
        let lower = admin.to_ascii_lowercase();
        assert!(lower.contains("x-amz-target: awscognitoidentityproviderservice.admingetuser"));
        assert!(
            lower.contains("authorization: aws4-hmac-sha256 credential=akiaupstreamtest/20270115/eu-west-1/cognito-idp/aws4_request"),
            "{admin}"
        );
        assert!(admin.contains(r#""UserPoolId":"eu-west-1_Old""#));
    }

    #[tokio::test]
    async fn a_reset_needs_credentials_and_an_enabled_user() {
        let none = source("http://127.0.0.1:9/", false, false);
        let got = none
            .reset_upstream("alice", SystemTime::UNIX_EPOCH)
            .await
            .unwrap();
        assert_eq!(
            got,
            ResetLookup::Missing,
            "without credentials nobody is asked"
        );
        let cases: Vec<(&str, (u16, &'static str, &'static str), bool)> = vec![
            ("found", (200, "", ADMIN_USER), true),
            (
                "disabled",
                (
                    200,
                    "",
                    r#"{"Username":"alice","Enabled":false,"UserAttributes":[]}"#,
                ),
                false,
            ),
            (
                "federated",
                (
                    200,
                    "",
                    r#"{"Username":"alice","Enabled":true,"UserStatus":"EXTERNAL_PROVIDER"}"#,
                ),
                false,
            ),
            (
                "unknown",
                (400, "", r#"{"__type":"UserNotFoundException"}"#),
                false,
            ),
        ];
        for (rule, answer, migrates) in cases {
            let (endpoint, _) = canned(vec![answer]).await;
            let got = source(&endpoint, false, true)
                .reset_upstream("alice", SystemTime::UNIX_EPOCH)
                .await
                .unwrap();
            assert_eq!(
                matches!(got, ResetLookup::Found(ref u) if u.status == UserStatus::ResetRequired && !u.keeps_password),
                migrates,
                "{rule}"
            );
        }
        let (endpoint, _) = canned(vec![(500, "", "")]).await;
        let down = source(&endpoint, false, true)
            .reset_upstream("alice", SystemTime::UNIX_EPOCH)
            .await;
        assert!(down.is_err());
    }

    #[test]
    fn endpoints_need_tls_except_on_this_machine() {
        // (endpoint, accepted)
        let cases = [
            ("https://cognito-idp.eu-west-1.amazonaws.com/", true),
            ("https://idp.example.com:8443/base/", true),
            ("http://127.0.0.1:4566/", true),
            ("http://localhost:8000", true),
            ("http://[::1]:8000/", true),
            ("http://10.0.0.5:8000/", false),
            ("http://cognito-idp.eu-west-1.amazonaws.com/", false),
            ("ftp://127.0.0.1/", false),
            ("https://user:pw@idp.example.com/", false),
            ("https://idp.example.com/?a=b", false),
            ("not a url", false),
        ];
        for (endpoint, accepted) in cases {
            assert_eq!(check_endpoint(endpoint).is_ok(), accepted, "{endpoint}");
        }
    }

    #[test]
    fn upstream_pool_ids_name_their_region() {
        let cases = [
            ("eu-west-1_AbCdEf123", Some("eu-west-1")),
            ("us-east-1_x", Some("us-east-1")),
            ("us-east-1_", None),
            ("useast1", None),
            ("US-EAST-1_abc", None),
            ("us-east-1_ab/c", None),
        ];
        for (id, region) in cases {
            assert_eq!(check_pool_id(id).ok().map(|(r, _)| r), region, "{id}");
        }
    }

    #[test]
    fn answers_give_username_and_attributes() {
        let v = json!({"Username": "alice", "UserAttributes": [
            {"Name": "email", "Value": "a@example.com"}, {"Name": "odd"}, {"Name": "sub", "Value": "s"}]});
        let (name, attributes) = user_of(&v).unwrap();
        assert_eq!(name, "alice");
        assert_eq!(attributes.len(), 2);
        assert_eq!(user_of(&json!({"UserAttributes": []})), None);
    }
}
