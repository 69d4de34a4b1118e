//! The listener's own HTTP/1.1 loop, on the wire: simple requests served in order (pipelined
//! too), every request it does not serve itself handed to hyper on the same connection
//! (bodies, chunked framing, smuggling attempts, `100-continue`, WebSocket upgrades,
//! malformed and oversized heads), response framing (HEAD, 204, 304, chunked, HTTP/1.0),
//! `connection: close`, the header deadline and graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use gatehouse_gateway::server::ServiceConfig;

use super::support::{start, start_extended, start_full, test_config};

/// How long a read may wait before the test fails instead of hanging.
const STALL: Duration = Duration::from_secs(10);

/// Resources added to the test API for these tests.
const EXTRA: &str = r#"
      /nocontent:
        GET:
          integration: {type: mock, status: 204}
      /notmodified:
        GET:
          integration: {type: mock, status: 304}
      /slowok:
        GET:
          integration: {type: http_proxy, uri: "http://${stageVariables.backend}/slow"}
"#;

/// A response as read off the wire.
#[derive(Debug)]
struct Answer {
    version: u8,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A client connection driven by hand.
struct Wire {
    stream: TcpStream,
    read: Vec<u8>,
}

impl Wire {
    async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            read: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads more; false at the end of the stream.
    async fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(STALL, self.stream.read(&mut chunk))
            .await
            .expect("the server neither answered nor closed")
            .unwrap_or(0);
        self.read.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The next response (to a HEAD request when `head`); `None` when the server closed the
    /// connection before one began.
    async fn answer(&mut self, head: bool) -> Option<Answer> {
        let (length, version, status, headers) = loop {
            let mut fields = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut fields);
            if let httparse::Status::Complete(length) = parsed.parse(&self.read).unwrap() {
                let headers = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect::<Vec<_>>();
                break (
                    length,
                    parsed.version.unwrap(),
                    parsed.code.unwrap(),
                    headers,
                );
            }
            if !self.fill().await {
                assert!(self.read.is_empty(), "cut off: {:?}", self.read);
                return None;
            }
        };
        self.read.drain(..length);
        let mut answer = Answer {
            version,
            status,
            headers,
            body: Vec::new(),
        };
        if head || status < 200 || status == 204 || status == 304 {
            return Some(answer);
        }
        if answer.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = loop {
                    if let Some(end) = self.read.windows(2).position(|w| w == b"\r\n") {
                        let line = String::from_utf8(self.read[..end].to_vec()).unwrap();
                        self.read.drain(..end + 2);
                        break usize::from_str_radix(line.trim(), 16).unwrap();
                    }
                    assert!(self.fill().await, "chunked body cut off");
                };
                while self.read.len() < size + 2 {
                    assert!(self.fill().await, "chunk cut off");
                }
                answer.body.extend_from_slice(&self.read[..size]);
                assert_eq!(&self.read[size..size + 2], b"\r\n");
                self.read.drain(..size + 2);
                if size == 0 {
                    return Some(answer);
                }
            }
        }
        match answer.header("content-length") {
            Some(length) => {
                let length: usize = length.parse().unwrap();
                while self.read.len() < length {
                    assert!(self.fill().await, "body cut off");
                }
                answer.body = self.read.drain(..length).collect();
            }
            None => {
                while self.fill().await {}
                answer.body = std::mem::take(&mut self.read);
            }
        }
        Some(answer)
    }

    /// Whether the server closes the connection with nothing more to say.
    async fn closes(&mut self) -> bool {
        while self.fill().await {}
        self.read.is_empty()
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_simple_requests_are_answered_in_order() {
    let gw = start().await;
    let mut wire = Wire::connect(gw.addr).await;
    let pipelined = [
        get("/prod/echo?n=1"),
        get("/prod/mock"),
        get("/prod/echo?n=3"),
    ]
    .concat();
    wire.send(pipelined.as_bytes()).await;
    let first = wire.answer(false).await.unwrap();
    assert_eq!((first.version, first.status), (1, 200));
    assert_eq!(first.json()["query"], "n=1");
    let length: usize = first.header("content-length").unwrap().parse().unwrap();
    assert_eq!(length, first.body.len());
    let date = first.header("date").unwrap();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert_eq!(
        first.header("connection"),
        None,
        "kept alive without saying so"
    );
    let mock = wire.answer(false).await.unwrap();
    assert_eq!(mock.status, 201);
    assert_eq!(mock.header("x-mock"), Some("yes"));
    assert_eq!(mock.body, br#"{"mock": true}"#);
    assert_eq!(mock.header("content-length"), Some("14"));
    let third = wire.answer(false).await.unwrap();
    assert_eq!(third.json()["query"], "n=3");
    // `Content-Length: 0` is a simple request too; the connection is still open.
    wire.send(b"DELETE /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await;
    let fourth = wire.answer(false).await.unwrap();
    assert_eq!(fourth.json()["method"], "DELETE");
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 3);
}

/// A request's header map is emptied and reused for a later response head on the same
/// thread: no field of any request, on this connection or before it, is ever part of a
/// response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_field_comes_back_in_a_later_response() {
    let gw = start().await;
    let mut wire = Wire::connect(gw.addr).await;
    for n in 0..6 {
        let request =
            format!("GET /prod/echo?n={n} HTTP/1.1\r\nHost: x\r\nX-Client-Secret: s{n}\r\n\r\n");
        wire.send(request.as_bytes()).await;
        let answer = wire.answer(false).await.unwrap();
        assert_eq!(answer.status, 200, "{n}");
        assert_eq!(
            answer.json()["headers"]["x-client-secret"],
            format!("s{n}"),
            "the backend got it"
        );
        for name in [
            "x-client-secret",
            "host",
            "x-forwarded-for",
            "x-forwarded-host",
        ] {
            assert_eq!(
                answer.header(name),
                None,
                "request {n}: {name} in the response"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_bodies_go_to_hyper_on_the_same_connection() {
    let gw = start().await;
    // The rule, the request behind a simple one, the body length the backend gets.
    let cases: &[(&str, &str, u64)] = &[
        (
            "a body with a length",
            "POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            5,
        ),
        (
            "a chunked body",
            "POST /prod/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            5,
        ),
    ];
    for (rule, request, length) in cases {
        let mut wire = Wire::connect(gw.addr).await;
        // One simple request alone, then the rest pipelined behind another simple one.
        wire.send(get("/prod/echo?first=1").as_bytes()).await;
        assert_eq!(wire.answer(false).await.unwrap().status, 200, "{rule}");
        let pipelined = [
            get("/prod/echo?before=1"),
            (*request).to_owned(),
            "GET /prod/echo?after=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_owned(),
        ]
        .concat();
        wire.send(pipelined.as_bytes()).await;
        let before = wire.answer(false).await.unwrap();
        assert_eq!(before.json()["query"], "before=1", "{rule}");
        let with_body = wire.answer(false).await.unwrap();
        assert_eq!(with_body.status, 200, "{rule}");
        assert_eq!(with_body.json()["body_len"], *length, "{rule}");
        let after = wire.answer(false).await.unwrap();
        assert_eq!(after.json()["query"], "after=1", "{rule}");
        assert_eq!(after.header("connection"), Some("close"), "{rule}");
        assert!(wire.closes().await, "{rule}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smuggling_attempt_behind_a_simple_request_is_refused() {
    let gw = start().await;
    let smuggled = "GET /prod/echo?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    // The rule, the attempt, the status hyper answers it with (`None`: served, then the
    // connection closes).
    let cases: &[(&str, String, Option<u16>)] = &[
        (
            "CL.TE: Transfer-Encoding wins and the connection closes",
            format!(
                "POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            None,
        ),
        (
            "two different lengths",
            format!(
                "POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n{smuggled}"
            ),
            Some(400),
        ),
        (
            "two equal lengths of zero",
            "POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"
                .to_owned(),
            Some(200),
        ),
        (
            "a length list",
            format!(
                "POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 44\r\n\r\n{smuggled}"
            ),
            Some(400),
        ),
        (
            "an unknown transfer coding",
            format!(
                "POST /prod/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            Some(400),
        ),
    ];
    for (rule, attempt, status) in cases {
        let mut wire = Wire::connect(gw.addr).await;
        wire.send(
            [get("/prod/echo?first=1"), attempt.clone()]
                .concat()
                .as_bytes(),
        )
        .await;
        assert_eq!(wire.answer(false).await.unwrap().status, 200, "{rule}");
        match status {
            None => {
                let answer = wire.answer(false).await.unwrap();
                assert_eq!(answer.json()["body_len"], 0, "{rule}");
                assert!(
                    wire.closes().await,
                    "{rule}: the smuggled request was answered"
                );
            }
            Some(200) => {
                assert_eq!(wire.answer(false).await.unwrap().status, 200, "{rule}");
            }
            Some(status) => {
                let answer = wire.answer(false).await.unwrap();
                assert_eq!(answer.status, *status, "{rule}");
                assert!(wire.closes().await, "{rule}");
            }
        }
    }
    let paths = gw.backend.seen.paths.lock().unwrap().clone();
    let queries = gw.backend.seen.requests.load(Ordering::SeqCst);
    assert_eq!(queries, 7, "{paths:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_after_a_simple_request_gets_its_interim_answer() {
    let gw = start().await;
    let mut wire = Wire::connect(gw.addr).await;
    wire.send(get("/prod/echo").as_bytes()).await;
    assert_eq!(wire.answer(false).await.unwrap().status, 200);
    wire.send(
        b"POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await;
    let interim = wire.answer(false).await.unwrap();
    assert_eq!(interim.status, 100);
    wire.send(b"hello").await;
    let answer = wire.answer(false).await.unwrap();
    assert_eq!(answer.json()["body_len"], 5);
    assert_eq!(answer.json()["body"], "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_upgrade_after_simple_requests_is_spliced() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let gw = start().await;
    let mut wire = Wire::connect(gw.addr).await;
    wire.send(
        [get("/prod/echo?n=1"), get("/prod/echo?n=2")]
            .concat()
            .as_bytes(),
    )
    .await;
    assert_eq!(wire.answer(false).await.unwrap().json()["query"], "n=1");
    assert_eq!(wire.answer(false).await.unwrap().json()["query"], "n=2");
    assert!(wire.read.is_empty());
    let url = format!("ws://{}/prod/ws", gw.addr);
    let (mut ws, response) = tokio_tungstenite::client_async(url, wire.stream)
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::Text("upgraded".into())).await.unwrap();
    let reply = tokio::time::timeout(STALL, ws.next()).await.unwrap();
    assert_eq!(reply.unwrap().unwrap(), Message::Text("UPGRADED".into()));
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_heads_behind_a_simple_request_get_hypers_answers() {
    let gw = start().await;
    let many: String = (0..101).map(|i| format!("X-F{i}: v\r\n")).collect();
    let cases: &[(&str, String, u16)] = &[
        (
            "a head past the size limit",
            format!(
                "GET /prod/echo HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "x".repeat(100 * 1024)
            ),
            431,
        ),
        (
            "more header fields than the limit",
            format!("GET /prod/echo HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
            431,
        ),
        (
            "a field without a colon",
            "GET /prod/echo HTTP/1.1\r\nHost x\r\n\r\n".to_owned(),
            400,
        ),
        (
            "a method that is not a token",
            "G(T /prod/echo HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            400,
        ),
        (
            "a target with a control character",
            "GET /prod/e\x01cho HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            400,
        ),
        (
            "an unknown version",
            "GET /prod/echo HTTP/1.2\r\nHost: x\r\n\r\n".to_owned(),
            400,
        ),
    ];
    for (rule, request, status) in cases {
        let mut wire = Wire::connect(gw.addr).await;
        wire.send([get("/prod/echo"), request.clone()].concat().as_bytes())
            .await;
        assert_eq!(wire.answer(false).await.unwrap().status, 200, "{rule}");
        let answer = wire.answer(false).await.unwrap();
        assert_eq!(answer.status, *status, "{rule}");
        assert!(wire.closes().await, "{rule}");
    }
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_deadline_closes_idle_and_unfinished_connections() {
    // `test_config`: 500 ms to send a head.
    let gw = start().await;
    let mut idle = Wire::connect(gw.addr).await;
    idle.send(get("/prod/echo").as_bytes()).await;
    assert_eq!(idle.answer(false).await.unwrap().status, 200);
    let mut unfinished = Wire::connect(gw.addr).await;
    unfinished.send(get("/prod/echo").as_bytes()).await;
    assert_eq!(unfinished.answer(false).await.unwrap().status, 200);
    unfinished
        .send(b"GET /prod/echo HTTP/1.1\r\nHost: x\r\n")
        .await;
    assert!(idle.closes().await, "an idle connection got an answer");
    assert!(unfinished.closes().await, "half a head got an answer");
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_204_and_304_answers_carry_no_body() {
    let gw = start_extended(EXTRA).await;
    let mut wire = Wire::connect(gw.addr).await;
    let pipelined = [
        "HEAD /prod/echo HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        get("/prod/nocontent"),
        get("/prod/notmodified"),
        get("/prod/mock"),
    ]
    .concat();
    wire.send(pipelined.as_bytes()).await;
    let head = wire.answer(true).await.unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), None);
    let no_content = wire.answer(false).await.unwrap();
    assert_eq!(no_content.status, 204);
    assert_eq!(no_content.header("content-length"), None);
    assert_eq!(no_content.header("transfer-encoding"), None);
    let not_modified = wire.answer(false).await.unwrap();
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("content-length"), None);
    // Had any of them carried body bytes, this answer would not parse.
    let mock = wire.answer(false).await.unwrap();
    assert_eq!(mock.status, 201);
    assert_eq!(mock.body, br#"{"mock": true}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_unknown_length_is_chunked_and_the_connection_kept() {
    let gw = start().await;
    let mut wire = Wire::connect(gw.addr).await;
    wire.send([get("/prod/stream"), get("/prod/mock")].concat().as_bytes())
        .await;
    let stream = wire.answer(false).await.unwrap();
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("transfer-encoding"), Some("chunked"));
    assert_eq!(stream.header("content-length"), None);
    assert_eq!(stream.body.len(), 49 * 64 * 1024);
    assert!(stream.body[..64 * 1024].iter().all(|b| *b == b'a'));
    assert!(stream.body[64 * 1024..].iter().all(|b| *b == b'b'));
    assert_eq!(wire.answer(false).await.unwrap().status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_0_clients_get_http_1_0_answers() {
    let gw = start().await;
    // Without keep-alive: answered, then closed.
    let mut wire = Wire::connect(gw.addr).await;
    wire.send(b"GET /prod/mock HTTP/1.0\r\nHost: x\r\n\r\n")
        .await;
    let answer = wire.answer(false).await.unwrap();
    assert_eq!((answer.version, answer.status), (0, 201));
    assert_eq!(answer.header("content-length"), Some("14"));
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(wire.closes().await);
    // With keep-alive: kept, until a body of unknown length, which runs to the close.
    let mut wire = Wire::connect(gw.addr).await;
    let keep =
        |path: &str| format!("GET {path} HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    wire.send(
        [keep("/prod/mock"), keep("/prod/stream")]
            .concat()
            .as_bytes(),
    )
    .await;
    let mock = wire.answer(false).await.unwrap();
    assert_eq!((mock.version, mock.status), (0, 201));
    assert_eq!(mock.header("connection"), Some("keep-alive"));
    let stream = wire.answer(false).await.unwrap();
    assert_eq!((stream.version, stream.status), (0, 200));
    assert_eq!(stream.header("transfer-encoding"), None);
    assert_eq!(stream.header("connection"), Some("close"));
    assert_eq!(stream.body.len(), 49 * 64 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_asking_to_close_gets_connection_close() {
    let gw = start().await;
    for close in ["close", "Close", "keep-alive, close"] {
        let mut wire = Wire::connect(gw.addr).await;
        wire.send(
            format!(
                "GET /prod/echo HTTP/1.1\r\nHost: x\r\nConnection: {close}\r\n\r\n{}",
                get("/prod/echo?never=1")
            )
            .as_bytes(),
        )
        .await;
        let answer = wire.answer(false).await.unwrap();
        assert_eq!(answer.status, 200, "{close}");
        assert_eq!(answer.header("connection"), Some("close"), "{close}");
        assert!(wire.closes().await, "{close}: answered past the close");
    }
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_finishes_requests_in_flight() {
    // A long header deadline, so only the shutdown can close the idle connection.
    let config = ServiceConfig {
        header_read_timeout: Duration::from_secs(60),
        ..test_config()
    };
    let mut gw = start_full(config, None, EXTRA).await;
    let mut idle = Wire::connect(gw.addr).await;
    idle.send(get("/prod/echo").as_bytes()).await;
    assert_eq!(idle.answer(false).await.unwrap().status, 200);
    let mut busy = Wire::connect(gw.addr).await;
    busy.send(get("/prod/slowok").as_bytes()).await;
    // Once the backend has the request (it answers 500 ms later), shut down.
    for _ in 0..500 {
        if gw
            .backend
            .seen
            .paths
            .lock()
            .unwrap()
            .iter()
            .any(|p| p == "/slow")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.shut_down();
    assert!(idle.closes().await, "the idle connection got an answer");
    let answer = busy.answer(false).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(busy.closes().await);
}

/// An embedder may set a header deadline longer than the clock can add (`Duration::MAX` for
/// "never"): it is served as a very long one, on the listener's own loop and on hyper's,
/// never a panic that drops the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_deadline_past_what_the_clock_holds_serves_requests() {
    let config = ServiceConfig {
        header_read_timeout: Duration::MAX,
        ..test_config()
    };
    let gw = start_full(config, None, "").await;
    let mut wire = Wire::connect(gw.addr).await;
    wire.send(get("/prod/echo?simple=1").as_bytes()).await;
    assert_eq!(wire.answer(false).await.unwrap().status, 200);
    wire.send(b"POST /prod/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await;
    let with_body = wire.answer(false).await.unwrap();
    assert_eq!(with_body.json()["body_len"], 5);
    wire.send(get("/prod/echo?again=1").as_bytes()).await;
    assert_eq!(wire.answer(false).await.unwrap().json()["query"], "again=1");
}
