//! The edge listener serving an axum router (what the binary runs on the identity and metrics
//! listeners): the same limits as the gateway's — request head size and field count (431),
//! the header deadline (slowloris), the connection cap (503) — and the peer address handed to
//! handlers. Every wait is for a condition (a response, an EOF), bounded only as a hang guard.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;
use gatehouse_gateway::server::{EdgeLimits, serve_router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Long enough never to be reached by a healthy test; only a hang trips it.
const HANG_GUARD: Duration = Duration::from_secs(30);

struct Edge {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Edge {
    async fn start(limits: EdgeLimits) -> Self {
        let router =
            axum::Router::new()
                .route("/", get(|| async { "ok" }))
                .route(
                    "/peer",
                    get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        peer.ip().to_string()
                    }),
                );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            serve_router(listener, &limits, None, router, "test", async {
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
            done.await.unwrap().unwrap();
        }
    }
}

/// Sends `bytes`, then reads until the server closes the connection.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_to_close(&mut stream).await
}

async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut out))
        .await
        .expect("the server never closed the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

fn limits() -> EdgeLimits {
    EdgeLimits {
        shutdown_grace: Duration::from_secs(5),
        ..EdgeLimits::default()
    }
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let edge = Edge::start(limits()).await;
    let answer = exchange(
        edge.addr,
        b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("127.0.0.1"), "{answer}");
    edge.stop().await;
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let edge = Edge::start(limits()).await;
    // hyper grows its read buffer in steps, so a head a little past the limit can arrive in
    // one read and pass; three times the limit cannot.
    let big = "x".repeat(100 * 1024);
    let request = format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {big}\r\n\r\n");
    let answer = exchange(edge.addr, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    edge.stop().await;
}

#[tokio::test]
async fn too_many_header_fields_get_431() {
    let edge = Edge::start(EdgeLimits {
        max_headers: 20,
        ..limits()
    })
    .await;
    let within: String = (0..15).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = exchange(
        edge.addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{within}\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let beyond: String = (0..25).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = exchange(
        edge.addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{beyond}\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    edge.stop().await;
}

/// Without a named limit hyper keeps its own, which is the default's: 100 fields pass, 101
/// get 431 (the listener names the limit to hyper only when it is not 100).
#[tokio::test]
async fn the_default_header_field_limit_is_100() {
    assert_eq!(limits().max_headers, 100);
    let edge = Edge::start(limits()).await;
    let fields = |n: usize| -> String { (0..n).map(|i| format!("X-H{i}: v\r\n")).collect() };
    // `Host` and `Connection` are two of the fields.
    let within = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{}\r\n",
        fields(98)
    );
    let answer = exchange(edge.addr, within.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let beyond = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{}\r\n",
        fields(99)
    );
    let answer = exchange(edge.addr, beyond.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    edge.stop().await;
}

/// With the clock paused, time moves only when every task waits, straight to the next timer:
/// the header deadline (200 ms) comes before the hang guard (30 s) exactly when the listener
/// has one, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn an_unfinished_request_head_is_cut_off() {
    let edge = Edge::start(EdgeLimits {
        header_read_timeout: Duration::from_millis(200),
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(edge.addr).await.unwrap();
    // Half a head, never finished: the server closes the connection without answering.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    edge.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_get_503_until_one_closes() {
    let edge = Edge::start(EdgeLimits {
        max_connections: 2,
        ..limits()
    })
    .await;
    // Two keep-alive connections, each proven accepted by a full exchange.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(edge.addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(HANG_GUARD, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let answer = exchange(
        edge.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "a third connection is refused: {answer}"
    );
    assert!(
        answer.ends_with(r#"{"message":"Too many connections"}"#),
        "{answer}"
    );
    // Closing one frees its place (as soon as the server sees the close).
    drop(held.pop());
    let mut freed = false;
    for _ in 0..600 {
        let answer = exchange(
            edge.addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        if answer.starts_with("HTTP/1.1 200") {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "the closed connection's place was never given back");
    drop(held);
    edge.stop().await;
}
