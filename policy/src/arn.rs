//! ARN patterns, matched segment by segment: `arn:partition:service:region:account:resource`.
//!
//! `*` and `?` work inside a segment and never cross into the next one, except in the resource
//! part, which is everything after the fifth colon (so `table/*` spans `/` and `:`).

use crate::context::Context;
use crate::glob::{Pattern, PatternError, Syntax};

/// A compiled `Resource` / `NotResource` entry or ARN condition value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// A bare `*`: every resource, ARN or not.
    Any,
    /// `arn`, partition, service, region, account, resource.
    Segments(Box<[Pattern; 6]>),
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

impl ArnPattern {
    pub(crate) fn compile(text: &str, variables: bool, case: ArnCase) -> Result<Self, ArnError> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let malformed = || ArnError::Malformed {
            text: text.to_owned(),
        };
        let parts = split_segments(text, variables);
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(malformed());
        };
        if !arn.eq_ignore_ascii_case("arn")
            || partition.is_empty()
            || service.is_empty()
            || resource.is_empty()
        {
            return Err(malformed());
        }
        let fold = case == ArnCase::Resource;
        let seg = |s: &str, fold| Pattern::compile(s, Syntax::Glob, variables, fold);
        Ok(Self::Segments(Box::new([
            seg(arn, true)?,
            seg(partition, fold)?,
            seg(service, fold)?,
            seg(region, fold)?,
            seg(account, fold)?,
            seg(resource, false)?,
        ])))
    }

    pub(crate) fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }

    pub(crate) fn matches(&self, arn: &str, context: &Context) -> bool {
        self.matches_parts(split_request(arn).as_ref(), context)
    }

    /// Matches an ARN already split by [`split_request`] (`None`: not an ARN). The resource part
    /// is compared first: it is where ARNs in one policy usually differ.
    pub(crate) fn matches_parts(&self, parts: Option<&[&str; 6]>, context: &Context) -> bool {
        match self {
            Self::Any => true,
            Self::Segments(segs) => parts.is_some_and(|parts| {
                segs.iter()
                    .zip(parts.iter())
                    .rev()
                    .all(|(seg, part)| seg.matches(part, context))
            }),
        }
    }
}

/// Splits a request ARN at its first five colons; `None` when it has fewer.
pub(crate) fn split_request(arn: &str) -> Option<[&str; 6]> {
    let mut parts = [""; 6];
    let mut start = 0;
    let mut n = 0;
    for (i, b) in arn.bytes().enumerate() {
        if b == b':' {
            *parts.get_mut(n)? = arn.get(start..i)?;
            start = i + 1;
            n += 1;
            if n == 5 {
                break;
            }
        }
    }
    if n < 5 {
        return None;
    }
    *parts.get_mut(5)? = arn.get(start..)?;
    Some(parts)
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
        check("arn:aws:*:us-*:123456789012:table/Books", t, true);
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
