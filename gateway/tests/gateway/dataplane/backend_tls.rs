//! `https://` backends: real TLS servers on loopback with certificates made by the test. A
//! backend is verified (the Mozilla roots, or the API's `tls_config.trusted_ca`) with the URI
//! host as the name and SNI; a wrong name, an expired certificate or an unknown issuer is
//! refused with 502 and the reason in the log; `insecure_skip_verification` is honoured; an
//! API's client certificate is presented to a backend that asks (mTLS); a backend that
//! offers HTTP/2 gets it; connections are pooled per backend.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use super::support::{backend, start_defined, test_config};
use crate::certs::{Leaf, TestCa};

/// A TLS backend on loopback: presents `leaf`, offers `alpn`, asks for a client certificate
/// signed by `client_ca` when given. Answers JSON naming the HTTP version, the SNI and the
/// client certificate it saw; counts the TLS connections it accepted.
async fn tls_backend(
    leaf: &Leaf,
    alpn: &[&[u8]],
    client_ca: Option<&TestCa>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(leaf.server_config(alpn, client_ca)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let session = tls.get_ref().1;
                let sni = session.server_name().map(str::to_owned);
                let client_certificate = session.peer_certificates().is_some();
                let http2 = session.alpn_protocol() == Some(b"h2");
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let values = |name: &str| -> Vec<String> {
                        let values = req.headers().get_all(name).iter();
                        values
                            .map(|v| v.to_str().unwrap_or("?").to_owned())
                            .collect()
                    };
                    let body = serde_json::json!({
                        "version": format!("{:?}", req.version()),
                        "path": req.uri().path(),
                        "sni": sni,
                        "client_certificate": client_certificate,
                        "x_forwarded_host": values("x-forwarded-host"),
                        // HTTP/1.1's `Host`, or HTTP/2's `:authority`.
                        "authority": req
                            .headers()
                            .get("host")
                            .and_then(|v| v.to_str().ok())
                            .or(req.uri().authority().map(|a| a.as_str())),
                        "x_forwarded_proto": values("x-forwarded-proto"),
                    });
                    async move {
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(
                            body.to_string(),
                        ))))
                    }
                });
                let io = TokioIo::new(tls);
                if http2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                }
            });
        }
    });
    (addr, connections)
}

/// A WebSocket backend under TLS offering `h2` and `http/1.1` (as a server that speaks both
/// does): echoes text upper-cased; refuses a client that agreed on `h2`, where no upgrade is.
async fn wss_backend(leaf: &Leaf) -> SocketAddr {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let acceptor =
        tokio_rustls::TlsAcceptor::from(Arc::new(leaf.server_config(&[b"h2", b"http/1.1"], None)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    return;
                }
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    if ws
                        .send(Message::Text(text.to_uppercase().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

const DEFINITION: &str = r#"
version: 1
apis:
  public:
    resources:
      /unknown-issuer:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{good}/unknown-issuer"}}
  private:
    tls_config: {trusted_ca: "{ca}"}
    resources:
      /good:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{good}/good"}}
      /by-name:
        GET: {integration: {type: http_proxy, uri: "https://localhost:{good}/by-name"}}
      /wrong-name:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{wrong}/wrong-name"}}
      /expired:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{expired}/expired"}}
      /insecure:
        GET:
          integration:
            type: http_proxy
            uri: "https://127.0.0.1:{wrong}/insecure"
            tls_config: {insecure_skip_verification: true}
      /h2:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{h2}/h2"}}
      /no-client-certificate:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{mtls}/m"}}
      /ws:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{wss}/"}}
  mtls:
    tls_config: {trusted_ca: "{ca}", client_certificate: "{client_crt}", client_key: "{client_key}"}
    resources:
      /m:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{mtls}/m"}}
stages:
  public: {prod: {access_log_format: "{LOG}"}}
  private: {prod: {access_log_format: "{LOG}"}}
  mtls: {prod: {access_log_format: "{LOG}"}}
base_path_mappings:
  - {base_path: public, api: public, stage: prod}
  - {base_path: private, api: private, stage: prod}
  - {base_path: mtls, api: mtls, stage: prod}
"#;

const LOG: &str = r#"{\"path\":\"$context.path\",\"status\":\"$context.status\",\"error\":\"$context.integration.error\"}"#;

#[tokio::test]
async fn https_backends_are_verified_and_refused_with_the_reason() {
    let ca = TestCa::new("backend test ca");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let (client_crt, client_key) = ca.client("gateway").write(dir.path(), "client");
    let names = ["localhost", "127.0.0.1"];
    let (good, good_connections) = tls_backend(&ca.server(&names), &[b"http/1.1"], None).await;
    let (wrong, _) = tls_backend(&ca.server(&["other.example"]), &[b"http/1.1"], None).await;
    let (expired, _) = tls_backend(&ca.expired_server(&names), &[b"http/1.1"], None).await;
    let (h2, h2_connections) = tls_backend(&ca.server(&names), &[b"h2"], None).await;
    let (mtls, _) = tls_backend(&ca.server(&names), &[b"http/1.1"], Some(&ca)).await;
    let wss = wss_backend(&ca.server(&names)).await;
    let text = DEFINITION
        .replace("{good}", &good.port().to_string())
        .replace("{wrong}", &wrong.port().to_string())
        .replace("{expired}", &expired.port().to_string())
        .replace("{h2}", &h2.port().to_string())
        .replace("{mtls}", &mtls.port().to_string())
        .replace("{wss}", &wss.port().to_string())
        .replace("{ca}", &ca_file.display().to_string())
        .replace("{client_crt}", &client_crt.display().to_string())
        .replace("{client_key}", &client_key.display().to_string())
        .replace("{LOG}", LOG);
    let gateway = start_defined(test_config(), backend().await, &text).await;

    struct Case {
        rule: &'static str,
        path: &'static str,
        status: u16,
        /// In the backend's answer (200) or the access log's integration error (502).
        seen: &'static str,
    }
    let cases = [
        Case {
            rule: "a certificate from the API's CA, for the address in the URI",
            path: "/private/good",
            status: 200,
            seen: r#""path":"/good""#,
        },
        Case {
            rule: "the URI host is the name verified and sent as SNI",
            path: "/private/by-name",
            status: 200,
            seen: r#""sni":"localhost""#,
        },
        Case {
            rule: "a certificate for another name is refused",
            path: "/private/wrong-name",
            status: 502,
            seen: "not valid for name",
        },
        Case {
            rule: "an expired certificate is refused",
            path: "/private/expired",
            status: 502,
            seen: "expired",
        },
        Case {
            rule: "an API without tls_config trusts the Mozilla roots only",
            path: "/public/unknown-issuer",
            status: 502,
            seen: "UnknownIssuer",
        },
        Case {
            rule: "insecure_skip_verification accepts the wrong name",
            path: "/private/insecure",
            status: 200,
            seen: r#""path":"/insecure""#,
        },
        Case {
            rule: "a backend that offers only h2 is spoken to in HTTP/2",
            path: "/private/h2",
            status: 200,
            seen: r#""version":"HTTP/2.0""#,
        },
        Case {
            rule: "the API's client certificate is presented (mTLS)",
            path: "/mtls/m",
            status: 200,
            seen: r#""client_certificate":true"#,
        },
        Case {
            rule: "a backend that requires a client certificate refuses an API without one",
            path: "/private/no-client-certificate",
            status: 502,
            seen: "CertificateRequired",
        },
    ];
    for (n, case) in cases.iter().enumerate() {
        let answer = gateway.get(case.path).await;
        assert_eq!(
            answer.status, case.status,
            "{}: {:?}",
            case.rule, answer.body
        );
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        if case.status == 200 {
            assert!(body.contains(case.seen), "{}: {body}", case.rule);
        } else {
            assert_eq!(
                body, r#"{"message":"Internal server error"}"#,
                "{}",
                case.rule
            );
            let lines = gateway.log_lines(n + 1).await;
            let line = lines
                .iter()
                .find(|l| l.contains(case.path) && l.contains("502"))
                .unwrap_or_else(|| panic!("{}: no log line in {lines:?}", case.rule));
            assert!(line.contains(case.seen), "{}: {line}", case.rule);
        }
    }

    // Over TLS, HTTP/1.1 and HTTP/2 alike, the backend gets each forwarding field once and
    // never the client's own.
    for (path, port) in [("/private/good", good.port()), ("/private/h2", h2.port())] {
        let forged = [
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ];
        let answer = gateway.request("GET", path, &forged, "").await;
        assert_eq!(answer.status, 200, "{path}");
        let seen = answer.json();
        assert_eq!(
            seen["x_forwarded_host"],
            serde_json::json!([gateway.addr.to_string()]),
            "{path}: {seen}"
        );
        assert_eq!(
            seen["x_forwarded_proto"],
            serde_json::json!(["http"]),
            "{path}: {seen}"
        );
        assert_eq!(
            seen["authority"],
            format!("127.0.0.1:{port}"),
            "{path}: the backend's own"
        );
    }

    // A WebSocket to a backend that also speaks HTTP/2 is upgraded over HTTP/1.1.
    {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let url = format!("ws://{}/private/ws", gateway.addr);
        let (mut ws, response) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(response.status(), 101);
        ws.send(Message::Text("secure".into())).await.unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert_eq!(reply, Message::Text("SECURE".into()));
        ws.close(None).await.unwrap();
    }

    // Pooled per backend: more requests, no more connections.
    let (before, before_h2) = (
        good_connections.load(Ordering::SeqCst),
        h2_connections.load(Ordering::SeqCst),
    );
    for _ in 0..5 {
        assert_eq!(gateway.get("/private/good").await.status, 200);
        assert_eq!(gateway.get("/private/h2").await.status, 200);
    }
    assert_eq!(good_connections.load(Ordering::SeqCst), before);
    assert_eq!(h2_connections.load(Ordering::SeqCst), before_h2);
}

#[tokio::test]
async fn a_missing_or_bad_ca_file_refuses_the_definition() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not-pem.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    for (rule, file, reason) in [
        (
            "a missing file",
            dir.path().join("absent.pem"),
            "cannot read",
        ),
        (
            "a file with no certificate",
            not_pem,
            "holds no PEM certificate",
        ),
    ] {
        let text = format!(
            "version: 1\napis:\n  a:\n    tls_config: {{trusted_ca: \"{}\"}}\n    resources:\n      /x:\n        GET: {{integration: {{type: http_proxy, uri: \"https://127.0.0.1:9/x\"}}}}\nstages:\n  a: {{prod: {{}}}}\n",
            file.display()
        );
        let path = dir.path().join("api.yaml");
        std::fs::write(&path, text).unwrap();
        let (gateway, _) = gatehouse_gateway::control::files::load_gateway(
            std::slice::from_ref(&path),
            std::time::UNIX_EPOCH,
            &gatehouse_gateway::Limits::default(),
        )
        .unwrap();
        let err = gatehouse_gateway::server::Live::new(
            gateway,
            gatehouse_gateway::server::Steps::default(),
            Arc::new(gatehouse_gateway::server::Metrics::new()),
        )
        .expect_err(rule)
        .to_string();
        assert!(err.contains("api `a` backend tls"), "{rule}: {err}");
        assert!(err.contains(reason), "{rule}: {err}");
    }
}

/// An `https://` backend (hyper's HTTP/1.1 client) whose answer frames its body with a
/// transfer coding other than a lone `chunked`, or with chunks and a length at once, is a
/// broken answer as on the plain path: 504, and the reason in the log.
#[tokio::test]
async fn an_https_answer_framed_with_another_coding_is_refused() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let ca = TestCa::new("backend test ca");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let leaf = ca.server(&["127.0.0.1"]);
    let acceptor =
        tokio_rustls::TlsAcceptor::from(Arc::new(leaf.server_config(&[b"http/1.1"], None)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(n) if n > 0 => head.extend_from_slice(&buffer[..n]),
                        _ => return,
                    }
                }
                let answer: &[u8] = if head.starts_with(b"GET /both ") {
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                } else {
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nhello"
                };
                let _ = tls.write_all(answer).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let text = r#"
apis:
  a:
    tls_config: {trusted_ca: "{ca}"}
    resources:
      /{name}:
        GET: {integration: {type: http_proxy, uri: "https://127.0.0.1:{port}/{name}"}}
stages:
  a: {prod: {access_log_format: "{LOG}"}}
base_path_mappings:
  - {base_path: "", api: a, stage: prod}
"#
    .replace("{ca}", &ca_file.display().to_string())
    .replace("{port}", &port.to_string())
    .replace("{LOG}", LOG);
    let gateway = start_defined(test_config(), backend().await, &text).await;
    for (path, reason) in [
        ("/gzip", "a transfer coding other than chunked"),
        ("/both", "both transfer-encoding and content-length"),
    ] {
        let answer = gateway.get(path).await;
        assert_eq!(answer.status, 504, "{path}: {answer:?}");
        // The access log is written after the answer: wait for this request's own line (the
        // second request's answer can come before its line, with the first one's there).
        let line = gateway.log_line_with(path).await;
        assert!(line.contains(reason), "{path}: {line}");
    }
}
