//! Bodies stream both ways (multi-MiB, never fully buffered), and WebSocket upgrades pass
//! through.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::{client, start, start_with, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_stream_to_the_backend() {
    let gw = start_with(gatehouse_gateway::server::ServiceConfig {
        max_body_bytes: 64 * 1024 * 1024,
        ..test_config()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"POST /prod/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let chunk = vec![b'q'; 256 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    stream.write_all(&framed).await.unwrap();
    // The backend must see the first chunk while the client is still holding the rest back.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..31 {
        stream.write_all(&framed).await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["len"], 32 * 256 * 1024, "8 MiB arrived");
    assert!(
        json["first_chunk_lead_ms"].as_u64().unwrap() >= 300,
        "the first chunk reached the backend before the client sent the rest: {json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_stream_to_the_client() {
    let gw = start().await;
    let started = Instant::now();
    let response = client()
        .get(gw.url("/prod/stream").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(first.data_ref().unwrap()[0] == b'a');
    assert!(
        first_at < Duration::from_millis(350),
        "the first chunk came before the backend's pause ended: {first_at:?}"
    );
    let mut total = first.data_ref().unwrap().len();
    while let Some(frame) = body.frame().await {
        total += frame.unwrap().data_ref().map_or(0, |d| d.len());
    }
    assert_eq!(total, 49 * 64 * 1024);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_pass_through() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let gw = start().await;
    let url = format!("ws://{}/prod/ws", gw.addr);
    let (mut ws, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), 101);
    assert!(response.headers().contains_key("x-amzn-requestid"));
    for word in ["hello", "gateway"] {
        ws.send(Message::Text(word.into())).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(reply, Message::Text(word.to_uppercase().into()));
    }
    ws.close(None).await.unwrap();
}
