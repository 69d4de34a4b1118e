//! TLS and HTTP/2 on the edge listener (what every public listener of the binary runs): ALPN
//! picks HTTP/2 or HTTP/1.1 over TLS 1.2 and 1.3, prior-knowledge HTTP/2 on a plain listener,
//! the HTTP/2 limits (concurrent streams, header list size, the rapid-reset and CONTINUATION
//! floods ended with GOAWAY), and a certificate replaced without dropping connections (a bad
//! pair keeps the old one). Real clients: rustls, hyper's HTTP/1.1 client and the `h2` crate;
//! raw frames only where no client would send them. Every wait is for a condition, bounded
//! only as a hang guard.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use bytes::Bytes;
use gatehouse_gateway::server::{EdgeLimits, ServerTls, TlsFiles, serve_router};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::certs::TestCa;

const HANG_GUARD: Duration = Duration::from_secs(30);

struct Edge {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Edge {
    async fn start(limits: EdgeLimits, tls: Option<ServerTls>) -> Self {
        let router = axum::Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/version",
                get(|request: Request<axum::body::Body>| async move {
                    format!("{:?}", request.version())
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            serve_router(listener, &limits, tls, router, "test", async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            addr,
            stop: Some(stop),
            done: Some(done),
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            tokio::time::timeout(HANG_GUARD, done)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
    }
}

fn limits() -> EdgeLimits {
    EdgeLimits {
        shutdown_grace: Duration::from_secs(5),
        ..EdgeLimits::default()
    }
}

/// A listener's TLS from a fresh pair for `127.0.0.1` signed by `ca`, written into `dir`.
fn server_tls(ca: &TestCa, dir: &std::path::Path) -> (ServerTls, TlsFiles) {
    let (certificate, key) = ca.server(&["127.0.0.1"]).write(dir, "server");
    let files = TlsFiles { certificate, key };
    (ServerTls::load(files.clone()).unwrap(), files)
}

pub(crate) async fn tls_connect(
    addr: SocketAddr,
    config: rustls::ClientConfig,
) -> TlsStream<TcpStream> {
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio::time::timeout(HANG_GUARD, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap()
}

/// The certificate the server presented on `stream`.
fn presented(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    let (_, session) = stream.get_ref();
    session.peer_certificates().unwrap()[0].to_vec()
}

/// GET `path` over HTTP/1.1 on `io`: status and body.
pub(crate) async fn h1_get<IO>(io: IO, path: &str) -> (StatusCode, String)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", "127.0.0.1")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// An HTTP/2 client on `io`, its connection driven by a task whose outcome is returned by the
/// handle (the error a GOAWAY ends it with).
pub(crate) async fn h2_client<IO>(
    io: IO,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = h2::client::handshake(io).await.unwrap();
    (sender, tokio::spawn(connection))
}

pub(crate) async fn h2_request(
    sender: &mut h2::client::SendRequest<Bytes>,
    request: Request<()>,
) -> (StatusCode, String) {
    let ready = sender.clone().ready().await.unwrap();
    *sender = ready;
    let (response, _) = sender.send_request(request, true).unwrap();
    let response = tokio::time::timeout(HANG_GUARD, response)
        .await
        .unwrap()
        .unwrap();
    let status = response.status();
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    (status, String::from_utf8_lossy(&text).into_owned())
}

pub(crate) fn get_request(scheme: &str, addr: SocketAddr, path: &str) -> Request<()> {
    Request::get(format!("{scheme}://{addr}{path}"))
        .body(())
        .unwrap()
}

#[tokio::test]
async fn alpn_chooses_http2_or_http11_over_tls() {
    let ca = TestCa::new("edge test ca");
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = server_tls(&ca, dir.path());
    let edge = Edge::start(limits(), Some(tls)).await;
    struct Case {
        rule: &'static str,
        offered: &'static [&'static [u8]],
        agreed: Option<&'static [u8]>,
        seen: &'static str,
    }
    let cases = [
        Case {
            rule: "a client offering h2 first gets HTTP/2",
            offered: &[b"h2", b"http/1.1"],
            agreed: Some(b"h2"),
            seen: "HTTP/2.0",
        },
        Case {
            rule: "a client offering only http/1.1 gets HTTP/1.1",
            offered: &[b"http/1.1"],
            agreed: Some(b"http/1.1"),
            seen: "HTTP/1.1",
        },
        Case {
            rule: "a client offering nothing gets HTTP/1.1",
            offered: &[],
            agreed: None,
            seen: "HTTP/1.1",
        },
    ];
    for case in cases {
        let stream = tls_connect(edge.addr, ca.client_config(case.offered)).await;
        let agreed = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        assert_eq!(agreed.as_deref(), case.agreed, "{}", case.rule);
        let (status, body) = if case.agreed == Some(b"h2") {
            let (mut sender, _connection) = h2_client(stream).await;
            h2_request(&mut sender, get_request("https", edge.addr, "/version")).await
        } else {
            h1_get(stream, "/version").await
        };
        assert_eq!(status, StatusCode::OK, "{}", case.rule);
        assert_eq!(body, case.seen, "{}", case.rule);
    }
    edge.stop().await;
}

#[tokio::test]
async fn tls_12_and_13_are_both_served() {
    let ca = TestCa::new("edge test ca");
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = server_tls(&ca, dir.path());
    let edge = Edge::start(limits(), Some(tls)).await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let stream = tls_connect(edge.addr, config).await;
        assert_eq!(stream.get_ref().1.protocol_version(), Some(version.version));
        let (status, body) = h1_get(stream, "/").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_plain_listener_speaks_http11_and_prior_knowledge_http2() {
    let edge = Edge::start(limits(), None).await;
    let (status, body) = h1_get(TcpStream::connect(edge.addr).await.unwrap(), "/version").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "HTTP/1.1"));
    let (mut sender, _connection) = h2_client(TcpStream::connect(edge.addr).await.unwrap()).await;
    let (status, body) = h2_request(&mut sender, get_request("http", edge.addr, "/version")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "HTTP/2.0"));
    // Several streams on the one connection.
    for _ in 0..3 {
        let (status, _) = h2_request(&mut sender, get_request("http", edge.addr, "/")).await;
        assert_eq!(status, StatusCode::OK);
    }
    edge.stop().await;
}

#[tokio::test]
async fn http2_announces_the_concurrent_stream_limit() {
    let edge = Edge::start(
        EdgeLimits {
            max_concurrent_streams: 7,
            ..limits()
        },
        None,
    )
    .await;
    let (mut sender, _connection) = h2_client(TcpStream::connect(edge.addr).await.unwrap()).await;
    // A full exchange: the server's SETTINGS have been read.
    let (status, _) = h2_request(&mut sender, get_request("http", edge.addr, "/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sender.current_max_send_streams(), 7);
    edge.stop().await;
}

#[tokio::test]
async fn an_http2_header_list_past_the_limit_gets_431() {
    let edge = Edge::start(
        EdgeLimits {
            max_header_bytes: 16 * 1024,
            ..limits()
        },
        None,
    )
    .await;
    let (mut sender, _connection) = h2_client(TcpStream::connect(edge.addr).await.unwrap()).await;
    let within = Request::get(format!("http://{}/", edge.addr))
        .header("x-small", "x".repeat(1024))
        .body(())
        .unwrap();
    assert_eq!(h2_request(&mut sender, within).await.0, StatusCode::OK);
    let beyond = Request::get(format!("http://{}/", edge.addr))
        .header("x-big", "x".repeat(40 * 1024))
        .body(())
        .unwrap();
    assert_eq!(
        h2_request(&mut sender, beyond).await.0,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    edge.stop().await;
}

/// Opens and at once cancels `streams` streams, as the rapid-reset attack does, all in one
/// write (so the whole flood has arrived before the server answers, and the client reads the
/// GOAWAY rather than failing to write); the GOAWAY's error code.
async fn rapid_reset(mut io: impl AsyncRead + AsyncWrite + Unpin, streams: u32) -> Option<u32> {
    let mut flood = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    flood.extend(frame(0x4, 0, 0, &[]));
    for n in 0..streams {
        let id = 2 * n + 1;
        // GET http://x/ (`:method GET`, `:scheme http`, `:path /` from the static table,
        // `:authority x` a literal), END_STREAM | END_HEADERS; then RST_STREAM CANCEL.
        flood.extend(frame(0x1, 0x5, id, &[0x82, 0x86, 0x84, 0x01, 0x01, b'x']));
        flood.extend(frame(0x3, 0, id, &8u32.to_be_bytes()));
    }
    io.write_all(&flood).await.unwrap();
    io.flush().await.unwrap();
    goaway_code(&mut io).await
}

#[tokio::test]
async fn an_http2_rapid_reset_flood_ends_the_connection_with_goaway() {
    let ca = TestCa::new("edge test ca");
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = server_tls(&ca, dir.path());
    let plain = Edge::start(limits(), None).await;
    let secure = Edge::start(limits(), Some(tls)).await;
    // A client cancelling a few requests keeps its connection (the real h2 client).
    let (mut sender, _connection) = h2_client(TcpStream::connect(plain.addr).await.unwrap()).await;
    for _ in 0..5 {
        let ready = sender.clone().ready().await.unwrap();
        sender = ready;
        let (_, mut stream) = sender
            .send_request(get_request("http", plain.addr, "/"), false)
            .unwrap();
        stream.send_reset(h2::Reason::CANCEL);
    }
    let (status, _) = h2_request(&mut sender, get_request("http", plain.addr, "/")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a few cancelled streams are no attack"
    );
    for (listener, label) in [(&plain, "plain"), (&secure, "tls")] {
        let code = if label == "tls" {
            let io = tls_connect(listener.addr, ca.client_config(&[b"h2"])).await;
            tokio::time::timeout(HANG_GUARD, rapid_reset(io, 50))
                .await
                .unwrap()
        } else {
            let io = TcpStream::connect(listener.addr).await.unwrap();
            tokio::time::timeout(HANG_GUARD, rapid_reset(io, 50))
                .await
                .unwrap()
        };
        assert_eq!(code, Some(0xb), "{label}: ENHANCE_YOUR_CALM");
    }
    plain.stop().await;
    secure.stop().await;
}

/// A frame head (RFC 9113 §4.1).
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads frames until a GOAWAY comes; its error code, or `None` if the connection closed first.
async fn goaway_code(stream: &mut (impl AsyncRead + Unpin)) -> Option<u32> {
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.ok()?;
        if head[3] == 0x7 {
            return Some(u32::from_be_bytes(payload[4..8].try_into().unwrap()));
        }
    }
}

#[tokio::test]
async fn an_http2_continuation_flood_ends_the_connection_with_goaway() {
    let edge = Edge::start(limits(), None).await;
    let mut stream = TcpStream::connect(edge.addr).await.unwrap();
    let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    opening.extend(frame(0x4, 0, 0, &[]));
    // HEADERS without END_HEADERS: `:method GET` (static table index 2) and a literal field
    // `x` whose value announces 100 000 bytes; then CONTINUATION frames carrying the value a
    // little at a time, never ending the header block.
    opening.extend(frame(
        0x1,
        0,
        1,
        &[0x82, 0x00, 0x01, b'x', 0x7f, 0xa1, 0x8c, 0x06],
    ));
    stream.write_all(&opening).await.unwrap();
    let (mut read, mut write) = stream.split();
    let flood = frame(0x9, 0, 1, &[b'a'; 16]);
    let flooding = async {
        for _ in 0..1_000 {
            if write.write_all(&flood).await.is_err() {
                break;
            }
        }
    };
    let (code, ()) = tokio::time::timeout(HANG_GUARD, async {
        tokio::join!(goaway_code(&mut read), flooding)
    })
    .await
    .unwrap();
    // ENHANCE_YOUR_CALM (0xb): the endless header block is cut off as abuse.
    assert_eq!(code, Some(0xb));
    edge.stop().await;
}

#[tokio::test]
async fn a_reloaded_certificate_serves_new_handshakes_and_open_connections_stay() {
    let ca = TestCa::new("edge test ca");
    let dir = tempfile::tempdir().unwrap();
    let first = ca.server(&["127.0.0.1"]);
    let (certificate, key) = first.write(dir.path(), "server");
    let tls = ServerTls::load(TlsFiles {
        certificate: certificate.clone(),
        key: key.clone(),
    })
    .unwrap();
    let edge = Edge::start(limits(), Some(tls.clone())).await;

    // An HTTP/1.1 keep-alive connection opened on the first certificate.
    let open = tls_connect(edge.addr, ca.client_config(&[b"http/1.1"])).await;
    assert_eq!(presented(&open), first.der().to_vec());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(open))
        .await
        .unwrap();
    tokio::spawn(connection);
    let get = || {
        Request::get("/")
            .header("host", "127.0.0.1")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap()
    };
    assert_eq!(sender.send_request(get()).await.unwrap().status(), 200);

    let second = ca.server(&["127.0.0.1"]);
    second.write(dir.path(), "server");
    tls.reload().unwrap();
    let fresh = tls_connect(edge.addr, ca.client_config(&[b"http/1.1"])).await;
    assert_eq!(presented(&fresh), second.der().to_vec(), "new handshakes");
    sender.ready().await.unwrap();
    assert_eq!(
        sender.send_request(get()).await.unwrap().status(),
        200,
        "the connection opened before the reload still serves"
    );

    // A bad pair is refused with the reason, and the good one keeps serving.
    struct Bad {
        rule: &'static str,
        cert: String,
        key: String,
        reason: &'static str,
    }
    let stranger = ca.server(&["127.0.0.1"]);
    let cases = [
        Bad {
            rule: "a key that belongs to another certificate",
            cert: second.cert_pem.clone(),
            key: stranger.key_pem.clone(),
            reason: "does not belong to the certificate",
        },
        Bad {
            rule: "a certificate file that holds no certificate",
            cert: "not a certificate\n".to_owned(),
            key: second.key_pem.clone(),
            reason: "holds no PEM certificate",
        },
        Bad {
            rule: "a key file that holds no key",
            cert: second.cert_pem.clone(),
            key: second.cert_pem.clone(),
            reason: "holds no PEM private key",
        },
    ];
    for bad in cases {
        std::fs::write(&certificate, &bad.cert).unwrap();
        std::fs::write(&key, &bad.key).unwrap();
        let err = tls.reload().expect_err(bad.rule).to_string();
        assert!(err.contains(bad.reason), "{}: {err}", bad.rule);
        assert!(
            !err.contains("PRIVATE KEY"),
            "{}: no key material: {err}",
            bad.rule
        );
        let still = tls_connect(edge.addr, ca.client_config(&[b"http/1.1"])).await;
        assert_eq!(presented(&still), second.der().to_vec(), "{}", bad.rule);
    }
    std::fs::remove_file(&key).unwrap();
    let err = tls.reload().expect_err("a missing key").to_string();
    assert!(err.contains("cannot read"), "{err}");
    edge.stop().await;
}

#[tokio::test]
async fn a_changed_certificate_file_is_picked_up_by_the_watcher() {
    let ca = TestCa::new("edge test ca");
    let dir = tempfile::tempdir().unwrap();
    let (tls, files) = server_tls(&ca, dir.path());
    let edge = Edge::start(limits(), Some(tls.clone())).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let watcher = tokio::spawn(tls.clone().watch(Duration::from_millis(20), async {
        let _ = stopped.await;
    }));
    let renewed = ca.server(&["127.0.0.1"]);
    std::fs::write(&files.certificate, &renewed.cert_pem).unwrap();
    std::fs::write(&files.key, &renewed.key_pem).unwrap();
    // Poll handshakes until the renewed certificate is presented (the watcher looks every
    // 20 ms); only a hang trips the guard.
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let stream = tls_connect(edge.addr, ca.client_config(&[b"http/1.1"])).await;
            if presented(&stream) == renewed.der().to_vec() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the renewed certificate was never served");
    let _ = stop.send(());
    watcher.await.unwrap();
    edge.stop().await;
}

/// With the clock paused, time moves only when every task waits: the opening deadline
/// (200 ms) comes before the hang guard exactly when the listener has one.
#[tokio::test(start_paused = true)]
async fn a_client_that_never_finishes_the_handshake_is_cut_off() {
    let ca = TestCa::new("edge test ca");
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = server_tls(&ca, dir.path());
    let edge = Edge::start(
        EdgeLimits {
            header_read_timeout: Duration::from_millis(200),
            ..limits()
        },
        Some(tls),
    )
    .await;
    for opening in [&b""[..], b"\x16\x03\x01"] {
        let mut stream = TcpStream::connect(edge.addr).await.unwrap();
        stream.write_all(opening).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut out))
            .await
            .expect("the server never closed the connection")
            .ok();
        assert!(out.len() < 16, "{out:?}");
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_tls_connection_past_the_cap_is_closed_until_one_closes() {
    let ca = TestCa::new("edge test ca");
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = server_tls(&ca, dir.path());
    let edge = Edge::start(
        EdgeLimits {
            max_connections: 1,
            ..limits()
        },
        Some(tls),
    )
    .await;
    let held = tls_connect(edge.addr, ca.client_config(&[b"http/1.1"])).await;
    // Past the cap: closed before the handshake, no plain-text answer a TLS client cannot read.
    let connector = TlsConnector::from(Arc::new(ca.client_config(&[b"http/1.1"])));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tcp = TcpStream::connect(edge.addr).await.unwrap();
    let refused = tokio::time::timeout(HANG_GUARD, connector.connect(name.clone(), tcp))
        .await
        .unwrap();
    assert!(refused.is_err(), "a connection past the cap was served");
    drop(held);
    // The closed connection's place is given back as soon as the server sees the close.
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let tcp = TcpStream::connect(edge.addr).await.unwrap();
            if let Ok(stream) = connector.connect(name.clone(), tcp).await {
                let (status, _) = h1_get(stream, "/").await;
                assert_eq!(status, StatusCode::OK);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the place was never given back");
    edge.stop().await;
}
