//! The one body type of the data plane: empty, a fixed buffer, a streamed hyper body (with an
//! optional byte limit), a plain backend's response body read by the request's task, or a
//! boxed body for stages that need to wrap a response (a cache tee).
//!
//! An enum rather than a boxed trait object so the common cases (streamed request and
//! response bodies, small gateway answers) cost no allocation.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;

use crate::server::backend_http1::ResponseBody;

/// A request or response body passing through the gateway.
#[derive(Debug, Default)]
pub enum GatewayBody {
    #[default]
    Empty,
    /// A buffered body, taken on the first poll.
    Full(Option<Bytes>),
    /// A streamed body, passed through frame by frame.
    Incoming(Incoming),
    /// A streamed body that fails with [`BodyError::TooLarge`] past `remaining` bytes (a
    /// chunked request whose length is not known up front).
    Limited {
        inner: Incoming,
        remaining: u64,
        limit: u64,
    },
    /// A plain HTTP/1.1 backend's response body, read by the request's own task (see
    /// [`crate::server::backend_http1`]).
    Backend(Box<ResponseBody>),
    /// Anything else (a stage wrapping a response body).
    Boxed(UnsyncBoxBody<Bytes, BodyError>),
}

/// Why a body stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("body stream failed: {0}")]
    Stream(#[from] hyper::Error),
    #[error("body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Other(String),
}

// === impl GatewayBody ===

impl GatewayBody {
    /// A buffered body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            Self::Empty
        } else {
            Self::Full(Some(bytes))
        }
    }

    /// A streamed body limited to `limit` bytes.
    pub fn limited(inner: Incoming, limit: u64) -> Self {
        Self::Limited {
            inner,
            remaining: limit,
            limit,
        }
    }
}

impl From<Bytes> for GatewayBody {
    fn from(bytes: Bytes) -> Self {
        Self::full(bytes)
    }
}

impl From<String> for GatewayBody {
    fn from(text: String) -> Self {
        Self::full(text)
    }
}

impl From<&'static str> for GatewayBody {
    fn from(text: &'static str) -> Self {
        Self::full(Bytes::from_static(text.as_bytes()))
    }
}

impl Body for GatewayBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Incoming(inner) => Pin::new(inner)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::from))),
            Self::Limited {
                inner,
                remaining,
                limit,
            } => {
                let frame = match Pin::new(inner).poll_frame(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                    Poll::Ready(Some(Ok(frame))) => frame,
                };
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    match remaining.checked_sub(len) {
                        Some(left) => *remaining = left,
                        None => {
                            return Poll::Ready(Some(Err(BodyError::TooLarge { limit: *limit })));
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Self::Backend(inner) => inner.poll_data(cx).map(|d| d.map(|r| r.map(Frame::data))),
            Self::Boxed(inner) => Pin::new(inner).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(bytes) => bytes.is_none(),
            Self::Incoming(inner) | Self::Limited { inner, .. } => inner.is_end_stream(),
            Self::Backend(inner) => inner.is_end_stream(),
            Self::Boxed(inner) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Incoming(inner) | Self::Limited { inner, .. } => inner.size_hint(),
            Self::Backend(inner) => inner.size_hint(),
            Self::Boxed(inner) => inner.size_hint(),
        }
    }
}
