//! The limit per source address in front of the operations anyone may call without
//! credentials (see [`crate::rate_limit`]): the client address is resolved from the TCP peer
//! (`ConnectInfo<SocketAddr>`, which the identity listener provides) and the trusted
//! proxies; an empty bucket answers `TooManyRequestsException` before the body is read.
//!
//! A request without a peer address (only possible in-process, e.g. a router called with
//! `oneshot`) draws from one shared bucket for the unspecified address, so a listener that
//! forgot to hand over peers is limited as a whole, never not at all.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::TARGET_PREFIX;
use super::error::from_user_pool_error;
use crate::http::HttpState;
use crate::user_pools::UserPoolError;

/// The operations limited per source address: the unauthenticated ones that guess or send.
pub(crate) const LIMITED_OPERATIONS: &[&str] = &[
    "SignUp",
    "InitiateAuth",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "RespondToAuthChallenge",
    // With a sign-in's session instead of an access token, these guess codes too.
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
];

/// Middleware on `POST /`: refuses a limited operation when its client's bucket is empty.
pub(crate) async fn limit_sources(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or("");
    if !LIMITED_OPERATIONS.contains(&operation) {
        return next.run(request).await;
    }
    let client = match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => state
            .trusted_proxies
            .client_ip(peer.ip(), request.headers()),
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    match state
        .user_pools
        .source_limits()
        .check(client, state.clock.now())
    {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            let refused = UserPoolError::TooManyRequests("Too many requests".into());
            let mut response =
                from_user_pool_error(&refused).into_response_with(&crate::http::request_id());
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    //! The limit through the router: addresses named by a trusted proxy are limited one by
    //! one, an untrusted peer cannot dodge its limit with forwarding headers, and other
    //! operations are not limited.

    use std::net::SocketAddr;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode};
    use gatehouse_storage::StoreOptions;
    use gatehouse_storage::testkit::TestStore;
    use tower::ServiceExt as _;

    use crate::http::{HttpState, OperatorCredentials, router};
    use crate::net::TrustedProxies;
    use crate::rate_limit::SourceRateLimit;
    use crate::user_pools::tests::fixture_with_limit;

    /// The `__type` of the answer to `operation` from `peer` with an `X-Forwarded-For`.
    async fn call(app: &axum::Router, operation: &str, peer: &str, xff: Option<&str>) -> String {
        let mut request = Request::builder()
            .method("POST")
            .uri("/")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{operation}"),
            );
        if let Some(xff) = xff {
            request = request.header("x-forwarded-for", xff);
        }
        let mut request = request.body(Body::from("{}")).unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let limited = response.headers().get("retry-after").is_some();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let error_type = body["__type"].as_str().unwrap().to_owned();
        assert_eq!(
            limited,
            error_type == "TooManyRequestsException",
            "Retry-After comes with the refusal"
        );
        error_type
    }

    /// How many of `n` calls were let through.
    async fn passed(
        app: &axum::Router,
        operation: &str,
        peer: &str,
        xff: Option<&str>,
        n: usize,
    ) -> usize {
        let mut through = 0;
        for _ in 0..n {
            if call(app, operation, peer, xff).await != "TooManyRequestsException" {
                through += 1;
            }
        }
        through
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn clients_are_limited_by_the_address_the_trusted_proxies_resolve() {
        let db = TestStore::sqlite(StoreOptions::default()).await;
        let f = fixture_with_limit(
            &db.store,
            SourceRateLimit {
                per_second: 1,
                burst: 3,
            },
        );
        let app = router(HttpState {
            user_pools: f.pools.clone(),
            operator: crate::http::operator::OperatorAuth::new(
                OperatorCredentials {
                    access_key_id: "AKIAOPERATOR00000001".into(),
                    secret_access_key: "secret".into(),
                },
                Some("us-east-1".into()),
                f.clock.clone(),
            ),
            clock: f.clock.clone(),
            trusted_proxies: TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
        });
        let proxy = "10.0.0.5:40000";
        let cases: &[(&str, &str, &str, Option<&str>, usize)] = &[
            (
                "a client behind the proxy",
                "InitiateAuth",
                proxy,
                Some("198.51.100.1"),
                3,
            ),
            (
                "another client behind it",
                "SignUp",
                proxy,
                Some("198.51.100.2"),
                3,
            ),
            (
                "the first again, on another operation",
                "ConfirmSignUp",
                proxy,
                Some("198.51.100.1"),
                0,
            ),
            (
                "an untrusted peer",
                "ForgotPassword",
                "203.0.113.9:5000",
                None,
                3,
            ),
            (
                "the same peer naming another client",
                "ForgotPassword",
                "203.0.113.9:5001",
                Some("198.51.100.3"),
                0,
            ),
            (
                "the same peer, yet another",
                "RespondToAuthChallenge",
                "203.0.113.9:5002",
                Some("192.0.2.200"),
                0,
            ),
            (
                "its address named by the proxy is the same bucket",
                "ResendConfirmationCode",
                proxy,
                Some("203.0.113.9"),
                0,
            ),
            (
                "operations with credentials are not limited",
                "GetUser",
                "203.0.113.9:5003",
                None,
                5,
            ),
        ];
        for (rule, operation, peer, xff, expected) in cases {
            let n = (*expected).max(5);
            assert_eq!(
                passed(&app, operation, peer, *xff, n).await,
                *expected,
                "{rule}"
            );
        }
        // A second later one more request of each client gets through.
        f.clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(
            passed(
                &app,
                "ConfirmForgotPassword",
                proxy,
                Some("198.51.100.1"),
                3
            )
            .await,
            1
        );
        assert_eq!(passed(&app, "SignUp", "203.0.113.9:5000", None, 3).await, 1);
    }
}
