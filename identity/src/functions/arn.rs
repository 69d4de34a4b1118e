//! Lambda function ARNs, `arn:{partition}:lambda:{region}:{account}:function:{name}[:{qualifier}]`,
//! and how a called ARN finds its registration — the rule Lambda applies to qualifiers:
//!
//! - a registration without a qualifier is the function itself: it serves the unqualified ARN,
//!   `:$LATEST` (Lambda's name for the unqualified function) and every version and alias;
//! - a registration with a qualifier (`:live`, `:3`) serves that qualifier only, and wins over
//!   the unqualified one for it;
//! - `:$LATEST` is the same function as no qualifier: it is removed when a function is
//!   registered and when one is called.
//!
//! So `--function arn:…:function:auth=URL` serves `…:function:auth`, `…:function:auth:live` and
//! `…:function:auth:7`; registering `…:function:auth:canary` as well sends that alias elsewhere.

use std::fmt;

/// A parsed Lambda function ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionArn {
    /// `arn:{partition}:lambda:{region}:{account}:function:{name}`.
    base: String,
    /// A version or alias; never `$LATEST` (that is the unqualified function).
    qualifier: Option<String>,
}

/// Why text is not a Lambda function ARN (the text itself goes in the caller's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error(
        "expected `arn:aws:lambda:REGION:ACCOUNT:function:NAME` with an optional `:VERSION` or `:ALIAS`"
    )]
    Shape,
    #[error("the partition must be `aws` or `aws-…`")]
    Partition,
    #[error("the region must be lower-case letters, digits and `-`")]
    Region,
    #[error("the account must be 12 digits")]
    Account,
    #[error("the function name must be 1 to 64 letters, digits, `-` or `_`")]
    Name,
    #[error("the qualifier must be `$LATEST` or 1 to 128 letters, digits, `-` or `_`")]
    Qualifier,
}

/// Longest ARN accepted (Lambda's own limit on `FunctionName` with a qualifier is lower).
const MAX_ARN_LEN: usize = 256;

// === impl FunctionArn ===

impl FunctionArn {
    pub fn parse(text: &str) -> Result<Self, ArnError> {
        if text.len() > MAX_ARN_LEN {
            return Err(ArnError::Shape);
        }
        let mut parts = text.split(':');
        let (
            Some("arn"),
            Some(partition),
            Some("lambda"),
            Some(region),
            Some(account),
            Some("function"),
            Some(name),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(ArnError::Shape);
        };
        let qualifier = parts.next();
        if parts.next().is_some() {
            return Err(ArnError::Shape);
        }
        if !(partition == "aws"
            || partition
                .strip_prefix("aws-")
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(is_region_byte)))
        {
            return Err(ArnError::Partition);
        }
        if region.is_empty() || !region.bytes().all(is_region_byte) {
            return Err(ArnError::Region);
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ArnError::Account);
        }
        if !is_word(name, 64) {
            return Err(ArnError::Name);
        }
        let qualifier = match qualifier {
            None | Some("$LATEST") => None,
            Some(q) if is_word(q, 128) => Some(q.to_owned()),
            Some(_) => return Err(ArnError::Qualifier),
        };
        let base = format!("arn:{partition}:lambda:{region}:{account}:function:{name}");
        Ok(Self { base, qualifier })
    }

    /// The unqualified function: `arn:…:function:NAME`.
    pub fn unqualified(&self) -> &str {
        &self.base
    }

    /// The version or alias, if any (`$LATEST` is none).
    pub fn qualifier(&self) -> Option<&str> {
        self.qualifier.as_deref()
    }

    /// The key a registration is stored and found under: the ARN without `:$LATEST`.
    pub fn key(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{}:{q}", self.base),
            None => self.base.clone(),
        }
    }

    /// The keys a call to this ARN looks for, most specific first: the qualified ARN, then
    /// the function itself.
    pub fn lookup_keys(&self) -> impl Iterator<Item = String> + '_ {
        let qualified = self
            .qualifier
            .as_ref()
            .map(|q| format!("{}:{q}", self.base));
        qualified
            .into_iter()
            .chain(std::iter::once(self.base.clone()))
    }
}

impl fmt::Display for FunctionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        if let Some(q) = &self.qualifier {
            write!(f, ":{q}")?;
        }
        Ok(())
    }
}

fn is_region_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

fn is_word(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = "arn:aws:lambda:us-east-1:123456789012:function:auth";

    /// What a text parses to: the unqualified function and the qualifier, or the error.
    type Parsed<'a> = Result<(&'a str, Option<&'a str>), ArnError>;

    fn check(text: &str, expected: Parsed<'_>) {
        let got = FunctionArn::parse(text);
        match (got, expected) {
            (Ok(arn), Ok((base, qualifier))) => {
                assert_eq!(
                    (arn.unqualified(), arn.qualifier()),
                    (base, qualifier),
                    "{text}"
                );
            }
            (Err(err), Err(want)) => assert_eq!(err, want, "{text}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn function_arns_as_lambda_writes_them() {
        let long_name = "n".repeat(65);
        let cases: Vec<(String, Parsed<'_>)> = vec![
            (F.to_owned(), Ok((F, None))),
            (format!("{F}:live"), Ok((F, Some("live")))),
            (format!("{F}:7"), Ok((F, Some("7")))),
            // `$LATEST` is the unqualified function.
            (format!("{F}:$LATEST"), Ok((F, None))),
            (
                "arn:aws-cn:lambda:cn-north-1:123456789012:function:f".to_owned(),
                Ok(("arn:aws-cn:lambda:cn-north-1:123456789012:function:f", None)),
            ),
            (
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f_1-x".to_owned(),
                Ok((
                    "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f_1-x",
                    None,
                )),
            ),
            (format!("{F}:a:b"), Err(ArnError::Shape)),
            (
                "arn:aws:lambda:us-east-1:123456789012:layer:l".to_owned(),
                Err(ArnError::Shape),
            ),
            (
                "arn:aws:apigateway:us-east-1:lambda:path/x".to_owned(),
                Err(ArnError::Shape),
            ),
            ("auth".to_owned(), Err(ArnError::Shape)),
            (
                "arn:gcp:lambda:us-east-1:123456789012:function:f".to_owned(),
                Err(ArnError::Partition),
            ),
            (
                "arn:aws:lambda:US-EAST-1:123456789012:function:f".to_owned(),
                Err(ArnError::Region),
            ),
            (
                "arn:aws:lambda:us-east-1:1234:function:f".to_owned(),
                Err(ArnError::Account),
            ),
            (
                format!("arn:aws:lambda:us-east-1:123456789012:function:{long_name}"),
                Err(ArnError::Name),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:a/b".to_owned(),
                Err(ArnError::Name),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.f}".to_owned(),
                Err(ArnError::Name),
            ),
            (format!("{F}:"), Err(ArnError::Qualifier)),
            (format!("{F}:$latest"), Err(ArnError::Qualifier)),
            (format!("{F}:{}", "q".repeat(300)), Err(ArnError::Shape)),
        ];
        for (text, expected) in cases {
            check(&text, expected);
        }
    }

    #[test]
    fn a_call_looks_for_its_qualifier_then_the_function() {
        let called = FunctionArn::parse(&format!("{F}:live")).unwrap();
        assert_eq!(
            called.lookup_keys().collect::<Vec<_>>(),
            [format!("{F}:live"), F.to_owned()]
        );
        let latest = FunctionArn::parse(&format!("{F}:$LATEST")).unwrap();
        assert_eq!(latest.key(), F);
        assert_eq!(latest.lookup_keys().collect::<Vec<_>>(), [F.to_owned()]);
        assert_eq!(called.to_string(), format!("{F}:live"));
    }
}
