//! The gateway listener's own HTTP/1.1 request loop: the connection's task reads a request
//! head into one buffer, parses it with `httparse`, calls [`ConnectionService::serve`] and
//! writes the response with its request id (into the head, rather than into the response's
//! header map) — no boxed future per request, no channel, no timer made and dropped per
//! request (one deadline per connection, moved for each head).
//!
//! It serves only the simple request: no `Transfer-Encoding`, no `Content-Length` but a single
//! `0`, no `Expect`, no `Upgrade` or `Connection: upgrade`, not `CONNECT`, a head within the
//! listener's limits that hyper would parse the same way. Anything else — a body, chunked
//! framing, a smuggling attempt, `100-continue`, a WebSocket upgrade, a malformed or oversized
//! head — hands the rest of the connection to hyper's HTTP/1.1 server, the bytes already read
//! replayed first ([`Rewind`]): the request gets hyper's proven handling, and its error
//! answers (400, 414, 431 and close) are hyper's own.
//!
//! The response is written as hyper writes it: the status line and header fields into one
//! reused buffer, a `date` field (cached per second and thread), `content-length` when the
//! body's size is known and `transfer-encoding: chunked` when not (`HTTP/1.0`: the body runs
//! to the close), no body for `HEAD`, 1xx, 204 and 304, and `connection: close` when the
//! connection ends after it (the client asked, `HTTP/1.0` without keep-alive, shutdown). A
//! body longer than the length its head announced is cut at that length (the rest would read
//! as the next response), as hyper cuts it. A body already whole when the head is written
//! (a buffered answer, a backend body that arrived with its head) goes out in the same write.

use std::cell::RefCell;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf as _, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::{Body as _, Frame};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::sync::watch;

use crate::server::body::{BodyError, GatewayBody};
use crate::server::pipeline::ConnectionService;
use crate::server::request_id::{REQUEST_ID_HEADER, RequestId};

/// How much is read at a time.
const READ_CHUNK: usize = 8 * 1024;

/// Header fields parsed with room on the stack; a head with more is parsed again with room
/// for the listener's limit on the heap.
const FEW_HEADERS: usize = 32;

/// The longest request target hyper accepts (its `MAX_URI_LEN`; past it 414).
const MAX_TARGET: usize = (u16::MAX - 1) as usize;

/// Response body bytes gathered before they are written.
const WRITE_BATCH: usize = 64 * 1024;

/// A body frame at least this long is written from its own buffer rather than copied.
const WRITE_DIRECT: usize = 16 * 1024;

/// The limits the loop applies to a request head, from the listener's `EdgeLimits`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Bytes a request head may take (hyper's `max_buf_size`: past it hyper answers 431).
    pub(crate) max_head: usize,
    /// Header fields in one request (past it hyper answers 431).
    pub(crate) max_headers: usize,
    /// Time a client gets to send a complete head, idle time on a kept-alive connection
    /// included.
    pub(crate) header_read_timeout: Duration,
}

/// What the connection does once a request head has been read.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once per request and taken apart at once: a box would be an allocation per request"
)]
enum Next {
    /// Serve this request here.
    Serve(Simple),
    /// Let hyper serve the connection from the start of the buffer.
    HandOver,
}

/// A simple request, parsed.
#[derive(Debug)]
struct Simple {
    request: Request<GatewayBody>,
    /// Whether the client keeps the connection open after the response.
    keep_alive: bool,
}

/// What a response is written with, fixed by its request.
#[derive(Debug, Clone, Copy)]
struct Exchange {
    head: bool,
    http10: bool,
    /// Whether the connection stays open after the response (before the response's own say).
    keep_alive: bool,
}

/// What the listener adds to a response's head: its request id (written as the one
/// `x-amzn-RequestId`, see [`ConnectionService::serve`]) and, unless the response has a
/// `date`, the time (read only then: a backend's response usually has one).
#[derive(Clone, Copy)]
struct Stamp<'a> {
    request_id: &'a RequestId,
    now: &'a (dyn Fn() -> SystemTime + Sync),
}

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body is sent.
    Nothing,
    /// Exactly this many bytes.
    Length(u64),
    Chunked,
    /// The body runs until the connection closes (`HTTP/1.0`, length unknown).
    UntilClose,
}

/// The size a response body announces (hyper's `BodyLength`, with "no body at all").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLength {
    /// The body is already at its end.
    None,
    Known(u64),
    Unknown,
}

/// A connection whose first bytes were already read, handed to hyper: `prefix` is read
/// again before the stream itself.
#[derive(Debug)]
pub(crate) struct Rewind<IO> {
    prefix: Bytes,
    io: IO,
}

/// One body step while writing a response.
enum Step {
    Frame(Option<Result<Frame<Bytes>, BodyError>>),
    /// The body has nothing ready: write what is gathered first.
    Flush,
}

/// The `date` value of the current second, per thread (what hyper does).
#[derive(Debug)]
struct CachedDate {
    text: [u8; 29],
    next_update: SystemTime,
}

thread_local! {
    static DATE: RefCell<CachedDate> = const {
        RefCell::new(CachedDate { text: [b' '; 29], next_update: UNIX_EPOCH })
    };
}

/// Serves an HTTP/1.1 connection whose first bytes (`prefix`) were already read, until the
/// client closes it, the header deadline passes without a head, a response ends it, or
/// `stopped` turns true (an idle connection closes at once; a request in flight finishes and
/// its response says `connection: close`). Hands the rest of the connection to hyper
/// (`hyper`, with upgrades) at the first request it does not serve itself.
pub(crate) async fn serve<IO>(
    mut io: IO,
    prefix: &[u8],
    service: ConnectionService,
    settings: &Settings,
    hyper: &hyper::server::conn::http1::Builder,
    stopped: watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut read = BytesMut::with_capacity(READ_CHUNK);
    read.extend_from_slice(prefix);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    // The response's header map, cleared, becomes the next request's.
    let mut spare: Option<HeaderMap> = None;
    let deadline = tokio::time::sleep(settings.header_read_timeout);
    tokio::pin!(deadline);
    let mut watcher = stopped.clone();
    let stop = async move { drop(watcher.wait_for(|stop| *stop).await) };
    tokio::pin!(stop);
    loop {
        deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + settings.header_read_timeout);
        let simple = loop {
            if !read.is_empty() {
                match parse(&mut read, settings, &mut spare) {
                    Ok(Some(Next::Serve(simple))) => break simple,
                    Ok(Some(Next::HandOver)) => {
                        return hand_over(io, read, service, hyper, stopped).await;
                    }
                    // hyper answers an unfinished head past the limit with 431.
                    Ok(None) if read.len() >= settings.max_head => {
                        return hand_over(io, read, service, hyper, stopped).await;
                    }
                    Ok(None) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            if read.capacity() - read.len() < 1024 {
                read.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                n = io.read_buf(&mut read) => {
                    if n? == 0 {
                        // Closed between requests: done; in the middle of a head: nothing to
                        // answer either (hyper closes the same way).
                        return Ok(());
                    }
                }
                () = &mut deadline => {
                    return Err(if read.is_empty() {
                        "idle past the header deadline".into()
                    } else {
                        "no request head within the header deadline".into()
                    });
                }
                // Shutdown: a connection waiting for a head has nothing in flight.
                () = &mut stop => return Ok(()),
            }
        };
        let Simple {
            request,
            keep_alive,
        } = simple;
        let exchange = Exchange {
            head: request.method() == Method::HEAD,
            http10: request.version() == Version::HTTP_10,
            keep_alive,
        };
        let (response, request_id) = service.serve(request).await;
        let exchange = Exchange {
            keep_alive: exchange.keep_alive && !*stopped.borrow(),
            ..exchange
        };
        let stamp = Stamp {
            request_id: &request_id,
            now: &|| service.now(),
        };
        let (keep_open, headers) = respond(&mut io, &mut out, response, exchange, stamp).await?;
        spare = Some(headers);
        if !keep_open {
            let _ = io.shutdown().await;
            return Ok(());
        }
    }
}

/// hyper's HTTP/1.1 server on the rest of the connection, `read` replayed first.
async fn hand_over<IO>(
    io: IO,
    read: BytesMut,
    service: ConnectionService,
    hyper: &hyper::server::conn::http1::Builder,
    stopped: watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = Rewind {
        prefix: read.freeze(),
        io,
    };
    crate::server::listener::serve_hyper_http1(io, hyper, service, stopped).await
}

// === parsing ===

/// The request head at the start of `read`: `None` while it is unfinished; a simple request
/// (its head consumed); or [`Next::HandOver`] with `read` untouched.
fn parse(
    read: &mut BytesMut,
    settings: &Settings,
    spare: &mut Option<HeaderMap>,
) -> Result<Option<Next>, &'static str> {
    let mut few = [(0u32, 0u32, 0u32, 0u32); FEW_HEADERS];
    let mut more = Vec::new();
    let located = {
        let mut fields = [const { MaybeUninit::uninit() }; FEW_HEADERS];
        locate(read, &mut fields, &mut few)
    };
    let (located, at): (_, &[(u32, u32, u32, u32)]) = match located {
        Located::TooMany if settings.max_headers > FEW_HEADERS => {
            let mut fields = Vec::new();
            fields.resize_with(settings.max_headers, MaybeUninit::uninit);
            more.resize(settings.max_headers, (0, 0, 0, 0));
            (locate(read, &mut fields, &mut more), &more)
        }
        other => (other, &few),
    };
    let head = match located {
        Located::Partial => return Ok(None),
        Located::TooMany | Located::Invalid => return Ok(Some(Next::HandOver)),
        Located::Complete(head) => head,
    };
    if head.length > settings.max_head
        || head.count > settings.max_headers
        || head.target.len() > MAX_TARGET
    {
        return Ok(Some(Next::HandOver));
    }
    let fields = at.get(..head.count).unwrap_or_default();
    let Some(keep_alive) = simple_fields(read, fields, head.http11) else {
        return Ok(Some(Next::HandOver));
    };
    let Ok(method) = Method::from_bytes(read.get(head.method.clone()).unwrap_or_default()) else {
        return Ok(Some(Next::HandOver));
    };
    if method == Method::CONNECT {
        return Ok(Some(Next::HandOver));
    }
    // The head becomes one shared buffer its target and header values are slices of; were
    // any of them refused (hyper answers 400), the buffer is put back together for hyper.
    let bytes = read.split_to(head.length).freeze();
    match build(&bytes, &head, fields, spare) {
        Some((uri, headers)) => {
            let mut request = Request::new(GatewayBody::Empty);
            *request.method_mut() = method;
            *request.uri_mut() = uri;
            *request.version_mut() = if head.http11 {
                Version::HTTP_11
            } else {
                Version::HTTP_10
            };
            *request.headers_mut() = headers;
            Ok(Some(Next::Serve(Simple {
                request,
                keep_alive,
            })))
        }
        None => {
            let mut whole = BytesMut::with_capacity(bytes.len() + read.len());
            whole.extend_from_slice(&bytes);
            whole.extend_from_slice(read);
            *read = whole;
            Ok(Some(Next::HandOver))
        }
    }
}

/// A complete request head, located in the read buffer.
#[derive(Debug)]
struct Head {
    length: usize,
    method: std::ops::Range<usize>,
    target: std::ops::Range<usize>,
    http11: bool,
    count: usize,
}

#[derive(Debug)]
enum Located {
    Partial,
    Complete(Head),
    /// More fields than there was room for.
    TooMany,
    /// Not a request head hyper would parse either.
    Invalid,
}

/// Finds a complete request head at the start of `read`; the places of its fields (name and
/// value ranges) go into `at`.
fn locate<'b>(
    read: &'b [u8],
    fields: &mut [MaybeUninit<httparse::Header<'b>>],
    at: &mut [(u32, u32, u32, u32)],
) -> Located {
    let mut parsed = httparse::Request::new(&mut []);
    let parser = httparse::ParserConfig::default();
    let length = match parser.parse_request_with_uninit_headers(&mut parsed, read, fields) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Located::Partial,
        Err(httparse::Error::TooManyHeaders) => return Located::TooMany,
        Err(_) => return Located::Invalid,
    };
    let base = read.as_ptr() as usize;
    // Within the buffer, which is far smaller than 4 GiB (the head limit plus one read).
    let offset = |part: &[u8]| part.as_ptr() as usize - base;
    let span = |part: &[u8]| {
        let start = offset(part);
        start..start + part.len()
    };
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Located::Invalid;
    };
    let mut count = 0;
    for (slot, field) in at.iter_mut().zip(parsed.headers.iter()) {
        let (name, value) = (offset(field.name.as_bytes()), offset(field.value));
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        *slot = (
            to_u32(name),
            to_u32(name + field.name.len()),
            to_u32(value),
            to_u32(value + field.value.len()),
        );
        count += 1;
    }
    Located::Complete(Head {
        length,
        method: span(method.as_bytes()),
        target: span(target.as_bytes()),
        http11: version == 1,
        count,
    })
}

/// Whether the header fields make a simple request, and then whether the client keeps the
/// connection open (hyper's reading: `close` in any `Connection` field wins; `HTTP/1.0`
/// needs `keep-alive`).
fn simple_fields(read: &[u8], fields: &[(u32, u32, u32, u32)], http11: bool) -> Option<bool> {
    let mut keep_alive = http11;
    let mut close = false;
    let mut content_length = false;
    for &(n0, n1, v0, v1) in fields {
        let name = read.get(n0 as usize..n1 as usize)?;
        let value = read.get(v0 as usize..v1 as usize)?;
        let is = |known: &[u8]| name.len() == known.len() && name.eq_ignore_ascii_case(known);
        match name.len() {
            6 if is(b"expect") => return None,
            7 if is(b"upgrade") => return None,
            10 if is(b"connection") => {
                for token in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    } else if token.eq_ignore_ascii_case(b"upgrade") {
                        return None;
                    }
                }
            }
            14 if is(b"content-length") => {
                if content_length || value.trim_ascii() != b"0" {
                    return None;
                }
                content_length = true;
            }
            17 if is(b"transfer-encoding") => return None,
            _ => {}
        }
    }
    Some(keep_alive && !close)
}

/// The request target and header map of a located head, now in `bytes`; `None` where hyper
/// would refuse one of them.
fn build(
    bytes: &Bytes,
    head: &Head,
    fields: &[(u32, u32, u32, u32)],
    spare: &mut Option<HeaderMap>,
) -> Option<(Uri, HeaderMap)> {
    bytes.get(head.target.clone())?;
    let uri = Uri::from_maybe_shared(bytes.slice(head.target.clone())).ok()?;
    let mut headers = spare.take().unwrap_or_default();
    headers.clear();
    headers.reserve(fields.len());
    for &(n0, n1, v0, v1) in fields {
        let (n0, n1, v0, v1) = (n0 as usize, n1 as usize, v0 as usize, v1 as usize);
        let name = HeaderName::from_bytes(bytes.get(n0..n1)?).ok()?;
        bytes.get(v0..v1)?;
        let value = HeaderValue::from_maybe_shared(bytes.slice(v0..v1)).ok()?;
        headers.append(name, value);
    }
    Some((uri, headers))
}

// === writing ===

/// Writes `response`, stamped with `stamp`; whether the connection stays open after it, and
/// its header map (emptied) for the next request.
async fn respond<IO>(
    io: &mut IO,
    out: &mut Vec<u8>,
    mut response: Response<GatewayBody>,
    exchange: Exchange,
    stamp: Stamp<'_>,
) -> std::io::Result<(bool, HeaderMap)>
where
    IO: AsyncWrite + Unpin,
{
    // hyper answers a 1xx it is handed with 500 and closes; the pipeline makes none but the
    // WebSocket 101, which only hyper's connections carry.
    let mut exchange = exchange;
    if response.status().is_informational() {
        response = Response::new(GatewayBody::Empty);
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        exchange.keep_alive = false;
    }
    let (mut parts, mut body) = response.into_parts();
    let length = if body.is_end_stream() {
        BodyLength::None
    } else {
        match body.size_hint().exact() {
            Some(n) => BodyLength::Known(n),
            None => BodyLength::Unknown,
        }
    };
    out.clear();
    let (framing, keep_open) =
        write_head(out, parts.status, &parts.headers, length, exchange, stamp);
    let mut sent = 0u64;
    let mut whole = true;
    if framing != Framing::Nothing {
        loop {
            let step = std::future::poll_fn(|cx| poll_step(&mut body, cx, !out.is_empty())).await;
            let data = match step {
                Step::Flush => {
                    io.write_all(out).await?;
                    out.clear();
                    continue;
                }
                Step::Frame(None) => break,
                Step::Frame(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => data,
                    // Trailers are dropped, as hyper drops those the response did not
                    // announce; empty frames carry nothing.
                    _ => continue,
                },
                Step::Frame(Some(Err(err))) => {
                    // The head is out: the client can only learn of it by the connection
                    // closing before the body's end.
                    tracing::debug!(%err, "response body failed");
                    whole = false;
                    break;
                }
            };
            // A body longer than the length the head announced: what follows the length
            // would read as the next response (response splitting), so only the length is
            // written and the rest of the body dropped, as hyper does.
            let (data, over) = match framing {
                Framing::Length(n) if data.len() as u64 > n.saturating_sub(sent) => {
                    let left = usize::try_from(n.saturating_sub(sent)).unwrap_or(0);
                    (data.slice(..left), true)
                }
                _ => (data, false),
            };
            sent += data.len() as u64;
            if framing == Framing::Chunked {
                write_hex(out, data.len());
            }
            if data.len() >= WRITE_DIRECT {
                write_both(io, out, &data).await?;
                out.clear();
            } else {
                out.extend_from_slice(&data);
            }
            if framing == Framing::Chunked {
                out.extend_from_slice(b"\r\n");
            }
            if out.len() >= WRITE_BATCH {
                io.write_all(out).await?;
                out.clear();
            }
            if over {
                break;
            }
        }
        if framing == Framing::Chunked && whole {
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.flush().await?;
    let framed = match framing {
        Framing::Length(n) => sent == n,
        Framing::Nothing | Framing::Chunked => true,
        Framing::UntilClose => false,
    };
    parts.headers.clear();
    Ok((keep_open && whole && framed, parts.headers))
}

/// The body's next frame, or [`Step::Flush`] when it has none ready and `gathered` bytes
/// wait to be written.
fn poll_step(body: &mut GatewayBody, cx: &mut Context<'_>, gathered: bool) -> Poll<Step> {
    match Pin::new(body).poll_frame(cx) {
        Poll::Ready(frame) => Poll::Ready(Step::Frame(frame)),
        Poll::Pending if gathered => Poll::Ready(Step::Flush),
        Poll::Pending => Poll::Pending,
    }
}

/// Writes `first` and then `second`, in one vectored write where the stream takes it.
async fn write_both<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    first: &[u8],
    second: &[u8],
) -> std::io::Result<()> {
    let (mut first, mut second) = (first, second);
    while !first.is_empty() {
        let n = if io.is_write_vectored() {
            io.write_vectored(&[IoSlice::new(first), IoSlice::new(second)])
                .await?
        } else {
            io.write(first).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_first = n.min(first.len());
        first = first.get(from_first..).unwrap_or_default();
        second = second.get(n - from_first..).unwrap_or_default();
    }
    io.write_all(second).await
}

/// The status line and header fields of a response, as hyper writes them, with `stamp`'s
/// request id and (when the response has no `date`) its time; how its body is framed and
/// whether the connection may stay open after it.
fn write_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    length: BodyLength,
    exchange: Exchange,
    stamp: Stamp<'_>,
) -> (Framing, bool) {
    let mut keep_open = exchange.keep_alive;
    if status == StatusCode::OK && !exchange.http10 {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(if exchange.http10 {
            b"HTTP/1.0 "
        } else {
            b"HTTP/1.1 "
        });
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // No content-length on these (RFC 9110 section 8.6); no body on these and on HEAD.
    let may_have_length = !matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    let may_have_body = may_have_length && !exchange.head;
    let mut wrote_length = false;
    let mut declared: Option<u64> = None;
    let mut wrote_date = false;
    let mut says_close = false;
    let mut says_keep_alive = false;
    for (name, value) in headers {
        match *name {
            header::CONTENT_LENGTH => match length {
                // Written below from the body's own size (hyper trusts them to agree).
                BodyLength::Known(_) => continue,
                // A HEAD answer says the length a GET would have had; any other empty body
                // gets the implicit `0` below.
                BodyLength::None if exchange.head && !wrote_length => wrote_length = true,
                BodyLength::None => continue,
                // A streamed body with a declared length is sent as that many bytes; a
                // length that is not a number, or differs from an earlier one, is dropped
                // and the body chunked instead.
                BodyLength::Unknown => match parse_length(value) {
                    Some(n) if declared.is_none() => {
                        declared = Some(n);
                        wrote_length = true;
                    }
                    _ => continue,
                },
            },
            // The framing is the loop's to choose.
            header::TRANSFER_ENCODING => continue,
            header::CONNECTION => {
                for token in value
                    .as_bytes()
                    .split(|b| *b == b',')
                    .map(<[u8]>::trim_ascii)
                {
                    if token.eq_ignore_ascii_case(b"close") {
                        says_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        says_keep_alive = true;
                    }
                }
            }
            header::DATE => wrote_date = true,
            // The stamp's id is the one (a backend's own is not passed on).
            ref name if *name == REQUEST_ID_HEADER => continue,
            _ => {}
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut framing = match (declared, length) {
        (Some(n), _) => Framing::Length(n),
        (None, BodyLength::Unknown) if exchange.http10 => Framing::UntilClose,
        (None, BodyLength::Unknown) => {
            // Never on a response without a body: RFC 9112 section 6.1 forbids it on 204,
            // and hyper sends it on none of HEAD, 204 and 304.
            if may_have_body {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            }
            Framing::Chunked
        }
        (None, BodyLength::None | BodyLength::Known(0)) => {
            if may_have_length && !exchange.head && !wrote_length {
                out.extend_from_slice(b"content-length: 0\r\n");
            }
            Framing::Length(0)
        }
        (None, BodyLength::Known(n)) => {
            if may_have_length {
                out.extend_from_slice(b"content-length: ");
                write_decimal(out, n);
                out.extend_from_slice(b"\r\n");
            }
            Framing::Length(n)
        }
    };
    if !may_have_body {
        framing = Framing::Nothing;
    }
    if framing == Framing::UntilClose {
        keep_open = false;
    }
    if says_close {
        keep_open = false;
    }
    if !keep_open && !says_close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if keep_open && exchange.http10 && !says_keep_alive {
        // An HTTP/1.0 client keeps the connection only when told so.
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(REQUEST_ID_HEADER.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(stamp.request_id.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !wrote_date {
        out.extend_from_slice(b"date: ");
        DATE.with(|date| {
            let mut date = date.borrow_mut();
            date.check((stamp.now)());
            out.extend_from_slice(&date.text);
        });
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep_open)
}

/// A `content-length` value: one decimal number (hyper's reading of a single field).
fn parse_length(value: &HeaderValue) -> Option<u64> {
    let digits = value.as_bytes().trim_ascii();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn write_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        if let Some(slot) = digits.get_mut(at) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

/// A chunk-size line.
fn write_hex(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        if let Some(slot) = digits.get_mut(at) {
            *slot = b"0123456789abcdef".get(n % 16).copied().unwrap_or(b'0');
        }
        n /= 16;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
    out.extend_from_slice(b"\r\n");
}

// === impl CachedDate ===

impl CachedDate {
    /// Renders the date again once its second is over (or the clock stepped back before it).
    fn check(&mut self, now: SystemTime) {
        if now < self.next_update && now + Duration::from_secs(1) >= self.next_update {
            return;
        }
        let text = httpdate::fmt_http_date(now);
        if let Some(bytes) = text.as_bytes().get(..self.text.len()) {
            self.text.copy_from_slice(bytes);
        }
        let into_second = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.next_update = now + Duration::from_secs(1) - Duration::from_nanos(into_second.into());
    }
}

// === impl Rewind ===

impl<IO: AsyncRead + Unpin> AsyncRead for Rewind<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(this.prefix.get(..n).unwrap_or_default());
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewind<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            max_head: 8 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(10),
        }
    }

    /// What the loop makes of `bytes`: "partial", "hand over", or the request's method and
    /// target and whether the connection stays open.
    fn classify(bytes: &[u8], settings: &Settings) -> String {
        let mut read = BytesMut::from(bytes);
        match parse(&mut read, settings, &mut None) {
            Ok(None) => "partial".to_owned(),
            Ok(Some(Next::HandOver)) => {
                assert_eq!(&read[..], bytes, "a hand-over keeps every byte for hyper");
                "hand over".to_owned()
            }
            Ok(Some(Next::Serve(simple))) => format!(
                "{} {} {:?} keep-alive={}",
                simple.request.method(),
                simple.request.uri(),
                simple.request.version(),
                simple.keep_alive
            ),
            Err(err) => format!("error {err}"),
        }
    }

    #[test]
    fn only_simple_requests_are_served_by_the_loop() {
        let many: String = (0..40).map(|i| format!("X-F{i}: v\r\n")).collect();
        let cases: &[(&str, String, &str)] = &[
            (
                "a GET",
                "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n".into(),
                "GET /a?b=c HTTP/1.1 keep-alive=true",
            ),
            (
                "a length of zero",
                "POST /a HTTP/1.1\r\nContent-Length:  0 \r\n\r\n".into(),
                "POST /a HTTP/1.1 keep-alive=true",
            ),
            (
                "more fields than the stack holds, within the limit",
                format!("GET / HTTP/1.1\r\n{many}\r\n"),
                "GET / HTTP/1.1 keep-alive=true",
            ),
            (
                "close wins over keep-alive",
                "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n".into(),
                "GET / HTTP/1.1 keep-alive=false",
            ),
            (
                "HTTP/1.0 closes by default",
                "GET / HTTP/1.0\r\n\r\n".into(),
                "GET / HTTP/1.0 keep-alive=false",
            ),
            (
                "HTTP/1.0 asking to keep the connection",
                "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n".into(),
                "GET / HTTP/1.0 keep-alive=true",
            ),
            (
                "an absolute target",
                "GET http://x/a HTTP/1.1\r\n\r\n".into(),
                "GET http://x/a HTTP/1.1 keep-alive=true",
            ),
            (
                "half a head",
                "GET / HTTP/1.1\r\nHost: x\r\n".into(),
                "partial",
            ),
            (
                "a body",
                "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx".into(),
                "hand over",
            ),
            (
                "two lengths",
                "POST / HTTP/1.1\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n".into(),
                "hand over",
            ),
            (
                "a length list",
                "POST / HTTP/1.1\r\nContent-Length: 0, 0\r\n\r\n".into(),
                "hand over",
            ),
            (
                "a signed length",
                "POST / HTTP/1.1\r\nContent-Length: +0\r\n\r\n".into(),
                "hand over",
            ),
            (
                "chunked",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
                "hand over",
            ),
            (
                "any transfer coding",
                "GET / HTTP/1.1\r\nTRANSFER-ENCODING: identity\r\n\r\n".into(),
                "hand over",
            ),
            (
                "Expect",
                "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n".into(),
                "hand over",
            ),
            (
                "Upgrade",
                "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n".into(),
                "hand over",
            ),
            (
                "Connection: upgrade",
                "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n".into(),
                "hand over",
            ),
            (
                "CONNECT",
                "CONNECT x:443 HTTP/1.1\r\n\r\n".into(),
                "hand over",
            ),
            (
                "malformed",
                "GET / HTTP/1.1\r\nHost x\r\n\r\n".into(),
                "hand over",
            ),
            (
                "the HTTP/2 preface",
                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".into(),
                "hand over",
            ),
            (
                "an invalid field value",
                "GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n".into(),
                "hand over",
            ),
            (
                "a head past the size limit",
                format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "x".repeat(9 * 1024)),
                "hand over",
            ),
            (
                "a target past hyper's limit",
                format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(MAX_TARGET)),
                "hand over",
            ),
        ];
        for (rule, bytes, expected) in cases {
            let settings = Settings {
                max_head: 128 * 1024,
                ..settings()
            };
            let settings = if rule.starts_with("a head past") {
                self::settings()
            } else {
                settings
            };
            assert_eq!(classify(bytes.as_bytes(), &settings), *expected, "{rule}");
        }
    }

    #[test]
    fn the_field_limit_hands_over_past_it_whatever_its_size() {
        for limit in [3, 32, 33, 100] {
            let settings = Settings {
                max_headers: limit,
                ..settings()
            };
            let head = |n: usize| {
                let fields: String = (0..n).map(|i| format!("X-F{i}: v\r\n")).collect();
                format!("GET / HTTP/1.1\r\n{fields}\r\n")
            };
            assert_ne!(
                classify(head(limit).as_bytes(), &settings),
                "hand over",
                "{limit}"
            );
            assert_eq!(
                classify(head(limit + 1).as_bytes(), &settings),
                "hand over",
                "{limit}"
            );
        }
    }

    #[test]
    fn pipelined_heads_are_taken_one_at_a_time() {
        let mut read =
            BytesMut::from(&b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HT"[..]);
        let mut targets = Vec::new();
        while let Ok(Some(Next::Serve(simple))) = parse(&mut read, &settings(), &mut None) {
            targets.push(simple.request.uri().to_string());
        }
        assert_eq!(targets, ["/1", "/2"]);
        assert_eq!(&read[..], b"GET /3 HT");
    }

    /// A GET kept open; a HEAD; a GET on a connection that closes after it.
    const GET: Exchange = Exchange {
        head: false,
        http10: false,
        keep_alive: true,
    };
    const HEAD: Exchange = Exchange { head: true, ..GET };
    const CLOSING: Exchange = Exchange {
        keep_alive: false,
        ..GET
    };

    /// The request id every test head is written with.
    const ID: &str = "00000000-0000-4000-8000-000000000000";

    /// [`ID`] and [`then`].
    fn stamp() -> Stamp<'static> {
        static PARSED: std::sync::LazyLock<RequestId> =
            std::sync::LazyLock::new(|| RequestId::parse(ID.as_bytes()).unwrap());
        Stamp {
            request_id: &PARSED,
            now: &then,
        }
    }

    /// The time every test head is written at: `Sun, 06 Nov 1994 08:49:37 GMT`.
    fn then() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    /// The head written for a response, with the date's value as `D`.
    fn head_of(
        status: u16,
        headers: &[(&str, &str)],
        length: BodyLength,
        exchange: Exchange,
    ) -> (String, Framing, bool) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let mut out = Vec::new();
        let status = StatusCode::from_u16(status).unwrap();
        let (framing, open) = write_head(&mut out, status, &map, length, exchange, stamp());
        let text = String::from_utf8(out).unwrap();
        let text = text.replace("date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "date: D\r\n");
        // Every head has the id once (`the_request_id_is_written_once` tests it).
        let text = text.replacen(&format!("x-amzn-requestid: {ID}\r\n"), "", 1);
        (text, framing, open)
    }

    /// The stamp's id is the head's one `x-amzn-RequestId`, whatever ids the response held
    /// (a backend's own, in any case), on every kind of head; the date is read only when
    /// the response has none.
    #[test]
    fn the_request_id_is_written_once() {
        for (status, exchange) in [
            (200, GET),
            (204, GET),
            (304, HEAD),
            (200, HEAD),
            (500, CLOSING),
            (
                200,
                Exchange {
                    http10: true,
                    ..GET
                },
            ),
        ] {
            for own in [&[][..], &["the-backends"], &["one", "two"]] {
                let mut map = HeaderMap::new();
                for id in own {
                    map.append("X-Amzn-RequestId", HeaderValue::from_static(id));
                }
                map.insert(header::DATE, HeaderValue::from_static("the backend's date"));
                let mut out = Vec::new();
                let status = StatusCode::from_u16(status).unwrap();
                let unread = || -> SystemTime { panic!("the date was read") };
                let stamp = Stamp {
                    now: &unread,
                    ..stamp()
                };
                write_head(
                    &mut out,
                    status,
                    &map,
                    BodyLength::Known(0),
                    exchange,
                    stamp,
                );
                let text = String::from_utf8(out).unwrap();
                let ids: Vec<&str> = text
                    .split("\r\n")
                    .filter(|line| line.to_ascii_lowercase().starts_with("x-amzn-requestid:"))
                    .collect();
                assert_eq!(ids, [format!("x-amzn-requestid: {ID}")], "{text}");
                assert!(text.contains("date: the backend's date\r\n"), "{text}");
            }
        }
    }

    #[test]
    fn response_heads_are_framed_as_hyper_frames_them() {
        let (get, head, closing) = (GET, HEAD, CLOSING);
        let old = Exchange {
            http10: true,
            keep_alive: false,
            ..get
        };
        let old_kept = Exchange {
            http10: true,
            ..get
        };
        use BodyLength::{Known, None as Nothing, Unknown};
        type Case<'a> = (
            &'a str,
            u16,
            &'a [(&'a str, &'a str)],
            BodyLength,
            Exchange,
            &'a str,
            Framing,
            bool,
        );
        let cases: &[Case] = &[
            (
                "a known length",
                200,
                &[("x-a", "1")],
                Known(5),
                get,
                "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\ndate: D\r\n\r\n",
                Framing::Length(5),
                true,
            ),
            (
                "the body's size wins over a stale field",
                200,
                &[("content-length", "9")],
                Known(5),
                get,
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: D\r\n\r\n",
                Framing::Length(5),
                true,
            ),
            (
                "an empty body says 0",
                404,
                &[],
                Nothing,
                get,
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\ndate: D\r\n\r\n",
                Framing::Length(0),
                true,
            ),
            (
                "an unknown length is chunked",
                200,
                &[("transfer-encoding", "chunked")],
                Unknown,
                get,
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ndate: D\r\n\r\n",
                Framing::Chunked,
                true,
            ),
            (
                "a streamed body with a declared length",
                200,
                &[("content-length", "7")],
                Unknown,
                get,
                "HTTP/1.1 200 OK\r\ncontent-length: 7\r\ndate: D\r\n\r\n",
                Framing::Length(7),
                true,
            ),
            (
                "a declared length that is not a number is chunked instead",
                200,
                &[("content-length", "x")],
                Unknown,
                get,
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ndate: D\r\n\r\n",
                Framing::Chunked,
                true,
            ),
            (
                "HEAD keeps the length a GET would have and sends no body",
                200,
                &[("content-length", "42")],
                Nothing,
                head,
                "HTTP/1.1 200 OK\r\ncontent-length: 42\r\ndate: D\r\n\r\n",
                Framing::Nothing,
                true,
            ),
            (
                "HEAD without a length says none",
                200,
                &[],
                Nothing,
                head,
                "HTTP/1.1 200 OK\r\ndate: D\r\n\r\n",
                Framing::Nothing,
                true,
            ),
            (
                "204 has neither length nor body",
                204,
                &[("content-length", "0")],
                Nothing,
                get,
                "HTTP/1.1 204 No Content\r\ndate: D\r\n\r\n",
                Framing::Nothing,
                true,
            ),
            (
                "304 has neither length nor body",
                304,
                &[],
                Known(3),
                get,
                "HTTP/1.1 304 Not Modified\r\ndate: D\r\n\r\n",
                Framing::Nothing,
                true,
            ),
            (
                "a closing connection says so",
                200,
                &[],
                Known(1),
                closing,
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\ndate: D\r\n\r\n",
                Framing::Length(1),
                false,
            ),
            (
                "a response saying close ends the connection",
                200,
                &[("connection", "close")],
                Known(1),
                get,
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\ndate: D\r\n\r\n",
                Framing::Length(1),
                false,
            ),
            (
                "HTTP/1.0 without keep-alive",
                200,
                &[],
                Known(1),
                old,
                "HTTP/1.0 200 OK\r\ncontent-length: 1\r\nconnection: close\r\ndate: D\r\n\r\n",
                Framing::Length(1),
                false,
            ),
            (
                "HTTP/1.0 with keep-alive is told so",
                201,
                &[],
                Known(1),
                old_kept,
                "HTTP/1.0 201 Created\r\ncontent-length: 1\r\nconnection: keep-alive\r\ndate: D\r\n\r\n",
                Framing::Length(1),
                true,
            ),
            (
                "a 204 with a streamed body says neither length nor chunked",
                204,
                &[],
                Unknown,
                get,
                "HTTP/1.1 204 No Content\r\ndate: D\r\n\r\n",
                Framing::Nothing,
                true,
            ),
            (
                "HEAD with a streamed body does not say chunked",
                200,
                &[],
                Unknown,
                head,
                "HTTP/1.1 200 OK\r\ndate: D\r\n\r\n",
                Framing::Nothing,
                true,
            ),
            (
                "HTTP/1.0 cannot chunk: the body runs to the close",
                200,
                &[],
                Unknown,
                old_kept,
                "HTTP/1.0 200 OK\r\nconnection: close\r\ndate: D\r\n\r\n",
                Framing::UntilClose,
                false,
            ),
        ];
        for (rule, status, headers, length, exchange, text, framing, open) in cases {
            let (written, framed, kept) = head_of(*status, headers, *length, *exchange);
            assert_eq!(written, *text, "{rule}");
            assert_eq!(framed, *framing, "{rule}");
            assert_eq!(kept, *open, "{rule}");
        }
        // A date of the response's own is kept, and none added.
        let mut map = HeaderMap::new();
        map.insert(
            header::DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        let mut out = Vec::new();
        write_head(&mut out, StatusCode::OK, &map, Known(1), get, stamp());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-length: 1\r\n\
                 x-amzn-requestid: {ID}\r\n\r\n"
            )
        );
    }

    /// A response body of frames, with the size it claims (unknown when `None`).
    struct Frames {
        frames: std::collections::VecDeque<Bytes>,
        exact: Option<u64>,
    }

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = BodyError;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
            Poll::Ready(
                self.get_mut()
                    .frames
                    .pop_front()
                    .map(|b| Ok(Frame::data(b))),
            )
        }

        fn size_hint(&self) -> http_body::SizeHint {
            self.exact.map_or_else(
                http_body::SizeHint::default,
                http_body::SizeHint::with_exact,
            )
        }
    }

    #[tokio::test]
    async fn a_body_longer_than_its_length_is_cut_at_the_length() {
        let smuggled = "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil";
        let get = Exchange {
            head: false,
            http10: false,
            keep_alive: true,
        };
        /// The rule, the declared `content-length`, the size the body claims, its frames.
        type Case<'a> = (&'a str, Option<&'a str>, Option<u64>, Vec<String>);
        let cases: &[Case] = &[
            (
                "a streamed body past its declared length, in one frame",
                Some("5"),
                None,
                vec![format!("hello{smuggled}")],
            ),
            (
                "a streamed body past its declared length, in a later frame",
                Some("5"),
                None,
                vec!["hel".into(), "lo".into(), smuggled.into()],
            ),
            (
                "a body past the size it claimed",
                None,
                Some(5),
                vec!["hello".into(), smuggled.into()],
            ),
        ];
        for (rule, declared, exact, frames) in cases {
            let body = Frames {
                frames: frames.iter().map(|f| Bytes::from(f.clone())).collect(),
                exact: *exact,
            };
            let mut response = Response::new(GatewayBody::Boxed(
                http_body_util::BodyExt::boxed_unsync(body),
            ));
            if let Some(declared) = declared {
                response.headers_mut().insert(
                    header::CONTENT_LENGTH,
                    HeaderValue::from_str(declared).unwrap(),
                );
            }
            let mut wire = Vec::new();
            let mut out = Vec::new();
            let (open, _) = respond(&mut wire, &mut out, response, get, stamp())
                .await
                .unwrap();
            let text = String::from_utf8(wire).unwrap();
            let text = text.replace("date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "date: D\r\n");
            assert_eq!(
                text,
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-amzn-requestid: {ID}\r\n\
                     date: D\r\n\r\nhello"
                ),
                "{rule}"
            );
            // The wire stays in step: the connection may carry the next response.
            assert!(open, "{rule}");
        }
    }

    #[test]
    fn the_date_is_rendered_again_each_second() {
        let mut date = CachedDate {
            text: [b' '; 29],
            next_update: UNIX_EPOCH,
        };
        let render = |date: &mut CachedDate, at: SystemTime| {
            date.check(at);
            String::from_utf8(date.text.to_vec()).unwrap()
        };
        assert_eq!(render(&mut date, then()), "Sun, 06 Nov 1994 08:49:37 GMT");
        let later = then() + Duration::from_millis(999);
        assert_eq!(render(&mut date, later), "Sun, 06 Nov 1994 08:49:37 GMT");
        let next = then() + Duration::from_secs(1);
        assert_eq!(render(&mut date, next), "Sun, 06 Nov 1994 08:49:38 GMT");
        // A clock that steps back is followed too.
        assert_eq!(render(&mut date, then()), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn numbers_are_written_in_full() {
        for n in [0u64, 7, 10, 4096, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [0usize, 9, 10, 255, 65536] {
            let mut out = Vec::new();
            write_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}\r\n").as_bytes());
        }
    }

    #[tokio::test]
    async fn a_rewound_connection_reads_its_prefix_first() {
        let io = Rewind {
            prefix: Bytes::from_static(b"GET / HTTP/1.1\r\n"),
            io: &b"Host: x\r\n\r\n"[..],
        };
        let mut all = Vec::new();
        let mut io = io;
        // `&[u8]` reads but does not write; only the read side is exercised here.
        let mut chunk = [0u8; 5];
        loop {
            let mut buf = ReadBuf::new(&mut chunk);
            std::future::poll_fn(|cx| Pin::new(&mut io).poll_read(cx, &mut buf))
                .await
                .unwrap();
            if buf.filled().is_empty() {
                break;
            }
            all.extend_from_slice(buf.filled());
        }
        assert_eq!(all, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }
}
