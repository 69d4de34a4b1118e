//! Wildcard patterns (`*`, `?`) with policy variables, compiled once and matched in O(n·m)
//! worst case by the greedy single-backtrack-point algorithm (no regex, no exponential blow-up).
//!
//! A pattern is a token sequence: literal text, `*`, `?` and variables. A variable is replaced by
//! the context value at match time and compared literally, so a value containing `*` or `?` is
//! never a wildcard and no string is built on the hot path.

use crate::context::Context;

/// Most distinct policy variables in one pattern (keeps variable resolution on the stack).
pub const MAX_VARIABLES: usize = 8;

/// A multi-valued variable matches if some choice of values matches; beyond this many choices
/// per pattern the element does not match (a guard against a context that multiplies work).
pub const MAX_VARIABLE_COMBINATIONS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Lit(Box<str>),
    /// Any run of characters, including none.
    Star,
    /// Exactly one character.
    One,
    /// The value of the variable in this slot of [`Pattern::vars`].
    Var(u8),
}

/// `${key}` or `${key, 'default'}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    /// ASCII-lowercased, as context keys are case-insensitive.
    pub(crate) key: Box<str>,
    pub(crate) default: Option<Box<str>>,
}

/// Whether `*` and `?` are wildcards (`StringLike`, resources, actions) or plain characters
/// (`StringEquals` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Glob,
    Literal,
}

/// The shapes that deserve a fast path (no variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Only stars: matches everything.
    Everything,
    /// One literal (or nothing): plain comparison.
    Exact,
    /// A literal then a star: prefix comparison.
    Prefix,
    General,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Box<[Token]>,
    vars: Box<[Variable]>,
    /// ASCII case-insensitive comparison (actions, ARN prefix segments, `…IgnoreCase`).
    fold: bool,
    shape: Shape,
    /// The literal of an `Exact` or `Prefix` pattern, kept here so that the hot path reaches it
    /// (and its length) without walking the token list.
    head: Box<str>,
}

/// Why a pattern's policy variables do not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PatternError {
    #[error("policy variable in `{text}` has no closing `}}`")]
    Unterminated { text: String },
    #[error("policy variable `{variable}` is malformed: {reason}")]
    Malformed {
        variable: String,
        reason: &'static str,
    },
    #[error("more than {MAX_VARIABLES} different policy variables in `{text}`")]
    TooMany { text: String },
}

impl Pattern {
    /// Compiles `text`. With `variables` false (Version 2008-10-17) `${…}` is literal text.
    pub(crate) fn compile(
        text: &str,
        syntax: Syntax,
        variables: bool,
        fold: bool,
    ) -> Result<Self, PatternError> {
        let mut tokens: Vec<Token> = Vec::new();
        let mut vars: Vec<Variable> = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, tokens: &mut Vec<Token>| {
            if !lit.is_empty() {
                tokens.push(Token::Lit(std::mem::take(lit).into_boxed_str()));
            }
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables && rest.starts_with("${") {
                let body_and_more = rest.get(2..).unwrap_or("");
                let end =
                    closing_brace(body_and_more).ok_or_else(|| PatternError::Unterminated {
                        text: text.to_owned(),
                    })?;
                let body = body_and_more.get(..end).unwrap_or("");
                rest = body_and_more.get(end + 1..).unwrap_or("");
                match body {
                    "*" | "?" | "$" => lit.push_str(body),
                    _ => {
                        let var = parse_variable(body)?;
                        flush(&mut lit, &mut tokens);
                        let slot = match vars.iter().position(|v| *v == var) {
                            Some(slot) => slot,
                            None => {
                                vars.push(var);
                                vars.len() - 1
                            }
                        };
                        if vars.len() > MAX_VARIABLES {
                            return Err(PatternError::TooMany {
                                text: text.to_owned(),
                            });
                        }
                        tokens.push(Token::Var(u8::try_from(slot).unwrap_or(u8::MAX)));
                    }
                }
                continue;
            }
            rest = rest.get(c.len_utf8()..).unwrap_or("");
            match (syntax, c) {
                (Syntax::Glob, '*') => {
                    flush(&mut lit, &mut tokens);
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                (Syntax::Glob, '?') => {
                    flush(&mut lit, &mut tokens);
                    tokens.push(Token::One);
                }
                _ => lit.push(c),
            }
        }
        flush(&mut lit, &mut tokens);
        let shape = if !vars.is_empty() {
            Shape::General
        } else {
            match tokens.as_slice() {
                [Token::Star] => Shape::Everything,
                [] | [Token::Lit(_)] => Shape::Exact,
                [Token::Lit(_), Token::Star] => Shape::Prefix,
                _ => Shape::General,
            }
        };
        let head = match (shape, tokens.first()) {
            (Shape::Exact | Shape::Prefix, Some(Token::Lit(lit))) => lit.clone(),
            _ => Box::default(),
        };
        Ok(Self {
            tokens: tokens.into_boxed_slice(),
            vars: vars.into_boxed_slice(),
            fold,
            shape,
            head,
        })
    }

    /// True when the pattern has a `*` or `?` wildcard token.
    pub(crate) fn has_wildcard(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Star | Token::One))
    }

    /// True when the pattern matches every string (`*`).
    pub(crate) fn matches_everything(&self) -> bool {
        self.shape == Shape::Everything
    }

    /// Matches `text`, resolving variables from `context`. A variable whose key is absent (or an
    /// empty set) and has no default makes the pattern not match.
    pub(crate) fn matches(&self, text: &str, context: &Context) -> bool {
        self.matches_bytes(text.as_bytes(), context, self.fold)
    }

    /// Matches text that the caller already ASCII-lowercased, comparing bytes exactly; only
    /// right for patterns compiled from lowercased text (actions), and much cheaper than folding.
    pub(crate) fn matches_lowered(&self, lowered: &[u8]) -> bool {
        self.matches_bytes(lowered, &Context::EMPTY, false)
    }

    #[inline]
    fn matches_bytes(&self, text: &[u8], context: &Context, fold: bool) -> bool {
        match self.shape {
            Shape::Everything => return true,
            Shape::Exact => {
                return text.len() == self.head.len() && eq(text, self.head.as_bytes(), fold);
            }
            Shape::Prefix => {
                return text
                    .get(..self.head.len())
                    .is_some_and(|start| eq(start, self.head.as_bytes(), fold));
            }
            Shape::General => {}
        }
        if self.vars.is_empty() {
            return glob(&self.tokens, text, fold, &NoVars);
        }
        let mut resolved = [Resolved::One(""); MAX_VARIABLES];
        let mut combinations: usize = 1;
        for (var, slot) in self.vars.iter().zip(resolved.iter_mut()) {
            *slot = match context.get(&var.key) {
                Some(values) if !values.is_empty() => Resolved::Many(values),
                _ => match &var.default {
                    Some(default) => Resolved::One(default),
                    None => return false,
                },
            };
            combinations = combinations.saturating_mul(slot.len());
        }
        if combinations > MAX_VARIABLE_COMBINATIONS {
            return false;
        }
        let resolved = resolved.get(..self.vars.len()).unwrap_or(&[]);
        (0..combinations).any(|choice| glob(&self.tokens, text, fold, &Choice { resolved, choice }))
    }
}

/// Finds the `}` that closes a variable body, skipping a quoted default value.
fn closing_brace(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_variable(body: &str) -> Result<Variable, PatternError> {
    let malformed = |reason| PatternError::Malformed {
        variable: format!("${{{body}}}"),
        reason,
    };
    let (key, default) = match body.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let inner = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .filter(|_| default.len() >= 2)
                .ok_or_else(|| malformed("the default value must be in single quotes"))?;
            if inner.contains('\'') {
                return Err(malformed("the default value must not contain a quote"));
            }
            (key.trim(), Some(inner))
        }
        None => (body.trim(), None),
    };
    if key.is_empty() {
        return Err(malformed("the key is empty"));
    }
    if key
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '$' | '{' | '}' | '\'' | '*' | '?'))
    {
        return Err(malformed("the key has a character keys never have"));
    }
    Ok(Variable {
        key: key.to_ascii_lowercase().into_boxed_str(),
        default: default.map(Box::from),
    })
}

#[derive(Debug, Clone, Copy)]
enum Resolved<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> Resolved<'a> {
    fn len(self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(values) => values.len(),
        }
    }

    fn get(self, i: usize) -> &'a str {
        match self {
            Self::One(value) => value,
            Self::Many(values) => values.get(i).map_or("", String::as_str),
        }
    }
}

/// Supplies variable values to [`glob`].
trait Vars {
    fn value(&self, slot: u8) -> &str;
}

struct NoVars;

impl Vars for NoVars {
    fn value(&self, _slot: u8) -> &str {
        ""
    }
}

/// One combination of values of multi-valued variables, numbered in mixed radix.
struct Choice<'r, 'a> {
    resolved: &'r [Resolved<'a>],
    choice: usize,
}

impl Vars for Choice<'_, '_> {
    fn value(&self, slot: u8) -> &str {
        let slot = usize::from(slot);
        let mut rest = self.choice;
        for (i, r) in self.resolved.iter().enumerate() {
            let n = r.len().max(1);
            if i == slot {
                return r.get(rest % n);
            }
            rest /= n;
        }
        ""
    }
}

#[inline]
fn eq(a: &[u8], b: &[u8], fold: bool) -> bool {
    if fold {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Width of the UTF-8 character starting at `at`, `None` at the end of the text.
fn char_width(text: &[u8], at: usize) -> Option<usize> {
    let lead = *text.get(at)?;
    let width = match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    Some(width.min(text.len() - at))
}

/// The greedy matcher: on a mismatch, return to just after the last `*` and let it swallow one
/// more character. Every segment between stars has a fixed length once variables are resolved,
/// so the leftmost placement found this way is always the right one.
fn glob(tokens: &[Token], text: &[u8], fold: bool, vars: &impl Vars) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        let advanced = match tokens.get(p) {
            Some(Token::Star) => {
                if p + 1 == tokens.len() {
                    return true;
                }
                resume = Some((p + 1, t));
                p += 1;
                true
            }
            Some(Token::One) => match char_width(text, t) {
                Some(w) => {
                    t += w;
                    p += 1;
                    true
                }
                None => false,
            },
            Some(Token::Lit(lit)) => advance_lit(text, &mut t, lit.as_bytes(), fold, &mut p),
            Some(Token::Var(slot)) => {
                advance_lit(text, &mut t, vars.value(*slot).as_bytes(), fold, &mut p)
            }
            None => {
                if t == text.len() {
                    return true;
                }
                false
            }
        };
        if advanced {
            continue;
        }
        let Some((rp, rt)) = resume else {
            return false;
        };
        let Some(w) = char_width(text, rt) else {
            return false;
        };
        resume = Some((rp, rt + w));
        p = rp;
        t = rt + w;
    }
}

fn advance_lit(text: &[u8], t: &mut usize, lit: &[u8], fold: bool, p: &mut usize) -> bool {
    let ok = text
        .get(*t..)
        .and_then(|rest| rest.get(..lit.len()))
        .is_some_and(|head| eq(head, lit, fold));
    if ok {
        *t += lit.len();
        *p += 1;
    }
    ok
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn glob_match(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern, Syntax::Glob, true, false)
            .unwrap()
            .matches(text, &Context::new())
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("*.txt", "a.txt.txt", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("??", "é!", true),
            ("?", "é", true),
            ("s3:Get*", "s3:GetObject", true),
            ("s3:Get*", "s3:PutObject", false),
            ("*a*a*a*a*a*a*a*a*b", &"a".repeat(64), false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                glob_match(pattern, text),
                expected,
                "{pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn literal_syntax_and_folding() {
        let p = Pattern::compile("a*b", Syntax::Literal, true, false).unwrap();
        assert!(p.matches("a*b", &Context::new()));
        assert!(!p.matches("axb", &Context::new()));
        let p = Pattern::compile("S3:get*", Syntax::Glob, false, true).unwrap();
        assert!(p.matches("s3:GetObject", &Context::new()));
    }

    #[test]
    fn variables_are_literal_and_escapes_work() {
        let ctx = Context::new()
            .with("aws:username", "a*")
            .with("cognito-identity.amazonaws.com:amr", "authenticated")
            .with("cognito-identity.amazonaws.com:amr", "graph");
        let p = Pattern::compile("home/${aws:username}/*", Syntax::Glob, true, false).unwrap();
        assert!(p.matches("home/a*/x", &ctx));
        assert!(
            !p.matches("home/ab/x", &ctx),
            "a substituted `*` is literal"
        );
        let p = Pattern::compile("x${*}${?}${$}", Syntax::Glob, true, false).unwrap();
        assert!(p.matches("x*?$", &ctx));
        assert!(!p.matches("xab$", &ctx));
        let p = Pattern::compile("${aws:userid}", Syntax::Literal, true, false).unwrap();
        assert!(
            !p.matches("", &ctx),
            "absent key without default never matches"
        );
        let p =
            Pattern::compile("${aws:userid, 'anonymous'}", Syntax::Literal, true, false).unwrap();
        assert!(p.matches("anonymous", &ctx));
        let p = Pattern::compile(
            "${cognito-identity.amazonaws.com:amr}",
            Syntax::Literal,
            true,
            false,
        )
        .unwrap();
        assert!(p.matches("graph", &ctx), "any value of a multi-valued key");
        assert!(!p.matches("unauthenticated", &ctx));
        let p = Pattern::compile("${aws:username}", Syntax::Glob, false, false).unwrap();
        assert!(
            p.matches("${aws:username}", &ctx),
            "no variables under 2008-10-17"
        );
    }

    #[test]
    fn malformed_variables() {
        for bad in [
            "${aws:username",
            "${}",
            "${a b}",
            "${a, default}",
            "${a, 'x}",
        ] {
            assert!(
                Pattern::compile(bad, Syntax::Glob, true, false).is_err(),
                "{bad}"
            );
        }
        let many: String = (0..=MAX_VARIABLES).map(|i| format!("${{k{i}}}")).collect();
        assert!(matches!(
            Pattern::compile(&many, Syntax::Glob, true, false),
            Err(PatternError::TooMany { .. })
        ));
        let p = Pattern::compile("${a, 'x}y'}", Syntax::Literal, true, false).unwrap();
        assert!(p.matches("x}y", &Context::new()));
    }

    /// The obvious exponential recursive matcher, as a reference.
    fn reference(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| reference(rest, &text[i..])),
            Some(('?', rest)) => !text.is_empty() && reference(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && reference(rest, &text[1..]),
        }
    }

    proptest! {
        #[test]
        fn agrees_with_reference(pattern in "[ab*?é]{0,10}", text in "[abé]{0,12}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(glob_match(&pattern, &text), reference(&p, &t));
        }

        #[test]
        fn folding_agrees_with_lowercased_reference(pattern in "[aAbB*?:]{0,8}", text in "[aAbB:]{0,10}") {
            let compiled = Pattern::compile(&pattern, Syntax::Glob, false, true).unwrap();
            let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
            let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
            prop_assert_eq!(compiled.matches(&text, &Context::new()), reference(&p, &t));
        }
    }
}
