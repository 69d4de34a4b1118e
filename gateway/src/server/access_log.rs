//! Access logs: one line per request in the stage's `access_log_format`, with API Gateway's
//! `$context` variables, written by a background thread fed through a bounded channel.
//!
//! Logging never blocks a request: when the writer falls behind (a slow disk, a blocked pipe)
//! lines are dropped and counted (`gatehouse_gateway_access_log_dropped_total`). Values are
//! escaped for JSON string context (`"`, `\`, control characters), so a JSON format stays
//! valid whatever a client sends; a missing value is `-`, as API Gateway writes it.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatehouse_policy::calendar;
use tokio::sync::mpsc;

use crate::server::metrics::Metrics;
use crate::server::steps::{AuthorizerOutput, Identity};

/// A compiled access-log format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogFormat {
    pieces: Vec<Piece>,
    /// Whether `requestTime` is used (it needs calendar arithmetic; skipped otherwise).
    needs_time: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    RequestId,
    ApiId,
    Stage,
    HttpMethod,
    ResourcePath,
    ResourceId,
    Path,
    Protocol,
    Status,
    ResponseLength,
    ResponseLatency,
    IntegrationLatency,
    IntegrationStatus,
    IntegrationError,
    RequestTime,
    RequestTimeEpoch,
    DomainName,
    DomainPrefix,
    SourceIp,
    UserAgent,
    ErrorMessage,
    ErrorResponseType,
    /// `identity.X` other than sourceIp / userAgent.
    Identity(String),
    /// `authorizer.X` (`principalId`, `claims.sub`, a context key).
    Authorizer(String),
    /// Variables gatehouse has no value for (`accountId`, `awsEndpointRequestId`): `-`.
    Unknown,
}

/// Everything a log line may mention about one request.
#[derive(Debug)]
pub struct LogRecord<'a> {
    pub request_id: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    pub http_method: &'a str,
    pub resource_path: &'a str,
    pub path: &'a str,
    pub protocol: &'a str,
    pub status: u16,
    pub response_length: Option<u64>,
    pub response_latency: Duration,
    pub integration_latency: Option<Duration>,
    pub integration_status: Option<u16>,
    pub integration_error: Option<&'a str>,
    pub request_time: SystemTime,
    pub domain_name: &'a str,
    pub source_ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub error_response_type: Option<&'a str>,
    pub identity: &'a Identity,
    pub authorizer: Option<&'a AuthorizerOutput>,
}

/// Where log lines go: a bounded queue drained by a writer thread.
#[derive(Debug, Clone)]
pub struct AccessLogSink {
    sender: Option<mpsc::Sender<String>>,
}

/// Default queue length of the sink.
pub const DEFAULT_QUEUE: usize = 16 * 1024;

// === impl AccessLogFormat ===

impl AccessLogFormat {
    /// Compiles a format (already checked by the loader: unknown variables are errors there).
    pub fn compile(format: &str) -> Self {
        let mut pieces = Vec::new();
        let mut rest = format;
        let mut needs_time = false;
        while let Some(i) = rest.find("$context.") {
            if i > 0 {
                pieces.push(Piece::Literal(rest.get(..i).unwrap_or_default().to_owned()));
            }
            let after = rest.get(i + "$context.".len()..).unwrap_or_default();
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
                .unwrap_or(after.len());
            let raw = after.get(..end).unwrap_or_default();
            let name = raw.trim_end_matches('.');
            let var = Var::parse(name);
            needs_time |= var == Var::RequestTime;
            pieces.push(Piece::Var(var));
            // A trailing `.` was punctuation, not part of the name.
            rest = after.get(name.len()..).unwrap_or_default();
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        Self { pieces, needs_time }
    }

    /// Renders one line (without the newline).
    pub fn render(&self, record: &LogRecord<'_>) -> String {
        let mut out = String::with_capacity(256);
        let time = self
            .needs_time
            .then(|| calendar::format_clf(calendar::unix_seconds(record.request_time)));
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Var(var) => var.write(record, time.as_deref(), &mut out),
            }
        }
        out
    }
}

impl Var {
    fn parse(name: &str) -> Self {
        match name {
            "requestId" | "extendedRequestId" => Self::RequestId,
            "apiId" => Self::ApiId,
            "stage" => Self::Stage,
            "httpMethod" => Self::HttpMethod,
            "resourcePath" => Self::ResourcePath,
            "resourceId" => Self::ResourceId,
            "path" => Self::Path,
            "protocol" => Self::Protocol,
            "status" => Self::Status,
            "responseLength" => Self::ResponseLength,
            "responseLatency" => Self::ResponseLatency,
            "integrationLatency" | "integration.latency" => Self::IntegrationLatency,
            "integrationStatus" | "integration.status" | "integration.integrationStatus" => {
                Self::IntegrationStatus
            }
            "integration.error" => Self::IntegrationError,
            "requestTime" => Self::RequestTime,
            "requestTimeEpoch" => Self::RequestTimeEpoch,
            "domainName" => Self::DomainName,
            "domainPrefix" => Self::DomainPrefix,
            "identity.sourceIp" => Self::SourceIp,
            "identity.userAgent" => Self::UserAgent,
            "error.message" | "error.messageString" => Self::ErrorMessage,
            "error.responseType" => Self::ErrorResponseType,
            other => {
                if let Some(rest) = other.strip_prefix("identity.") {
                    Self::Identity(rest.to_owned())
                } else if let Some(rest) = other.strip_prefix("authorizer.") {
                    Self::Authorizer(rest.to_owned())
                } else {
                    Self::Unknown
                }
            }
        }
    }

    fn write(&self, r: &LogRecord<'_>, time: Option<&str>, out: &mut String) {
        let ms = |d: Duration| d.as_millis();
        match self {
            Self::RequestId => escape_into(r.request_id, out),
            Self::ApiId => escape_into(r.api_id, out),
            Self::Stage => escape_into(r.stage, out),
            Self::HttpMethod => escape_into(r.http_method, out),
            Self::ResourcePath => escape_into(r.resource_path, out),
            Self::ResourceId => escape_into(r.resource_path, out),
            Self::Path => escape_into(r.path, out),
            Self::Protocol => escape_into(r.protocol, out),
            Self::Status => {
                let _ = write!(out, "{}", r.status);
            }
            Self::ResponseLength => match r.response_length {
                Some(n) => {
                    let _ = write!(out, "{n}");
                }
                None => out.push('-'),
            },
            Self::ResponseLatency => {
                let _ = write!(out, "{}", ms(r.response_latency));
            }
            Self::IntegrationLatency => match r.integration_latency {
                Some(d) => {
                    let _ = write!(out, "{}", ms(d));
                }
                None => out.push('-'),
            },
            Self::IntegrationStatus => match r.integration_status {
                Some(s) => {
                    let _ = write!(out, "{s}");
                }
                None => out.push('-'),
            },
            Self::IntegrationError => opt(r.integration_error, out),
            Self::RequestTime => opt(time, out),
            Self::RequestTimeEpoch => {
                let _ = write!(out, "{}", calendar::unix_millis(r.request_time));
            }
            Self::DomainName => escape_into(r.domain_name, out),
            Self::DomainPrefix => {
                escape_into(r.domain_name.split('.').next().unwrap_or_default(), out)
            }
            Self::SourceIp => escape_into(r.source_ip, out),
            Self::UserAgent => opt(r.user_agent, out),
            Self::ErrorMessage => opt(r.error_message, out),
            Self::ErrorResponseType => opt(r.error_response_type, out),
            Self::Identity(name) => opt(r.identity.get(name), out),
            Self::Authorizer(name) => opt(r.authorizer.and_then(|a| a.get(name)), out),
            Self::Unknown => out.push('-'),
        }
    }
}

fn opt(value: Option<&str>, out: &mut String) {
    match value {
        Some(v) => escape_into(v, out),
        None => out.push('-'),
    }
}

/// Escapes for a JSON string context.
fn escape_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

// === impl AccessLogSink ===

impl AccessLogSink {
    /// No access logs at all (formats are ignored).
    pub fn disabled() -> Self {
        Self { sender: None }
    }

    /// Lines to standard error.
    pub fn stderr() -> Self {
        Self::writer(std::io::stderr(), DEFAULT_QUEUE)
    }

    /// Lines appended to a file (created if missing).
    pub fn file(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self::writer(file, DEFAULT_QUEUE))
    }

    /// Lines to any writer, through a queue of `capacity` lines. The writer thread flushes
    /// whenever the queue runs empty and stops when every clone of the sink is dropped.
    pub fn writer(writer: impl Write + Send + 'static, capacity: usize) -> Self {
        let (sender, mut receiver) = mpsc::channel::<String>(capacity.max(1));
        let spawned = std::thread::Builder::new()
            .name("gateway-access-log".to_owned())
            .spawn(move || {
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, writer);
                while let Some(line) = receiver.blocking_recv() {
                    let mut ok = writeln!(out, "{line}").is_ok();
                    while let Ok(line) = receiver.try_recv() {
                        ok &= writeln!(out, "{line}").is_ok();
                    }
                    if !ok || out.flush().is_err() {
                        tracing::warn!("access log: write failed; lines were lost");
                    }
                }
            });
        match spawned {
            Ok(_) => Self {
                sender: Some(sender),
            },
            Err(err) => {
                tracing::error!(%err, "access log: cannot start the writer thread; access logs are off");
                Self { sender: None }
            }
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// Queues a line; never waits.
    pub(crate) fn send(&self, line: String, metrics: &Arc<Metrics>) {
        if let Some(sender) = &self.sender
            && sender.try_send(line).is_err()
        {
            metrics
                .access_log_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn formats_context_variables_and_escapes() {
        let format = AccessLogFormat::compile(
            r#"{"id":"$context.requestId","st":$context.status,"ua":"$context.identity.userAgent","k":"$context.identity.apiKey","sub":"$context.authorizer.claims.sub"}. t=$context.requestTime."#,
        );
        let identity = Identity::default();
        let record = LogRecord {
            request_id: "r-1",
            api_id: "a",
            stage: "prod",
            http_method: "GET",
            resource_path: "/x",
            path: "/prod/x",
            protocol: "HTTP/1.1",
            status: 200,
            response_length: Some(3),
            response_latency: Duration::from_millis(5),
            integration_latency: None,
            integration_status: None,
            integration_error: None,
            request_time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            domain_name: "localhost",
            source_ip: "127.0.0.1",
            user_agent: Some("evil\"agent\n"),
            error_message: None,
            error_response_type: None,
            identity: &identity,
            authorizer: None,
        };
        assert_eq!(
            format.render(&record),
            r#"{"id":"r-1","st":200,"ua":"evil\"agent\n","k":"-","sub":"-"}. t=14/Nov/2023:22:13:20 +0000."#
        );
    }
}
