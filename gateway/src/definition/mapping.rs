//! Parameter expressions in API Gateway's own syntax: method request parameters
//! (`method.request.header.x-user`), integration request mapping targets
//! (`integration.request.querystring.stage`) and sources (a method request parameter,
//! `stageVariables.x`, `context.x` or a `'literal'`), and authorizer identity sources.

use std::fmt;

use crate::definition::error::Problem;
use crate::definition::template::is_stage_variable_name;

/// Where a request parameter lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParamLocation {
    Path,
    QueryString,
    Header,
    /// All values of a repeated query parameter (mapping sources and targets only).
    MultiValueQueryString,
    /// All values of a repeated header (mapping sources and targets only).
    MultiValueHeader,
}

/// A method request parameter: `method.request.{location}.{name}`.
///
/// Header names are compared case-insensitively by the pipeline; they are stored as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestParam {
    pub location: ParamLocation,
    pub name: String,
}

/// An integration request parameter to set: `integration.request.{location}.{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MappingTarget {
    pub location: ParamLocation,
    pub name: String,
}

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingSource {
    /// A method request parameter.
    Request(RequestParam),
    /// `stageVariables.name`.
    StageVariable(String),
    /// `context.path`, e.g. `requestId` or `authorizer.claims.sub` (see [`CONTEXT_VARIABLES`]).
    Context(String),
    /// `'static value'`.
    Literal(String),
}

/// One mapping `target ← source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterMapping {
    pub target: MappingTarget,
    pub source: MappingSource,
}

/// Where an authorizer reads the caller's identity from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    Header(String),
    QueryString(String),
    StageVariable(String),
    Context(String),
}

/// `$context` variables a mapping, an identity source or an access-log format may use. A
/// name ending in `.` is a prefix (`authorizer.claims.sub`, `identity.sourceIp`, …).
pub const CONTEXT_VARIABLES: &[&str] = &[
    "accountId",
    "apiId",
    "authorizer.",
    "awsEndpointRequestId",
    "domainName",
    "domainPrefix",
    "error.",
    "extendedRequestId",
    "httpMethod",
    "identity.",
    "integration.",
    "integrationLatency",
    "integrationStatus",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "resourceId",
    "resourcePath",
    "responseLatency",
    "responseLength",
    "stage",
    "status",
];

// === impl RequestParam ===

impl RequestParam {
    /// Parses `method.request.{path|querystring|header}.{name}` (the multi-value locations only
    /// when `multi_value` is allowed, as for mapping sources).
    pub fn parse(text: &str, multi_value: bool) -> Result<Self, Problem> {
        let rest = text.strip_prefix("method.request.").ok_or_else(|| {
            Problem::invalid(
                "request parameter",
                text,
                "expected `method.request.{path|querystring|header}.NAME`",
            )
        })?;
        let (location, name) = split_location(rest, text)?;
        if !multi_value
            && matches!(
                location,
                ParamLocation::MultiValueHeader | ParamLocation::MultiValueQueryString
            )
        {
            return Err(Problem::invalid(
                "request parameter",
                text,
                "multi-value locations are only valid as mapping sources",
            ));
        }
        Ok(Self {
            location,
            name: name.to_owned(),
        })
    }

    pub fn header(name: &str) -> Self {
        Self {
            location: ParamLocation::Header,
            name: name.to_owned(),
        }
    }

    pub fn query(name: &str) -> Self {
        Self {
            location: ParamLocation::QueryString,
            name: name.to_owned(),
        }
    }

    pub fn path(name: &str) -> Self {
        Self {
            location: ParamLocation::Path,
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for RequestParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "method.request.{}.{}",
            self.location.keyword(),
            self.name
        )
    }
}

// === impl ParamLocation ===

impl ParamLocation {
    /// The word API Gateway uses in parameter expressions.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::QueryString => "querystring",
            Self::Header => "header",
            Self::MultiValueQueryString => "multivaluequerystring",
            Self::MultiValueHeader => "multivalueheader",
        }
    }

    /// Whether a value here goes in the query string (`querystring`, `multivaluequerystring`).
    pub fn is_query_string(self) -> bool {
        matches!(self, Self::QueryString | Self::MultiValueQueryString)
    }

    fn from_keyword(word: &str) -> Option<Self> {
        Some(match word {
            "path" => Self::Path,
            "querystring" => Self::QueryString,
            "header" => Self::Header,
            "multivaluequerystring" => Self::MultiValueQueryString,
            "multivalueheader" => Self::MultiValueHeader,
            _ => return None,
        })
    }
}

fn split_location<'a>(rest: &'a str, whole: &str) -> Result<(ParamLocation, &'a str), Problem> {
    let (word, name) = rest
        .split_once('.')
        .ok_or_else(|| Problem::invalid("parameter", whole, "expected `LOCATION.NAME`"))?;
    if word == "body" {
        return Err(Problem::unsupported(
            whole,
            "body mappings (JSONPath into the payload) are not supported",
        ));
    }
    let location = ParamLocation::from_keyword(word).ok_or_else(|| {
        Problem::invalid(
            "parameter",
            whole,
            format!("unknown location `{word}`, expected path, querystring or header"),
        )
    })?;
    if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Problem::invalid(
            "parameter",
            whole,
            "the name must be non-empty with no spaces",
        ));
    }
    Ok((location, name))
}

// === impl MappingTarget ===

impl MappingTarget {
    /// Parses `integration.request.{location}.{name}`; the short form `{location}.{name}` is
    /// accepted too (the declarative file uses it).
    ///
    /// A header that frames the backend request or belongs to its connection (`Content-Length`,
    /// `Transfer-Encoding`, `Expect` and the hop-by-hop headers) is refused: the gateway writes
    /// those itself, and a mapped one, fed from a client's header, could make the backend read
    /// a body of another length on a pooled connection. API Gateway reserves them too.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let rest = text.strip_prefix("integration.request.").unwrap_or(text);
        let (location, name) = split_location(rest, text)?;
        if matches!(
            location,
            ParamLocation::Header | ParamLocation::MultiValueHeader
        ) && frames_or_hops(name)
        {
            return Err(Problem::invalid(
                "parameter",
                text,
                "the gateway sets the framing and connection headers of a backend request \
                 itself (Content-Length, Transfer-Encoding, Expect, Connection, Keep-Alive, TE, \
                 Trailer, Upgrade, Proxy-*); they cannot be mapped",
            ));
        }
        Ok(Self {
            location,
            name: name.to_owned(),
        })
    }
}

/// A header name (any case) that frames a request or is hop-by-hop.
fn frames_or_hops(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    is_hop_by_hop(&name) || name == "content-length" || name == "expect"
}

/// Whether a header, by its lower-case name, is hop-by-hop by itself (RFC 9110 section
/// 7.6.1; the headers a `Connection` field names are found through it). The gateway removes
/// these from what it forwards, and a mapping may not set them.
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "te" | "trailer" | "transfer-encoding" | "upgrade"
    ) || name.starts_with("proxy-")
}

impl fmt::Display for MappingTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "integration.request.{}.{}",
            self.location.keyword(),
            self.name
        )
    }
}

// === impl MappingSource ===

impl MappingSource {
    /// Parses a mapping source: `method.request.…`, `stageVariables.x` / `$stageVariables.x`,
    /// `context.x` / `$context.x`, or `'literal'`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if let Some(inner) = text.strip_prefix('\'') {
            let literal = inner.strip_suffix('\'').ok_or_else(|| {
                Problem::invalid(
                    "mapping source",
                    text,
                    "a static value must be enclosed in single quotes",
                )
            })?;
            return Ok(Self::Literal(literal.to_owned()));
        }
        if text.starts_with("method.request.") {
            return RequestParam::parse(text, true).map(Self::Request);
        }
        let plain = text.strip_prefix('$').unwrap_or(text);
        if let Some(name) = plain.strip_prefix("stageVariables.") {
            if !is_stage_variable_name(name) {
                return Err(Problem::invalid(
                    "stage variable",
                    name,
                    "use letters, digits and `_`",
                ));
            }
            return Ok(Self::StageVariable(name.to_owned()));
        }
        if let Some(var) = plain.strip_prefix("context.") {
            return check_context_variable(var).map(|()| Self::Context(var.to_owned()));
        }
        Err(Problem::invalid(
            "mapping source",
            text,
            "expected `method.request.…`, `stageVariables.…`, `context.…` or a 'quoted' static value",
        ))
    }
}

impl fmt::Display for MappingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(param) => write!(f, "{param}"),
            Self::StageVariable(name) => write!(f, "stageVariables.{name}"),
            Self::Context(var) => write!(f, "context.{var}"),
            Self::Literal(value) => write!(f, "'{value}'"),
        }
    }
}

/// Checks a `$context` variable name against [`CONTEXT_VARIABLES`].
pub fn check_context_variable(var: &str) -> Result<(), Problem> {
    let known = CONTEXT_VARIABLES
        .iter()
        .any(|known| match known.strip_suffix('.') {
            Some(prefix) => var
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|r| !r.is_empty()),
            None => var == *known,
        });
    let well_formed = var
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
    if known && well_formed {
        Ok(())
    } else {
        Err(Problem::unknown("context variable", var))
    }
}

// === impl IdentitySource ===

impl IdentitySource {
    /// Parses a REST API identity source (`method.request.header.Authorization`,
    /// `method.request.querystring.token`, `stageVariables.x`, `context.x`) or an HTTP API one
    /// (`$request.header.Authorization`, `$request.querystring.token`, `$stageVariables.x`,
    /// `$context.x`).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let text = text.trim();
        let bad = || {
            Problem::invalid(
                "identity source",
                text,
                "expected `method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME` or `context.NAME`",
            )
        };
        let rest = text
            .strip_prefix("method.request.")
            .or_else(|| text.strip_prefix("$request."));
        if let Some(rest) = rest {
            let (word, name) = rest.split_once('.').ok_or_else(bad)?;
            if name.is_empty() {
                return Err(bad());
            }
            return match word {
                "header" => Ok(Self::Header(name.to_owned())),
                "querystring" => Ok(Self::QueryString(name.to_owned())),
                _ => Err(bad()),
            };
        }
        match MappingSource::parse(text) {
            Ok(MappingSource::StageVariable(name)) => Ok(Self::StageVariable(name)),
            Ok(MappingSource::Context(var)) => Ok(Self::Context(var)),
            Ok(MappingSource::Request(_) | MappingSource::Literal(_)) | Err(_) => Err(bad()),
        }
    }

    /// A bare header name, as the declarative file and `identitySource: Authorization` allow.
    pub fn header(name: &str) -> Self {
        Self::Header(name.to_owned())
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(name) => write!(f, "method.request.header.{name}"),
            Self::QueryString(name) => write!(f, "method.request.querystring.{name}"),
            Self::StageVariable(name) => write!(f, "stageVariables.{name}"),
            Self::Context(var) => write!(f, "context.{var}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(
            MappingSource::parse("method.request.header.x-user").unwrap(),
            MappingSource::Request(RequestParam::header("x-user"))
        );
        assert_eq!(
            MappingSource::parse("'application/json'").unwrap(),
            MappingSource::Literal("application/json".into())
        );
        assert_eq!(
            MappingSource::parse("$stageVariables.ver").unwrap(),
            MappingSource::StageVariable("ver".into())
        );
        assert_eq!(
            MappingSource::parse("context.authorizer.claims.sub").unwrap(),
            MappingSource::Context("authorizer.claims.sub".into())
        );
        assert!(matches!(
            MappingSource::parse("method.request.body.name"),
            Err(Problem::Unsupported { .. })
        ));
        assert!(MappingSource::parse("context.bogus").is_err());
        assert!(MappingSource::parse("context.authorizer.").is_err());
        assert!(MappingSource::parse("'open").is_err());
        assert!(MappingSource::parse("whatever").is_err());
    }

    #[test]
    fn parses_targets_and_params() {
        let t = MappingTarget::parse("integration.request.querystring.stage").unwrap();
        assert_eq!(t.to_string(), "integration.request.querystring.stage");
        assert_eq!(
            MappingTarget::parse("header.x").unwrap().location,
            ParamLocation::Header
        );
        assert!(MappingTarget::parse("integration.request.cookie.x").is_err());
        // The framing and connection headers are the gateway's: never mapped, in any case.
        for name in [
            "Content-Length",
            "transfer-encoding",
            "EXPECT",
            "Connection",
            "keep-alive",
            "TE",
            "trailer",
            "Upgrade",
            "Proxy-Authorization",
            "proxy-connection",
        ] {
            for location in ["header", "multivalueheader"] {
                let text = format!("integration.request.{location}.{name}");
                assert!(MappingTarget::parse(&text).is_err(), "{text}");
            }
        }
        // Others, the `Host` among them, are.
        for name in ["Host", "x-tenant", "Accept", "tex", "proxy"] {
            let text = format!("integration.request.header.{name}");
            assert!(MappingTarget::parse(&text).is_ok(), "{text}");
        }
        assert!(MappingTarget::parse("integration.request.querystring.connection").is_ok());
        assert!(RequestParam::parse("method.request.multivalueheader.x", false).is_err());
        assert_eq!(
            RequestParam::parse("method.request.path.id", false).unwrap(),
            RequestParam::path("id")
        );
    }

    #[test]
    fn parses_identity_sources() {
        assert_eq!(
            IdentitySource::parse("method.request.header.Authorization").unwrap(),
            IdentitySource::header("Authorization")
        );
        assert_eq!(
            IdentitySource::parse("$request.querystring.t").unwrap(),
            IdentitySource::QueryString("t".into())
        );
        assert_eq!(
            IdentitySource::parse("$context.identity.sourceIp").unwrap(),
            IdentitySource::Context("identity.sourceIp".into())
        );
        assert!(IdentitySource::parse("method.request.path.x").is_err());
    }
}
