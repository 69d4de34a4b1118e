//! STS's query-protocol operations: GetCallerIdentity (any valid credentials), AssumeRole
//! (the operator's or a role session's) and AssumeRoleWithWebIdentity (unsigned: the web
//! identity token is the credential).

use axum::http::StatusCode;
use gatehouse_policy::calendar::format_rfc3339;

use super::xml::Xml;
use super::{Call, QueryError, Reply, invalid_action};
use crate::sts::{AssumeRole, AssumeRoleWithWebIdentity, Credentials, StsError};
use crate::time::unix_seconds;

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// STS actions clients send without a signature.
pub(super) const UNSIGNED_ACTIONS: &[&str] = &["AssumeRoleWithWebIdentity"];

/// The one mapping of [`StsError`] to STS's error codes and statuses.
pub(super) fn from_sts_error(e: &StsError) -> QueryError {
    let (status, code, message) = match e {
        StsError::AccessDenied(m) => (StatusCode::FORBIDDEN, "AccessDenied", m.as_str()),
        StsError::Validation(m) => (StatusCode::BAD_REQUEST, "ValidationError", m.as_str()),
        StsError::MalformedPolicyDocument(m) => (
            StatusCode::BAD_REQUEST,
            "MalformedPolicyDocument",
            m.as_str(),
        ),
        StsError::PackedPolicyTooLarge(m) => {
            (StatusCode::BAD_REQUEST, "PackedPolicyTooLarge", m.as_str())
        }
        StsError::InvalidIdentityToken(m) => {
            (StatusCode::BAD_REQUEST, "InvalidIdentityToken", m.as_str())
        }
        StsError::ExpiredWebIdentityToken(m) => {
            (StatusCode::BAD_REQUEST, "ExpiredTokenException", m.as_str())
        }
        StsError::IdpRejectedClaim(m) => (StatusCode::FORBIDDEN, "IDPRejectedClaim", m.as_str()),
        StsError::IdpCommunication(m) => {
            (StatusCode::BAD_REQUEST, "IDPCommunicationError", m.as_str())
        }
        StsError::Throttling(m) => (StatusCode::BAD_REQUEST, "Throttling", m.as_str()),
        StsError::Internal(_) => {
            return QueryError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "Receiver",
                code: "InternalFailure",
                message: "Internal server error".into(),
            };
        }
    };
    QueryError::sender(status, code, message)
}

pub(super) fn write_credentials(xml: &mut Xml, credentials: &Credentials) {
    xml.open("Credentials", None);
    xml.leaf("AccessKeyId", &credentials.access_key_id);
    xml.leaf("SecretAccessKey", &credentials.secret_access_key);
    xml.leaf("SessionToken", &credentials.session_token);
    xml.leaf(
        "Expiration",
        &format_rfc3339(unix_seconds(credentials.expiration)),
    );
    xml.close("Credentials");
}

fn write_assumed_role(xml: &mut Xml, id: &str, arn: &str, packed_policy_size: u32) {
    xml.open("AssumedRoleUser", None);
    xml.leaf("AssumedRoleId", id);
    xml.leaf("Arn", arn);
    xml.close("AssumedRoleUser");
    xml.leaf("PackedPolicySize", &packed_policy_size.to_string());
}

/// Runs an STS action.
pub(super) async fn run(call: Call<'_>) -> Result<String, QueryError> {
    let action = call.action.as_str();
    let reply = Reply::new(NAMESPACE, &call);
    let sts = &call.federation.sts;
    let p = &call.params;
    let signer = || {
        call.caller.as_ref().ok_or_else(|| {
            super::from_credential_error(&crate::sts::CredentialError::Signature(
                crate::sigv4::SigV4Error::MissingAuthentication,
            ))
        })
    };
    match action {
        "GetCallerIdentity" => {
            let caller = signer()?;
            let identity = sts.get_caller_identity(&caller.principal);
            Ok(reply.with(|x| {
                x.leaf("UserId", &identity.user_id);
                x.leaf("Account", &identity.account);
                x.leaf("Arn", &identity.arn);
            }))
        }
        "AssumeRole" => {
            let caller = signer()?;
            let permissions = call
                .federation
                .verifier
                .permissions_loaded(&caller.principal)
                .await;
            let request = AssumeRole {
                role_arn: p.required("RoleArn")?.to_owned(),
                session_name: p.required("RoleSessionName")?.to_owned(),
                duration_secs: p.int("DurationSeconds")?,
                policy: p.get("Policy").map(str::to_owned),
                policy_arns: p.list("PolicyArns", ".arn"),
                tags: p.tags("Tags"),
            };
            let assumed = sts
                .assume_role(&caller.principal, &permissions, &call.facts, request)
                .await
                .map_err(|e| from_sts_error(&e))?;
            Ok(reply.with(|x| {
                write_credentials(x, &assumed.credentials);
                write_assumed_role(
                    x,
                    &assumed.assumed_role_id,
                    &assumed.assumed_role_arn,
                    assumed.packed_policy_size,
                );
            }))
        }
        "AssumeRoleWithWebIdentity" => {
            let token = p.required("WebIdentityToken")?;
            if p.get("ProviderId").is_some() {
                return Err(from_sts_error(&StsError::Validation(
                    "ProviderId is for OAuth 2.0 access tokens, which gatehouse does not accept"
                        .into(),
                )));
            }
            let identity = call
                .federation
                .identity_pools
                .verify_web_identity_token(token)
                .await
                .map_err(|e| from_sts_error(&e))?;
            let request = AssumeRoleWithWebIdentity {
                role_arn: p.required("RoleArn")?.to_owned(),
                session_name: p.required("RoleSessionName")?.to_owned(),
                duration_secs: p.int("DurationSeconds")?,
                policy: p.get("Policy").map(str::to_owned),
                policy_arns: p.list("PolicyArns", ".arn"),
            };
            let session = sts
                .assume_role_with_web_identity(&identity, request)
                .await
                .map_err(|e| from_sts_error(&e))?;
            Ok(reply.with(|x| {
                write_credentials(x, &session.credentials);
                x.leaf("SubjectFromWebIdentityToken", &session.subject);
                write_assumed_role(
                    x,
                    &session.assumed_role_id,
                    &session.assumed_role_arn,
                    session.packed_policy_size,
                );
                x.leaf("Provider", &session.provider);
                x.leaf("Audience", &session.audience);
            }))
        }
        other => Err(invalid_action(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_error_mapping_table() {
        let m = || "msg".to_owned();
        let cases: Vec<(StsError, &str, u16)> = vec![
            (StsError::AccessDenied(m()), "AccessDenied", 403),
            (StsError::Validation(m()), "ValidationError", 400),
            (
                StsError::MalformedPolicyDocument(m()),
                "MalformedPolicyDocument",
                400,
            ),
            (
                StsError::PackedPolicyTooLarge(m()),
                "PackedPolicyTooLarge",
                400,
            ),
            (
                StsError::InvalidIdentityToken(m()),
                "InvalidIdentityToken",
                400,
            ),
            (
                StsError::ExpiredWebIdentityToken(m()),
                "ExpiredTokenException",
                400,
            ),
            (StsError::IdpRejectedClaim(m()), "IDPRejectedClaim", 403),
            (
                StsError::IdpCommunication(m()),
                "IDPCommunicationError",
                400,
            ),
            (StsError::Throttling(m()), "Throttling", 400),
            (StsError::Internal("secret".into()), "InternalFailure", 500),
        ];
        for (e, code, status) in cases {
            let q = from_sts_error(&e);
            assert_eq!((q.code, q.status.as_u16()), (code, status), "{e:?}");
            assert!(!q.message.contains("secret"));
        }
    }
}
