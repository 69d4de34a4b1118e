//! Resource path templates (`/pets/{petId}`, `/files/{proxy+}`) and the percent-decoding of
//! request path segments.

use std::fmt;

use crate::definition::error::Problem;

/// A parsed resource path: `/`, or `/`-separated segments that are each a literal, a
/// `{param}` or — last only — a greedy `{param+}`.
///
/// Rules (as API Gateway applies them when a resource is created): the path starts with `/`,
/// has no empty segment and no trailing slash, a segment is either all literal or one whole
/// `{param}` (no `a{b}` mixes), parameter names are unique within the path and made of
/// `[A-Za-z0-9._-]`, and a greedy parameter can only be the last segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePath {
    text: String,
    segments: Vec<Segment>,
}

/// One segment of a [`ResourcePath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// Matches exactly this text (case-sensitive, after percent-decoding the request).
    Literal(String),
    /// `{name}`: matches any one non-empty segment.
    Param(String),
    /// `{name+}`: matches one or more segments, to the end of the path.
    Greedy(String),
}

// === impl ResourcePath ===

impl ResourcePath {
    /// The root resource `/`.
    pub fn root() -> Self {
        Self {
            text: "/".to_owned(),
            segments: Vec::new(),
        }
    }

    /// Parses a path template, enforcing `max_depth` segments and `max_len` characters.
    pub fn parse(text: &str, max_depth: usize, max_len: usize) -> Result<Self, Problem> {
        let bad = |reason: &str| Problem::invalid("resource path", text, reason);
        if text.len() > max_len {
            return Err(Problem::OutOfRange {
                what: "resource path length",
                value: text.len().to_string(),
                range: "up to the path length limit",
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(bad("it must start with `/`"));
        };
        if rest.is_empty() {
            return Ok(Self::root());
        }
        let mut segments = Vec::new();
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() > max_depth {
            return Err(Problem::TooMany {
                what: "path segments",
                count: parts.len(),
                limit: max_depth,
            });
        }
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err(bad(if i == last {
                    "it must not end with `/`"
                } else {
                    "it has an empty segment"
                }));
            }
            let segment = if let Some(inner) = part.strip_prefix('{') {
                let Some(inner) = inner.strip_suffix('}') else {
                    return Err(bad("a segment that starts with `{` must end with `}`"));
                };
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if !is_param_name(name) {
                    return Err(bad(
                        "a parameter name must be non-empty and made of letters, digits, `.`, `_` and `-`",
                    ));
                }
                if greedy && i != last {
                    return Err(bad("a greedy parameter `{name+}` must be the last segment"));
                }
                if segments
                    .iter()
                    .any(|s: &Segment| s.param_name() == Some(name))
                {
                    return Err(bad("a parameter name appears twice"));
                }
                if greedy {
                    Segment::Greedy(name.to_owned())
                } else {
                    Segment::Param(name.to_owned())
                }
            } else {
                if let Some(c) = part.chars().find(|c| !is_literal_char(*c)) {
                    return Err(bad(&format!(
                        "character `{}` is not allowed in a path segment",
                        c.escape_debug()
                    )));
                }
                Segment::Literal((*part).to_owned())
            };
            segments.push(segment);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The template as written, e.g. `/pets/{petId}` (API Gateway's `$context.resourcePath`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Names of the path parameters, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(Segment::param_name)
    }

    /// Whether `name` is a path parameter of this resource.
    pub fn has_param(&self, name: &str) -> bool {
        self.param_names().any(|n| n == name)
    }

    /// The greedy parameter's name, when the path ends with one.
    pub fn greedy_param(&self) -> Option<&str> {
        match self.segments.last() {
            Some(Segment::Greedy(name)) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for ResourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// === impl Segment ===

impl Segment {
    /// The parameter name for `{name}` and `{name+}`.
    pub fn param_name(&self) -> Option<&str> {
        match self {
            Self::Literal(_) => None,
            Self::Param(name) | Self::Greedy(name) => Some(name),
        }
    }
}

/// Characters of a parameter name (API Gateway accepts these in `{…}`).
pub(crate) fn is_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Characters allowed in a literal segment: printable, and none that would be ambiguous in a
/// URL or a template.
fn is_literal_char(c: char) -> bool {
    !c.is_control() && !c.is_whitespace() && !matches!(c, '/' | '{' | '}' | '?' | '#' | '%' | '\\')
}

/// Percent-decodes one request path segment. A segment whose escapes are malformed or that
/// does not decode to UTF-8 is returned unchanged: it then matches only a literal spelled the
/// same way or a parameter, which receives it verbatim — never an error, never a panic.
pub fn percent_decode(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('%') {
        return std::borrow::Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|h| hex_value(*h));
            let lo = bytes.get(i + 2).and_then(|l| hex_value(*l));
            match (hi, lo) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 3;
                }
                _ => return std::borrow::Cow::Borrowed(raw),
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) => std::borrow::Cow::Owned(decoded),
        Err(_) => std::borrow::Cow::Borrowed(raw),
    }
}

/// Why a request path is refused before it is routed or forwarded (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathRejection {
    /// A segment is `.` or `..` once percent-decoded, also when an encoded `/` or a `\`
    /// splits one off (`..%2F`, `%2e%2e`, `..%5C`) or a `;` parameter follows it (`..;x`).
    #[error("the path has a `.` or `..` segment once percent-decoded")]
    DotSegment,
    /// Percent-decoding gives bytes that are not UTF-8 (an overlong `%C0%AE` among them).
    #[error("the path is not UTF-8 once percent-decoded")]
    NotUtf8,
    /// `%00`: a backend written in C would end the path there.
    #[error("the path has an encoded NUL byte")]
    Nul,
    /// A greedy parameter's value turns an encoded `/` into a separator for the backend; here
    /// the separator would have made an empty segment, or the path, written with it, routes
    /// to another resource (see [`split_encoded_slashes`]).
    #[error("an encoded `/` in a greedy parameter would reach another resource")]
    EncodedSlash,
    /// A run of slashes that could not be merged into one (see [`merge_slashes`]; not
    /// expected, since merging only removes `/`s).
    #[error("the path's runs of slashes cannot be merged")]
    SlashRun,
}

/// Checks a request path (without the query string) before routing: no segment may be `.`
/// or `..` once percent-decoded, where a decoded `/` and a `\` (raw or decoded: some servers
/// treat it as a separator) split segments and a `;` ends one (servlet containers read
/// `..;x` as `..`); the decoded bytes must be UTF-8 and must not hold NUL.
///
/// Only the request's own encoding is decoded, once: `%252e` is the three characters `%2e`,
/// which is neither a dot segment nor decoded again (the backend receives it re-encoded, as
/// `%252e`). A malformed escape (`%zz`) is literal text. Allocation-free unless a segment
/// has an escape above `%7F`.
pub fn check_request_path(path: &str) -> Result<(), PathRejection> {
    // A segment without `.`, `%` or `\` can be none of the refused shapes.
    if !path.bytes().any(|b| matches!(b, b'.' | b'%' | b'\\')) {
        return Ok(());
    }
    path.split('/').try_for_each(check_segment)
}

/// Checks a decoded value about to be substituted into a backend URI's path (a `{param}`
/// filled from a path parameter, a query string, a header or the context): the same rules
/// as [`check_request_path`], without decoding again. A value that would make a `.` or `..`
/// segment — `..`, or `x/../y` for a greedy parameter, or `..\\x` for a backend that splits
/// at backslashes — is refused, whatever re-encoding would have made of it: `%2E%2E` is `..`
/// to many servers.
pub fn check_path_value(value: &str) -> Result<(), PathRejection> {
    if !value.bytes().any(|b| matches!(b, b'.' | b'\\' | 0)) {
        return Ok(());
    }
    let mut part = DotPart::default();
    for byte in value.bytes() {
        match byte {
            0 => return Err(PathRejection::Nul),
            b'/' | b'\\' => part.end()?,
            _ => part.push(byte),
        }
    }
    part.end()
}

/// The path with each encoded slash (`%2F`, `%2f`) written as `/`, or `None` when it has
/// none.
///
/// A greedy parameter (`{proxy+}`) decodes its value and passes a decoded `/` to the backend
/// as a separator, while routing saw it inside one segment: `/admin%2Fsecret` matches a root
/// `/{proxy+}`, not `/admin/{id}`, yet the backend receives `/admin/secret`. So a request
/// routed to a greedy resource through an encoded slash must route the same with the slash
/// written out, or it is refused ([`PathRejection::EncodedSlash`]) — otherwise it would
/// reach a backend path whose own resource's authorizer, keys and limits never ran.
pub fn split_encoded_slashes(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out: Option<String> = None;
    // Bytes of `path` before `copied` are already in `out`.
    let (mut i, mut copied) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        let escape = b == b'%'
            && bytes.get(i + 1) == Some(&b'2')
            && matches!(bytes.get(i + 2), Some(b'F' | b'f'));
        if escape {
            let out = out.get_or_insert_with(|| String::with_capacity(path.len()));
            out.push_str(path.get(copied..i).unwrap_or_default());
            out.push('/');
            i += 3;
            copied = i;
        } else {
            i += 1;
        }
    }
    let mut out = out?;
    out.push_str(path.get(copied..).unwrap_or_default());
    Some(out)
}

/// `path` with every run of `/` made one, or `None` when it has no run.
///
/// An empty segment matches no literal and no `{param}`, only a greedy parameter, so
/// without this `/prod//admin/x` would reach a root `/{proxy+}` instead of `/admin/{id}` —
/// and a backend that merges slashes, as nginx and most servers do, would then serve
/// `/admin/x` under the greedy resource's rules, with a method ARN (`…/GET//admin/x`) that
/// no policy written for `…/GET/admin/*` matches. API Gateway routes `/prod//orders` as
/// `/prod/orders`; so does gatehouse, and the backend receives the merged path.
pub fn merge_slashes(path: &str) -> Option<String> {
    // A byte scan: `str::contains` sets up a substring searcher on every call.
    if !path.as_bytes().windows(2).any(|pair| pair == b"//") {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    Some(out)
}

/// One `/`-separated segment of a request path: see [`check_request_path`].
fn check_segment(raw: &str) -> Result<(), PathRejection> {
    let mut part = DotPart::default();
    let mut non_ascii = false;
    for (byte, escaped) in DecodedBytes::new(raw) {
        match byte {
            0 => return Err(PathRejection::Nul),
            b'/' | b'\\' => part.end()?,
            _ => {
                non_ascii |= escaped && byte >= 0x80;
                part.push(byte);
            }
        }
    }
    part.end()?;
    if non_ascii {
        // Rare: only a segment with an escape above `%7F` gets here (raw text is UTF-8).
        let decoded: Vec<u8> = DecodedBytes::new(raw).map(|(byte, _)| byte).collect();
        std::str::from_utf8(&decoded).map_err(|_| PathRejection::NotUtf8)?;
    }
    Ok(())
}

/// The part of a decoded segment between separators, as far as dot segments care: how many
/// dots it starts with, whether anything else came before a `;`.
#[derive(Debug, Default)]
struct DotPart {
    dots: u8,
    other: bool,
    in_params: bool,
}

impl DotPart {
    fn push(&mut self, byte: u8) {
        if self.in_params {
            return;
        }
        match byte {
            b';' => self.in_params = true,
            b'.' => self.dots = self.dots.saturating_add(1),
            _ => self.other = true,
        }
    }

    /// Ends the part at a separator (or the segment's end): refused if it was `.` or `..`.
    fn end(&mut self) -> Result<(), PathRejection> {
        let dot_segment = !self.other && matches!(self.dots, 1 | 2);
        *self = Self::default();
        if dot_segment {
            Err(PathRejection::DotSegment)
        } else {
            Ok(())
        }
    }
}

/// The bytes of a segment with its well-formed escapes decoded (malformed ones literal),
/// each with whether it came from an escape.
struct DecodedBytes<'a> {
    bytes: &'a [u8],
    i: usize,
}

impl<'a> DecodedBytes<'a> {
    fn new(raw: &'a str) -> Self {
        Self {
            bytes: raw.as_bytes(),
            i: 0,
        }
    }
}

impl Iterator for DecodedBytes<'_> {
    type Item = (u8, bool);

    fn next(&mut self) -> Option<(u8, bool)> {
        let b = *self.bytes.get(self.i)?;
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                self.bytes.get(self.i + 1).and_then(|h| hex_value(*h)),
                self.bytes.get(self.i + 2).and_then(|l| hex_value(*l)),
            )
        {
            self.i += 3;
            return Some((hi * 16 + lo, true));
        }
        self.i += 1;
        Some((b, false))
    }
}

/// Appends the decoded, normalised form of a request path below the stage — what routing
/// matched — to `out`: each segment percent-decoded (as [`percent_decode`] does for
/// routing), joined by `/`, without the leading slash and without one trailing slash. API
/// Gateway builds method ARNs (`…/GET/pets/42`) from this form, so a policy on
/// `…/GET/admin*` also covers `/%61dmin` and `/admin/`.
pub fn push_decoded_path(out: &mut String, path: &str) {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return;
    }
    for (i, segment) in rest.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&percent_decode(segment));
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ResourcePath, Problem> {
        ResourcePath::parse(text, 8, 200)
    }

    #[test]
    fn parses_literals_params_and_greedy() {
        let path = parse("/pets/{petId}/files/{proxy+}").unwrap();
        assert_eq!(
            path.segments(),
            &[
                Segment::Literal("pets".into()),
                Segment::Param("petId".into()),
                Segment::Literal("files".into()),
                Segment::Greedy("proxy".into()),
            ]
        );
        assert_eq!(path.greedy_param(), Some("proxy"));
        assert_eq!(path.param_names().collect::<Vec<_>>(), ["petId", "proxy"]);
        assert!(parse("/").unwrap().is_root());
    }

    #[test]
    fn rejects_malformed_paths() {
        for (text, why) in [
            ("pets", "must start"),
            ("/pets/", "must not end"),
            ("/pets//x", "empty segment"),
            ("/{proxy+}/x", "last segment"),
            ("/a{b}", "not allowed"),
            ("/{a", "must end with"),
            ("/{}", "parameter name"),
            ("/{a}/{a}", "twice"),
            ("/a b", "not allowed"),
            ("/a%20", "not allowed"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert!(matches!(
            parse("/a/b/c/d/e/f/g/h/i"),
            Err(Problem::TooMany { .. })
        ));
        assert!(matches!(
            ResourcePath::parse("/abcdef", 8, 4),
            Err(Problem::OutOfRange { .. })
        ));
    }

    /// `check(rule, path, expected)`: what [`check_request_path`] says about a request path.
    fn check(rule: &str, path: &str, expected: Result<(), PathRejection>) {
        assert_eq!(check_request_path(path), expected, "{rule}: {path}");
    }

    #[test]
    fn dot_segments_are_refused_however_they_are_spelt() {
        use PathRejection::{DotSegment, NotUtf8, Nul};
        for (rule, path, expected) in [
            ("raw dot-dot", "/prod/public/../admin", Err(DotSegment)),
            ("raw dot", "/prod/public/./admin", Err(DotSegment)),
            (
                "encoded slash splits off dot-dot",
                "/prod/public/..%2Fadmin",
                Err(DotSegment),
            ),
            ("encoded dots", "/prod/public/%2e%2e/admin", Err(DotSegment)),
            (
                "upper and lower case escapes",
                "/prod/public/%2E%2e",
                Err(DotSegment),
            ),
            (
                "one dot encoded",
                "/prod/public/.%2e/admin",
                Err(DotSegment),
            ),
            (
                "twice up",
                "/prod/public/a/..%2F..%2Fadmin",
                Err(DotSegment),
            ),
            ("encoded dot alone", "/prod/x/%2e", Err(DotSegment)),
            (
                "encoded backslash",
                "/prod/public/..%5Cadmin",
                Err(DotSegment),
            ),
            (
                "raw backslash",
                "/prod/public/a\\..\\admin",
                Err(DotSegment),
            ),
            (
                "servlet path parameter",
                "/prod/public/..;/admin",
                Err(DotSegment),
            ),
            (
                "encoded semicolon",
                "/prod/public/..%3Bx/admin",
                Err(DotSegment),
            ),
            (
                "dot-dot in the stage position",
                "/../prod/admin",
                Err(DotSegment),
            ),
            (
                "overlong two-byte dot",
                "/prod/public/%C0%AE%C0%AE/admin",
                Err(NotUtf8),
            ),
            (
                "overlong three-byte dot",
                "/prod/public/%E0%80%AE",
                Err(NotUtf8),
            ),
            ("latin-1 byte", "/prod/public/caf%E9", Err(NotUtf8)),
            ("nul after dot-dot", "/prod/public/..%00", Err(Nul)),
            (
                "double-encoded dots are literal text",
                "/prod/public/%252e%252e/admin",
                Ok(()),
            ),
            (
                "double-encoded slash is literal text",
                "/prod/public/..%252Fadmin",
                Ok(()),
            ),
            ("three dots", "/prod/public/...", Ok(())),
            ("hidden file", "/prod/public/.well-known/x", Ok(())),
            ("dots inside a name", "/prod/public/v1..2/a.b", Ok(())),
            ("utf-8 escape", "/prod/public/%E2%82%AC", Ok(())),
            ("malformed escape is literal", "/prod/public/%zz..", Ok(())),
            ("encoded slash without dots", "/prod/items/a%2Fb", Ok(())),
            ("dots after a path parameter", "/prod/public/x;..", Ok(())),
            ("empty segments", "/prod//x/", Ok(())),
            ("root", "/", Ok(())),
        ] {
            check(rule, path, expected);
        }
        check("no path at all", "", Ok(()));
    }

    #[test]
    fn substituted_values_cannot_make_dot_segments() {
        use PathRejection::{DotSegment, Nul};
        for (rule, value, expected) in [
            ("dot-dot", "..", Err(DotSegment)),
            ("dot", ".", Err(DotSegment)),
            ("dot-dot between slashes", "a/../b", Err(DotSegment)),
            ("dot-dot before a backslash", "..\\admin", Err(DotSegment)),
            ("servlet path parameter", "..;x", Err(DotSegment)),
            ("nul", "a\0b", Err(Nul)),
            (
                "encoded dots are text here: decoded once already",
                "%2e%2e",
                Ok(()),
            ),
            ("three dots", "...", Ok(())),
            ("a file name", "report.v2.pdf", Ok(())),
            ("plain", "42", Ok(())),
        ] {
            assert_eq!(check_path_value(value), expected, "{rule}: {value}");
        }
    }

    #[test]
    fn encoded_slashes_are_written_out() {
        for (path, expected) in [
            ("/prod/admin%2Fsecret", Some("/prod/admin/secret")),
            ("/prod/a%2fb%2Fc", Some("/prod/a/b/c")),
            ("/prod/%2F%2Fx", Some("/prod///x")),
            ("/prod/a%252Fb", None),
            ("/prod/a%2", None),
            ("/prod/plain", None),
            ("", None),
        ] {
            assert_eq!(split_encoded_slashes(path).as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn runs_of_slashes_are_merged() {
        for (path, expected) in [
            ("/prod//admin", Some("/prod/admin")),
            ("//prod/a///b//", Some("/prod/a/b/")),
            ("/prod/%2F%2Fx", None),
            ("/prod/admin/", None),
            ("/", None),
        ] {
            assert_eq!(merge_slashes(path).as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn decoded_paths_are_what_routing_matched() {
        for (path, expected) in [
            ("/%61dmin", "admin"),
            ("/admin/", "admin"),
            ("/pets/a%20b", "pets/a b"),
            ("/files/x/y/", "files/x/y"),
            ("/items/a%2Fb", "items/a/b"),
            ("/bad/%zz", "bad/%zz"),
            ("/", ""),
            ("", ""),
        ] {
            let mut out = String::from("GET/");
            push_decoded_path(&mut out, path);
            assert_eq!(out, format!("GET/{expected}"), "{path}");
        }
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%FF"), "%FF");
        assert_eq!(percent_decode("a%2Fb"), "a/b");
    }
}
