//! Errors and findings: what is wrong with a policy document, and where (RFC 6901 JSON pointers).

use std::fmt;

/// How serious a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The document is rejected: [`crate::Policy::parse`] fails.
    Error,
    /// The document is accepted but a careful reviewer would object.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// RFC 6901 JSON pointer into the document (`""` is the whole document).
    pub pointer: String,
    /// A stable, machine-readable name for the kind of problem (`"unknown-operator"`, …).
    pub code: &'static str,
    /// A sentence for people: lowercase, no final period, user input in backticks.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{}[{}] at {}: {}",
            self.severity, self.code, pointer, self.message
        )
    }
}

/// Why a policy document could not be turned into a [`crate::Policy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is JSON but breaks the policy grammar; `findings` holds every error (never warnings).
    #[error("{}", summarize(findings))]
    Invalid {
        /// At least one finding, all of severity [`Severity::Error`].
        findings: Vec<Finding>,
    },
    /// The text is not JSON.
    #[error("policy is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },
    /// The document is larger than [`crate::MAX_POLICY_BYTES`].
    #[error("policy is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The document nests deeper than [`crate::MAX_DEPTH`].
    #[error("policy nests deeper than the limit of {limit} levels")]
    TooDeep {
        /// The limit in levels.
        limit: usize,
    },
}

impl PolicyError {
    /// The error as findings, the shape [`crate::validate`] reports: `Invalid` gives its findings,
    /// the others one finding at the document root.
    pub fn findings(&self) -> Vec<Finding> {
        let code = match self {
            Self::Invalid { findings } => return findings.clone(),
            Self::Json { .. } => codes::JSON_SYNTAX,
            Self::TooLarge { .. } => codes::TOO_LARGE,
            Self::TooDeep { .. } => codes::TOO_DEEP,
        };
        vec![Finding {
            severity: Severity::Error,
            pointer: String::new(),
            code,
            message: self.to_string(),
        }]
    }
}

fn summarize(findings: &[Finding]) -> String {
    match findings {
        [] => "policy is invalid".to_owned(),
        [only] => format!("policy is invalid: {only}"),
        [first, rest @ ..] => format!(
            "policy is invalid: {first} (and {} more error{})",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    }
}

/// Appends `token` to a JSON pointer, escaping `~` and `/` as RFC 6901 requires.
pub(crate) fn child(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Appends an array index to a JSON pointer.
pub(crate) fn index(pointer: &str, index: usize) -> String {
    format!("{pointer}/{index}")
}

/// The stable `code` strings of [`Finding`]s. Tools match on them; never rename one.
pub mod codes {
    /// The text is not JSON.
    pub const JSON_SYNTAX: &str = "json-syntax";
    /// The text is larger than [`crate::MAX_POLICY_BYTES`].
    pub const TOO_LARGE: &str = "too-large";
    /// The document nests deeper than [`crate::MAX_DEPTH`].
    pub const TOO_DEEP: &str = "too-deep";
    /// More statements than [`crate::MAX_STATEMENTS`].
    pub const TOO_MANY_STATEMENTS: &str = "too-many-statements";
    /// An object has the same key twice (AWS rejects this; JSON parsers silently keep one).
    pub const DUPLICATE_KEY: &str = "duplicate-key";
    /// A key that the policy grammar does not know, at the top level or in a statement.
    pub const UNKNOWN_KEY: &str = "unknown-key";
    /// A value of the wrong JSON type (a number where a string is needed, …).
    pub const INVALID_TYPE: &str = "invalid-type";
    /// `Version` is neither `2012-10-17` nor `2008-10-17`.
    pub const UNKNOWN_VERSION: &str = "unknown-version";
    /// The document has no `Statement`.
    pub const MISSING_STATEMENT: &str = "missing-statement";
    /// `Statement` is an empty array.
    pub const EMPTY_STATEMENT: &str = "empty-statement";
    /// A statement has no `Effect`.
    pub const MISSING_EFFECT: &str = "missing-effect";
    /// `Effect` is not exactly `Allow` or `Deny`.
    pub const INVALID_EFFECT: &str = "invalid-effect";
    /// A statement has both `Action` and `NotAction`.
    pub const ACTION_AND_NOT_ACTION: &str = "action-and-not-action";
    /// A statement has neither `Action` nor `NotAction`.
    pub const MISSING_ACTION: &str = "missing-action";
    /// A statement has both `Resource` and `NotResource`.
    pub const RESOURCE_AND_NOT_RESOURCE: &str = "resource-and-not-resource";
    /// A statement without `Principal` has neither `Resource` nor `NotResource`.
    pub const MISSING_RESOURCE: &str = "missing-resource";
    /// A statement has both `Principal` and `NotPrincipal`.
    pub const PRINCIPAL_AND_NOT_PRINCIPAL: &str = "principal-and-not-principal";
    /// An element list (`Action`, `Resource`, condition values, …) is empty.
    pub const EMPTY_LIST: &str = "empty-list";
    /// An action is not `*` or `service:name`.
    pub const MALFORMED_ACTION: &str = "malformed-action";
    /// A resource or ARN condition value is not `*` or a six-part ARN.
    pub const MALFORMED_ARN: &str = "malformed-arn";
    /// A `${…}` policy variable is not well formed.
    pub const MALFORMED_VARIABLE: &str = "malformed-variable";
    /// More distinct policy variables in one value than [`crate::MAX_VARIABLES`].
    pub const TOO_MANY_VARIABLES: &str = "too-many-variables";
    /// A `Principal` key other than `AWS`, `Service`, `Federated`, `CanonicalUser`.
    pub const UNKNOWN_PRINCIPAL_TYPE: &str = "unknown-principal-type";
    /// A principal that is not `*`, an account id or an ARN, or uses a partial wildcard.
    pub const MALFORMED_PRINCIPAL: &str = "malformed-principal";
    /// A condition operator AWS does not define.
    pub const UNKNOWN_OPERATOR: &str = "unknown-operator";
    /// A condition value that the operator cannot read (bad date, number, CIDR, base64, …).
    pub const INVALID_CONDITION_VALUE: &str = "invalid-condition-value";
    /// A condition key is empty.
    pub const INVALID_CONDITION_KEY: &str = "invalid-condition-key";
    /// Two statements share a `Sid`.
    pub const DUPLICATE_SID: &str = "duplicate-sid";

    /// Warning: `Version` is missing, so 2008-10-17 rules apply and variables are literal text.
    pub const MISSING_VERSION: &str = "missing-version";
    /// Warning: `${…}` under Version 2008-10-17 is literal text, not a variable.
    pub const VARIABLE_IN_2008_POLICY: &str = "variable-in-2008-policy";
    /// Warning: `${…}` in an action is literal text (AWS substitutes variables only in resources and conditions).
    pub const VARIABLE_IN_ACTION: &str = "variable-in-action";
    /// Warning: `ForAllValues` on `dynamodb:LeadingKeys` without a `Null` guard while `Scan` is allowed.
    pub const LEADING_KEYS_WITHOUT_NULL_GUARD: &str = "leading-keys-without-null-guard";
    /// Warning: `ForAllValues` with a positive operator and no `Null` guard in an `Allow`.
    pub const FOR_ALL_VALUES_WITHOUT_NULL_GUARD: &str = "for-all-values-without-null-guard";
    /// Warning: `Allow` with `NotAction` on every resource.
    pub const ALLOW_NOT_ACTION_ALL_RESOURCES: &str = "allow-not-action-all-resources";
    /// Warning: `Allow` of every action on every resource without conditions.
    pub const ALLOW_ALL: &str = "allow-all";
    /// Warning: `ForAnyValue` with a negated operator (true as soon as one value differs).
    pub const FOR_ANY_VALUE_NEGATED: &str = "for-any-value-negated";
    /// Warning: `…IfExists` on a key that AWS puts in every request.
    pub const IF_EXISTS_ON_ALWAYS_PRESENT_KEY: &str = "if-exists-on-always-present-key";
    /// Warning: `StringLike` / `StringNotLike` on a value without `*` or `?`.
    pub const STRING_LIKE_WITHOUT_WILDCARD: &str = "string-like-without-wildcard";
    /// Warning: `NotPrincipal` with `Allow` (AWS advises against it).
    pub const NOT_PRINCIPAL_WITH_ALLOW: &str = "not-principal-with-allow";
    /// Warning: a `Sid` with characters other than ASCII letters and digits (IAM rejects these).
    pub const SID_NOT_ALPHANUMERIC: &str = "sid-not-alphanumeric";
    /// Warning: an `aws:` condition key that is not an AWS global condition key (a typo?).
    pub const UNKNOWN_GLOBAL_KEY: &str = "unknown-global-key";
}
