//! `AWS_IAM` methods: SigV4 (service `execute-api`) checked by identity's
//! [`CredentialVerifier`] — operator credentials or the temporary credentials of a role
//! session (identity pools, STS), whose sealed session token carries the secret — then
//! `execute-api:Invoke` evaluated on the method ARN with the role's compiled policies, its
//! permissions boundary and the session's policies. No I/O: the token opens with the master
//! key in memory and the policies come from the in-memory IAM view.
//!
//! The body is covered by the signature: the pipeline reads it whole (within the body limit)
//! before this step and hands its SHA-256 over as [`PayloadDigest`]; a signed
//! `x-amz-content-sha256` must equal it. `UNSIGNED-PAYLOAD` is refused.
//!
//! [`refusal_verdict`] is the one place mapping refusals to API Gateway's answers.

use std::sync::Arc;

use bytes::Bytes;
use gatehouse_identity::sigv4::{self, Payload, SigV4Error, VerifierConfig};
use gatehouse_identity::sts::{
    CredentialError, CredentialVerifier, Permissions, Principal, RequestFacts,
};
use gatehouse_policy::{Context, Outcome, Policy};
use http::{HeaderName, HeaderValue, Response, StatusCode};

use super::{IamAuthorizer, IamGrant, PayloadDigest, method_arn_in};
use crate::definition::responses::GatewayResponseType;
use crate::server::body::GatewayBody;
use crate::server::steps::{Identity, Rejection, RequestContext, Verdict};

/// The SigV4 service name of API Gateway's data plane.
pub const SIGNING_SERVICE: &str = "execute-api";
/// The action every `AWS_IAM` method checks.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// Why an `AWS_IAM` request was refused. Messages are API Gateway's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamRefusal {
    /// Neither an `Authorization` header nor a presigned query.
    #[error("missing authentication token")]
    Missing,
    /// The credentials or the signature were refused.
    #[error("credentials refused: {0}")]
    Credentials(CredentialError),
    /// Signed well, but no policy allows `execute-api:Invoke` on the method.
    #[error("`{user}` may not invoke `{resource}`")]
    Denied {
        user: String,
        resource: String,
        explicit: bool,
    },
}

/// The [`IamAuthorizer`] backed by identity's credential verifier.
#[derive(Debug, Clone)]
pub struct CredentialAuthorizer {
    verifier: CredentialVerifier,
    /// Grants the operator every cache invalidation (its policies are the account's root).
    operator_policy: Arc<Policy>,
}

// === impl CredentialAuthorizer ===

impl CredentialAuthorizer {
    pub fn new(verifier: CredentialVerifier) -> Self {
        #[expect(
            clippy::expect_used,
            reason = "a constant policy document, compiled by this module's tests"
        )]
        let operator_policy = Arc::new(
            Policy::parse(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            )
            .expect("the allow-all policy compiles"),
        );
        Self {
            verifier,
            operator_policy,
        }
    }
}

impl IamAuthorizer for CredentialAuthorizer {
    fn authorize(&self, cx: &RequestContext<'_>) -> Result<IamGrant, IamRefusal> {
        let headers: Vec<(&str, &[u8])> = cx
            .head
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        let payload = match cx.extensions.get::<PayloadDigest>() {
            Some(PayloadDigest(digest)) => Payload::Sha256(*digest),
            None => Payload::Bytes(b""),
        };
        let request = sigv4::Request {
            method: cx.head.method.as_str(),
            path: cx.head.uri.path(),
            query: cx.head.uri.query().unwrap_or(""),
            headers: &headers,
            payload,
        };
        let verifier_config = VerifierConfig::new(SIGNING_SERVICE);
        let caller = self
            .verifier
            .authenticate(&request, &verifier_config, cx.now)
            .map_err(|e| match e {
                CredentialError::Signature(SigV4Error::MissingAuthentication) => {
                    IamRefusal::Missing
                }
                other => IamRefusal::Credentials(other),
            })?;
        let account = self.verifier.account_id();
        let arn = method_arn_in(&caller.request.scope.region, account, cx);
        let permissions = self.verifier.permissions(&caller.principal);
        let facts = RequestFacts {
            source_ip: Some(cx.source_ip),
            secure_transport: cx.secure,
            now: cx.now,
        };
        let mut context = Context::new();
        caller
            .principal
            .fill_context(&mut context, &facts, &permissions, account);
        let principal = caller.principal.policy_principal(account);
        let user_arn = caller.principal.arn(account);
        match permissions.authorize(INVOKE_ACTION, &arn, &principal, &context) {
            Outcome::Allowed => {}
            Outcome::ExplicitDeny => {
                return Err(IamRefusal::Denied {
                    user: user_arn,
                    resource: arn,
                    explicit: true,
                });
            }
            Outcome::ImplicitDeny => {
                return Err(IamRefusal::Denied {
                    user: user_arn,
                    resource: arn,
                    explicit: false,
                });
            }
        }
        Ok(IamGrant {
            identity: identity_of(&caller.principal, user_arn, account),
            policies: self.invalidation_policies(&permissions),
        })
    }
}

impl CredentialAuthorizer {
    /// The policies `execute-api:InvalidateCache` is evaluated with: the operator's
    /// everything, a session's role policies when nothing narrows them (a boundary or a session
    /// policy could only take away; rather than half-apply them, such a caller may not refresh).
    fn invalidation_policies(&self, permissions: &Permissions) -> Vec<Arc<Policy>> {
        match permissions {
            Permissions::Unrestricted => vec![Arc::clone(&self.operator_policy)],
            Permissions::Session { role, session }
                if session.is_empty() && role.boundary.is_none() =>
            {
                role.identity.clone()
            }
            Permissions::Session { .. } | Permissions::Nothing => Vec::new(),
        }
    }
}

/// `$context.identity.*` of a verified caller, as API Gateway fills it for IAM callers.
fn identity_of(principal: &Principal, user_arn: String, account: &str) -> Identity {
    let (access_key, caller) = match principal {
        Principal::Operator { access_key_id, .. } => (access_key_id.clone(), account.to_owned()),
        Principal::Session(claims) => (claims.access_key_id.clone(), principal.user_id()),
    };
    let session = principal.session();
    Identity {
        user: Some(caller.clone()),
        caller: Some(caller),
        user_arn: Some(user_arn),
        account_id: Some(account.to_owned()),
        access_key: Some(access_key),
        cognito_identity_id: session.and_then(|c| c.identity_id.clone()),
        cognito_identity_pool_id: session.and_then(|c| c.identity_pool_id.clone()),
        cognito_authentication_type: session.and_then(|c| c.amr.first().cloned()),
        cognito_authentication_provider: session
            .filter(|c| c.amr.len() > 1)
            .map(|c| c.amr.get(1..).unwrap_or_default().join(",")),
        ..Identity::default()
    }
}

/// API Gateway's answer to a refused `AWS_IAM` request: 403 with `{"message": …}` and
/// `x-amzn-ErrorType`. The signature-mismatch message leaves out the canonical request AWS
/// appends (it helps an attacker probe the canonicalisation more than it helps a client).
pub fn refusal_verdict(refusal: &IamRefusal) -> Verdict {
    use SigV4Error as S;
    const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
    const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
    let (error_type, message): (&'static str, String) = match refusal {
        IamRefusal::Missing => {
            return Verdict::Reject(Rejection::new(
                GatewayResponseType::MissingAuthenticationToken,
            ));
        }
        IamRefusal::Denied {
            user,
            resource,
            explicit,
        } => (
            "AccessDeniedException",
            format!(
                "User: {user} is not authorized to perform: {INVOKE_ACTION} on resource: {resource}{}",
                if *explicit { " with an explicit deny" } else { "" }
            ),
        ),
        IamRefusal::Credentials(e) => match e {
            CredentialError::InvalidToken => ("UnrecognizedClientException", INVALID_TOKEN.into()),
            CredentialError::Expired => (
                "ExpiredTokenException",
                GatewayResponseType::ExpiredToken.message().to_owned(),
            ),
            CredentialError::WrongRegion(_) => (
                "InvalidSignatureException",
                "Credential should be scoped to a valid region. ".to_owned(),
            ),
            CredentialError::Signature(s) => match s {
                S::MissingAuthentication => (
                    "MissingAuthenticationTokenException",
                    GatewayResponseType::MissingAuthenticationToken
                        .message()
                        .to_owned(),
                ),
                S::Incomplete(detail) => ("IncompleteSignatureException", detail.clone()),
                S::TooLarge { .. } => ("IncompleteSignatureException", s.to_string()),
                S::UnknownAccessKey => ("UnrecognizedClientException", INVALID_TOKEN.into()),
                S::WrongService { .. } => (
                    "InvalidSignatureException",
                    format!("Credential should be scoped to correct service: '{SIGNING_SERVICE}'. "),
                ),
                S::WrongRegion { .. } => (
                    "InvalidSignatureException",
                    "Credential should be scoped to a valid region. ".to_owned(),
                ),
                S::ScopeDateMismatch { .. } => (
                    "InvalidSignatureException",
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ".to_owned()
                        + &s.to_string(),
                ),
                S::HeaderNotSigned(header) => (
                    "InvalidSignatureException",
                    format!("'{header}' must be a 'SignedHeader' in the AWS Authorization."),
                ),
                S::Expired {
                    request_time,
                    earliest,
                } => (
                    "InvalidSignatureException",
                    format!("Signature expired: {request_time} is now earlier than {earliest}"),
                ),
                S::NotYetValid {
                    request_time,
                    latest,
                } => (
                    "InvalidSignatureException",
                    format!("Signature not yet current: {request_time} is still later than {latest}"),
                ),
                S::PresignExpired { .. } => ("InvalidSignatureException", "Signature expired".into()),
                S::SignedHeaderMissing(_)
                | S::PayloadHashMismatch
                | S::UnsupportedPayloadHash(_)
                | S::SignatureMismatch => ("InvalidSignatureException", MISMATCH.into()),
            },
        },
    };
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(GatewayBody::full(Bytes::from(body)));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        const { HeaderName::from_static("x-amzn-errortype") },
        HeaderValue::from_static(error_type),
    );
    Verdict::Respond(response)
}
