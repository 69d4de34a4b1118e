//! The one outbound HTTP client setup: plain `http://` or TLS (rustls on aws-lc-rs) verified
//! against the Mozilla roots and any extra roots the operator configured, HTTP/1.1, Nagle off.
//! Used by the DynamoDB proxy towards its upstream and by the gateway, the identity pools and
//! the user pools' federation towards OIDC issuers, whose JSON documents [`get_json`] reads
//! and whose token and userInfo endpoints [`send_json`] calls.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

/// An error and its sources, `: `-joined: what a failed outbound call logs. A source an
/// error already ends its own text with, after a `: ` (`cannot connect to …: {source}`), is
/// not said twice.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let part = e.to_string();
        let said = text == part
            || text
                .strip_suffix(part.as_str())
                .is_some_and(|head| head.ends_with(": "));
        if !said {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

/// A pooled client for `http://` and `https://` URLs.
pub type HttpsClient<B> = Client<HttpsConnector<HttpConnector>, B>;

/// GETs `url` (`http` or `https`) and reads its body as JSON: a success status (redirects
/// are not followed), at most `max_bytes`, the whole exchange within `timeout`. Errors name
/// the URL, never the body.
pub async fn get_json(
    client: &HttpsClient<Full<Bytes>>,
    url: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<serde_json::Value, String> {
    let request = hyper::Request::get(parse_url(url)?)
        .header(hyper::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    match exchange_json(client, url, request, timeout, max_bytes).await? {
        (status, body) if status.is_success() => Ok(body),
        (status, _) => Err(format!("`{url}` answered {status}")),
    }
}

/// One outbound request to an OpenID Connect issuer (its token or userInfo endpoint).
#[derive(Debug, Clone, Copy)]
pub enum Outbound<'a> {
    /// `POST` of an `application/x-www-form-urlencoded` body, with HTTP Basic client
    /// credentials when given (each part form-encoded first, RFC 6749 section 2.3.1).
    Form {
        pairs: &'a [(&'a str, &'a str)],
        basic: Option<(&'a str, &'a str)>,
    },
    /// `GET` with `Authorization: Bearer`.
    Bearer(&'a str),
}

/// Sends `outbound` to `url` and reads the answer as JSON, whatever its status (an OAuth
/// error is a JSON body with a 400), within the limits of [`get_json`]: the status and body.
pub async fn send_json(
    client: &HttpsClient<Full<Bytes>>,
    url: &str,
    outbound: Outbound<'_>,
    timeout: Duration,
    max_bytes: usize,
) -> Result<(hyper::StatusCode, serde_json::Value), String> {
    use base64::Engine as _;
    let uri = parse_url(url)?;
    let builder = hyper::Request::builder()
        .uri(uri)
        .header(hyper::header::ACCEPT, "application/json");
    let request = match outbound {
        Outbound::Form { pairs, basic } => {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter())
                .finish();
            let mut builder = builder.method(hyper::Method::POST).header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
            if let Some((id, secret)) = basic {
                let encode =
                    |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    encode(id),
                    encode(secret)
                ));
                builder =
                    builder.header(hyper::header::AUTHORIZATION, format!("Basic {credentials}"));
            }
            builder.body(Full::new(Bytes::from(body)))
        }
        Outbound::Bearer(token) => builder
            .method(hyper::Method::GET)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(Bytes::new())),
    }
    .map_err(|e| format!("`{url}`: {e}"))?;
    exchange_json(client, url, request, timeout, max_bytes).await
}

fn parse_url(url: &str) -> Result<hyper::Uri, String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| format!("`{url}` is not a valid url"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(format!("`{url}`: only http and https urls can be fetched"));
    }
    Ok(uri)
}

/// Sends `request` and reads a JSON body of at most `max_bytes`, all within `timeout`.
async fn exchange_json(
    client: &HttpsClient<Full<Bytes>>,
    url: &str,
    request: hyper::Request<Full<Bytes>>,
    timeout: Duration,
    max_bytes: usize,
) -> Result<(hyper::StatusCode, serde_json::Value), String> {
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("`{url}`: {e}"))?;
        let status = response.status();
        Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map(|body| (status, body.to_bytes()))
            .map_err(|e| format!("`{url}`: {e}"))
    };
    let (status, body) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("`{url}` did not answer in time"))??;
    if body.is_empty() && !status.is_success() {
        return Ok((status, serde_json::Value::Null));
    }
    let value =
        serde_json::from_slice(&body).map_err(|e| format!("`{url}` answered {status}: {e}"))?;
    Ok((status, value))
}

/// The `jwks_uri` of OpenID Connect issuer `issuer`, from its discovery document
/// (`{issuer}/.well-known/openid-configuration`, read by [`get_json`]), which must name that
/// issuer exactly (OpenID Connect Discovery 1.0 §4.3). Where keys may be fetched from is the
/// caller's to check.
pub async fn discover_jwks_uri(
    client: &HttpsClient<Full<Bytes>>,
    issuer: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<String, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let document = get_json(client, &url, timeout, max_bytes).await?;
    let named = document.get("issuer").and_then(serde_json::Value::as_str);
    if named != Some(issuer) {
        return Err(format!(
            "the discovery document names issuer `{}`, not `{issuer}`",
            named.unwrap_or_default()
        ));
    }
    document
        .get("jwks_uri")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "the discovery document has no `jwks_uri`".to_owned())
}

/// The certificates of a PEM bundle, as DER, for [`client`]'s extra roots: at least one,
/// and every one a root rustls accepts.
pub fn roots_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = Vec::new();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
        let mut store = rustls::RootCertStore::empty();
        store
            .add(cert.clone())
            .map_err(|e| format!("a certificate is not usable as a root: {e}"))?;
        roots.push(cert.as_ref().to_vec());
    }
    if roots.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(roots)
}

/// A client trusting the Mozilla roots plus `extra_roots` (DER), giving up on a connection
/// after `connect_timeout`.
pub fn client<B>(
    extra_roots: &[Vec<u8>],
    connect_timeout: Duration,
) -> Result<HttpsClient<B>, String>
where
    B: hyper::body::Body + Send,
    B::Data: Send,
{
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for der in extra_roots {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| format!("extra root certificate refused: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    // The TLS layer wraps it, so it must accept `https://` URIs too.
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector))
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    /// An error that says its source in its own text, as `#[error("…: {source}")]` does.
    #[derive(Debug)]
    struct Connect(std::io::Error);

    impl std::fmt::Display for Connect {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot connect to `backend:80`: {}", self.0)
        }
    }

    impl std::error::Error for Connect {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// An error that does not.
    #[derive(Debug)]
    struct Request(Connect);

    impl std::fmt::Display for Request {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("request failed")
        }
    }

    impl std::error::Error for Request {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// An error with its own words and a source.
    #[derive(Debug)]
    struct Worded(&'static str, std::io::Error);

    impl std::fmt::Display for Worded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Worded {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            error_chain(&Connect(refused())),
            "cannot connect to `backend:80`: refused"
        );
        assert_eq!(
            error_chain(&Request(Connect(refused()))),
            "request failed: cannot connect to `backend:80`: refused"
        );
        // A text that only happens to end like its source keeps the source.
        let coincidence = Worded("no route", std::io::Error::other("route"));
        assert_eq!(error_chain(&coincidence), "no route: route");
    }
}
