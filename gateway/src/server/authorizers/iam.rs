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

use gatehouse_identity::sigv4::{self, Payload, SigV4Error, VerifierConfig};
use gatehouse_identity::sts::{
    CredentialError, CredentialVerifier, Permissions, Principal, RequestFacts,
};
use gatehouse_policy::{Context, Outcome, Policy};

use super::{IamAuthorizer, IamGrant, PayloadDigest, forbidden, method_arn_in};
use crate::definition::responses::GatewayResponseType;
use crate::server::steps::{Identity, Rejection, RequestContext, Verdict};

/// The SigV4 service name of API Gateway's data plane.
pub const SIGNING_SERVICE: &str = "execute-api";
/// The action every `AWS_IAM` method checks.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// What the operator (the account's root) may do, for `execute-api:InvalidateCache`.
const OPERATOR_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

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
        let operator_policy =
            Arc::new(Policy::parse(OPERATOR_POLICY).expect("the allow-all policy compiles"));
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
    forbidden(error_type, &message)
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn wire(refusal: IamRefusal) -> (u16, String, String) {
        let Verdict::Respond(response) = refusal_verdict(&refusal) else {
            return (0, String::new(), String::new());
        };
        let status = response.status().as_u16();
        let kind = response.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (status, kind, json["message"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn refusals_have_api_gateways_shape() {
        let denied = |explicit| IamRefusal::Denied {
            user: "arn:aws:iam::1:root".into(),
            resource: "arn:aws:execute-api:r:1:a/s/GET/x".into(),
            explicit,
        };
        let signature = |e| IamRefusal::Credentials(CredentialError::Signature(e));
        let cases: Vec<(IamRefusal, &str, &str)> = vec![
            (
                denied(false),
                "AccessDeniedException",
                "User: arn:aws:iam::1:root is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:r:1:a/s/GET/x",
            ),
            (
                denied(true),
                "AccessDeniedException",
                "User: arn:aws:iam::1:root is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:r:1:a/s/GET/x with an explicit deny",
            ),
            (
                IamRefusal::Credentials(CredentialError::InvalidToken),
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            (
                signature(SigV4Error::UnknownAccessKey),
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            (
                IamRefusal::Credentials(CredentialError::Expired),
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
            (
                signature(SigV4Error::WrongService {
                    expected: "execute-api".into(),
                    found: "s3".into(),
                }),
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'execute-api'. ",
            ),
            (
                IamRefusal::Credentials(CredentialError::WrongRegion("xx".into())),
                "InvalidSignatureException",
                "Credential should be scoped to a valid region. ",
            ),
            (
                signature(SigV4Error::HeaderNotSigned("host")),
                "InvalidSignatureException",
                "'host' must be a 'SignedHeader' in the AWS Authorization.",
            ),
            (
                signature(SigV4Error::Incomplete(
                    "Authorization header requires 'Credential' parameter.".into(),
                )),
                "IncompleteSignatureException",
                "Authorization header requires 'Credential' parameter.",
            ),
            (
                signature(SigV4Error::PayloadHashMismatch),
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ),
        ];
        for (refusal, kind, message) in cases {
            let rule = refusal.to_string();
            assert_eq!(
                wire(refusal).await,
                (403, kind.to_owned(), message.to_owned()),
                "{rule}"
            );
        }
        // Unsigned: the gateway response, so it reads like an unknown route.
        assert!(matches!(
            refusal_verdict(&IamRefusal::Missing),
            Verdict::Reject(Rejection {
                kind: GatewayResponseType::MissingAuthenticationToken,
                ..
            })
        ));
    }

    #[test]
    fn the_operator_policy_compiles() {
        assert!(Policy::parse(OPERATOR_POLICY).is_ok());
    }
}
