//! ARN patterns, matched segment by segment: `arn:partition:service:region:account:resource`.
//!
//! `*` and `?` work inside a segment and never cross into the next one, except in the resource
//! part, which is everything after the fifth colon (so `table/*` spans `/` and `:`). AWS also
//! documents that a `*` ending a segment "can expand to match beyond the colon boundaries": a
//! pattern that stops early with such a segment (`arn:aws:sns:*`) covers the rest of the ARN.
//! gatehouse supports exactly that form; a 6-part pattern stays segment by segment.

use crate::context::Context;
use crate::glob::{Pattern, PatternError, Syntax};

/// A compiled `Resource` / `NotResource` entry or ARN condition value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// A bare `*`: every resource, ARN or not.
    Any,
    /// `arn`, partition, service, region, account, resource; 4 or 5 segments when the last one
    /// ends with `*` and covers the rest of the ARN.
    Segments(Box<[Pattern]>),
}

/// Why an ARN pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ArnError {
    #[error(
        "`{text}` is not `*` or an ARN of the form `arn:partition:service:region:account:resource`"
    )]
    Malformed { text: String },
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

/// How segments compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArnCase {
    /// `Resource`: partition, service, region and account case-insensitive, resource exact.
    Resource,
    /// `ArnLike` and friends: AWS documents case-sensitive matching of every segment.
    Condition,
}

/// A request ARN split once at its first five colons.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitArn<'a> {
    full: &'a str,
    /// Byte offset where each part starts; parts beyond `count` are unused.
    starts: [usize; 6],
    parts: [&'a str; 6],
    count: usize,
}

impl<'a> SplitArn<'a> {
    pub(crate) fn new(arn: &'a str) -> Self {
        let mut split = Self {
            full: arn,
            starts: [0; 6],
            parts: [""; 6],
            count: 1,
        };
        let mut start = 0;
        for (i, b) in arn.bytes().enumerate() {
            if b != b':' {
                continue;
            }
            if let (Some(part), Some(next)) = (
                split.parts.get_mut(split.count - 1),
                split.starts.get_mut(split.count),
            ) {
                *part = arn.get(start..i).unwrap_or("");
                *next = i + 1;
            }
            start = i + 1;
            split.count += 1;
            if split.count == 6 {
                break;
            }
        }
        if let Some(last) = split.parts.get_mut(split.count - 1) {
            *last = arn.get(start..).unwrap_or("");
        }
        split
    }

    /// Everything from the start of part `n` to the end.
    fn rest(&self, n: usize) -> &'a str {
        self.starts
            .get(n)
            .and_then(|&s| self.full.get(s..))
            .unwrap_or("")
    }
}

impl ArnPattern {
    pub(crate) fn compile(text: &str, variables: bool, case: ArnCase) -> Result<Self, ArnError> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let malformed = || ArnError::Malformed {
            text: text.to_owned(),
        };
        let parts = split_segments(text, variables);
        let well_formed = match parts.as_slice() {
            [arn, partition, service, rest @ ..] => {
                arn.eq_ignore_ascii_case("arn")
                    && !partition.is_empty()
                    && !service.is_empty()
                    // IAM docs: no wildcard in the service segment of a resource ARN.
                    && (case == ArnCase::Condition || !service.contains(['*', '?']))
                    && match rest {
                        [_, _, resource] => !resource.is_empty(),
                        [.., last] => last.ends_with('*'),
                        [] => false,
                    }
            }
            _ => false,
        };
        if !well_formed {
            return Err(malformed());
        }
        let fold = case == ArnCase::Resource;
        let segments = parts
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let fold = match i {
                    0 => true,
                    5 => false,
                    _ => fold,
                };
                Pattern::compile(s, Syntax::Glob, variables, fold)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::Segments(segments.into_boxed_slice()))
    }

    pub(crate) fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }

    pub(crate) fn matches(&self, arn: &str, context: &Context) -> bool {
        self.matches_split(&SplitArn::new(arn), context)
    }

    /// Matches an ARN split once by [`SplitArn::new`]. The last segment is compared first: it
    /// is where ARNs in one policy usually differ.
    pub(crate) fn matches_split(&self, arn: &SplitArn<'_>, context: &Context) -> bool {
        let Self::Segments(segs) = self else {
            return true;
        };
        let n = segs.len();
        if n == 6 {
            return arn.count == 6
                && segs
                    .iter()
                    .zip(arn.parts.iter())
                    .rev()
                    .all(|(seg, part)| seg.matches(part, context));
        }
        let Some((last, head)) = segs.split_last() else {
            return false;
        };
        arn.count >= n
            && last.matches(arn.rest(n - 1), context)
            && head
                .iter()
                .zip(arn.parts.iter())
                .all(|(seg, part)| seg.matches(part, context))
    }
}

/// Splits at the first five colons that are not inside a `${…}` variable.
fn split_segments(text: &str, variables: bool) -> Vec<&str> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    let mut in_var = false;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        match b {
            b'$' if variables && bytes.get(i + 1) == Some(&b'{') => in_var = true,
            b'}' if in_var => in_var = false,
            b':' if !in_var => {
                parts.push(text.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text.get(start..).unwrap_or(""));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, arn: &str, expected: bool) {
        let p = ArnPattern::compile(pattern, true, ArnCase::Resource).unwrap();
        let ctx = Context::new().with("aws:username", "bob");
        assert_eq!(p.matches(arn, &ctx), expected, "{pattern} vs {arn}");
    }

    #[test]
    fn segment_matching() {
        // DynamoDB: table/T matches only the table; indexes need table/T/index/*.
        let t = "arn:aws:dynamodb:us-east-1:123456789012:table/Books";
        let i = "arn:aws:dynamodb:us-east-1:123456789012:table/Books/index/ByAuthor";
        check(t, t, true);
        check(t, i, false);
        check(
            "arn:aws:dynamodb:us-east-1:123456789012:table/Books/index/*",
            i,
            true,
        );
        check(
            "arn:aws:dynamodb:us-east-1:123456789012:table/Books*",
            i,
            true,
        );
        check("arn:aws:dynamodb:*:*:table/Books", t, true);
        check(
            "ARN:AWS:DynamoDB:US-EAST-1:123456789012:table/Books",
            t,
            true,
        );
        check(
            "arn:aws:dynamodb:us-east-1:123456789012:table/books",
            t,
            false,
        );
        // A `*` in the region segment stays in that segment.
        check("arn:aws:dynamodb:us-*:123456789012:table/Books", t, true);
        check("arn:aws:dynamodb:us-*:1234567890*:table/Books", t, true);
        check("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", true);
        check(
            "arn:aws:s3:::bucket/${aws:username}/*",
            "arn:aws:s3:::bucket/bob/x",
            true,
        );
        check(
            "arn:aws:s3:::bucket/${aws:username}/*",
            "arn:aws:s3:::bucket/eve/x",
            false,
        );
        // execute-api: api-id/stage/VERB/path
        let api = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/7";
        check(
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/*",
            api,
            true,
        );
        check(
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/*/GET/*",
            api,
            true,
        );
        check(
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/*/POST/*",
            api,
            false,
        );
        check("arn:aws:execute-api:*:*:a1b2c3/prod/*", api, true);
        check("*", "not-an-arn", true);
        // A trailing `*` segment covers the rest of the ARN (IAM "Resource" element docs).
        check(
            "arn:aws:sns:*",
            "arn:aws:sns:us-east-1:123456789012:orders",
            true,
        );
        check(
            "arn:aws:sns:*",
            "arn:aws:sqs:us-east-1:123456789012:orders",
            false,
        );
        check(
            "arn:aws:sns:us-east-1:*",
            "arn:aws:sns:us-east-1:123456789012:orders",
            true,
        );
        check(
            "arn:aws:sns:us-west-2:*",
            "arn:aws:sns:us-east-1:123456789012:orders",
            false,
        );
        check("arn:aws:sns:*", "arn:aws:sns", false);
        check("arn:aws:s3:::b", "not-an-arn", false);
    }

    #[test]
    fn condition_case_is_exact() {
        let p = ArnPattern::compile("arn:aws:sns:*:*:Topic", true, ArnCase::Condition).unwrap();
        assert!(p.matches("arn:aws:sns:us-east-1:1:Topic", &Context::new()));
        assert!(!p.matches("arn:AWS:sns:us-east-1:1:Topic", &Context::new()));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "arn",
            "arn:aws:s3",
            "arn:aws:s3:::",
            "urn:aws:s3:::b",
            "arn::s3:::b",
        ] {
            assert!(
                ArnPattern::compile(bad, true, ArnCase::Resource).is_err(),
                "{bad:?}"
            );
        }
        let p = ArnPattern::compile(
            "arn:aws:s3:::${cognito-identity.amazonaws.com:sub}",
            true,
            ArnCase::Resource,
        )
        .unwrap();
        let ctx = Context::new().with("cognito-identity.amazonaws.com:sub", "us-east-1:abc");
        assert!(p.matches("arn:aws:s3:::us-east-1:abc", &ctx));
    }
}
