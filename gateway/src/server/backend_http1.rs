//! HTTP/1.1 to plain `http://` backends, written and read by the request's own task.
//!
//! hyper's client runs each connection as a task of its own and hands it requests and
//! responses through a channel: two task wake-ups and a channel round trip per request, more
//! than the gateway's whole pipeline costs. For the common request — no body to send, no
//! upgrade — [`Conn::send`] writes the request head on a pooled connection and reads the
//! response head from it in the calling task, as nginx does; everything else (request bodies,
//! WebSocket upgrades, `https://` backends) goes through hyper (see [`crate::server::proxy`]).
//!
//! The response head is parsed by `httparse` (at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`]
//! fields), its header values sharing one buffer rather than copied. A body that arrived with
//! the head is returned whole and the connection goes back to the pool at once; a longer one
//! (`Content-Length`, chunked, or until the backend closes) is streamed by [`ResponseBody`],
//! which owns the connection until the body ends and then returns it through its
//! [`Checkin`]. A connection is pooled again only when its response was read to the end, the
//! backend did not ask to close it and nothing unasked followed the response.

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode, Version};
use http_body::SizeHint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::server::body::{BodyError, GatewayBody};
use crate::server::proxy::Deferred;

/// Largest response head accepted from a backend.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Most header fields accepted in a response head.
pub(crate) const MAX_HEADERS: usize = 100;
/// Header fields of a response head parsed without a heap allocation.
const FEW_HEADERS: usize = 24;
/// The parser's complaint when a head has more than it has room for.
const TOO_MANY: &str = "too many header fields";
/// Read size while a head or body is incomplete.
const READ_CHUNK: usize = 8 * 1024;
/// Longest chunk-size or trailer line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Room left in a response's header map for the fields the gateway adds to it (`X-Cache`,
/// a stage's own, and `x-amzn-requestid` on hyper's connections), so that adding them does
/// not usually grow the map, which rehashes every field; a response with CORS headers may
/// still grow it once.
const ROOM_FOR_GATEWAY_FIELDS: usize = 4;
/// A request's header map with more fields or values than this is dropped rather than kept
/// for a response (an emptied map keeps the memory of both).
const SPARE_MAP_MAX: usize = 64;

thread_local! {
    /// The header map of the last plain `http://` request without a body this thread sent,
    /// emptied: the next response head parsed here fills it instead of a new map. With the
    /// listener's own loop, which turns a response's map into the next request's, such a
    /// proxied request allocates no header map (one with a body, an upgrade, an `https://`
    /// backend or an `HTTP` integration's mapped headers still does).
    static SPARE_MAP: std::cell::Cell<Option<HeaderMap>> = const { std::cell::Cell::new(None) };
}

/// Keeps `headers`, emptied (no value of the request stays in memory), for the next response
/// head this thread parses; a map too large to keep is dropped.
pub(crate) fn recycle_request_headers(mut headers: HeaderMap) {
    if headers.capacity() <= SPARE_MAP_MAX && headers.len() <= SPARE_MAP_MAX {
        headers.clear();
        // Only while the thread's locals are being torn down is there nowhere to keep it.
        let _ = SPARE_MAP.try_with(|spare| spare.set(Some(headers)));
    }
}

/// The map [`recycle_request_headers`] kept on this thread, or a new one.
fn spare_map() -> HeaderMap {
    SPARE_MAP
        .try_with(std::cell::Cell::take)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// One keep-alive connection to a backend.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// Read and not consumed yet.
    read: BytesMut,
    /// The request head being written; kept so the next request reuses its memory.
    write: Vec<u8>,
    /// The integration timeout of the request on the connection, kept with the connection so
    /// that the next request moves its deadline instead of registering a new timer: moving a
    /// registered deadline later is one atomic store in tokio's timer, where a new timer per
    /// request is an insertion into the timer wheel and a removal (both under its lock).
    deadline: Option<Pin<Box<Sleep>>>,
}

/// A request without a body, as [`Conn::send`] writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outgoing<'r> {
    pub(crate) method: &'r Method,
    /// The request target in origin form (path and query).
    pub(crate) target: &'r str,
    /// The `Host` to send, if any. When given, `headers` hold no `Host` of their own to
    /// send: they have none, or only the client's, which `deferred` sends as
    /// `X-Forwarded-Host`.
    pub(crate) host: Option<&'r str>,
    pub(crate) headers: &'r HeaderMap,
    /// The forwarding fields to write beside `headers`.
    pub(crate) deferred: Deferred,
}

/// Where a connection goes back once its response is read: the pool's idle lists, under the
/// backend's authority.
#[derive(Debug, Clone)]
pub(crate) struct Checkin {
    pub(crate) pool: Arc<Mutex<IdleConns>>,
    pub(crate) key: http::uri::Authority,
    pub(crate) max_idle: usize,
}

/// Idle connections by backend authority (`host:port`), found twice per request (lent and
/// given back): hashed with aHash, which is keyed at random per process like the standard
/// SipHash but a fraction of its cost on a short key.
#[derive(Debug)]
pub(crate) struct IdleConns {
    pub(crate) by_authority:
        std::collections::HashMap<String, Vec<(Conn, Instant)>, ahash::RandomState>,
    /// When every list was last cleared of expired connections.
    pub(crate) swept: Instant,
}

/// Why a request on a connection failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Http1Error {
    #[error("backend connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("the backend closed the connection without answering")]
    Closed,
    #[error("invalid response from the backend: {0}")]
    Invalid(&'static str),
    #[error("backend response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("no response head before the integration timeout")]
    TimedOut,
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunk),
    /// Until the backend closes the connection.
    UntilClose,
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk: this many bytes are left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty one (trailers are not passed on).
    Trailer,
}

/// A streamed backend response body; holds the connection until the body ends.
#[derive(Debug)]
pub struct ResponseBody {
    conn: Option<Conn>,
    framing: Framing,
    reusable: bool,
    checkin: Checkin,
}

// === impl Conn ===

impl Conn {
    /// A new connection to `host:port`, with Nagle off (heads and bodies are written whole).
    pub(crate) async fn connect(host: &str, port: u16) -> std::io::Result<Self> {
        let stream = TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            read: BytesMut::new(),
            write: Vec::new(),
            deadline: None,
        })
    }

    /// Whether an idle connection can take a request: nothing to read on it. A backend that
    /// closed it left an end of file there, and a backend sends nothing unasked. Costs no
    /// system call unless the runtime saw the socket become readable.
    pub(crate) fn idle_usable(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(
            self.stream.try_read(&mut probe),
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock
        )
    }

    /// Sends a request without a body (`target` in origin form, with `Host: host` when
    /// given, see [`Outgoing`]) and reads the response head, by `deadline`
    /// ([`Http1Error::TimedOut`] past it). On an error nothing of a response was passed
    /// on; [`Http1Error::Closed`] means not a byte of one arrived.
    pub(crate) async fn send(
        mut self,
        request: Outgoing<'_>,
        deadline: tokio::time::Instant,
        checkin: Checkin,
    ) -> Result<Response<GatewayBody>, Http1Error> {
        let mut timer = match self.deadline.take() {
            Some(mut timer) => {
                timer.as_mut().reset(deadline);
                timer
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        let exchanged = tokio::select! {
            biased;
            head = self.exchange(&request) => head,
            () = timer.as_mut() => Err(Http1Error::TimedOut),
        };
        let ResponseHead {
            status,
            version,
            headers,
            named,
        } = exchanged?;
        self.deadline = Some(timer);
        let reusable = keeps_alive(version, &headers, named);
        // RFC 9112 section 6.1: an HTTP/1.0 message with it is faulty (hyper refuses it).
        if named.transfer_encoding && version == Version::HTTP_10 {
            return Err(Http1Error::Invalid(
                "transfer-encoding in an HTTP/1.0 response",
            ));
        }
        let framing = if *request.method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            // No body, but its framing fields are held to the same rules (as on hyper's
            // paths); `framing` checks them for a response with a body.
            if named.transfer_encoding {
                check_transfer_coding(&headers)?;
            }
            Framing::Length(0)
        } else {
            framing(&headers, named)?
        };
        let mut response = Response::new(GatewayBody::Empty);
        *response.status_mut() = status;
        *response.version_mut() = version;
        *response.headers_mut() = headers;
        let body = match framing {
            Framing::Length(length) if length <= self.read.len() as u64 => {
                // The whole body is here: the connection goes back now.
                let body = self.read.split_to(length as usize).freeze();
                if reusable && self.read.is_empty() {
                    checkin.put(self);
                }
                GatewayBody::full(body)
            }
            framing => GatewayBody::Backend(Box::new(ResponseBody {
                conn: Some(self),
                framing,
                reusable,
                checkin,
            })),
        };
        *response.body_mut() = body;
        Ok(response)
    }

    /// Writes the request head and reads up to the final (not informational) response head.
    async fn exchange(&mut self, request: &Outgoing<'_>) -> Result<ResponseHead, Http1Error> {
        self.write_head(request);
        self.stream.write_all(&self.write).await?;
        loop {
            let mut read_any = !self.read.is_empty();
            let head = loop {
                if !self.read.is_empty()
                    && let Some(head) = self.parse_head()?
                {
                    break head;
                }
                if self.read.len() > MAX_HEAD {
                    return Err(Http1Error::HeadTooLarge);
                }
                self.read.reserve(READ_CHUNK);
                if self.stream.read_buf(&mut self.read).await? == 0 {
                    return Err(if read_any {
                        Http1Error::Invalid("connection closed inside the response head")
                    } else {
                        Http1Error::Closed
                    });
                }
                read_any = true;
            };
            if head.status.is_informational() {
                // `100 Continue` and the like, unasked for: the real answer follows.
                if head.status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(Http1Error::Invalid(
                        "101 to a request that asked no upgrade",
                    ));
                }
                continue;
            }
            return Ok(head);
        }
    }

    fn write_head(&mut self, request: &Outgoing<'_>) {
        let Outgoing {
            method,
            target,
            host,
            headers,
            deferred,
        } = *request;
        let w = &mut self.write;
        w.clear();
        w.extend_from_slice(method.as_str().as_bytes());
        w.push(b' ');
        w.extend_from_slice(target.as_bytes());
        w.extend_from_slice(b" HTTP/1.1\r\n");
        if let Some(host) = host {
            w.extend_from_slice(b"host: ");
            w.extend_from_slice(host.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        write_fields(w, headers, deferred);
        // A body-carrying method says its (empty) body's length, as a client must.
        if !matches!(
            *method,
            Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS | Method::TRACE
        ) {
            w.extend_from_slice(b"content-length: 0\r\n");
        }
        w.extend_from_slice(b"\r\n");
    }

    /// The response head at the start of the read buffer, consumed, once it is complete.
    fn parse_head(&mut self) -> Result<Option<ResponseHead>, Http1Error> {
        // Most heads have a few fields: parsed with room for `FEW_HEADERS` on the stack (left
        // uninitialised: nothing to fill per request), and only a longer one on the heap.
        let mut few = [(0u32, 0u32, 0u32, 0u32); FEW_HEADERS];
        let mut more = Vec::new();
        let located = {
            let mut fields = [const { MaybeUninit::uninit() }; FEW_HEADERS];
            locate(&self.read, &mut fields, &mut few)
        };
        let (located, at): (_, &[(u32, u32, u32, u32)]) = match located {
            Err(Http1Error::Invalid(TOO_MANY)) => {
                let mut fields = Vec::new();
                fields.resize_with(MAX_HEADERS, MaybeUninit::uninit);
                more.resize(MAX_HEADERS, (0, 0, 0, 0));
                (locate(&self.read, &mut fields, &mut more), &more)
            }
            other => (other, &few),
        };
        let Some((length, code, version, count)) = located? else {
            return Ok(None);
        };
        // The head becomes one shared buffer its header values are slices of.
        let head = self.read.split_to(length).freeze();
        let status = StatusCode::from_u16(code).map_err(|_| Http1Error::Invalid("status code"))?;
        let mut headers = spare_map();
        headers.reserve(count + ROOM_FOR_GATEWAY_FIELDS);
        let mut named = Named::default();
        for &(n0, n1, v0, v1) in at.iter().take(count) {
            let (n0, n1, v0, v1) = (n0 as usize, n1 as usize, v0 as usize, v1 as usize);
            let (Some(name), Some(_)) = (head.get(n0..n1), head.get(v0..v1)) else {
                return Err(Http1Error::Invalid("header field"));
            };
            let name =
                HeaderName::from_bytes(name).map_err(|_| Http1Error::Invalid("header name"))?;
            let value = HeaderValue::from_maybe_shared(head.slice(v0..v1))
                .map_err(|_| Http1Error::Invalid("header value"))?;
            named.note(&name);
            headers.append(name, value);
        }
        Ok(Some(ResponseHead {
            status,
            version,
            headers,
            named,
        }))
    }

    /// Reads more into the buffer; `Ok(0)` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        if self.read.capacity() - self.read.len() < 1024 {
            self.read.reserve(READ_CHUNK);
        }
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read_buf(&mut self.read) {
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }
}

/// Finds a complete response head at the start of `read`: its length, status code, version
/// and number of fields, whose places (name and value ranges) go into `at`.
fn locate<'b>(
    read: &'b [u8],
    fields: &mut [MaybeUninit<httparse::Header<'b>>],
    at: &mut [(u32, u32, u32, u32)],
) -> Result<Option<(usize, u16, Version, usize)>, Http1Error> {
    let mut parsed = httparse::Response::new(&mut []);
    let parser = httparse::ParserConfig::default();
    let length = match parser.parse_response_with_uninit_headers(&mut parsed, read, fields) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Http1Error::Invalid(TOO_MANY)),
        Err(_) => return Err(Http1Error::Invalid("malformed response head")),
    };
    let base = read.as_ptr() as usize;
    // Within the buffer, which is far smaller than 4 GiB (`MAX_HEAD` plus one read).
    let offset = |part: &[u8]| u32::try_from(part.as_ptr() as usize - base).unwrap_or(u32::MAX);
    let mut count = 0;
    for (slot, field) in at.iter_mut().zip(parsed.headers.iter()) {
        let (name, value) = (offset(field.name.as_bytes()), offset(field.value));
        let (name_len, value_len) = (field.name.len() as u32, field.value.len() as u32);
        *slot = (
            name,
            name.saturating_add(name_len),
            value,
            value.saturating_add(value_len),
        );
        count += 1;
    }
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    Ok(Some((length, parsed.code.unwrap_or(0), version, count)))
}

/// A parsed response head.
struct ResponseHead {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    named: Named,
}

/// Which of the fields that frame a response or end its connection a head has, noted while
/// its fields are read: most heads have neither, and looking each up in the map is a hash and
/// a probe.
#[derive(Clone, Copy, Debug, Default)]
struct Named {
    connection: bool,
    transfer_encoding: bool,
}

impl Named {
    fn note(&mut self, name: &HeaderName) {
        self.connection |= name == header::CONNECTION;
        self.transfer_encoding |= name == header::TRANSFER_ENCODING;
    }

    #[cfg(test)]
    fn of(headers: &HeaderMap) -> Self {
        let mut named = Self::default();
        headers.keys().for_each(|name| named.note(name));
        named
    }
}

/// Whether the connection may carry another request after this response.
fn keeps_alive(version: Version, headers: &HeaderMap, named: Named) -> bool {
    let mut close = version == Version::HTTP_10;
    if !named.connection {
        return !close;
    }
    for value in headers.get_all(header::CONNECTION) {
        for token in value.as_bytes().split(|b| *b == b',') {
            let token = token.trim_ascii();
            if token.eq_ignore_ascii_case(b"close") {
                return false;
            }
            if token.eq_ignore_ascii_case(b"keep-alive") {
                close = false;
            }
        }
    }
    !close
}

/// How a response with a body is delimited (RFC 9112 section 6.3).
fn framing(headers: &HeaderMap, named: Named) -> Result<Framing, Http1Error> {
    if named.transfer_encoding {
        check_transfer_coding(headers)?;
        return Ok(Framing::Chunked(Chunk::Size));
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|b| *b == b',') {
            let part = std::str::from_utf8(part.trim_ascii())
                .ok()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u64>().ok())
                .ok_or(Http1Error::Invalid("content-length"))?;
            if length.is_some_and(|l| l != part) {
                return Err(Http1Error::Invalid("content-length values disagree"));
            }
            length = Some(part);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// Refuses a response whose `Transfer-Encoding` is anything but a lone `chunked` (an empty
/// element counts), or that has one beside `Content-Length` (nginx refuses both, and a
/// repeated field too); a response without the field passes. Another coding (`gzip`,
/// `gzip, chunked`) would reach the client still coded once the hop-by-hop field is dropped,
/// and a body framed two ways is the shape of a response-splitting attempt on a pooled
/// connection: both are a broken answer. hyper takes both, so its responses (bodies,
/// upgrades, `https://`) are checked here too.
pub(crate) fn check_transfer_coding(headers: &HeaderMap) -> Result<(), Http1Error> {
    let mut fields = headers.get_all(header::TRANSFER_ENCODING).iter().peekable();
    if fields.peek().is_none() {
        return Ok(());
    }
    // Every element counts, an empty one too (`chunked,`): hyper reads only the last one.
    let mut codings = fields
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii);
    let chunked_alone = codings
        .next()
        .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"))
        && codings.next().is_none();
    if !chunked_alone {
        return Err(Http1Error::Invalid("a transfer coding other than chunked"));
    }
    if headers.contains_key(header::CONTENT_LENGTH) {
        return Err(Http1Error::Invalid(
            "both transfer-encoding and content-length",
        ));
    }
    Ok(())
}

/// A request head's fields: `headers` and the forwarding fields `deferred` leaves to the
/// writer, as the map would hold them after [`Deferred::apply`].
fn write_fields(w: &mut Vec<u8>, headers: &HeaderMap, deferred: Deferred) {
    let mut wrote_host = false;
    for (name, value) in headers {
        if deferred.client_host && name == header::HOST {
            // The first only, as `apply` keeps it (the pipeline refuses a second `Host`).
            if wrote_host {
                continue;
            }
            wrote_host = true;
        }
        let Some(name) = deferred.wire_name(name) else {
            continue;
        };
        w.extend_from_slice(name.as_bytes());
        w.extend_from_slice(b": ");
        w.extend_from_slice(value.as_bytes());
        w.extend_from_slice(b"\r\n");
    }
    if let Some(proto) = deferred.proto {
        w.extend_from_slice(b"x-forwarded-proto: ");
        w.extend_from_slice(proto.as_bytes());
        w.extend_from_slice(b"\r\n");
    }
}

// === impl Checkin ===

impl Checkin {
    /// Pools `conn` again, unless its backend has enough idle connections already.
    pub(crate) fn put(&self, conn: Conn) {
        let mut idle = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let entry = (conn, Instant::now());
        match idle.by_authority.get_mut(self.key.as_str()) {
            Some(list) if list.len() < self.max_idle => list.push(entry),
            Some(_) => {}
            None => {
                idle.by_authority
                    .insert(self.key.as_str().to_owned(), vec![entry]);
            }
        }
    }
}

// === impl ResponseBody ===

impl ResponseBody {
    /// The next piece of the body, or `None` at its end (the connection then goes back).
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BodyError>>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match self.framing {
                Framing::Length(0) => return Poll::Ready(self.finish()),
                Framing::Length(left) => {
                    if !conn.read.is_empty() {
                        let take = usize::try_from(left)
                            .unwrap_or(usize::MAX)
                            .min(conn.read.len());
                        let data = conn.read.split_to(take).freeze();
                        self.framing = Framing::Length(left - take as u64);
                        if self.framing == Framing::Length(0) {
                            // The client's side may stop polling once the announced length
                            // is written: the connection goes back with the last bytes.
                            self.finish();
                        }
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Framing::UntilClose => {
                    if !conn.read.is_empty() {
                        return Poll::Ready(Some(Ok(conn.read.split().freeze())));
                    }
                }
                Framing::Chunked(state) => {
                    if let Some(next) = chunk_step(&mut conn.read, state)? {
                        match next {
                            ChunkStep::State(state) => {
                                self.framing = Framing::Chunked(state);
                                continue;
                            }
                            ChunkStep::Data(bytes, state) => {
                                self.framing = Framing::Chunked(state);
                                return Poll::Ready(Some(Ok(bytes)));
                            }
                            ChunkStep::End => {
                                self.framing = Framing::Length(0);
                                continue;
                            }
                        }
                    }
                }
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if self.framing == Framing::UntilClose => {
                    self.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(BodyError::Other(
                        "the backend closed the connection inside the body".into(),
                    ))));
                }
                Ok(_) => {}
                Err(err) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(BodyError::Other(format!(
                        "backend connection: {err}"
                    )))));
                }
            }
        }
    }

    /// The body ended: the connection goes back to the pool if it can carry another request.
    fn finish(&mut self) -> Option<Result<Bytes, BodyError>> {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.read.is_empty()
        {
            self.checkin.put(conn);
        }
        None
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.conn.is_none()
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(left) => SizeHint::with_exact(left),
            _ => SizeHint::default(),
        }
    }
}

/// What one step of the chunked decoder found.
enum ChunkStep {
    /// Moved on without data.
    State(Chunk),
    /// Data of a chunk, then the state after it.
    Data(Bytes, Chunk),
    /// The last chunk and the trailers were read.
    End,
}

/// One step of decoding a chunked body from `read`; `None` when more bytes are needed.
fn chunk_step(read: &mut BytesMut, state: Chunk) -> Result<Option<ChunkStep>, BodyError> {
    let invalid =
        |what: &str| BodyError::Other(format!("invalid chunked body from the backend: {what}"));
    match state {
        Chunk::Size | Chunk::Trailer => {
            let Some(end) = read.windows(2).position(|w| w == b"\r\n") else {
                if read.len() > MAX_CHUNK_LINE {
                    return Err(invalid("line too long"));
                }
                return Ok(None);
            };
            let line = read.split_to(end + 2);
            let line = line.get(..end).unwrap_or_default();
            if state == Chunk::Trailer {
                return Ok(Some(if line.is_empty() {
                    ChunkStep::End
                } else {
                    ChunkStep::State(Chunk::Trailer)
                }));
            }
            // Chunk extensions (after `;`) are ignored.
            let size = line
                .split(|b| *b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let size = std::str::from_utf8(size)
                .ok()
                .filter(|s| !s.is_empty() && s.len() <= 16)
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or_else(|| invalid("chunk size"))?;
            Ok(Some(ChunkStep::State(if size == 0 {
                Chunk::Trailer
            } else {
                Chunk::Data(size)
            })))
        }
        Chunk::Data(left) => {
            if read.is_empty() {
                return Ok(None);
            }
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(read.len());
            let data = read.split_to(take).freeze();
            let left = left - take as u64;
            Ok(Some(ChunkStep::Data(
                data,
                if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                },
            )))
        }
        Chunk::DataEnd => {
            if read.len() < 2 {
                return Ok(None);
            }
            if read.get(..2) != Some(b"\r\n".as_slice()) {
                return Err(invalid("missing CRLF after a chunk"));
            }
            read.advance(2);
            Ok(Some(ChunkStep::State(Chunk::Size)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields written beside the deferred ones are what the map holds once they are
    /// applied to it, whatever the map has: a client's `Host` or none, and forwarding fields
    /// of its own (which cleaning removes from a client's headers, so they could only come
    /// from a later change; a deferred field still has the last word).
    #[test]
    fn deferred_fields_are_written_as_the_map_would_hold_them() {
        let lines = |wire: &[u8]| -> Vec<String> {
            let mut lines: Vec<String> = String::from_utf8_lossy(wire)
                .split("\r\n")
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines
        };
        let fields: &[&[(&str, &str)]] = &[
            &[("host", "api.example.com"), ("accept", "*/*")],
            &[("accept", "*/*")],
            &[
                ("host", "api.example.com"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-proto", "gopher"),
            ],
            &[
                ("x-forwarded-host", "evil.example"),
                ("x-kept", "a"),
                ("x-kept", "b"),
            ],
            &[("host", "first.example"), ("host", "second.example")],
        ];
        let deferred = [
            Deferred::default(),
            Deferred {
                proto: Some("https"),
                client_host: true,
            },
            Deferred {
                proto: Some("http"),
                client_host: false,
            },
            Deferred {
                proto: None,
                client_host: true,
            },
        ];
        for fields in fields {
            let mut map = HeaderMap::new();
            for (name, value) in *fields {
                map.append(*name, HeaderValue::from_static(value));
            }
            for deferred in deferred {
                let mut written = Vec::new();
                write_fields(&mut written, &map, deferred);
                let mut applied = map.clone();
                deferred.apply(&mut applied);
                let mut expected = Vec::new();
                write_fields(&mut expected, &applied, Deferred::default());
                assert_eq!(lines(&written), lines(&expected), "{fields:?} {deferred:?}");
            }
        }
        // The fields a proxy request deferring both writes after its request line and `host`,
        // in full.
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_static("api.example.com"));
        map.insert("x-forwarded-proto", HeaderValue::from_static("gopher"));
        map.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let mut written = Vec::new();
        let proxy = Deferred {
            proto: Some("https"),
            client_host: true,
        };
        write_fields(&mut written, &map, proxy);
        assert_eq!(
            String::from_utf8_lossy(&written),
            "x-forwarded-host: api.example.com\r\nx-forwarded-for: 10.0.0.1\r\n\
             x-forwarded-proto: https\r\n"
        );
    }

    #[test]
    fn a_recycled_map_comes_back_empty_and_a_large_one_is_not_kept() {
        let _ = spare_map();
        let mut request = HeaderMap::new();
        request.insert("x-secret", HeaderValue::from_static("s1"));
        request.append("x-secret", HeaderValue::from_static("s2"));
        request.insert(header::HOST, HeaderValue::from_static("backend"));
        recycle_request_headers(request);
        let kept = spare_map();
        assert!(kept.is_empty(), "{kept:?}");
        assert!(kept.capacity() > 0, "the request's map, not a new one");
        assert_eq!(spare_map().capacity(), 0, "taken once");

        // One name with many values: few fields, but the values' memory stays with the map.
        let mut large = HeaderMap::new();
        for _ in 0..=SPARE_MAP_MAX {
            large.append("x-many", HeaderValue::from_static("v"));
        }
        recycle_request_headers(large);
        assert_eq!(spare_map().capacity(), 0, "not kept");
    }

    /// Decodes a whole chunked body fed in pieces of `step` bytes.
    fn decode(wire: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
        let mut read = BytesMut::new();
        let mut out = Vec::new();
        let mut state = Chunk::Size;
        let mut fed = 0;
        loop {
            match chunk_step(&mut read, state)? {
                Some(ChunkStep::State(next)) => state = next,
                Some(ChunkStep::Data(bytes, next)) => {
                    out.extend_from_slice(&bytes);
                    state = next;
                }
                Some(ChunkStep::End) => return Ok((out, read.to_vec())),
                None => {
                    let end = (fed + step).min(wire.len());
                    if fed == end {
                        return Err(BodyError::Other("ran out".into()));
                    }
                    read.extend_from_slice(&wire[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_pieces() {
        let wire = b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: t\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 64, wire.len()] {
            let (body, rest) = decode(wire, step).unwrap();
            assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
            assert!(b"NEXT".starts_with(&rest), "step {step}: {rest:?}");
        }
    }

    #[test]
    fn malformed_chunked_bodies_are_refused() {
        for (name, wire) in [
            ("size not hex", b"zz\r\nhello\r\n0\r\n\r\n".as_slice()),
            ("no CRLF after data", b"5\r\nhelloXX0\r\n\r\n".as_slice()),
            ("size overflows", b"11111111111111111\r\n".as_slice()),
            ("empty size", b"\r\n".as_slice()),
        ] {
            assert!(decode(wire, 4).is_err(), "{name}");
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 10];
        assert!(decode(&long, 1024).is_err(), "a size line without end");
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let map = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            h
        };
        type Fields<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Fields<'_>, Option<Framing>)] = &[
            (&[("content-length", "23")], Some(Framing::Length(23))),
            (&[("content-length", "23, 23")], Some(Framing::Length(23))),
            (&[("content-length", "23"), ("content-length", "24")], None),
            (&[("content-length", "-1")], None),
            (&[("content-length", "+5")], None),
            (
                &[("transfer-encoding", "Chunked ")],
                Some(Framing::Chunked(Chunk::Size)),
            ),
            (
                &[("transfer-encoding", ""), ("transfer-encoding", "chunked")],
                None,
            ),
            (&[("transfer-encoding", "chunked,")], None),
            (&[("transfer-encoding", ", chunked")], None),
            (
                &[("transfer-encoding", "chunked"), ("content-length", "5")],
                None,
            ),
            (&[("transfer-encoding", "gzip, chunked")], None),
            (
                &[
                    ("transfer-encoding", "gzip"),
                    ("transfer-encoding", "chunked"),
                ],
                None,
            ),
            (&[("transfer-encoding", "chunked, chunked")], None),
            (&[("transfer-encoding", "chunked, gzip")], None),
            (&[("transfer-encoding", "gzip")], None),
            (&[("transfer-encoding", "")], None),
            (&[], Some(Framing::UntilClose)),
        ];
        for (headers, expected) in cases {
            let headers = map(headers);
            let found = framing(&headers, Named::of(&headers)).ok();
            assert_eq!(found, *expected, "{headers:?}");
        }
        let keeps = |version, pairs| {
            let headers = map(pairs);
            keeps_alive(version, &headers, Named::of(&headers))
        };
        assert!(keeps(Version::HTTP_11, &[]));
        assert!(!keeps(
            Version::HTTP_11,
            &[("connection", "keep-alive, Close")]
        ));
        assert!(!keeps(Version::HTTP_10, &[]));
        assert!(keeps(Version::HTTP_10, &[("connection", "keep-alive")]));
    }
}
