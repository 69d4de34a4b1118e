//! The listeners of `gatehouse serve` at the edge: the identity listener meets the gateway's
//! limits (request head size and field count, body size, connection cap), and metrics live on
//! their own loopback listener, never on a public one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{Options, TestServer, http};

/// Writes `request` and reads until the server closes (or the hang guard trips).
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // The server may answer and close before it has read everything we send.
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn metrics_have_their_own_listener_and_never_the_identity_one() {
    let server = TestServer::spawn();
    let metrics = server.metrics_addr.expect("a metrics listener");
    assert_ne!(metrics, server.addr);
    // A gateway request, so the series have a sample.
    let _ = http(server.gateway_addr, "GET", "/prod/", &[], b"");
    let response = http(metrics, "GET", "/metrics", &[], b"");
    assert_eq!(response.status, 200, "{response:?}");
    let text = String::from_utf8_lossy(&response.body);
    assert!(text.contains("gatehouse_gateway_requests_total"), "{text}");
    let public = server.get("/metrics");
    assert_eq!(
        public.status, 404,
        "the identity listener does not serve metrics"
    );
    assert_eq!(
        http(server.gateway_addr, "GET", "/metrics", &[], b"").status,
        403
    );
}

#[test]
fn metrics_can_be_turned_off() {
    let server = TestServer::spawn_with(Options {
        args: vec!["--metrics-listen".into(), "none".into()],
        ..Options::default()
    });
    assert_eq!(server.metrics_addr, None, "no metrics line is printed");
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn the_identity_listener_refuses_oversized_heads_and_bodies() {
    let server = TestServer::spawn();
    // A head three times the 32 KiB limit.
    let big = "x".repeat(100 * 1024);
    let answer = exchange(
        server.addr,
        format!("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {big}\r\n\r\n")
            .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // More than 100 header fields.
    let fields: String = (0..150).map(|i| format!("X-F{i}: v\r\n")).collect();
    let answer = exchange(
        server.addr,
        format!("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{fields}\r\n").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A body announced past 1 MiB is refused before it is read, on every route.
    for path in ["/", "/apikeys", "/nowhere"] {
        let answer = exchange(
            server.addr,
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSCognitoIdentityProviderService.SignUp\r\nContent-Length: 5000000\r\n\r\n"
            )
            .as_bytes(),
        );
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(
            answer.contains("larger than 1048576 bytes"),
            "{path}: {answer}"
        );
    }
    // Streamed without a length: cut off at the same size, in the Cognito shape.
    let mut request = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSCognitoIdentityProviderService.SignUp\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(server.addr, &request);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("SerializationException"), "{answer}");
    assert!(answer.contains("larger than 1048576 bytes"), "{answer}");
    assert_eq!(server.get("/health").status, 200, "still serving");
}

#[test]
fn the_identity_listener_caps_open_connections() {
    let server = TestServer::spawn_with(Options {
        args: vec!["--max-connections".into(), "2".into()],
        ..Options::default()
    });
    // Two keep-alive connections, each proven accepted by a full exchange.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).expect("read");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let answer = exchange(
        server.addr,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(held.pop());
    // The place is given back once the server sees the close.
    let freed = (0..600).any(|_| {
        let answer = exchange(
            server.addr,
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let ok = answer.starts_with("HTTP/1.1 200");
        if !ok {
            std::thread::sleep(Duration::from_millis(50));
        }
        ok
    });
    assert!(freed, "a closed connection's place was never given back");
}
