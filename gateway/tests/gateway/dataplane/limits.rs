//! Limits a hostile client meets: header size (431), body size (413, announced or streamed),
//! slowloris (header read deadline), request smuggling attempts (RFC 9112 framing), and the
//! connection cap, which upgraded (WebSocket) connections count against too.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::support::{raw, start, start_with, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431() {
    let gw = start().await;
    let big = "x".repeat(100 * 1024);
    let request = format!("GET /prod/echo HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let answer = raw(gw.addr, request.as_bytes(), Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413() {
    let gw = start().await;
    // Announced: refused before anything is read or sent on.
    let request = "POST /prod/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n";
    let answer = raw(gw.addr, request.as_bytes(), Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.ends_with(r#"{"message":"Request Too Long"}"#),
        "{answer}"
    );
    // Streamed (chunked, no length): cut off at the limit.
    let mut request =
        b"POST /prod/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    let chunk = vec![b'z'; 64 * 1024];
    for _ in 0..32 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(gw.addr, &request, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_are_cut_off() {
    let gw = start().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"GET /prod/echo HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Trickle a header byte now and then, never finishing the head.
    let mut closed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if stream.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    assert!(closed, "the connection stays open past the header deadline");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_attempts_are_refused() {
    let gw = start().await;
    let smuggled = "GET /prod/echo?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    let attempts = [
        // Two different lengths.
        format!(
            "POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n{smuggled}"
        ),
        // A length list.
        format!("POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 44\r\n\r\n{smuggled}"),
        // An obfuscated or unknown transfer coding.
        format!(
            "POST /prod/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        format!(
            "POST /prod/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        // Whitespace before the colon.
        format!(
            "POST /prod/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        // A signed length.
        format!("POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd{smuggled}"),
    ];
    for attempt in &attempts {
        let answer = raw(gw.addr, attempt.as_bytes(), Duration::from_secs(3)).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{attempt:?} → {answer}");
        assert_eq!(
            answer.matches("HTTP/1.1").count(),
            1,
            "one response, then the connection is closed: {answer}"
        );
    }
    assert_eq!(
        gw.backend.seen.requests.load(Ordering::SeqCst),
        0,
        "nothing reached the backend: {:?}",
        gw.backend.seen.paths.lock().unwrap()
    );
    // CL.TE, both framings: RFC 9112 §6.3 — Transfer-Encoding wins, Content-Length is
    // dropped, and the connection is closed after the response, so the bytes behind the
    // chunked body are never read as a request. The backend sees one empty POST, never the
    // smuggled GET.
    let clte = format!(
        "POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
    );
    let answer = raw(gw.addr, clte.as_bytes(), Duration::from_secs(3)).await;
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains(r#""body_len":0"#), "{answer}");
    assert_eq!(*gw.backend.seen.paths.lock().unwrap(), ["/echo"]);
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 1);
    // A well-formed chunked request with a pipelined follower is two clean requests.
    let ok = "POST /prod/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /prod/echo?second=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw(gw.addr, ok.as_bytes(), Duration::from_secs(3)).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_connection_keeps_its_place_under_the_cap() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let gw = start_with(gatehouse_gateway::server::ServiceConfig {
        max_connections: 1,
        ..test_config()
    })
    .await;
    let url = format!("ws://{}/prod/ws", gw.addr);
    let (mut ws, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::Text("up".into())).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply, Message::Text("UP".into()));
    // The spliced WebSocket is still open: a second connection is over the cap.
    let request = b"GET /prod/mock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw(gw.addr, request, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    // Once it closes, its place is given back.
    ws.close(None).await.unwrap();
    drop(ws);
    let mut freed = false;
    for _ in 0..200 {
        let answer = raw(gw.addr, request, Duration::from_secs(3)).await;
        if answer.starts_with("HTTP/1.1 201") {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(freed, "the WebSocket's place was never given back");
}

/// A body the gateway must read itself (to validate it against the method's model) is
/// given a deadline, like the request head: a client that announces a body and trickles it
/// does not keep its connection and its place under the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validated_body_that_does_not_arrive_is_refused() {
    let gw = start_with(gatehouse_gateway::server::ServiceConfig {
        body_read_timeout: Duration::from_millis(200),
        ..test_config()
    })
    .await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"POST /prod/orders?region=eu HTTP/1.1\r\nHost: x\r\nx-tenant: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sku\"")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.ends_with(r#"{"message":"Invalid request body"}"#),
        "{answer}"
    );
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 0);
}
