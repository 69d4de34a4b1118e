//! Bodiless requests to plain backends, written and read by the request's own task: every
//! way an HTTP/1.1 response can be framed reaches the client intact, a connection is reused
//! only when its response was read to the end and the backend keeps it open, and a broken
//! response is an integration failure (504) rather than a hang or a panic. The backend here is a script on a raw
//! socket, so each answer is exactly the bytes written.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::support::{backend, start_defined, test_config};

/// What the scripted backend writes for a request path, in pieces (each written and flushed
/// on its own, so the gateway meets partial heads and bodies); `close` ends the connection
/// after the answer.
fn script(method: &str, path: &str) -> (Vec<&'static [u8]>, bool) {
    match (method, path) {
        (_, "/chunked") => (
            vec![
                b"HTTP/1.1 200 OK\r\ntransfer-",
                b"encoding: chunked\r\ncontent-type: text/plain\r\n\r\n5;x=1\r\nhel",
                b"lo\r\n6\r\n world\r\n",
                b"0\r\nx-trailer: t\r\n\r\n",
            ],
            false,
        ),
        (_, "/close") => (
            vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nclose"],
            true,
        ),
        (_, "/until-eof") => (vec![b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"the end"], true),
        (_, "/empty") => (vec![b"HTTP/1.1 204 No Content\r\nx-kind: none\r\n\r\n"], false),
        ("HEAD", "/head") => (
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\ncontent-type: text/plain\r\n\r\n"],
            false,
        ),
        (_, "/continue") => (
            vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"],
            false,
        ),
        (_, "/coded") => (
            vec![
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 5\r\n\r\n",
                b"helloHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil",
            ],
            true,
        ),
        (_, "/coded-chunked") => (
            vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
            false,
        ),
        (_, "/chunked-and-length") => (
            vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
            false,
        ),
        (_, "/chunked-comma") => (
            vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked,\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
            false,
        ),
        (_, "/http10-chunked") => (
            vec![b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
            false,
        ),
        (_, "/empty-coded") => (
            vec![b"HTTP/1.1 204 No Content\r\ntransfer-encoding: gzip\r\n\r\n"],
            false,
        ),
        (_, "/garbage") => (vec![b"SPDY/9 what\r\n\r\n"], true),
        (_, "/two-lengths") => (
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok"],
            true,
        ),
        (_, "/own-id") => (
            vec![b"HTTP/1.1 200 OK\r\nx-amzn-requestid: the-backends\r\nx-amzn-RequestId: another\r\ncontent-length: 2\r\n\r\nok"],
            false,
        ),
        (_, "/multi") => (
            vec![b"HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 0\r\n\r\n"],
            false,
        ),
        _ => (
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n", b"\r\n", b"he", b"llo"],
            false,
        ),
    }
}

/// The scripted backend; counts accepted connections and, at `/big`, answers 100 000 bytes
/// written in ten pieces.
async fn scripted_backend() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_script(stream));
        }
    });
    (addr, accepted)
}

async fn serve_script(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut buffer).await {
                Ok(n) if n > 0 => head.extend_from_slice(&buffer[..n]),
                _ => return,
            }
            continue;
        };
        let request = String::from_utf8_lossy(&head[..end]).into_owned();
        head.drain(..end + 4);
        let mut words = request.split(' ');
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        if path == "/big" {
            let body = vec![b'x'; 10_000];
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n";
            if stream.write_all(answer).await.is_err() {
                return;
            }
            for _ in 0..10 {
                if stream.write_all(&body).await.is_err() {
                    return;
                }
                stream.flush().await.unwrap_or_default();
            }
            continue;
        }
        if path == "/request-head" {
            // The request's head as the body, once the request's own body is read (framed by
            // `content-length`, as the gateway sends a body of known size; no test here
            // sends a chunked one).
            let length: usize = request
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse().ok())
                .unwrap_or(0);
            while head.len() < length {
                match stream.read(&mut buffer).await {
                    Ok(n) if n > 0 => head.extend_from_slice(&buffer[..n]),
                    _ => return,
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{request}",
                request.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            return;
        }
        if path == "/hang" {
            // Never answers; the connection stays open until the gateway gives up on it.
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            return;
        }
        let (pieces, close) = script(method, path);
        for piece in pieces {
            if stream.write_all(piece).await.is_err() {
                return;
            }
            stream.flush().await.unwrap_or_default();
            tokio::task::yield_now().await;
        }
        if close {
            return;
        }
    }
}

const DEFINITION: &str = r#"
version: 1
apis:
  raw:
    resources:
      /{proxy+}:
        ANY:
          integration: {type: http_proxy, uri: "http://BACKEND/{proxy}"}
      /hang:
        GET:
          integration: {type: http_proxy, uri: "http://BACKEND/hang", timeout_ms: 300}
      /mapped:
        ANY:
          integration:
            type: http_proxy
            uri: "http://BACKEND/request-head"
            request_parameters: {header.x-mapped: "'yes'"}
stages:
  raw:
    prod: {}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framing_reaches_the_client_and_connections_are_reused_only_when_clean() {
    let (addr, accepted) = scripted_backend().await;
    let text = DEFINITION.replace("BACKEND", &addr.to_string());
    let gw = start_defined(test_config(), backend().await, &text).await;
    let connections = || accepted.load(Ordering::SeqCst);

    // A head and a body that arrive in pieces; the connection is kept.
    let plain = gw.get("/prod/plain").await;
    assert_eq!(
        (plain.status, plain.body.as_ref()),
        (200, b"hello".as_slice())
    );
    // Chunked, decoded (extensions and trailers dropped) and framed again for the client.
    let chunked = gw.get("/prod/chunked").await;
    assert_eq!(
        (chunked.status, chunked.body.as_ref()),
        (200, b"hello world".as_slice())
    );
    assert_eq!(chunked.header("content-type"), Some("text/plain"));
    // A body longer than a read, streamed.
    let big = gw.get("/prod/big").await;
    assert_eq!((big.status, big.body.len()), (200, 100_000));
    // No body: 204, and HEAD with a length.
    let empty = gw.get("/prod/empty").await;
    assert_eq!((empty.status, empty.body.len()), (204, 0));
    assert_eq!(empty.header("x-kind"), Some("none"));
    let head = gw.request("HEAD", "/prod/head", &[], Bytes::new()).await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some("12"));
    // An unasked 100 Continue is skipped.
    let continued = gw.get("/prod/continue").await;
    assert_eq!(
        (continued.status, continued.body.as_ref()),
        (201, b"ok".as_slice())
    );
    // Repeated fields stay apart.
    let multi = gw.get("/prod/multi").await;
    let cookies: Vec<&str> = multi
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(
        connections(),
        1,
        "every answer above left the connection reusable"
    );

    // `Connection: close`, and a body delimited by the end of the connection: answered, and
    // the connection is not lent again.
    let close = gw.get("/prod/close").await;
    assert_eq!(
        (close.status, close.body.as_ref()),
        (200, b"close".as_slice())
    );
    assert_eq!(gw.get("/prod/plain").await.status, 200);
    assert_eq!(connections(), 2);
    let eof = gw.get("/prod/until-eof").await;
    assert_eq!(
        (eof.status, eof.body.as_ref()),
        (200, b"until the end".as_slice())
    );
    assert_eq!(gw.get("/prod/plain").await.status, 200);
    assert_eq!(connections(), 3);

    // Broken answers are an integration failure (504, as API Gateway answers), never passed
    // on: among them a transfer coding other than chunked (the client would get a body still
    // coded, and `/coded` hides a second response after its length) and a body framed both
    // by chunks and by a length. Bodiless requests meet the gateway's own reader, requests
    // with a body hyper's: both refuse the same answers.
    for path in [
        "/prod/garbage",
        "/prod/two-lengths",
        "/prod/coded",
        "/prod/coded-chunked",
        "/prod/chunked-and-length",
        "/prod/chunked-comma",
        "/prod/http10-chunked",
        "/prod/empty-coded",
    ] {
        let broken = gw.get(path).await;
        assert_eq!(broken.status, 504, "{path}: {broken:?}");
        assert!(!broken.body.windows(4).any(|w| w == b"evil"), "{path}");
        let posted = gw
            .request("POST", path, &[], Bytes::from_static(b"{}"))
            .await;
        assert_eq!(posted.status, 504, "POST {path}: {posted:?}");
    }
    assert_eq!(gw.get("/prod/plain").await.status, 200);
    // A refused answer's connection is not lent again, though its backend would keep it
    // open: the request after it opens a new one.
    for path in [
        "/prod/coded-chunked",
        "/prod/chunked-and-length",
        "/prod/chunked-comma",
        "/prod/http10-chunked",
        "/prod/empty-coded",
    ] {
        assert_eq!(gw.get("/prod/plain").await.status, 200);
        let before = connections();
        assert_eq!(gw.get(path).await.status, 504, "{path}");
        assert_eq!(gw.get("/prod/plain").await.status, 200);
        assert_eq!(connections(), before + 1, "{path}");
    }
}

/// The integration timeout is a deadline kept with the pooled connection and moved for each
/// request: a connection that served requests before still times out the one its backend
/// never answers, and the next request gets a connection of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_still_times_out_a_request_left_unanswered() {
    let (addr, accepted) = scripted_backend().await;
    let text = DEFINITION.replace("BACKEND", &addr.to_string());
    let gw = start_defined(test_config(), backend().await, &text).await;
    for _ in 0..3 {
        assert_eq!(gw.get("/prod/plain").await.status, 200);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one pooled connection");
    let hung = gw.get("/prod/hang").await;
    assert_eq!(hung.status, 504, "{hung:?}");
    assert_eq!(
        hung.json(),
        serde_json::json!({"message": "Endpoint request timed out"})
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the pooled connection was used"
    );
    // The timed-out connection is not lent again.
    assert_eq!(gw.get("/prod/plain").await.status, 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// The backend gets its own authority as `Host`, the client's as `X-Forwarded-Host` and the
/// connection's scheme as `X-Forwarded-Proto`, each exactly once and never the client's own
/// forwarding fields: whether the request's own task writes the head (a bodiless request,
/// the fields written straight into the head), hyper does (a request with a body, the fields
/// put in the map), or a header mapping runs after the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_gets_each_forwarding_field_once() {
    let (addr, _) = scripted_backend().await;
    let text = DEFINITION.replace("BACKEND", &addr.to_string());
    let gw = start_defined(test_config(), backend().await, &text).await;
    let forged = [
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "10.9.9.9"),
    ];
    for (method, path, body, mapped) in [
        ("GET", "/prod/request-head", "", false),
        ("POST", "/prod/request-head", "a body", false),
        ("GET", "/prod/mapped", "", true),
        ("POST", "/prod/mapped", "a body", true),
    ] {
        let answer = gw.request(method, path, &forged, body).await;
        assert_eq!(answer.status, 200, "{method} {path}");
        let head = String::from_utf8_lossy(&answer.body).to_lowercase();
        let values = |name: &str| -> Vec<&str> {
            head.split("\r\n")
                .filter_map(|line| line.split_once(':'))
                .filter(|(field, _)| *field == name)
                .map(|(_, value)| value.trim())
                .collect()
        };
        let case = format!("{method} {path}: {head}");
        assert_eq!(values("host"), [addr.to_string()], "{case}");
        assert_eq!(values("x-forwarded-host"), [gw.addr.to_string()], "{case}");
        assert_eq!(values("x-forwarded-proto"), ["http"], "{case}");
        assert_eq!(values("x-forwarded-for"), ["127.0.0.1"], "{case}");
        assert_eq!(
            values("x-mapped"),
            if mapped { vec!["yes"] } else { vec![] },
            "{case}"
        );
        assert!(!head.contains("evil.example"), "{case}");
    }
    // An HTTP/1.0 request without a `Host`: the backend gets its own, and no
    // `X-Forwarded-Host` at all.
    let mut wire = TcpStream::connect(gw.addr).await.unwrap();
    let request = b"GET /prod/request-head HTTP/1.0\r\nx-forwarded-host: evil.example\r\n\r\n";
    wire.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), wire.read_to_end(&mut answer));
    read.await.expect("the answer ends").unwrap();
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    let (_, head) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(&format!("\r\nhost: {addr}\r\n")), "{answer}");
    assert!(!head.contains("x-forwarded-host"), "{answer}");
    let proto = head
        .split("\r\n")
        .filter(|line| *line == "x-forwarded-proto: http");
    assert_eq!(proto.count(), 1, "{answer}");
}

/// A response carries one `x-amzn-RequestId`, the gateway's, in place of any the backend
/// sent: from the listener's own loop (which writes the id into the head) and from hyper's
/// (a request with a body, the id put in the map).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_the_gateways_alone() {
    let (addr, _) = scripted_backend().await;
    let text = DEFINITION.replace("BACKEND", &addr.to_string());
    let gw = start_defined(test_config(), backend().await, &text).await;
    for (method, body) in [("GET", ""), ("POST", "a body")] {
        let answer = gw.request(method, "/prod/own-id", &[], body).await;
        assert_eq!(answer.status, 200, "{method}");
        let ids: Vec<_> = answer.headers.get_all("x-amzn-requestid").iter().collect();
        assert_eq!(ids.len(), 1, "{method}: {ids:?}");
        let id = ids[0].to_str().unwrap();
        assert!(
            id.len() == 36 && id.bytes().filter(|b| *b == b'-').count() == 4,
            "{method}: {id}"
        );
    }
}
