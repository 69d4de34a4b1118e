//! Endpoint URI templates: `http://${stageVariables.host}/pets/{petId}` — literal text, path
//! parameters in `{…}` and stage variables in `${stageVariables.…}`, parsed once at load time
//! so the pipeline only concatenates.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::definition::error::Problem;
use crate::definition::path::is_param_name;

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    text: String,
    pieces: Vec<Piece>,
}

/// One piece of a [`UriTemplate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// `{name}`: an integration path parameter (see [`crate::definition::model::HttpIntegration::path_value_source`]).
    PathParam(String),
    /// `${stageVariables.name}`.
    StageVariable(String),
}

/// Why a template could not be rendered for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("stage variable `{0}` is not defined")]
    MissingStageVariable(String),
    #[error("path parameter `{0}` has no value")]
    MissingPathParam(String),
}

const STAGE_VAR_PREFIX: &str = "${stageVariables.";

// === impl UriTemplate ===

impl UriTemplate {
    /// Parses an endpoint URI. It must be an absolute `http://` or `https://` URL, or start
    /// with a stage variable (which then supplies the scheme and host, as API Gateway allows).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let pieces = parse_pieces(text, true)?;
        let absolute = match pieces.first() {
            Some(Piece::Literal(lit)) => {
                let lower = lit.to_ascii_lowercase();
                let scheme_len = if lower.starts_with("http://") {
                    7
                } else if lower.starts_with("https://") {
                    8
                } else {
                    usize::MAX
                };
                // Something (a host or a stage variable holding one) must follow the scheme.
                scheme_len != usize::MAX && text.len() > scheme_len
            }
            Some(Piece::StageVariable(_)) => true,
            Some(Piece::PathParam(_)) | None => false,
        };
        if !absolute {
            return Err(Problem::invalid(
                "endpoint uri",
                text,
                "it must be an `http://` or `https://` URL or start with `${stageVariables.…}`",
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            pieces,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Names of the `{…}` path parameters the template needs.
    pub fn path_params(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::PathParam(name) => Some(name.as_str()),
            Piece::Literal(_) | Piece::StageVariable(_) => None,
        })
    }

    /// Names of the stage variables the template needs.
    pub fn stage_variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::StageVariable(name) => Some(name.as_str()),
            Piece::Literal(_) | Piece::PathParam(_) => None,
        })
    }

    /// Renders the URI. `path_value` returns the already-encoded value for a `{…}` parameter
    /// (see [`encode_path_value`]); stage variables are inserted verbatim because they are
    /// operator-controlled, may hold a scheme and host, and hold only the characters
    /// [`stage_variable_value_problem`] lets through.
    pub fn render<'a>(
        &self,
        path_value: impl Fn(&str) -> Option<Cow<'a, str>>,
        stage_variables: &BTreeMap<String, String>,
    ) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.text.len() + 32);
        for piece in &self.pieces {
            match piece {
                Piece::Literal(lit) => out.push_str(lit),
                Piece::PathParam(name) => {
                    let value = path_value(name)
                        .ok_or_else(|| RenderError::MissingPathParam(name.clone()))?;
                    out.push_str(&value);
                }
                Piece::StageVariable(name) => {
                    let value = stage_variables
                        .get(name)
                        .ok_or_else(|| RenderError::MissingStageVariable(name.clone()))?;
                    out.push_str(value);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for UriTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses literal text with `${stageVariables.x}` (and, when `path_params`, `{x}`) pieces.
pub(crate) fn parse_pieces(text: &str, path_params: bool) -> Result<Vec<Piece>, Problem> {
    let bad = |reason: &str| Problem::invalid("template", text, reason);
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix(STAGE_VAR_PREFIX) {
            let Some(end) = after.find('}') else {
                return Err(bad("`${stageVariables.` is not closed by `}`"));
            };
            let name = after.get(..end).unwrap_or_default();
            if !is_stage_variable_name(name) {
                return Err(bad(
                    "a stage variable name must be made of letters, digits and `_`",
                ));
            }
            flush(&mut literal, &mut pieces);
            pieces.push(Piece::StageVariable(name.to_owned()));
            rest = after.get(end + 1..).unwrap_or_default();
        } else if c == '{' && path_params {
            let Some(end) = rest.find('}') else {
                return Err(bad("`{` is not closed by `}`"));
            };
            let name = rest.get(1..end).unwrap_or_default();
            if !is_param_name(name) {
                return Err(bad(
                    "a `{…}` parameter name must be made of letters, digits, `.`, `_` and `-`",
                ));
            }
            flush(&mut literal, &mut pieces);
            pieces.push(Piece::PathParam(name.to_owned()));
            rest = rest.get(end + 1..).unwrap_or_default();
        } else if c == '}' && path_params {
            return Err(bad("`}` without a matching `{`"));
        } else {
            literal.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
    }
    flush(&mut literal, &mut pieces);
    Ok(pieces)
}

fn flush(literal: &mut String, pieces: &mut Vec<Piece>) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
}

/// Stage variable names: API Gateway allows letters, digits and underscores.
pub fn is_stage_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The longest stage variable value taken.
pub const MAX_STAGE_VARIABLE_VALUE: usize = 2048;

/// Why a stage variable value is refused, or `None` when it is taken: API Gateway's set,
/// `[A-Za-z0-9-._~:/?#&=,]+`, and at most [`MAX_STAGE_VARIABLE_VALUE`] bytes. No space,
/// `%`, `@`, quote, `+`, non-ASCII or control character gets into a backend URI's host or a
/// header from a value (a value may still hold URI delimiters: a host and a path, a query).
/// Definition files and the operator API hold values to it. The reason names the first
/// character refused, never the value (a value may be a secret).
pub fn stage_variable_value_problem(value: &str) -> Option<String> {
    let taken = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c);
    let found = if value.is_empty() {
        "the value is empty".to_owned()
    } else if value.len() > MAX_STAGE_VARIABLE_VALUE {
        format!("the value has {} bytes", value.len())
    } else {
        let (at, c) = value.char_indices().find(|&(_, c)| !taken(c))?;
        let c = match c {
            ' ' => "a space".to_owned(),
            // Printed only as a code point: no bidi override or line separator reaches a log.
            c if c.is_control() || !c.is_ascii() => format!("U+{:04X}", u32::from(c)),
            c => format!("`{c}`"),
        };
        format!("found {c} at byte {at}")
    };
    Some(format!(
        "use 1 to {MAX_STAGE_VARIABLE_VALUE} letters, digits and `-._~:/?#&=,` (API Gateway's set); {found}"
    ))
}

/// Percent-encodes a decoded path value for insertion into a backend URI. With
/// `keep_slashes` (a greedy `{proxy}` value) `/` stays a separator.
pub fn encode_path_value(value: &str, keep_slashes: bool) -> Cow<'_, str> {
    let keep = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
            )
            || matches!(b, b',' | b';' | b'=' | b':' | b'@')
            || (keep_slashes && b == b'/')
    };
    if value.bytes().all(keep) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 0xF)).copied().unwrap_or(b'0'),
            ));
        }
    }
    Cow::Owned(out)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stage_variables_and_params() {
        let t = UriTemplate::parse("http://${stageVariables.host}:8080/pets/{petId}?x=1").unwrap();
        assert_eq!(
            t.pieces(),
            &[
                Piece::Literal("http://".into()),
                Piece::StageVariable("host".into()),
                Piece::Literal(":8080/pets/".into()),
                Piece::PathParam("petId".into()),
                Piece::Literal("?x=1".into()),
            ]
        );
        assert_eq!(t.stage_variables().collect::<Vec<_>>(), ["host"]);
        assert_eq!(t.path_params().collect::<Vec<_>>(), ["petId"]);
        assert!(UriTemplate::parse("${stageVariables.url}/x").is_ok());
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "ftp://x",
            "/relative",
            "http://",
            "http://x/{unclosed",
            "http://x/${stageVariables.a-b}",
            "http://x/${stageVariables.open",
            "http://x/}",
            "",
        ] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn renders_with_values() {
        let t = UriTemplate::parse("https://${stageVariables.host}/files/{proxy}").unwrap();
        let vars = BTreeMap::from([("host".to_owned(), "backend.local".to_owned())]);
        let out = t
            .render(|_| Some(encode_path_value("a b/c", true)), &vars)
            .unwrap();
        assert_eq!(out, "https://backend.local/files/a%20b/c");
        assert_eq!(
            t.render(|_| None, &vars),
            Err(RenderError::MissingPathParam("proxy".into()))
        );
        assert_eq!(
            t.render(|_| Some("x".into()), &BTreeMap::new()),
            Err(RenderError::MissingStageVariable("host".into()))
        );
        assert_eq!(encode_path_value("a/b?", false), "a%2Fb%3F");
    }
}
