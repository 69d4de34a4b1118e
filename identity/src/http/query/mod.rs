//! The AWS query protocol (IAM and STS): `POST /` with a form body
//! (`Action=…&Version=…&…`), answered in XML, errors as
//! `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>
//! <RequestId>…</RequestId></ErrorResponse>` — the shapes botocore and the AWS CLI parse.
//!
//! # Routing
//! Both services share the identity listener's `POST /` (clients post to the endpoint URL
//! they are given). The service is the one the SigV4 credential scope names (`iam`, `sts`);
//! an unsigned request (AssumeRoleWithWebIdentity is unsigned) goes by its `Action`.
//!
//! # Authentication
//! Every signed request goes through [`crate::sts::CredentialVerifier`]: the operator's
//! credentials or temporary credentials this service issued. IAM takes the operator's only;
//! GetCallerIdentity any valid credentials; AssumeRole the operator's or a role session's.
//! Refusals use the query protocol's names (`InvalidClientTokenId`, `SignatureDoesNotMatch`,
//! `ExpiredToken`, …), mapped in [`from_credential_error`].
//!
//! # Limits
//! The body is the listener's (1 MiB); at most [`MAX_PARAMETERS`] parameters.

mod iam;
mod sts;
mod xml;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::operator::with_sigv4_request;
use super::{FederationState, HttpState};
use crate::sigv4::{SigV4Error, VerifierConfig};
use crate::sts::{Authenticated, CredentialError, RequestFacts};
use xml::Xml;

/// The content type of form bodies.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// Most parameters one request may carry.
pub const MAX_PARAMETERS: usize = 1000;

/// An error as the query protocol sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub status: StatusCode,
    /// `Sender` or `Receiver`.
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
    pub(crate) fn sender(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind: "Sender",
            code,
            message: message.into(),
        }
    }

    fn into_response(self, request_id: &str) -> Response {
        let mut xml = Xml::new();
        xml.open("ErrorResponse", None);
        xml.open("Error", None);
        xml.leaf("Type", self.kind);
        xml.leaf("Code", self.code);
        xml.leaf("Message", &self.message);
        xml.close("Error");
        xml.leaf("RequestId", request_id);
        xml.close("ErrorResponse");
        xml_response(self.status, xml.finish(), request_id)
    }
}

/// An XML answer tagged with the request id.
fn xml_response(status: StatusCode, xml: String, request_id: &str) -> Response {
    let response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))],
        xml,
    )
        .into_response();
    super::with_request_id(response, request_id)
}

/// The form's parameters.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    fn parse(body: &[u8]) -> Result<Self, QueryError> {
        let mut map = HashMap::new();
        for (key, value) in form_urlencoded::parse(body) {
            if map.len() >= MAX_PARAMETERS {
                return Err(QueryError::sender(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    format!("a request carries at most {MAX_PARAMETERS} parameters"),
                ));
            }
            map.insert(key.into_owned(), value.into_owned());
        }
        Ok(Self(map))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.get(name).ok_or_else(|| {
            QueryError::sender(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"),
            )
        })
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, QueryError> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    QueryError::sender(
                        StatusCode::BAD_REQUEST,
                        "ValidationError",
                        format!("Value '{v}' at '{name}' is not an integer"),
                    )
                })
            })
            .transpose()
    }

    /// `{prefix}.member.1`, `{prefix}.member.2`, … (with `suffix` after the number).
    pub(crate) fn list(&self, prefix: &str, suffix: &str) -> Vec<String> {
        (1..=MAX_PARAMETERS)
            .map_while(|i| {
                self.get(&format!("{prefix}.member.{i}{suffix}"))
                    .map(str::to_owned)
            })
            .collect()
    }

    /// `{prefix}.member.N.Key` / `.Value` pairs.
    pub(crate) fn tags(&self, prefix: &str) -> Vec<crate::iam::Tag> {
        (1..=MAX_PARAMETERS)
            .map_while(|i| {
                let key = self.get(&format!("{prefix}.member.{i}.Key"))?;
                let value = self
                    .get(&format!("{prefix}.member.{i}.Value"))
                    .unwrap_or_default();
                Some(crate::iam::Tag {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
            })
            .collect()
    }
}

/// What a handler gets.
pub(crate) struct Call<'a> {
    pub(crate) federation: &'a FederationState,
    pub(crate) params: Params,
    pub(crate) action: String,
    /// The verified signer (absent for unsigned actions).
    pub(crate) caller: Option<Authenticated>,
    pub(crate) facts: RequestFacts,
    pub(crate) request_id: String,
}

/// Which service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Iam,
    Sts,
}

/// The service a SigV4 credential scope names, read without verifying (verification
/// follows with that service's name).
fn scoped_service(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_owned)
}

/// The client's TCP peer, the request head and the whole body (already bounded by the
/// listener's body rules); `None` when the body cannot be read.
pub(crate) async fn read_whole(
    request: axum::extract::Request,
) -> Option<(
    Option<std::net::IpAddr>,
    axum::http::request::Parts,
    axum::body::Bytes,
)> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, super::MAX_REQUEST_BODY_BYTES)
        .await
        .ok()?;
    Some((peer, parts, bytes))
}

/// Whether `POST /` with these headers is a query-protocol request.
pub(crate) fn is_query_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with(FORM_CONTENT_TYPE))
}

/// `POST /` with a form body.
pub(crate) async fn handle(
    state: Arc<HttpState>,
    federation: Arc<FederationState>,
    request: axum::extract::Request,
) -> Response {
    let request_id = super::request_id();
    let Some((peer, parts, body)) = read_whole(request).await else {
        return QueryError::sender(
            StatusCode::BAD_REQUEST,
            "MalformedQueryString",
            "the request body could not be read",
        )
        .into_response(&request_id);
    };
    let source_ip = peer.map(|ip| state.trusted_proxies.client_ip(ip, &parts.headers));
    let facts = RequestFacts {
        source_ip,
        // Every connection of a listener with a certificate is TLS.
        secure_transport: federation.secure_transport,
        now: state.clock.now(),
    };
    let result = process(&state, &federation, &parts, &body, facts, &request_id).await;
    match result {
        Ok(xml) => xml_response(StatusCode::OK, xml, &request_id),
        Err(e) => e.into_response(&request_id),
    }
}

async fn process(
    state: &HttpState,
    federation: &FederationState,
    parts: &axum::http::request::Parts,
    body: &[u8],
    facts: RequestFacts,
    request_id: &str,
) -> Result<String, QueryError> {
    let params = Params::parse(body)?;
    let action = params.required("Action")?.to_owned();
    let signed_for = scoped_service(&parts.headers);
    let service = match signed_for.as_deref() {
        Some("iam") => Service::Iam,
        Some("sts") => Service::Sts,
        Some(other) => {
            return Err(from_credential_error(&CredentialError::Signature(
                SigV4Error::WrongService {
                    expected: "iam or sts".into(),
                    found: other.to_owned(),
                },
            )));
        }
        None if sts::UNSIGNED_ACTIONS.contains(&action.as_str()) => {
            // Anyone may call these: limited per client address, as sign-ins are.
            let client = facts
                .source_ip
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            if state
                .user_pools
                .source_limits()
                .check(client, facts.now)
                .is_err()
            {
                return Err(sts::from_sts_error(&crate::sts::StsError::Throttling(
                    "Rate exceeded".into(),
                )));
            }
            Service::Sts
        }
        None => {
            return Err(from_credential_error(&CredentialError::Signature(
                SigV4Error::MissingAuthentication,
            )));
        }
    };
    let caller = match signed_for {
        Some(name) => {
            let config = VerifierConfig::new(name);
            let verified =
                with_sigv4_request(&parts.method, &parts.uri, &parts.headers, body, |request| {
                    federation
                        .verifier
                        .authenticate(request, &config, facts.now)
                })
                .map_err(|e| from_credential_error(&e))?;
            Some(verified)
        }
        None => None,
    };
    let call = Call {
        federation,
        params,
        action,
        caller,
        facts,
        request_id: request_id.to_owned(),
    };
    match service {
        Service::Iam => iam::run(call).await,
        Service::Sts => sts::run(call).await,
    }
}

/// The one mapping of credential refusals to the query protocol's error codes (see the table
/// in [`crate::sigv4`]).
pub fn from_credential_error(e: &CredentialError) -> QueryError {
    use SigV4Error as S;
    let forbidden = StatusCode::FORBIDDEN;
    match e {
        CredentialError::InvalidToken => QueryError::sender(
            forbidden,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ),
        CredentialError::Expired => QueryError::sender(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "The security token included in the request is expired",
        ),
        CredentialError::WrongRegion(_) => {
            QueryError::sender(forbidden, "SignatureDoesNotMatch", e.to_string())
        }
        CredentialError::Signature(s) => match s {
            S::MissingAuthentication => QueryError::sender(
                forbidden,
                "MissingAuthenticationToken",
                "Missing Authentication Token",
            ),
            S::Incomplete(_) | S::TooLarge { .. } => QueryError::sender(
                StatusCode::BAD_REQUEST,
                "IncompleteSignature",
                s.to_string(),
            ),
            S::UnknownAccessKey => QueryError::sender(
                forbidden,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            S::SignatureMismatch => QueryError::sender(
                forbidden,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ),
            S::WrongService { .. }
            | S::WrongRegion { .. }
            | S::ScopeDateMismatch { .. }
            | S::HeaderNotSigned(_)
            | S::SignedHeaderMissing(_)
            | S::Expired { .. }
            | S::NotYetValid { .. }
            | S::PresignExpired { .. }
            | S::PayloadHashMismatch
            | S::UnsupportedPayloadHash(_) => {
                QueryError::sender(forbidden, "SignatureDoesNotMatch", s.to_string())
            }
        },
    }
}

/// An unknown `Action`.
pub(crate) fn invalid_action(action: &str) -> QueryError {
    QueryError::sender(
        StatusCode::BAD_REQUEST,
        "InvalidAction",
        format!("Could not find operation {action}"),
    )
}

/// Successful answers to one action: `<{Action}Response xmlns=…>`, with or without a
/// `<{Action}Result>`, then `<ResponseMetadata>`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply<'a> {
    namespace: &'static str,
    action: &'a str,
    request_id: &'a str,
}

impl<'a> Reply<'a> {
    pub(crate) fn new(namespace: &'static str, call: &'a Call<'_>) -> Self {
        Self {
            namespace,
            action: &call.action,
            request_id: &call.request_id,
        }
    }

    /// The answer with a result written by `result`.
    pub(crate) fn with(self, result: impl FnOnce(&mut Xml)) -> String {
        self.write(Some(result))
    }

    /// The answer of an action that returns nothing but its request id.
    pub(crate) fn empty(self) -> String {
        self.write(None::<fn(&mut Xml)>)
    }

    fn write(self, result: Option<impl FnOnce(&mut Xml)>) -> String {
        let action = self.action;
        let mut xml = Xml::new();
        xml.open(&format!("{action}Response"), Some(self.namespace));
        if let Some(body) = result {
            xml.open(&format!("{action}Result"), None);
            body(&mut xml);
            xml.close(&format!("{action}Result"));
        }
        xml.open("ResponseMetadata", None);
        xml.leaf("RequestId", self.request_id);
        xml.close("ResponseMetadata");
        xml.close(&format!("{action}Response"));
        xml.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_error_mapping_table() {
        use SigV4Error as S;
        let cases: Vec<(CredentialError, &str, u16)> = vec![
            (CredentialError::InvalidToken, "InvalidClientTokenId", 403),
            (CredentialError::Expired, "ExpiredToken", 400),
            (
                CredentialError::WrongRegion("x".into()),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::MissingAuthentication.into(),
                "MissingAuthenticationToken",
                403,
            ),
            (S::Incomplete("x".into()).into(), "IncompleteSignature", 400),
            (
                S::TooLarge {
                    what: "x",
                    limit: 1,
                }
                .into(),
                "IncompleteSignature",
                400,
            ),
            (S::UnknownAccessKey.into(), "InvalidClientTokenId", 403),
            (S::SignatureMismatch.into(), "SignatureDoesNotMatch", 403),
            (
                S::WrongService {
                    expected: "a".into(),
                    found: "b".into(),
                }
                .into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::WrongRegion {
                    expected: "a".into(),
                    found: "b".into(),
                }
                .into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::ScopeDateMismatch {
                    scope_date: "a".into(),
                    request_date: "b".into(),
                }
                .into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::HeaderNotSigned("host").into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::SignedHeaderMissing("x".into()).into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::Expired {
                    request_time: "a".into(),
                    earliest: "b".into(),
                }
                .into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::NotYetValid {
                    request_time: "a".into(),
                    latest: "b".into(),
                }
                .into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                S::PresignExpired {
                    expired_at: "a".into(),
                }
                .into(),
                "SignatureDoesNotMatch",
                403,
            ),
            (S::PayloadHashMismatch.into(), "SignatureDoesNotMatch", 403),
            (
                S::UnsupportedPayloadHash("x".into()).into(),
                "SignatureDoesNotMatch",
                403,
            ),
        ];
        for (e, code, status) in cases {
            let q = from_credential_error(&e);
            assert_eq!(
                (q.code, q.status.as_u16(), q.kind),
                (code, status, "Sender"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn errors_have_the_shape_botocore_parses() {
        let response =
            QueryError::sender(StatusCode::NOT_FOUND, "NoSuchEntity", "The role <x> & co")
                .into_response("req-1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = futures_body(response);
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role &lt;x&gt; &amp; co</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
        );
    }

    fn futures_body(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn form_lists_and_tags() {
        let params = Params::parse(
            b"Action=TagRole&Tags.member.1.Key=team&Tags.member.1.Value=a%20b&Tags.member.2.Key=env&ClientIDList.member.1=x&ClientIDList.member.2=y&ClientIDList.member.4=gap",
        )
        .unwrap();
        assert_eq!(params.get("Action"), Some("TagRole"));
        let tags = params.tags("Tags");
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].value, "a b");
        assert_eq!(tags[1].value, "");
        assert_eq!(
            params.list("ClientIDList", ""),
            vec!["x", "y"],
            "stops at the first gap"
        );
        assert!(params.required("Missing").is_err());
    }
}
