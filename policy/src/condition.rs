//! Condition operators, compiled once: `Operator: { key: value | [values] }` blocks.
//!
//! Logic (AWS "Condition element" docs): operators AND, keys AND, values OR; a negated operator
//! is the negation of its positive form (the request value must match none of the values). A
//! missing key makes a positive operator false and a negated one true; `…IfExists` makes any
//! operator true on a missing key; `ForAllValues` is true over an absent or empty set and
//! `ForAnyValue` false. A plain (unqualified) operator on a multi-valued key matches when any
//! request value matches (negated: when none does). An empty set counts as absent for plain
//! operators and for `Null`.

use std::net::IpAddr;

use crate::arn::{ArnCase, ArnPattern};
use crate::context::Context;
use crate::date::{self, Instant};
use crate::glob::{Pattern, Syntax};
use crate::ip::Cidr;

/// An operator without its qualifier and `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// Operator names exactly as AWS spells them (case-sensitive).
const BASES: [(&str, Base); 27] = [
    ("StringEquals", Base::StringEquals),
    ("StringNotEquals", Base::StringNotEquals),
    ("StringEqualsIgnoreCase", Base::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Base::StringNotEqualsIgnoreCase),
    ("StringLike", Base::StringLike),
    ("StringNotLike", Base::StringNotLike),
    ("NumericEquals", Base::NumericEquals),
    ("NumericNotEquals", Base::NumericNotEquals),
    ("NumericLessThan", Base::NumericLessThan),
    ("NumericLessThanEquals", Base::NumericLessThanEquals),
    ("NumericGreaterThan", Base::NumericGreaterThan),
    ("NumericGreaterThanEquals", Base::NumericGreaterThanEquals),
    ("DateEquals", Base::DateEquals),
    ("DateNotEquals", Base::DateNotEquals),
    ("DateLessThan", Base::DateLessThan),
    ("DateLessThanEquals", Base::DateLessThanEquals),
    ("DateGreaterThan", Base::DateGreaterThan),
    ("DateGreaterThanEquals", Base::DateGreaterThanEquals),
    ("Bool", Base::Bool),
    ("BinaryEquals", Base::BinaryEquals),
    ("IpAddress", Base::IpAddress),
    ("NotIpAddress", Base::NotIpAddress),
    ("ArnEquals", Base::ArnEquals),
    ("ArnLike", Base::ArnLike),
    ("ArnNotEquals", Base::ArnNotEquals),
    ("ArnNotLike", Base::ArnNotLike),
    ("Null", Base::Null),
];

/// How request values compare with policy values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: &T, policy: &T) -> bool {
        match self {
            Self::Eq => request == policy,
            Self::Lt => request < policy,
            Self::Le => request <= policy,
            Self::Gt => request > policy,
            Self::Ge => request >= policy,
        }
    }
}

impl Base {
    /// Negated operators match when the positive form matches none of the values.
    pub(crate) fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NumericNotEquals
                | Self::DateNotEquals
                | Self::NotIpAddress
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    pub(crate) fn name(self) -> &'static str {
        BASES
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("", |(name, _)| name)
    }

    fn cmp(self) -> Cmp {
        match self {
            Self::NumericLessThan | Self::DateLessThan => Cmp::Lt,
            Self::NumericLessThanEquals | Self::DateLessThanEquals => Cmp::Le,
            Self::NumericGreaterThan | Self::DateGreaterThan => Cmp::Gt,
            Self::NumericGreaterThanEquals | Self::DateGreaterThanEquals => Cmp::Ge,
            _ => Cmp::Eq,
        }
    }

    pub(crate) fn is_string_like(self) -> bool {
        matches!(self, Self::StringLike | Self::StringNotLike)
    }
}

/// `ForAllValues:` / `ForAnyValue:` set qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qualifier {
    Single,
    ForAllValues,
    ForAnyValue,
}

/// A full operator name, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) base: Base,
    pub(crate) qualifier: Qualifier,
    pub(crate) if_exists: bool,
}

impl Operator {
    /// Parses an operator name; the error is a hint for people.
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Qualifier::ForAllValues, rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Qualifier::ForAnyValue, rest)
        } else {
            (Qualifier::Single, name)
        };
        let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let base = BASES.iter().find(|(n, _)| *n == base_name).map(|(_, b)| *b);
        match base {
            Some(Base::Null) if if_exists => {
                Err("`Null` takes no `IfExists` suffix: it already tests presence".to_owned())
            }
            Some(Base::Null) if qualifier != Qualifier::Single => {
                Err("`Null` takes no `ForAllValues:` or `ForAnyValue:` qualifier".to_owned())
            }
            Some(base) => Ok(Self {
                base,
                qualifier,
                if_exists,
            }),
            None => {
                let lower = name.to_ascii_lowercase();
                let close = ["ForAllValues:", "ForAnyValue:", ""].iter().find_map(|q| {
                    BASES.iter().find_map(|(n, _)| {
                        [format!("{q}{n}"), format!("{q}{n}IfExists")]
                            .into_iter()
                            .find(|candidate| candidate.to_ascii_lowercase() == lower)
                    })
                });
                Err(match close {
                    Some(c) => format!(
                        "unknown condition operator `{name}`: operator names are case-sensitive, did you mean `{c}`"
                    ),
                    None => format!("unknown condition operator `{name}`"),
                })
            }
        }
    }
}

/// Compiled policy values of one condition key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Strings(Box<[Pattern]>),
    Numbers(Box<[f64]>),
    Dates(Box<[Instant]>),
    Bools(Box<[bool]>),
    Binaries(Box<[Box<[u8]>]>),
    Ips(Box<[Cidr]>),
    Arns(Box<[ArnPattern]>),
    /// `Null`: true means "the key must be absent".
    Null(Box<[bool]>),
}

/// One `operator / key / values` triple.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub(crate) op: Operator,
    /// Where the key sits in the document, for reviewer warnings.
    pub(crate) pointer: Box<str>,
    /// ASCII-lowercased: condition key names are case-insensitive.
    pub(crate) key: Box<str>,
    pub(crate) values: Values,
}

/// Compiles one policy value (already turned into text) for `base`; the error says why.
pub(crate) enum Compiled {
    String(Pattern),
    Number(f64),
    Date(Instant),
    Bool(bool),
    Binary(Box<[u8]>),
    Ip(Cidr),
    Arn(ArnPattern),
}

pub(crate) fn compile_value(base: Base, text: &str, variables: bool) -> Result<Compiled, String> {
    use Base as B;
    let pattern = |syntax, fold| {
        Pattern::compile(text, syntax, variables, fold)
            .map(Compiled::String)
            .map_err(|e| e.to_string())
    };
    match base {
        B::StringEquals | B::StringNotEquals => pattern(Syntax::Literal, false),
        B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase => pattern(Syntax::Literal, true),
        B::StringLike | B::StringNotLike => pattern(Syntax::Glob, false),
        B::NumericEquals
        | B::NumericNotEquals
        | B::NumericLessThan
        | B::NumericLessThanEquals
        | B::NumericGreaterThan
        | B::NumericGreaterThanEquals => parse_number(text)
            .map(Compiled::Number)
            .ok_or_else(|| format!("`{text}` is not a number")),
        B::DateEquals
        | B::DateNotEquals
        | B::DateLessThan
        | B::DateLessThanEquals
        | B::DateGreaterThan
        | B::DateGreaterThanEquals => date::parse(text)
            .map(Compiled::Date)
            .ok_or_else(|| format!("`{text}` is not an ISO 8601 date-time or epoch seconds")),
        B::Bool | B::Null => parse_bool(text)
            .map(Compiled::Bool)
            .ok_or_else(|| format!("`{text}` is not `true` or `false`")),
        B::BinaryEquals => crate::base64::decode(text)
            .map(|b| Compiled::Binary(b.into_boxed_slice()))
            .ok_or_else(|| format!("`{text}` is not base64")),
        B::IpAddress | B::NotIpAddress => Cidr::parse(text)
            .map(Compiled::Ip)
            .ok_or_else(|| format!("`{text}` is not an IPv4 or IPv6 address or CIDR block")),
        B::ArnEquals | B::ArnLike | B::ArnNotEquals | B::ArnNotLike => {
            ArnPattern::compile(text, variables, ArnCase::Condition)
                .map(Compiled::Arn)
                .map_err(|e| e.to_string())
        }
    }
}

/// Gathers compiled values into the [`Values`] variant of the operator.
pub(crate) fn collect(base: Base, compiled: Vec<Compiled>) -> Values {
    macro_rules! gather {
        ($variant:ident, $pat:ident) => {
            Values::$variant(
                compiled
                    .into_iter()
                    .filter_map(|c| match c {
                        Compiled::$pat(v) => Some(v),
                        _ => None,
                    })
                    .collect(),
            )
        };
    }
    match base {
        Base::Null => gather!(Null, Bool),
        _ => match compiled.first() {
            Some(Compiled::Number(_)) => gather!(Numbers, Number),
            Some(Compiled::Date(_)) => gather!(Dates, Date),
            Some(Compiled::Bool(_)) => gather!(Bools, Bool),
            Some(Compiled::Binary(_)) => gather!(Binaries, Binary),
            Some(Compiled::Ip(_)) => gather!(Ips, Ip),
            Some(Compiled::Arn(_)) => gather!(Arns, Arn),
            Some(Compiled::String(_)) | None => gather!(Strings, String),
        },
    }
}

fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    // Rust also reads `inf` and `NaN`; AWS numbers are plain decimals.
    if t.is_empty()
        || !t
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

// === impl Clause ===

impl Clause {
    /// Evaluates the clause against the request context.
    pub(crate) fn eval(&self, context: &Context) -> bool {
        let present = context.get(&self.key);
        if let Values::Null(expected) = &self.values {
            let is_null = present.is_none_or(<[String]>::is_empty);
            return expected.contains(&is_null);
        }
        let negated = self.op.base.negated();
        let values = present.filter(|v| !v.is_empty());
        match self.op.qualifier {
            Qualifier::Single => match values {
                None => self.op.if_exists || negated,
                Some(vs) => vs.iter().any(|v| self.positive(v, context)) != negated,
            },
            Qualifier::ForAllValues => match values {
                None => true,
                Some(vs) => vs.iter().all(|v| self.positive(v, context) != negated),
            },
            Qualifier::ForAnyValue => match values {
                None => self.op.if_exists,
                Some(vs) => vs.iter().any(|v| self.positive(v, context) != negated),
            },
        }
    }

    /// Whether one request value matches any policy value under the positive form of the operator.
    fn positive(&self, value: &str, context: &Context) -> bool {
        let cmp = self.op.base.cmp();
        match &self.values {
            Values::Strings(patterns) => patterns.iter().any(|p| p.matches(value, context)),
            Values::Numbers(numbers) => {
                parse_number(value).is_some_and(|v| numbers.iter().any(|n| cmp.holds(&v, n)))
            }
            Values::Dates(dates) => {
                date::parse(value).is_some_and(|v| dates.iter().any(|d| cmp.holds(&v, d)))
            }
            Values::Bools(bools) => parse_bool(value).is_some_and(|v| bools.contains(&v)),
            Values::Binaries(blobs) => blobs.iter().any(|b| crate::base64::equals(value, b)),
            Values::Ips(blocks) => value
                .parse::<IpAddr>()
                .is_ok_and(|ip| blocks.iter().any(|c| c.contains(ip))),
            Values::Arns(arns) => arns.iter().any(|a| a.matches(value, context)),
            Values::Null(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(op: &str, key: &str, values: &[&str]) -> Clause {
        let op = Operator::parse(op).unwrap();
        let compiled = values
            .iter()
            .map(|v| compile_value(op.base, v, true).ok().unwrap())
            .collect();
        Clause {
            op,
            pointer: "".into(),
            key: key.to_ascii_lowercase().into(),
            values: collect(op.base, compiled),
        }
    }

    /// (operator, policy values, request values (None = key absent), expected)
    type Case<'a> = (&'a str, &'a [&'a str], Option<&'a [&'a str]>, bool);

    fn check(cases: &[Case<'_>]) {
        for (op, values, request, expected) in cases {
            let c = clause(op, "K", values);
            let mut ctx = Context::new();
            if let Some(request) = request {
                ctx.set("k", request.iter().map(|s| (*s).to_owned()).collect());
            }
            assert_eq!(c.eval(&ctx), *expected, "{op} {values:?} vs {request:?}");
        }
    }

    #[test]
    fn string_operators() {
        check(&[
            ("StringEquals", &["a", "b"], Some(&["b"]), true),
            ("StringEquals", &["a"], Some(&["A"]), false),
            ("StringEquals", &["a*"], Some(&["ab"]), false),
            ("StringEquals", &["a*"], Some(&["a*"]), true),
            ("StringEquals", &["a"], None, false),
            ("StringNotEquals", &["a", "b"], Some(&["c"]), true),
            ("StringNotEquals", &["a", "b"], Some(&["b"]), false),
            ("StringNotEquals", &["a"], None, true),
            ("StringEqualsIgnoreCase", &["Abc"], Some(&["aBC"]), true),
            ("StringNotEqualsIgnoreCase", &["Abc"], Some(&["aBC"]), false),
            ("StringLike", &["home/*"], Some(&["home/x/y"]), true),
            ("StringLike", &["h?me"], Some(&["home"]), true),
            ("StringLike", &["home/*"], Some(&["Home/x"]), false),
            ("StringNotLike", &["home/*"], Some(&["tmp/x"]), true),
            ("StringNotLike", &["home/*"], None, true),
            ("StringEqualsIfExists", &["a"], None, true),
            ("StringEqualsIfExists", &["a"], Some(&["b"]), false),
            ("StringNotEqualsIfExists", &["a"], Some(&["a"]), false),
        ]);
    }

    #[test]
    fn numeric_date_bool_binary_ip_arn() {
        check(&[
            ("NumericEquals", &["10"], Some(&["10.0"]), true),
            ("NumericNotEquals", &["10"], Some(&["11"]), true),
            ("NumericLessThan", &["10"], Some(&["9"]), true),
            ("NumericLessThan", &["10"], Some(&["10"]), false),
            ("NumericLessThanEquals", &["10"], Some(&["10"]), true),
            ("NumericGreaterThan", &["10"], Some(&["10.5"]), true),
            ("NumericGreaterThanEquals", &["10"], Some(&["9"]), false),
            ("NumericEquals", &["10"], Some(&["ten"]), false),
            ("NumericNotEquals", &["10"], Some(&["ten"]), true),
            (
                "DateEquals",
                &["2020-01-01T00:00:00Z"],
                Some(&["1577836800"]),
                true,
            ),
            (
                "DateNotEquals",
                &["2020-01-01"],
                Some(&["2020-01-02"]),
                true,
            ),
            (
                "DateLessThan",
                &["2020-01-01T00:00:00Z"],
                Some(&["2019-12-31T23:59:59Z"]),
                true,
            ),
            (
                "DateLessThanEquals",
                &["2020-01-01T00:00:00Z"],
                Some(&["2020-01-01T01:00:00+01:00"]),
                true,
            ),
            (
                "DateGreaterThan",
                &["2020-01-01"],
                Some(&["2020-01-01T00:00:01Z"]),
                true,
            ),
            (
                "DateGreaterThanEquals",
                &["2020-01-01"],
                Some(&["2019-01-01"]),
                false,
            ),
            (
                "DateLessThan",
                &["2020-01-01"],
                Some(&["not a date"]),
                false,
            ),
            ("Bool", &["true"], Some(&["true"]), true),
            ("Bool", &["true"], Some(&["TRUE"]), true),
            ("Bool", &["true"], Some(&["false"]), false),
            ("Bool", &["false"], None, false),
            ("BoolIfExists", &["false"], None, true),
            ("BinaryEquals", &["aGVsbG8="], Some(&["aGVsbG8="]), true),
            ("BinaryEquals", &["aGVsbG8="], Some(&["aGVsbA=="]), false),
            (
                "IpAddress",
                &["203.0.113.0/24"],
                Some(&["203.0.113.9"]),
                true,
            ),
            (
                "IpAddress",
                &["203.0.113.0/24", "2001:db8::/32"],
                Some(&["2001:db8::9"]),
                true,
            ),
            (
                "IpAddress",
                &["203.0.113.0/24"],
                Some(&["198.51.100.1"]),
                false,
            ),
            ("IpAddress", &["203.0.113.0/24"], None, false),
            (
                "NotIpAddress",
                &["203.0.113.0/24"],
                Some(&["198.51.100.1"]),
                true,
            ),
            ("NotIpAddress", &["203.0.113.0/24"], None, true),
            (
                "ArnLike",
                &["arn:aws:sns:*:123456789012:*"],
                Some(&["arn:aws:sns:us-east-1:123456789012:t"]),
                true,
            ),
            (
                "ArnEquals",
                &["arn:aws:sns:*:123456789012:*"],
                Some(&["arn:aws:sns:us-east-1:123456789012:t"]),
                true,
            ),
            (
                "ArnLike",
                &["arn:aws:sns:*:123456789012:*"],
                Some(&["arn:aws:sqs:us-east-1:123456789012:t"]),
                false,
            ),
            (
                "ArnNotLike",
                &["arn:aws:sns:*:123456789012:*"],
                Some(&["arn:aws:sqs:us-east-1:123456789012:t"]),
                true,
            ),
            (
                "ArnNotEquals",
                &["arn:aws:sns:*:123456789012:*"],
                None,
                true,
            ),
        ]);
    }

    #[test]
    fn null_and_set_qualifiers() {
        check(&[
            ("Null", &["true"], None, true),
            ("Null", &["true"], Some(&[]), true),
            ("Null", &["true"], Some(&["x"]), false),
            ("Null", &["false"], Some(&["x"]), true),
            ("Null", &["false"], None, false),
            (
                "ForAllValues:StringEquals",
                &["a", "b"],
                Some(&["a", "b"]),
                true,
            ),
            (
                "ForAllValues:StringEquals",
                &["a", "b"],
                Some(&["a", "c"]),
                false,
            ),
            ("ForAllValues:StringEquals", &["a"], None, true),
            ("ForAllValues:StringEquals", &["a"], Some(&[]), true),
            ("ForAnyValue:StringEquals", &["a"], Some(&["c", "a"]), true),
            ("ForAnyValue:StringEquals", &["a"], Some(&["c"]), false),
            ("ForAnyValue:StringEquals", &["a"], None, false),
            ("ForAnyValue:StringEquals", &["a"], Some(&[]), false),
            ("ForAnyValue:StringEqualsIfExists", &["a"], None, true),
            (
                "ForAllValues:StringNotEquals",
                &["a"],
                Some(&["b", "c"]),
                true,
            ),
            (
                "ForAllValues:StringNotEquals",
                &["a"],
                Some(&["b", "a"]),
                false,
            ),
            (
                "ForAnyValue:StringNotEquals",
                &["a"],
                Some(&["b", "a"]),
                true,
            ),
            ("ForAnyValue:StringNotEquals", &["a"], Some(&["a"]), false),
            ("StringEquals", &["a"], Some(&["b", "a"]), true),
            ("StringNotEquals", &["a"], Some(&["b", "a"]), false),
            (
                "ForAllValues:StringLike",
                &["a*"],
                Some(&["ab", "ac"]),
                true,
            ),
        ]);
    }

    #[test]
    fn operator_names() {
        for good in [
            "StringEquals",
            "ForAllValues:StringLikeIfExists",
            "ForAnyValue:ArnNotLike",
            "NumericLessThanEqualsIfExists",
            "Null",
        ] {
            assert!(Operator::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "stringequals",
            "NullIfExists",
            "ForAllValues:Null",
            "StringEqual",
            "forallvalues:StringEquals",
        ] {
            assert!(Operator::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Operator::parse("stringEquals")
                .unwrap_err()
                .contains("did you mean `StringEquals`")
        );
    }

    #[test]
    fn variables_in_condition_values() {
        let c = clause("StringEquals", "s3:prefix", &["home/${aws:username}"]);
        let ctx = Context::new()
            .with("aws:username", "bob")
            .with("s3:prefix", "home/bob");
        assert!(c.eval(&ctx));
        let ctx = Context::new().with("s3:prefix", "home/bob");
        assert!(!c.eval(&ctx), "absent variable never matches");
        let c = clause("StringNotEquals", "s3:prefix", &["home/${aws:username}"]);
        assert!(
            c.eval(&ctx),
            "negated operator with absent variable matches nothing, so true"
        );
    }

    #[test]
    fn bad_values() {
        for (op, v) in [
            ("NumericEquals", "ten"),
            ("NumericEquals", "inf"),
            ("DateEquals", "yesterday"),
            ("Bool", "yes"),
            ("BinaryEquals", "***"),
            ("IpAddress", "10.0.0.0/33"),
            ("ArnLike", "not-an-arn"),
            ("StringEquals", "${unterminated"),
        ] {
            let op = Operator::parse(op).unwrap();
            assert!(compile_value(op.base, v, true).is_err(), "{v}");
        }
    }
}
